package replicate

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net/url"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/orgtree/orgtree"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
)

// startCluster runs a 3-member etcd cluster in-process on loopback ports.
func startCluster(t *testing.T) []string {
	t.Helper()
	const n = 3
	base := 23000 + rand.Intn(2000)*10
	var initial string
	cfgs := make([]*embed.Config, n)
	for i := range cfgs {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = t.TempDir()
		cfg.LogLevel = "error"
		peer, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", base+2*i))
		client, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", base+2*i+1))
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
		if i > 0 {
			initial += ","
		}
		initial += fmt.Sprintf("%s=%s", cfg.Name, peer)
		cfgs[i] = cfg
	}
	var eps []string
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, cfg := range cfgs {
		cfg.InitialCluster = initial
		eps = append(eps, cfg.ListenClientUrls[0].String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := embed.StartEtcd(cfg)
			if err != nil {
				errs[i] = err
				return
			}
			t.Cleanup(e.Close)
			select {
			case <-e.Server.ReadyNotify():
			case <-time.After(20 * time.Second):
				errs[i] = errors.New("etcd member not ready")
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return eps
}

func TestReplicasConverge(t *testing.T) {
	eps := startCluster(t)
	ctx := context.Background()
	var reps []*Replica
	for i := 0; i < 3; i++ {
		cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close() })
		r, err := Open(ctx, cli, "/orgtree/test")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		reps = append(reps, r)
	}
	var org orgtree.Org
	if err := reps[0].Update(ctx, func(tx *orgtree.Tx) error {
		var err error
		org, err = tx.CreateOrg(orgtree.OrgInput{ID: "o", RootID: "root", Name: "Acme"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// A and B under the root, then concurrent A-under-B and B-under-A.
	for _, id := range []string{"A", "B"} {
		if err := reps[1].Update(ctx, func(tx *orgtree.Tx) error {
			_, err := tx.AddNode(orgtree.NodeInput{ID: id, ParentID: org.RootID, Name: id})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	moveErrs := make([]error, 2)
	for i, mv := range [][2]string{{"A", "B"}, {"B", "A"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			moveErrs[i] = reps[i+1].Update(ctx, func(tx *orgtree.Tx) error {
				_, err := tx.MoveNode(mv[0], mv[1])
				return err
			})
		}()
	}
	wg.Wait()
	cycles := 0
	for _, err := range moveErrs {
		if errors.Is(err, orgtree.ErrCycle) {
			cycles++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if cycles != 1 {
		t.Fatalf("crossed moves: %v, want exactly one ErrCycle", moveErrs)
	}
	// Random concurrent writes from every replica.
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewSource(int64(w)))
			for i := 0; i < 15; i++ {
				err := reps[w].Update(ctx, func(tx *orgtree.Tx) error {
					parent := []string{org.RootID, "A", "B"}[rng.Intn(3)]
					_, err := tx.AddNode(orgtree.NodeInput{ID: fmt.Sprintf("n%d-%d", w, i), ParentID: parent, Name: "x"})
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var want *orgtree.Dump
	for i, r := range reps {
		if err := r.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r.Tree().Snapshot().Check(); err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		d := r.Tree().Snapshot().Dump()
		d.Seq = 0
		if len(d.Nodes) != 3+45 {
			t.Fatalf("replica %d has %d nodes", i, len(d.Nodes))
		}
		if want == nil {
			want = d
		} else if !reflect.DeepEqual(want, d) {
			t.Fatalf("replica %d differs", i)
		}
	}
}

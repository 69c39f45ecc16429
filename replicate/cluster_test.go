package replicate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/orgtree/orgtree"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
)

// cluster is a 3-member etcd cluster run in-process on loopback ports.
type cluster struct {
	members []*embed.Etcd
	crashed []*embed.Etcd // by crash, closed with the cluster
	eps     []string
}

type clusterOpt func(*embed.Config)

func startCluster(t testing.TB, opts ...clusterOpt) *cluster {
	t.Helper()
	const n = 3
	var cfgs []*embed.Config
	var initial string
	for try := 0; ; try++ {
		base := 20000 + rand.Intn(4000)*10
		if !portsFree(base, 2*n) {
			if try > 20 {
				t.Fatal("no free loopback ports")
			}
			continue
		}
		cfgs, initial = nil, ""
		for i := 0; i < n; i++ {
			cfg := embed.NewConfig()
			cfg.Name = fmt.Sprintf("m%d", i)
			cfg.Dir = t.TempDir()
			cfg.LogLevel = "error"
			cfg.TickMs, cfg.ElectionMs = 50, 500 // quick elections after a kill
			peer, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", base+2*i))
			client, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", base+2*i+1))
			cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
			cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
			if i > 0 {
				initial += ","
			}
			initial += fmt.Sprintf("%s=%s", cfg.Name, peer)
			for _, o := range opts {
				o(cfg)
			}
			cfgs = append(cfgs, cfg)
		}
		break
	}
	c := &cluster{members: make([]*embed.Etcd, n)}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, cfg := range cfgs {
		cfg.InitialCluster = initial
		c.eps = append(c.eps, cfg.ListenClientUrls[0].String())
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := embed.StartEtcd(cfg)
			if err != nil {
				errs[i] = err
				return
			}
			c.members[i] = e
			select {
			case <-e.Server.ReadyNotify():
			case <-time.After(20 * time.Second):
				errs[i] = errors.New("etcd member not ready")
			}
		}()
	}
	wg.Wait()
	t.Cleanup(c.close)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// close stops every member: the followers at once, then the leader. A
// member's Close waits a second for its peers' connections to go idle, so
// in turn they cost a second each; a leader closed while the others still
// run, or a follower that just became leader, waits six for a transfer of
// leadership that cannot happen.
func (c *cluster) close() {
	l := c.leader()
	var wg sync.WaitGroup
	for i, e := range c.members {
		if e != nil && i != l {
			wg.Go(e.Close)
		}
	}
	for _, e := range c.crashed {
		wg.Go(e.Close)
	}
	wg.Wait()
	if l >= 0 {
		c.members[l].Close()
	}
}

func portsFree(base, n int) bool {
	for p := base; p < base+n; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

// crash stops member i as a crash would: no leadership transfer and no
// wait for its clients' streams (Close waits up to the request timeout, 6
// s, for the watches on it to end). Its listeners stay open, answering
// errors, until the cluster is closed.
func (c *cluster) crash(i int) {
	c.members[i].Server.HardStop()
	c.crashed = append(c.crashed, c.members[i])
	c.members[i] = nil
}

func (c *cluster) leader() int {
	for i, e := range c.members {
		if e != nil && e.Server.Leader() == e.Server.MemberID() {
			return i
		}
	}
	return -1
}

func client(t testing.TB, eps ...string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// testOpts keep the fault tests short.
// (3 s: a loaded machine under -race needs more than 1 s to apply a burst
// of writes; the cut-off replica uses 1 s.)
var testOpts = []Option{WithTimeout(3 * time.Second), WithHeartbeat(100 * time.Millisecond)}

func open(t testing.TB, cli *clientv3.Client, prefix string, opts ...Option) *Replica {
	t.Helper()
	r, err := Open(context.Background(), cli, prefix, append(append([]Option{}, testOpts...), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// proxy forwards loopback TCP to an etcd member and can cut the line, as a
// network partition between one replica and etcd would.
type proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newProxy(t testing.TB, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(target)
	p := &proxy{l: l, target: u.Host}
	go p.serve()
	t.Cleanup(func() { l.Close(); p.setCut(true) })
	return p
}

func (p *proxy) url() string { return "http://" + p.l.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// addNode adds node id under parent through r.
func addNode(ctx context.Context, r *Replica, id, parent string) error {
	return r.Update(ctx, func(tx *orgtree.Tx) error {
		_, err := tx.AddNode(orgtree.NodeInput{ID: id, ParentID: parent, Name: id})
		return err
	})
}

func createOrg(t testing.TB, r *Replica) {
	t.Helper()
	if err := r.Update(context.Background(), func(tx *orgtree.Tx) error {
		_, err := tx.CreateOrg(orgtree.OrgInput{ID: "o", RootID: "root", Name: "Acme"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// converged syncs every replica and checks they hold the same valid tree.
func converged(t testing.TB, reps ...*Replica) *orgtree.Dump {
	t.Helper()
	var want *orgtree.Dump
	for i, r := range reps {
		// Sync gives up after the replica's timeout; a replica that just
		// reconnected may need longer (the client's reconnect backoff).
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := r.Sync(ctx)
		for errors.Is(err, ErrUnavailable) && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			err = r.Sync(ctx)
		}
		cancel()
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		s := r.Tree().Snapshot() // one state, checked and compared
		if err := s.Check(); err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		d := s.Dump()
		d.Seq = 0
		if want == nil {
			want = d
		} else if !sameRecords(want, d) {
			t.Fatalf("replica %d differs: %d nodes / %d users, want %d / %d", i, len(d.Nodes), len(d.Users), len(want.Nodes), len(want.Users))
		}
	}
	return want
}

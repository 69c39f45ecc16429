package replicate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/server"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
)

func (r *Replica) loadCount() int { r.mu.Lock(); defer r.mu.Unlock(); return r.loads }

func sameRecords(a, b *orgtree.Dump) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestReplicasConverge(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	var reps []*Replica
	for i := 0; i < 3; i++ {
		reps = append(reps, open(t, client(t, c.eps...), "/orgtree/test"))
	}
	createOrg(t, reps[0])
	// A and B under the root, then concurrent A-under-B and B-under-A.
	for _, id := range []string{"A", "B"} {
		if err := addNode(ctx, reps[1], id, "root"); err != nil {
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
			for i := 0; i < 8; i++ {
				if err := addNode(ctx, reps[w], fmt.Sprintf("n%d-%d", w, i), []string{"root", "A", "B"}[rng.Intn(3)]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if d := converged(t, reps...); len(d.Nodes) != 3+24 {
		t.Fatalf("%d nodes", len(d.Nodes))
	}
	// A write on the tree itself, not through Update, is refused.
	if _, err := reps[0].Tree().AddNode(orgtree.NodeInput{ParentID: "root", Name: "local"}); !errors.Is(err, orgtree.ErrInvalidArgument) {
		t.Fatalf("direct write: %v", err)
	}
}

// TestLargeChangeSplit writes an import larger than etcd's request limit:
// it goes in chunks, and another replica goes from the state before it to
// the state after it with nothing in between.
func TestLargeChangeSplit(t *testing.T) {
	c := startCluster(t, func(cfg *embed.Config) { cfg.MaxRequestBytes = 64 << 10 })
	ctx := context.Background()
	a := open(t, client(t, c.eps...), "/big", WithChunkSize(16<<10))
	b := open(t, client(t, c.eps...), "/big")
	createOrg(t, a)
	if err := b.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	var seen sync.Map
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			s := b.Tree().Snapshot()
			seen.Store(s.Stats().Nodes, true)
			select {
			case <-stop:
				return
			case <-b.Tree().WatchCh(s, orgtree.WatchAll()):
			}
		}
	}()
	const n = 1000
	write := func(r *Replica, prefix string) error {
		return r.Update(ctx, func(tx *orgtree.Tx) error {
			for i := 0; i < n; i++ {
				if _, err := tx.AddNode(orgtree.NodeInput{ID: fmt.Sprintf("%s%d", prefix, i), ParentID: "root", Name: strings.Repeat("x", 40)}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	// Without splitting, etcd refuses the request: the limit is real.
	unsplit := open(t, client(t, c.eps...), "/big", WithChunkSize(8<<20))
	if err := write(unsplit, "u"); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Fatalf("unsplit write of a large change: %v", err)
	}
	// More chunks than one commit may name: refused before anything is
	// written.
	tiny := open(t, client(t, c.eps...), "/big", WithChunkSize(1024))
	if err := write(tiny, "t"); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a change of more than %d chunks: %v", maxChunks, err)
	}
	if err := write(a, "n"); err != nil {
		t.Fatal(err)
	}
	d := converged(t, a, b, unsplit, tiny)
	close(stop)
	<-watched
	if len(d.Nodes) != 1+n {
		t.Fatalf("%d nodes", len(d.Nodes))
	}
	seen.Range(func(k, _ any) bool {
		if k.(int) != 1 && k.(int) != 1+n {
			t.Errorf("replica saw %d nodes: half a change", k)
		}
		return true
	})
}

// TestSnapshotBootstrap: with periodic snapshots the log is cut, and a new
// replica loads the snapshot and the log after it.
func TestSnapshotBootstrap(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	cli := client(t, c.eps...)
	a := open(t, cli, "/snap", WithSnapshotEvery(10), WithChunkSize(2048))
	createOrg(t, a)
	for i := 0; i < 24; i++ {
		// The first with a long description: the snapshot spans chunks.
		err := a.Update(ctx, func(tx *orgtree.Tx) error {
			_, err := tx.AddNode(orgtree.NodeInput{ID: fmt.Sprintf("n%d", i), ParentID: "root", Name: fmt.Sprintf("n%d", i),
				Description: strings.Repeat("long ", 600*(1-min(i, 1)))})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Entry 20 wrote a snapshot (in the background) and cut the log.
	deadline := time.Now().Add(5 * time.Second)
	var meta snapMeta
	for {
		resp, err := cli.Get(ctx, "/snap/snap")
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Kvs) > 0 {
			_ = json.Unmarshal(resp.Kvs[0].Value, &meta)
		}
		if meta.Index == 20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if meta.Index != 20 || meta.Chunks < 2 {
		t.Fatalf("snapshot %+v, want index 20 in several chunks", meta)
	}
	logs, err := cli.Get(ctx, "/snap/log/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	if len(logs.Kvs) != 5 {
		t.Fatalf("%d log entries kept, want 21..25", len(logs.Kvs))
	}
	b := open(t, client(t, c.eps...), "/snap")
	converged(t, a, b)
	if b.loadCount() != 1 {
		t.Fatalf("new replica loaded %d snapshots, want 1", b.loadCount())
	}
	// And it follows from there.
	if err := addNode(ctx, b, "late", "root"); err != nil {
		t.Fatal(err)
	}
	if d := converged(t, a, b); len(d.Nodes) != 26 {
		t.Fatalf("%d nodes", len(d.Nodes))
	}
}

// TestCompactionOvertakesSlowReplica: a replica cut off while the others
// write, snapshot, cut the log and compact etcd's history finds its watch
// compacted when it comes back, and reloads from the snapshot.
func TestCompactionOvertakesSlowReplica(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	a := open(t, client(t, c.eps...), "/slow", WithSnapshotEvery(5), WithEtcdCompaction())
	p := newProxy(t, c.eps[0])
	slow := open(t, client(t, p.url()), "/slow")
	createOrg(t, a)
	converged(t, a, slow)
	p.setCut(true)
	for i := 0; i < 22; i++ {
		if err := addNode(ctx, a, fmt.Sprintf("n%d", i), "root"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if _, f := slow.Read(); f.Index != 1 {
		t.Fatalf("slow replica at %d while cut off", f.Index)
	}
	p.setCut(false)
	if d := converged(t, a, slow); len(d.Nodes) != 23 {
		t.Fatalf("%d nodes", len(d.Nodes))
	}
	if slow.loadCount() != 1 {
		t.Fatalf("slow replica loaded %d snapshots, want 1", slow.loadCount())
	}
}

// TestFaults: a member crashed (the leader, during writes), a replica cut
// off, a replica restarted, quorum lost.
func TestFaults(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	reps := []*Replica{open(t, client(t, c.eps...), "/f"), open(t, client(t, c.eps...), "/f")}
	createOrg(t, reps[0])

	t.Run("leader crashed during writes", func(t *testing.T) {
		// The leader stops as in a power cut (no leadership transfer, no
		// goodbye to its clients) while writes are in flight. Each write
		// increments the counter node's order: a write lost or applied
		// twice shows in the final count. An acknowledged write must be
		// in it, a write refused with ErrUnavailable must not, and one
		// whose outcome is unknown may be, once.
		if err := addNode(ctx, reps[0], "counter", "root"); err != nil {
			t.Fatal(err)
		}
		var acked, unknown, refused, inFlight atomic.Int64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 2 * len(reps) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					inFlight.Add(1)
					err := reps[w%len(reps)].Update(wctx, func(tx *orgtree.Tx) error {
						n, err := tx.Node("counter")
						if err != nil {
							return err
						}
						_, err = tx.UpdateNode("counter", orgtree.NodeUpdate{Order: orgtree.Ptr(n.Order + 1)})
						return err
					})
					inFlight.Add(-1)
					cancel()
					switch {
					case err == nil:
						acked.Add(1)
					case errors.Is(err, ErrOutcomeUnknown):
						unknown.Add(1)
					case errors.Is(err, ErrUnavailable):
						refused.Add(1)
					default:
						t.Error(err)
						return
					}
				}
			}()
		}
		for acked.Load() < 20 || inFlight.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		l := c.leader()
		if l < 0 {
			t.Fatal("no leader")
		}
		c.crash(l)
		before := acked.Load()
		// Writes go on once the others have elected a new leader.
		for deadline := time.Now().Add(20 * time.Second); acked.Load() < before+20 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		if acked.Load() < before+20 {
			t.Fatalf("%d writes acknowledged after the leader crashed (%d before)", acked.Load()-before, before)
		}
		converged(t, reps...)
		n, _ := reps[1].Tree().Node("counter")
		if int64(n.Order) < acked.Load() || int64(n.Order) > acked.Load()+unknown.Load() {
			t.Fatalf("counter %d after %d acknowledged, %d unknown and %d refused writes", n.Order, acked.Load(), unknown.Load(), refused.Load())
		}
		unsure := 0
		for _, r := range reps {
			r.mu.Lock()
			unsure += r.unsure
			r.mu.Unlock()
		}
		t.Logf("%d writes acknowledged (%d before the crash), %d unknown, %d refused, counter %d; %d commits lost their answer and were resolved by catching up",
			acked.Load(), before, unknown.Load(), refused.Load(), n.Order, unsure)
	})

	t.Run("replica cut off", func(t *testing.T) {
		alive := ""
		for _, e := range c.members {
			if e != nil {
				alive = e.Config().ListenClientUrls[0].String()
				break
			}
		}
		p := newProxy(t, alive)
		cut := open(t, client(t, p.url()), "/f", WithTimeout(time.Second))
		converged(t, reps[0], cut)
		p.setCut(true)
		if err := addNode(ctx, reps[0], "while-cut", "root"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := addNode(ctx, cut, "from-cut", "root")
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("write from a cut-off replica: %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("refusing the write took %v", d)
		}
		// What `serve --etcd` answers an SDK write on this replica.
		status, retry, body := serveWrite(t, cut)
		if status != http.StatusServiceUnavailable || retry == "" || !strings.Contains(body, `"code":503`) ||
			!strings.Contains(body, "etcd unavailable") {
			t.Fatalf("SDK write through a cut-off replica: HTTP %d, Retry-After %q, %s", status, retry, body)
		}
		// Cut off as long as before the server's write (which waited its
		// 1 s timeout too): longer, and the client's reconnect backoff
		// outlasts the 1 s timeout of the Sync after reconnecting.
		time.Sleep(time.Until(start.Add(2200 * time.Millisecond)))
		snap, f := cut.Read()
		if !errors.Is(f.Err, ErrUnavailable) || f.Stale() < time.Second {
			t.Fatalf("freshness of a cut-off replica: %+v, stale %v", f, f.Stale())
		}
		if _, err := snap.Node("counter"); err != nil {
			t.Fatalf("reads stop when cut off: %v", err)
		}
		p.setCut(false)
		d := converged(t, reps[0], cut)
		for _, n := range d.Nodes {
			if n.ID == "from-cut" {
				t.Fatal("the refused write was applied")
			}
		}
		if _, f := cut.Read(); f.Err != nil || f.Stale() > time.Second {
			t.Fatalf("freshness after reconnecting: %+v", f)
		}
	})

	t.Run("replica restarted", func(t *testing.T) {
		reps[1].Close()
		for i := 0; i < 5; i++ {
			if err := addNode(ctx, reps[0], fmt.Sprintf("r%d", i), "root"); err != nil {
				t.Fatal(err)
			}
		}
		reps[1] = open(t, client(t, c.eps...), "/f")
		converged(t, reps...)
	})

	t.Run("closed", func(t *testing.T) {
		reps[1].Close()
		if err := addNode(ctx, reps[1], "after-close", "root"); !errors.Is(err, ErrClosed) {
			t.Fatalf("write after Close: %v", err)
		}
		if _, err := reps[1].Tree().Node("counter"); err != nil {
			t.Fatalf("reads stop after Close: %v", err)
		}
	})

	t.Run("quorum lost", func(t *testing.T) {
		r := open(t, client(t, c.eps...), "/f", WithTimeout(time.Second))
		converged(t, reps[0], r)
		for i, e := range c.members {
			if e != nil {
				c.crash(i) // one crashed above: one of three is left
				break
			}
		}
		start := time.Now()
		if err := addNode(ctx, r, "no-quorum", "root"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("write without a quorum: %v", err)
		}
		if err := r.Sync(ctx); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("sync without a quorum: %v", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("refusing took %v", d)
		}
		if _, err := r.Tree().Node("counter"); err != nil {
			t.Fatalf("reads stop without a quorum: %v", err)
		}
	})
}

// serveWrite sends one SDK mutation to a server over r (as `orgtree serve
// --etcd` runs it) and returns the answer's status, Retry-After and body.
func serveWrite(t *testing.T, r *Replica) (int, string, string) {
	t.Helper()
	srv, err := server.New(r.Tree(), server.Config{UserPoolID: "pool", Secret: "secret",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Update: func(fn func(*orgtree.Tx) error) error { return r.Update(context.Background(), fn) }})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	post := func(token, body string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/graphql/v2", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-authing-userpool-id", "pool")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	_, tok := post("", `{"query":"{ accessToken(userPoolId: \"pool\", secret: \"secret\") { accessToken } }"}`)
	var answer struct {
		Data struct{ AccessToken struct{ AccessToken string } }
	}
	if err := json.Unmarshal([]byte(tok), &answer); err != nil || answer.Data.AccessToken.AccessToken == "" {
		t.Fatalf("token: %v %s", err, tok)
	}
	resp, body := post(answer.Data.AccessToken.AccessToken, `{"query":"mutation { addNode(orgId: \"o\", parentNodeId: \"root\", name: \"via SDK\") { id } }"}`)
	return resp.StatusCode, resp.Header.Get("Retry-After"), body
}

package replicate

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/orgtreetest"
	"go.etcd.io/etcd/server/v3/embed"
)

// BenchmarkUpdate measures write throughput through a 3-member embedded
// cluster with 1, 4 and 16 concurrent writers spread over 3 replicas
// (each write adds a node; conflicting writers retry).
func BenchmarkUpdate(b *testing.B) {
	for _, writers := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			c := startCluster(b)
			var reps []*Replica
			for i := 0; i < 3; i++ {
				reps = append(reps, open(b, client(b, c.eps...), "/bench", WithSnapshotEvery(0)))
			}
			createOrg(b, reps[0])
			ctx := context.Background()
			var next atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						if err := addNode(ctx, reps[w%3], fmt.Sprintf("w%d-%d", w, i), "root"); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
			lost := 0
			for _, r := range reps {
				r.mu.Lock()
				lost += r.lost
				r.mu.Unlock()
			}
			b.ReportMetric(float64(lost)/float64(b.N), "conflicts/write")
		})
	}
}

// BenchmarkLag measures the replication lag: how soon a write made on
// one replica is visible on another. The moment etcd commits the write is
// not visible to a client; it lies between the call of Update and its
// return (the acknowledgement). So the benchmark reports, from the call:
// the acknowledgement (ack-p50/p99), the write appearing on the other
// replica (visible-p50/p99), and their difference per write
// (lag-after-ack-p50/p99, negative when the other replica applied the
// write before the writer learnt it was committed: both hear of it from
// etcd at about the same time).
func BenchmarkLag(b *testing.B) {
	c := startCluster(b)
	w := open(b, client(b, c.eps...), "/lag", WithSnapshotEvery(0))
	r := open(b, client(b, c.eps...), "/lag", WithSnapshotEvery(0))
	createOrg(b, w)
	if err := r.Sync(context.Background()); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var acks, visible, after []time.Duration
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("n%d", i)
		start := time.Now()
		seen := make(chan time.Duration, 1)
		go func() {
			for {
				s := r.Tree().Snapshot()
				if _, err := s.Node(id); err == nil {
					seen <- time.Since(start)
					return
				}
				<-r.Tree().WatchCh(s, orgtree.WatchAll())
			}
		}()
		if err := addNode(ctx, w, id, "root"); err != nil {
			b.Fatal(err)
		}
		ack := time.Since(start)
		vis := <-seen
		acks, visible, after = append(acks, ack), append(visible, vis), append(after, vis-ack)
	}
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"ack", acks}, {"visible", visible}, {"lag-after-ack", after}} {
		slices.Sort(m.d)
		b.ReportMetric(float64(m.d[len(m.d)/2].Microseconds()), m.name+"-p50-µs")
		b.ReportMetric(float64(m.d[len(m.d)*99/100].Microseconds()), m.name+"-p99-µs")
	}
}

var benchNodes = flag.Int("replicate.nodes", 2000, "departments of BenchmarkBootstrap's org (3 users and 10 memberships per department); 100000 for the issue's 100k / 1M")

// bootstrapTail is how many log entries BenchmarkBootstrap leaves after
// the snapshot, for the new replica to apply.
const bootstrapTail = 100

// BenchmarkBootstrap measures what a new or restarted replica costs: Open
// on a cluster holding a snapshot of an org of -replicate.nodes
// departments (3 users and 10 memberships per department) and a log of
// 100 entries after it, until the replica has applied all of it. It also
// reports the snapshot's size and, timed once each, the three steps of
// loading it (which Open overlaps): reading its chunks from etcd, decoding
// the Dump, and Tree.Replace (which builds the indexes and runs Check).
//
//	go test -run '^$' -bench Bootstrap ./replicate/ -replicate.nodes 100000
func BenchmarkBootstrap(b *testing.B) {
	n := *benchNodes
	o, err := orgtreetest.Generate(orgtreetest.Spec{Nodes: n, Users: 3 * n, Memberships: 10 * n, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	c := startCluster(b, func(cfg *embed.Config) { cfg.QuotaBackendBytes = 8 << 30 })
	cli := client(b, c.eps...)
	limits := WithTreeOptions(orgtree.WithLimits(orgtree.Limits{MaxChildren: -1, MaxImportNodes: -1}))
	w := open(b, cli, "/boot", limits, WithSnapshotEvery(0), WithEtcdCompaction(), WithTimeout(time.Minute))
	ctx := context.Background()
	start := time.Now()
	if err := bootstrapLoad(ctx, w, o); err != nil {
		b.Fatal(err)
	}
	if err := w.Snapshot(ctx); err != nil {
		b.Fatal(err)
	}
	for i := range bootstrapTail {
		if err := addNode(ctx, w, fmt.Sprintf("tail%d", i), o.Nodes[0].ID); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("%d departments, %d users, %d memberships written, snapshot stored and %d entries appended in %v", len(o.Nodes), len(o.Users), len(o.Memberships), bootstrapTail, time.Since(start).Round(time.Millisecond))
	resp, err := cli.Get(ctx, w.snapKey())
	if err != nil || len(resp.Kvs) == 0 {
		b.Fatalf("snapshot key: %v", err)
	}
	meta, err := decodeSnapMeta(resp.Kvs[0].Value)
	if err != nil {
		b.Fatal(err)
	}
	want := w.Tree().Snapshot().Stats()
	b.ResetTimer()
	for b.Loop() {
		r, err := Open(ctx, cli, "/boot", limits, WithTimeout(time.Minute))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if got := r.Tree().Snapshot().Stats(); got != want {
			b.Fatalf("bootstrapped %+v, want %+v", got, want)
		}
		if r.loadCount() != 1 {
			b.Fatalf("%d snapshots loaded", r.loadCount())
		}
		r.Close()
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(o.Nodes)), "ns/node")
	b.ReportMetric(float64(meta.Bytes)/1e6, "snapshot-MB")
	// The steps, once each.
	t0 := time.Now()
	data, err := w.readChunks(ctx, w.snapData(meta.Index), meta.Chunks, 0)
	if err != nil {
		b.Fatal(err)
	}
	t1 := time.Now()
	dec := newSnapDecoder(meta.Index, meta.Bytes)
	for len(data) > 0 {
		n := min(len(data), w.cfg.chunkSize)
		if err := dec.write(data[:n]); err != nil {
			b.Fatal(err)
		}
		data = data[n:]
	}
	d, err := dec.finish(meta.CRC)
	if err != nil {
		b.Fatal(err)
	}
	t2 := time.Now()
	if err := orgtree.New(orgtree.WithLimits(orgtree.Limits{MaxChildren: -1})).Replace(d); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(t1.Sub(t0).Milliseconds()), "fetch-ms")
	b.ReportMetric(float64(t2.Sub(t1).Milliseconds()), "decode-ms")
	b.ReportMetric(float64(time.Since(t2).Milliseconds()), "replace-ms")
}

// bootstrapLoad writes o through r in a few Updates, each well below the
// 120 chunks one commit may name.
func bootstrapLoad(ctx context.Context, r *Replica, o *orgtreetest.Org) error {
	const nodesPer, usersPer, membersPer = 50_000, 100_000, 250_000
	batch := func(total, per int, fn func(tx *orgtree.Tx, i int) error) error {
		for lo := 0; lo < total; lo += per {
			err := r.Update(ctx, func(tx *orgtree.Tx) error {
				for i := lo; i < min(lo+per, total); i++ {
					if err := fn(tx, i); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
	root := o.Nodes[0]
	if err := r.Update(ctx, func(tx *orgtree.Tx) error {
		_, err := tx.CreateOrg(orgtree.OrgInput{ID: "org", RootID: root.ID, Name: root.Name, Code: root.Code})
		return err
	}); err != nil {
		return err
	}
	if err := batch(len(o.Nodes)-1, nodesPer, func(tx *orgtree.Tx, i int) error {
		n := o.Nodes[i+1]
		_, err := tx.AddNode(orgtree.NodeInput{ID: n.ID, ParentID: o.Nodes[n.Parent].ID, Name: n.Name, Code: n.Code, Order: n.Order})
		return err
	}); err != nil {
		return err
	}
	if err := batch(len(o.Users), usersPer, func(tx *orgtree.Tx, i int) error {
		_, err := tx.CreateUser(o.Users[i])
		return err
	}); err != nil {
		return err
	}
	return batch(len(o.Memberships), membersPer, func(tx *orgtree.Tx, i int) error {
		m := o.Memberships[i]
		return tx.AddMembers(o.Nodes[m.Node].ID, o.Users[m.User].ID)
	})
}

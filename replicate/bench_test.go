package replicate

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgtree/orgtree"
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
					for next.Add(1) <= int64(b.N) {
						if err := addNode(ctx, reps[w%3], fmt.Sprintf("w%d-%d", w, next.Load()), "root"); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}

// BenchmarkLag measures the replication lag: from Update returning on one
// replica to the write being visible on another.
func BenchmarkLag(b *testing.B) {
	c := startCluster(b)
	w := open(b, client(b, c.eps...), "/lag", WithSnapshotEvery(0))
	r := open(b, client(b, c.eps...), "/lag", WithSnapshotEvery(0))
	createOrg(b, w)
	ctx := context.Background()
	var lags []time.Duration
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("n%d", i)
		if err := addNode(ctx, w, id, "root"); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for {
			s := r.Tree().Snapshot()
			if _, err := s.Node(id); err == nil {
				break
			}
			<-r.Tree().WatchCh(s, orgtree.WatchAll())
		}
		lags = append(lags, time.Since(start))
	}
	slices.Sort(lags)
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds()), "p99-µs")
}

package persist

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

var (
	benchNodes       = flag.Int("persist.nodes", 10_000, "nodes in the store of BenchmarkLoad")
	benchMemberships = flag.Int("persist.memberships", 100_000, "memberships in the store of BenchmarkLoad (users = memberships/3)")
)

// BenchmarkCommitDurable measures the latency of one durable write: a node
// rename that returns only after bbolt has fsynced it.
func BenchmarkCommitDurable(b *testing.B) {
	db := mustOpen(b, tempPath(b))
	defer db.Close()
	org, err := db.Tree().CreateOrg(orgtree.OrgInput{Name: "Acme"})
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := db.Tree().UpdateNode(org.RootID, orgtree.NodeUpdate{Name: orgtree.Ptr(fmt.Sprint("Acme ", i))}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkGroupCommit measures durable throughput with group commit: each
// writer renames its own node and waits in Sync until it is on disk, so
// every op is as durable as in BenchmarkCommitDurable when it returns.
func BenchmarkGroupCommit(b *testing.B) {
	for _, writers := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			db := mustOpen(b, tempPath(b), WithGroupCommit(time.Millisecond))
			defer db.Close()
			org, err := db.Tree().CreateOrg(orgtree.OrgInput{Name: "Acme"})
			require.NoError(b, err)
			ids := make([]string, writers)
			for w := range ids {
				n, err := db.Tree().AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "team"})
				require.NoError(b, err)
				ids[w] = n.ID
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := w; i < b.N; i += writers {
						if _, err := db.Tree().UpdateNode(ids[w], orgtree.NodeUpdate{Name: orgtree.Ptr(fmt.Sprint("t", i))}); err != nil {
							b.Error(err)
							return
						}
						if err := db.Sync(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
		})
	}
}

// buildStore writes a store with the given number of nodes (random tree,
// fan-out 5–15) and memberships spread over nodes/… users, in one batch.
func buildStore(tb testing.TB, path string, nodes, memberships int) {
	tb.Helper()
	db := mustOpen(tb, path)
	defer db.Close()
	r := rand.New(rand.NewPCG(1, 1))
	err := db.Tree().Update(func(tx *orgtree.Tx) error {
		org, err := tx.CreateOrg(orgtree.OrgInput{Name: "Acme"})
		if err != nil {
			return err
		}
		ids := []string{org.RootID}
		for next := 0; len(ids) < nodes; next++ {
			parent := ids[next]
			for range 5 + r.IntN(11) {
				if len(ids) == nodes {
					break
				}
				n, err := tx.AddNode(orgtree.NodeInput{ParentID: parent, Name: fmt.Sprintf("部门 team %d", len(ids)), Code: fmt.Sprint("c", len(ids))})
				if err != nil {
					return err
				}
				ids = append(ids, n.ID)
			}
		}
		users := max(1, memberships/3)
		for u := range users {
			usr, err := tx.CreateUser(orgtree.User{Name: fmt.Sprint("user ", u), Email: fmt.Sprintf("u%d@example.com", u)})
			if err != nil {
				return err
			}
			for k := range 3 {
				if u*3+k >= memberships {
					break
				}
				if err := tx.AddMembers(pick(r, ids), usr.ID); err != nil && !isEngineError(err) {
					return err
				}
			}
		}
		return nil
	})
	require.NoError(tb, err)
}

// BenchmarkLoad measures Open of a store of -persist.nodes nodes and
// -persist.memberships memberships: reading, verifying and rebuilding every
// index. It also reports the file size per node and per membership.
func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	nodesOnly, full := dir+"/nodes.db", dir+"/full.db"
	buildStore(b, nodesOnly, *benchNodes, 0)
	buildStore(b, full, *benchNodes, *benchMemberships)
	size := func(p string) float64 {
		fi, err := os.Stat(p)
		require.NoError(b, err)
		return float64(fi.Size())
	}
	b.ResetTimer()
	for range b.N {
		db, err := Open(full, WithReadOnly())
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st := db.Tree().Snapshot().Stats()
		require.NoError(b, db.Close())
		b.StartTimer()
		if st.Nodes != *benchNodes {
			b.Fatalf("loaded %d nodes", st.Nodes)
		}
	}
	b.ReportMetric(size(nodesOnly)/float64(*benchNodes), "file-B/node")
	if *benchMemberships > 0 {
		b.ReportMetric((size(full)-size(nodesOnly))/float64(*benchMemberships), "file-B/membership")
	}
}

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
	"go.etcd.io/bbolt"

	"github.com/orgtree/orgtree"
)

var (
	benchNodes       = flag.Int("persist.nodes", 10_000, "nodes in the store of BenchmarkLoad")
	benchMemberships = flag.Int("persist.memberships", 100_000, "memberships in the store of BenchmarkLoad (users = memberships/3)")
)

// BenchmarkCommitDurable measures the latency of one durable write: a node
// rename that returns only after bbolt has fsynced it.
func BenchmarkCommitDurable(b *testing.B) {
	benchCommitDurable(b)
}

// BenchmarkCommitDurableHistory is BenchmarkCommitDurable with a change
// history: the cost of the entry (a Diff, its encoding, two more bbolt keys)
// and of trimming at the bound.
func BenchmarkCommitDurableHistory(b *testing.B) {
	benchCommitDurable(b, WithHistory(HistoryOptions{MaxEntries: 1000}))
}

func benchCommitDurable(b *testing.B, opts ...Option) {
	db := mustOpen(b, tempPath(b), opts...)
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
// fan-out 5–15), users and memberships (three per user, random nodes), in
// one batch.
func buildStore(tb testing.TB, path string, nodes, users, memberships int) {
	tb.Helper()
	db := mustOpen(tb, path)
	defer db.Close()
	fillTree(tb, db.Tree(), nodes, users, memberships)
}

// fillTree adds one org with nodes nodes, users users and up to
// memberships memberships (three per user at most), in one Update.
func fillTree(tb testing.TB, tr *orgtree.Tree, nodes, users, memberships int) {
	tb.Helper()
	r := rand.New(rand.NewPCG(1, 1))
	err := tr.Update(func(tx *orgtree.Tx) error {
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

// BenchmarkLoad measures Open of a store of -persist.nodes nodes,
// -persist.memberships memberships and a third as many users, all in one
// full record, and its parts: reading the file's bytes, reading and
// decoding the records (checksums, parallel decode, merge), and the
// engine's bulk build (orgtree.Tree.Load) of the same dump. It reports the
// size per node, per user and per membership (pages in use), each the
// growth from a store without them, and per membership with its users (the
// measure of issue 16: (full − nodes only) / memberships).
func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	nodesOnly, withUsers, full := dir+"/nodes.db", dir+"/users.db", dir+"/full.db"
	users := max(1, *benchMemberships/3)
	buildStore(b, nodesOnly, *benchNodes, 0, 0)
	buildStore(b, withUsers, *benchNodes, users, 0)
	buildStore(b, full, *benchNodes, users, *benchMemberships)
	// size is the bytes of the pages in use (bbolt's high-water mark): the
	// file itself grows in steps of up to a gigabyte (bbolt's mmap growth),
	// so two stores of different content can have files of one size.
	size := func(p string) float64 {
		bdb, err := bbolt.Open(p, 0o600, &bbolt.Options{ReadOnly: true})
		require.NoError(b, err)
		defer bdb.Close()
		var n int64
		require.NoError(b, bdb.View(func(tx *bbolt.Tx) error { n = tx.Size(); return nil }))
		return float64(n)
	}
	sizes := func(b *testing.B) {
		b.ReportMetric(size(nodesOnly)/float64(*benchNodes), "file-B/node")
		b.ReportMetric((size(withUsers)-size(nodesOnly))/float64(users), "file-B/user")
		if *benchMemberships > 0 {
			b.ReportMetric((size(full)-size(withUsers))/float64(*benchMemberships), "file-B/membership")
			b.ReportMetric((size(full)-size(nodesOnly))/float64(*benchMemberships), "file-B/membership+user")
		}
	}
	b.Run("open", func(b *testing.B) {
		for range b.N {
			db, err := Open(full, WithReadOnly())
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			st := db.Tree().Snapshot().Stats()
			require.NoError(b, db.Close())
			b.StartTimer()
			if st.Nodes != *benchNodes || st.Memberships == 0 && *benchMemberships > 0 {
				b.Fatalf("loaded %+v", st)
			}
		}
		sizes(b)
	})
	b.Run("readfile", func(b *testing.B) {
		for range b.N {
			data, err := os.ReadFile(full)
			if err != nil || len(data) == 0 {
				b.Fatal(err)
			}
		}
		fi, err := os.Stat(full)
		require.NoError(b, err)
		b.ReportMetric(float64(fi.Size())/1e6, "file-MB")
		b.ReportMetric(size(full)/1e6, "used-MB")
	})
	var d *orgtree.Dump
	b.Run("decode", func(b *testing.B) {
		for range b.N {
			bdb, dump, _, err := openFile(full, &bbolt.Options{ReadOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			require.NoError(b, bdb.Close())
			d = dump
		}
	})
	b.Run("engine-load", func(b *testing.B) {
		for range b.N {
			if err := orgtree.New().Load(d); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The same content as one JSON record per org, node and user (format
	// version 1, read but no longer written): what the full record plus
	// log of format 2 is measured against.
	b.Run("open-v1", func(b *testing.B) {
		if d == nil {
			b.Skip("needs decode in the same run")
		}
		v1 := dir + "/v1.db"
		if _, err := os.Stat(v1); err != nil {
			writeV1(b, v1, d)
		}
		b.ResetTimer()
		for range b.N {
			db, err := Open(v1, WithReadOnly())
			if err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			require.NoError(b, db.Close())
			b.StartTimer()
		}
		b.ReportMetric(size(v1)/float64(*benchNodes), "file-B/node")
	})
}

// BenchmarkBulkCommit is one transaction adding 10k departments under a
// root, without and with a change history: the history's entry of a bulk
// change is as large as the change (every new record, encoded).
func BenchmarkBulkCommit(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{{"plain", nil}, {"history", []Option{WithHistory(HistoryOptions{})}}} {
		b.Run(tc.name, func(b *testing.B) {
			var bytes int64
			for range b.N {
				b.StopTimer()
				db := mustOpen(b, tempPath(b), tc.opts...)
				org, err := db.Tree().CreateOrg(orgtree.OrgInput{Name: "Acme"})
				require.NoError(b, err)
				b.StartTimer()
				err = db.Tree().Update(func(tx *orgtree.Tx) error {
					for i := range 10_000 {
						if _, err := tx.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: fmt.Sprint("team ", i)}); err != nil {
							return err
						}
					}
					return nil
				})
				b.StopTimer()
				require.NoError(b, err)
				if info, err := db.History().Info(); err == nil {
					bytes = info.Bytes
				}
				require.NoError(b, db.Close())
			}
			b.ReportMetric(float64(bytes)/10_000, "history-B/node")
		})
	}
}

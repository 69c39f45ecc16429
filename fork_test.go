package orgtree

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// countingIDs is SequentialIDs that can be replayed: its n-th id is
// prefix+n, and after says how many it gave.
type countingIDs struct {
	prefix string
	n      int
}

func (c *countingIDs) next() string { c.n++; return fmt.Sprint(c.prefix, c.n) }

// replayIDs returns a generator that continues where c stands.
func (c *countingIDs) replay() func() string {
	d := *c
	return d.next
}

var frozenClock = WithClock(func() time.Time { return time.Unix(1e9, 0) })

// TestForkIsIndependent forks a tree and writes random transactions to the
// original and to two forks. Each side must end exactly where a fresh tree
// loaded from the fork point and given the same transactions ends (its
// reference), the snapshot taken at the fork must never change, and every
// side passes Check. A fork taken inside a transaction must not see the
// transaction's later writes.
func TestForkIsIndependent(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		ids := &countingIDs{prefix: "n"}
		orig := New(WithIDGenerator(ids.next), frozenClock)
		require.NoError(t, orig.Update(func(tx *Tx) error {
			seedOrg(t, tx)
			randomOps(t, tx, rand.New(rand.NewPCG(seed, 0)), 40)
			return nil
		}))
		at := orig.Snapshot()
		base := at.Dump()
		sides := []*Tree{orig, at.Fork(WithIDGenerator(SequentialIDs("a"))), orig.Fork(WithIDGenerator(SequentialIDs("b")))}
		refs := make([]*Tree, len(sides))
		for i, gen := range []func() string{ids.replay(), SequentialIDs("a"), SequentialIDs("b")} {
			refs[i] = New(WithIDGenerator(gen), frozenClock)
			require.NoError(t, refs[i].Load(base))
		}
		for round := range 3 {
			for i := range sides {
				for k, tr := range []*Tree{sides[i], refs[i]} {
					rng := rand.New(rand.NewPCG(seed, uint64(10*round+i+1)))
					var inner *Tree
					var atFork *Dump
					require.NoError(t, tr.Update(func(tx *Tx) error {
						randomOps(t, tx, rng, 20)
						if k == 0 && round == 1 {
							atFork = tx.Dump()
							inner = tx.Fork(WithIDGenerator(SequentialIDs("i")))
						}
						randomOps(t, tx, rng, 20)
						return nil
					}))
					checked(t, tr)
					if inner != nil {
						require.Equal(t, atFork, inner.Snapshot().Dump(), "a fork inside a transaction saw its later writes")
						checked(t, inner)
						require.NoError(t, inner.Update(func(tx *Tx) error { randomOps(t, tx, rng, 20); return nil }))
						checked(t, inner)
					}
				}
				require.Equal(t, refs[i].Snapshot().Dump(), sides[i].Snapshot().Dump(), "seed %d round %d side %d", seed, round, i)
			}
			require.Equal(t, base, at.Dump(), "the snapshot at the fork changed")
		}
	}
}

// BenchmarkFork forks a 100k-node tree and makes a first write on the fork:
// the fork is O(1), the write copies what it changes.
func BenchmarkFork(b *testing.B) {
	f := benchFix(b, benchNodes)
	b.Run("fork", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = f.tr.Fork()
		}
	})
	b.Run("fork+first-write", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := f.tr.Fork().UpdateNode(f.ids[i%len(f.ids)], NodeUpdate{Name: Ptr("forked")}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

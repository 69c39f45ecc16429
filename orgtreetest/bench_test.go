package orgtreetest

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/orgtree/orgtree"
)

var benchMillion = flag.Bool("bench.million", false, "also benchmark Fork of a 1M-node tree (builds for a few seconds)")

func benchSizes() []int {
	if *benchMillion {
		return []int{1_000, 100_000, 1_000_000}
	}
	return []int{1_000, 100_000}
}

func benchFixture(b *testing.B, n int) *Fixture {
	b.Helper()
	f, err := GenerateFixture(Spec{Nodes: n, Users: n, Memberships: 3 * n, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkFork shows that a fork costs the same whatever the tree's size,
// and what the first write after one costs (it copies the path it changes).
func BenchmarkFork(b *testing.B) {
	for _, n := range benchSizes() {
		f := benchFixture(b, n)
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = f.Fork()
			}
		})
		b.Run(fmt.Sprintf("first-write/nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				id := fmt.Sprintf("n%d", 1+i%(n-1))
				if _, err := f.Fork().UpdateNode(id, orgtree.NodeUpdate{Name: orgtree.Ptr("forked")}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoadHit is Load of a fixture already built: read the file, hash
// it, look it up, fork.
func BenchmarkLoadHit(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		o, err := Generate(Spec{Nodes: n, Users: n, Memberships: n, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		tree, err := o.Tree()
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if err := tree.ExportJSON(&buf, "org", orgtree.ExportOptions{}); err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(b.TempDir(), "org.json")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
		Load(b, path) // the miss that builds it
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(buf.Len()))
			for b.Loop() {
				_ = Load(b, path)
			}
		})
	}
}

// BenchmarkLoadSpecHit is LoadSpec of a generated fixture already built: a
// cache lookup and a fork.
func BenchmarkLoadSpecHit(b *testing.B) {
	spec := Spec{Nodes: 100_000, Users: 100_000, Memberships: 300_000, Seed: 1}
	benchFixture(b, 100_000)
	b.ReportAllocs()
	for b.Loop() {
		_ = LoadSpec(b, spec)
	}
}

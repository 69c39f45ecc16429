package reconcile

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/orgtree/orgtree"
)

func syntheticInput(n int, seed uint64) Input { return Synthetic(n, seed) }

func benchSizes() []int { return []int{10_000, 100_000} }

// BenchmarkPlan plans a provider list of n departments (and 2n users) into
// an empty org, and re-plans after it has been applied with 1% renamed.
func BenchmarkPlan(b *testing.B) {
	for _, n := range benchSizes() {
		in := syntheticInput(n, 1)
		b.Run(fmt.Sprintf("create/depts=%d", n), func(b *testing.B) {
			tr, org := newOrg(b)
			for b.Loop() {
				if _, err := Plan(tr.Snapshot(), org.ID, in, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("resync-1pct/depts=%d", n), func(b *testing.B) {
			tr, org := newOrg(b)
			p, err := Plan(tr.Snapshot(), org.ID, in, Options{})
			if err != nil {
				b.Fatal(err)
			}
			if err := Apply(tr, p); err != nil {
				b.Fatal(err)
			}
			changed := syntheticInput(n, 1)
			r := rand.New(rand.NewPCG(2, 2))
			for range n / 100 {
				changed.Departments[1+r.IntN(n-1)].Name = "renamed"
			}
			for b.Loop() {
				if _, err := Plan(tr.Snapshot(), org.ID, changed, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApply applies the plan that creates n departments and 2n users.
func BenchmarkApply(b *testing.B) {
	for _, n := range benchSizes() {
		in := syntheticInput(n, 1)
		b.Run(fmt.Sprintf("depts=%d", n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				tr := orgtree.New(orgtree.WithLimits(orgtree.Limits{MaxChildren: -1}))
				org, _ := tr.CreateOrg(orgtree.OrgInput{Name: "Acme"})
				p, err := Plan(tr.Snapshot(), org.ID, in, Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := Apply(tr, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

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

// bigTree adds an org of n nodes (random parents) with n users, one
// membership each, beside whatever t holds: the rest of the tree that a
// sync of another org must not pay for.
func bigTree(b *testing.B, t *orgtree.Tree, n int) {
	b.Helper()
	org, err := t.CreateOrg(orgtree.OrgInput{Name: "Big"})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	err = t.Update(func(tx *orgtree.Tx) error {
		ids := []string{org.RootID}
		for i := 1; i < n; i++ {
			node, err := tx.AddNode(orgtree.NodeInput{ParentID: ids[r.IntN(len(ids))], Name: fmt.Sprint("n", i), ExternalID: fmt.Sprint(i)})
			if err != nil {
				return err
			}
			ids = append(ids, node.ID)
		}
		for i := range n {
			u, err := tx.CreateUser(orgtree.User{Name: fmt.Sprint("u", i), ExternalID: fmt.Sprint("big", i)})
			if err != nil {
				return err
			}
			if err := tx.AddMembers(ids[r.IntN(len(ids))], u.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkResync re-syncs an unchanged 100-department org (200 users),
// alone in its tree and beside a 100,000-node org with 100,000 members:
// Plan and Apply read only the org, so the two should cost the same. A
// 20,000-department org alone gives the cost per department.
func BenchmarkResync(b *testing.B) {
	for _, c := range []struct{ depts, beside int }{{100, 0}, {100, 100_000}, {20_000, 0}} {
		in := Synthetic(c.depts, 3)
		beside := c.beside
		tr, org := newOrg(b)
		if beside > 0 {
			bigTree(b, tr, beside)
		}
		p, err := Plan(tr.Snapshot(), org.ID, in, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := Apply(tr, p); err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("org=%d/beside=%d", c.depts, beside)
		b.Run(name+"/plan", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Plan(tr.Snapshot(), org.ID, in, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/plan+apply", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := Plan(tr.Snapshot(), org.ID, in, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if !p.Empty() {
					b.Fatalf("re-sync not empty: %s", p.Summary())
				}
				if err := Apply(tr, p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

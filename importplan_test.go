package orgtree

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSortedByID holds the keyed sort of new users to a plain sort by id,
// on ids that share prefixes, differ in few places, differ in length and
// are all alike.
func TestSortedByID(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	gens := map[string]func(i int) string{
		"object ids": func(i int) string { return fmt.Sprintf("6b130e%02x6026fde6ca%06x", rng.IntN(3), rng.IntN(1<<24)) },
		"sequential": func(i int) string { return fmt.Sprintf("id%d", rng.IntN(5000)) },
		"random":     func(i int) string { return strings.Repeat("x", rng.IntN(3)) + fmt.Sprint(rng.Uint64()) },
		"long tails": func(i int) string { return "p" + strings.Repeat("ab", 6) + fmt.Sprintf("%030d", rng.IntN(100)) },
		"prefixes":   func(i int) string { return "u" + strings.Repeat("a", rng.IntN(12)) },
		"one":        func(i int) string { return "same" },
	}
	for name, gen := range gens {
		for _, n := range []int{0, 1, 2, 7, 300, 3000} {
			users := make([]*User, n)
			for i := range users {
				users[i] = &User{ID: gen(i)}
			}
			got := sortedByID(users)
			ids := make([]string, len(got))
			for i, k := range got {
				ids[i] = users[k].ID
			}
			want := make([]string, n)
			for i, u := range users {
				want[i] = u.ID
			}
			slices.Sort(want)
			require.Equal(t, want, ids, "%s, %d ids", name, n)
			seen := map[int32]bool{}
			for _, k := range got {
				require.False(t, seen[k], "index %d twice", k)
				seen[k] = true
			}
		}
	}
}

// TestSortJoins holds the counting sort of joins to a comparison sort.
func TestSortJoins(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, spread := range []int{1, 5, 100, 1 << 20} {
		for _, n := range []int{0, 1, 2, 50, 2000} {
			joins := make([]join, n)
			node := nid(1)
			for i := range joins {
				if rng.IntN(3) == 0 {
					node++
				}
				joins[i] = join{u: uid(1000 + rng.IntN(spread)), n: node}
			}
			if n > 0 && spread == 5 {
				joins[0].n = node + 1 // not in node order: the comparison sort
			}
			want := slices.Clone(joins)
			slices.SortFunc(want, func(a, b join) int { return cmp.Or(cmp.Compare(a.u, b.u), cmp.Compare(a.n, b.n)) })
			sortJoins(joins)
			require.Equal(t, want, joins, "spread %d, %d joins", spread, n)
		}
	}
}

package orgtree

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRollupsRandom drives members and structure at random and lets Check
// recompute every subtree size and distinct count after each step; it also
// compares MemberCount with a direct count over the subtree.
func TestRollupsRandom(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			tr := newTestTree(t, WithLimits(Limits{MaxChildren: -1}))
			var orgs []Org
			for i := 0; i < 2; i++ {
				o, err := tr.CreateOrg(OrgInput{Name: "org"})
				require.NoError(t, err)
				orgs = append(orgs, o)
			}
			var users []string
			for i := 0; i < 12; i++ {
				u, err := tr.CreateUser(User{Name: "u"})
				require.NoError(t, err)
				users = append(users, u.ID)
			}
			live := func() []Node {
				var out []Node
				for _, o := range orgs {
					if root, err := tr.RootNode(o.ID); err == nil {
						out = append(out, root)
						kids, _ := tr.Children(o.RootID, 1000)
						out = append(out, kids...)
					}
				}
				return out
			}
			pick := func() Node { ns := live(); return ns[rng.IntN(len(ns))] }
			for step := 0; step < 300; step++ {
				var err error
				switch rng.IntN(9) {
				case 0, 1:
					_, err = tr.AddNode(NodeInput{ParentID: pick().ID, Name: "n"})
				case 2, 3:
					err = tr.AddMembers(pick().ID, users[rng.IntN(len(users))], users[rng.IntN(len(users))])
				case 4:
					err = tr.RemoveMembers(pick().ID, users[rng.IntN(len(users))])
				case 5:
					err = tr.MoveMembers(pick().ID, pick().ID, users[rng.IntN(len(users))])
				case 6:
					_, err = tr.MoveNode(pick().ID, pick().ID)
				case 7:
					if rng.IntN(3) == 0 {
						err = tr.DeleteNode(pick().ID, Cascade)
					} else {
						err = tr.DeleteUser(users[rng.IntN(len(users))])
						if err == nil {
							u, _ := tr.CreateUser(User{Name: "u"})
							users = append(users, u.ID)
						}
					}
				case 8:
					doc := fmt.Sprintf(`{"name":"imp","members":[%q],"children":[{"name":"c","members":[%q,%q]}]}`,
						users[rng.IntN(len(users))], users[rng.IntN(len(users))], users[rng.IntN(len(users))])
					if doc != "" {
						_, err = tr.ImportJSON(stringsReader(doc), ImportOptions{ParentID: pick().ID})
					}
				}
				_ = err // errors are expected (cycles, non-members…); Check must hold anyway
				require.NoError(t, tr.Check(), "step %d", step)
				n := pick()
				got, err := tr.MemberCount(n.ID, true)
				require.NoError(t, err)
				want := map[string]bool{}
				for _, id := range append([]string{n.ID}, childIDs(tr, n.ID)...) {
					p, _ := tr.ListMembers(id, ListMembersOptions{Limit: 1000})
					for _, u := range p.List {
						want[u.ID] = true
					}
				}
				require.Equal(t, len(want), got, "step %d node %s", step, n.ID)
			}
		})
	}
}

func childIDs(tr *Tree, id string) []string {
	kids, _ := tr.Children(id, 1000)
	return nodeIDs(kids)
}

// TestLargeTransactionCounts runs the same random multi-operation
// transactions on two trees, one forced to stop keeping distinct counts
// after its first membership (they are recomputed at commit), and compares
// every count read inside the transactions and the committed trees.
func TestLargeTransactionCounts(t *testing.T) {
	defer func(old int) { bulkLinks = old }(bulkLinks)
	for seed := uint64(1); seed <= 20; seed++ {
		stopped := WithClock(func() time.Time { return time.Unix(1e9, 0) })
		kept, stale := New(WithIDGenerator(SequentialIDs("n")), stopped), New(WithIDGenerator(SequentialIDs("n")), stopped)
		for round := 0; round < 4; round++ {
			var reads [2][]int
			for i, tr := range []*Tree{kept, stale} {
				bulkLinks = map[bool]int{true: 1 << 30, false: -1}[i == 0]
				rng := rand.New(rand.NewPCG(seed, uint64(round)))
				err := tr.Update(func(tx *Tx) error {
					if round == 0 {
						seedOrg(t, tx)
					}
					reads[i] = append(reads[i], randomOps(t, tx, rng, 60)...)
					return nil
				})
				require.NoError(t, err)
				checked(t, tr)
			}
			require.Equal(t, reads[0], reads[1], "seed %d round %d: counts read inside the transaction", seed, round)
			require.Equal(t, kept.Snapshot().Dump(), stale.Snapshot().Dump())
			for _, n := range kept.Snapshot().Dump().Nodes {
				a, _ := kept.MemberCount(n.ID, true)
				b, _ := stale.MemberCount(n.ID, true)
				require.Equal(t, a, b, "node %s", n.ID)
			}
		}
	}
}

// randomOps applies n random operations (adds, member changes, moves,
// deletes, subtree counts) to tx, drawing nodes from what tx holds and
// users u0…u19, and returns the counts it read. Refused operations are
// part of the game.
func randomOps(t testing.TB, tx *Tx, rng *rand.Rand, n int) []int {
	var reads []int
	for op := 0; op < n; op++ {
		nodes := tx.Dump().Nodes
		id := nodes[rng.IntN(len(nodes))].ID
		u := fmt.Sprint("u", rng.IntN(20))
		switch rng.IntN(6) {
		case 0, 1:
			_, _ = tx.AddNode(NodeInput{ParentID: id, Name: fmt.Sprint("dept ", rng.IntN(50))})
		case 2:
			if ok, _ := tx.HasMember(id, u); !ok {
				_ = tx.AddMembers(id, u)
			} else {
				_ = tx.RemoveMembers(id, u)
			}
		case 3:
			_, _ = tx.MoveNode(id, nodes[rng.IntN(len(nodes))].ID)
		case 4:
			if rng.IntN(3) == 0 {
				_ = tx.DeleteNode(id, Cascade)
			} else {
				_, _ = tx.UpdateNode(id, NodeUpdate{Name: Ptr(fmt.Sprint("renamed ", rng.IntN(50)))})
			}
		case 5:
			c, err := tx.MemberCount(id, true)
			require.NoError(t, err)
			reads = append(reads, c)
		}
	}
	return reads
}

// seedOrg creates org "org" (root "root") and users u0…u19 for randomOps.
func seedOrg(t testing.TB, tx *Tx) {
	_, err := tx.CreateOrg(OrgInput{Name: "org", ID: "org", RootID: "root"})
	require.NoError(t, err)
	for u := 0; u < 20; u++ {
		_, err := tx.CreateUser(User{ID: fmt.Sprint("u", u), Name: "user"})
		require.NoError(t, err)
	}
}

// TestMoveCountsFromOutside moves a subtree out of and back into a deep
// branch whose nodes keep its user through memberships of their own, at a
// shallow and a deep level of the branch: counted from outside the moved
// subtree, each level must see the deepest of them.
func TestMoveCountsFromOutside(t *testing.T) {
	tr := newTestTree(t)
	org, err := tr.CreateOrg(OrgInput{Name: "Acme"})
	require.NoError(t, err)
	add := func(parent string) string {
		n, err := tr.AddNode(NodeInput{ParentID: parent, Name: "n"})
		require.NoError(t, err)
		return n.ID
	}
	a := add(org.RootID)
	b := add(a)
	c := add(b)
	d := add(c)
	x := add(d) // the subtree that moves
	other := add(org.RootID)
	u, err := tr.CreateUser(User{Name: "u"})
	require.NoError(t, err)
	v, err := tr.CreateUser(User{Name: "v"})
	require.NoError(t, err)
	require.NoError(t, tr.AddMembers(x, u.ID, v.ID))
	require.NoError(t, tr.AddMembers(a, u.ID)) // met first, at the segment's top
	require.NoError(t, tr.AddMembers(c, u.ID)) // met later, deeper
	counts := func() []int {
		var out []int
		for _, id := range []string{org.RootID, a, b, c, d, other} {
			k, err := tr.MemberCount(id, true)
			require.NoError(t, err)
			out = append(out, k)
		}
		return out
	}
	require.Equal(t, []int{2, 2, 2, 2, 2, 0}, counts())
	_, err = tr.MoveNode(x, other)
	require.NoError(t, err)
	checked(t, tr)
	require.Equal(t, []int{2, 1, 1, 1, 0, 2}, counts())
	_, err = tr.MoveNode(x, d)
	require.NoError(t, err)
	checked(t, tr)
	require.Equal(t, []int{2, 2, 2, 2, 2, 0}, counts())
}

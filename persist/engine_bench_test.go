package persist

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

// fillTree adds one org with nodes nodes (random tree, fan-out 5–15) and
// memberships memberships spread over memberships/3 users, in one Update.
func fillTree(tb testing.TB, tr *orgtree.Tree, nodes, memberships int) {
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

// BenchmarkEngineLoad measures orgtree.Tree.Load of a dump of the size of
// BenchmarkLoad's store: the engine's bulk build, which Open ends with.
func BenchmarkEngineLoad(b *testing.B) {
	src := orgtree.New()
	fillTree(b, src, *benchNodes, *benchMemberships)
	d := src.Snapshot().Dump()
	b.ResetTimer()
	for range b.N {
		if err := orgtree.New().Load(d); err != nil {
			b.Fatal(err)
		}
	}
}

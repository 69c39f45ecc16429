package orgtreetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

// checkOrg verifies what Generate promises about o against spec, and that
// the built tree holds exactly o: every parent, and every subtree's
// distinct member count computed here from the raw memberships.
func checkOrg(t *testing.T, spec Spec, o *Org) {
	t.Helper()
	s := spec.withDefaults()
	require.Len(t, o.Nodes, s.Nodes)
	require.Len(t, o.Users, s.Users)
	require.Len(t, o.Memberships, s.Memberships)
	kids := make([]int, len(o.Nodes))
	for i, n := range o.Nodes[1:] {
		require.Less(t, n.Parent, i+1, "parents first")
		require.Equal(t, o.Nodes[n.Parent].Depth+1, n.Depth)
		require.LessOrEqual(t, n.Depth, s.MaxDepth)
		kids[n.Parent]++
	}
	for _, k := range kids {
		require.LessOrEqual(t, k, s.MaxFanOut)
	}
	seen := map[Membership]bool{}
	inSome := map[int]bool{}
	for _, m := range o.Memberships {
		require.False(t, seen[m], "distinct memberships")
		seen[m] = true
		inSome[m.User] = true
	}
	if s.Memberships >= s.Users {
		require.Len(t, inSome, s.Users, "every user somewhere")
	}

	tree, err := o.Tree()
	require.NoError(t, err)
	require.NoError(t, tree.Check())
	// Reference rollup: the users under each node, walking up from each
	// membership.
	under := make([]map[int]bool, len(o.Nodes))
	for _, m := range o.Memberships {
		for n := m.Node; n >= 0; n = o.Nodes[n].Parent {
			if under[n] == nil {
				under[n] = map[int]bool{}
			}
			under[n][m.User] = true
		}
	}
	for i, n := range o.Nodes {
		got, err := tree.Node(n.ID)
		require.NoError(t, err)
		require.Equal(t, n.Name, got.Name)
		if n.Parent >= 0 {
			require.Equal(t, o.Nodes[n.Parent].ID, got.ParentID)
		}
		count, err := tree.MemberCount(n.ID, true)
		require.NoError(t, err)
		require.Equal(t, len(under[i]), count, "node %s", n.ID)
	}
	if o.MainDepartment {
		for i, m := range o.Memberships[:min(len(o.Users), len(o.Memberships))] {
			u, err := tree.User(o.Users[i].ID)
			require.NoError(t, err)
			require.Equal(t, o.Nodes[m.Node].ID, u.MainDepartmentID)
		}
	}
}

func TestGenerate(t *testing.T) {
	for name, spec := range map[string]Spec{
		"default":      {},
		"mixed":        {Nodes: 500, Users: 300, Memberships: 900, Seed: 1},
		"tight depth":  {Nodes: 40, MinFanOut: 2, MaxFanOut: 6, MaxDepth: 2, Users: 5, Memberships: 3, Seed: 2},
		"flat":         Flat(300),
		"chain":        DeepChain(1500), // deeper than the default MaxDepth
		"wide":         Wide(2000),
		"company":      Company(),
		"full members": {Nodes: 3, MinFanOut: 2, MaxFanOut: 2, Users: 4, Memberships: 12},
	} {
		t.Run(name, func(t *testing.T) {
			o, err := Generate(spec)
			require.NoError(t, err)
			checkOrg(t, spec, o)
			again, err := Generate(spec)
			require.NoError(t, err)
			require.Equal(t, o, again, "deterministic")
		})
	}
	a, _ := Generate(Spec{Nodes: 50, Seed: 1})
	b, _ := Generate(Spec{Nodes: 50, Seed: 2})
	assert.NotEqual(t, a.Nodes, b.Nodes, "the seed matters")
	chain, _ := Generate(DeepChain(10))
	assert.Equal(t, 9, chain.Nodes[9].Depth)
	company, _ := Generate(Company())
	deepest := 0
	for _, n := range company.Nodes {
		deepest = max(deepest, n.Depth)
	}
	assert.Equal(t, 6, deepest)
}

func TestGenerateRefusesImpossibleSpecs(t *testing.T) {
	for name, spec := range map[string]Spec{
		"negative nodes":      {Nodes: -1},
		"negative users":      {Users: -1},
		"fan-out order":       {MinFanOut: 9, MaxFanOut: 3},
		"too shallow":         {Nodes: 100, MaxFanOut: 3, MinFanOut: 1, MaxDepth: 2},
		"members, no users":   {Memberships: 1},
		"too many members":    {Nodes: 2, Users: 2, Memberships: 5},
		"unknown name style":  {Names: 7},
		"negative membership": {Memberships: -2},
	} {
		t.Run(name, func(t *testing.T) {
			o, err := Generate(spec)
			require.ErrorIs(t, err, ErrInvalidSpec)
			require.Nil(t, o)
			_, err = GenerateFixture(spec)
			require.ErrorIs(t, err, ErrInvalidSpec)
		})
	}
}

func TestGenerateFixtureIsCached(t *testing.T) {
	spec := Spec{Nodes: 100, Users: 10, Memberships: 50, Seed: 9}
	a, err := GenerateFixture(spec)
	require.NoError(t, err)
	b, err := GenerateFixture(spec)
	require.NoError(t, err)
	require.Same(t, a, b)
	t1, t2 := a.Fork(), a.Fork()
	n1, err := t1.AddNode(orgtree.NodeInput{ParentID: "n0", Name: "new"})
	require.NoError(t, err)
	n2, err := t2.AddNode(orgtree.NodeInput{ParentID: "n0", Name: "new"})
	require.NoError(t, err)
	require.Equal(t, n1, n2, "each fork continues the same id sequence and clock")
	require.Equal(t, IDPrefix+"1", n1.ID, "generated orgs bring their own ids")
}

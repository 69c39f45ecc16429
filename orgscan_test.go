package orgtree

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// orgPart is the reference for DumpOrg: Dump filtered to one org's nodes
// and the users with a membership there or leading one of its nodes.
func orgPart(d *Dump, orgID string) *OrgDump {
	out := &OrgDump{Seq: d.Seq, Nodes: []NodeRecord{}, Users: []UserRecord{}}
	for _, o := range d.Orgs {
		if o.ID == orgID {
			out.Org = o
		}
	}
	in := map[string]bool{}
	leaders := map[string]bool{}
	for _, n := range d.Nodes {
		if n.OrgID == orgID {
			out.Nodes = append(out.Nodes, n)
			in[n.ID] = true
			if n.LeaderUserID != "" {
				leaders[n.LeaderUserID] = true
			}
		}
	}
	for _, u := range d.Users {
		keep := leaders[u.ID]
		for _, m := range u.Memberships {
			keep = keep || in[m.NodeID]
		}
		if keep {
			out.Users = append(out.Users, u)
		}
	}
	return out
}

func TestDumpOrgEqualsDumpFiltered(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tr := newTestTree(t)
	var orgs []Org
	var nodes []string
	for i := range 3 {
		o, err := tr.CreateOrg(OrgInput{Name: fmt.Sprintf("org%d", i), Code: "hq"})
		require.NoError(t, err)
		orgs = append(orgs, o)
		nodes = append(nodes, o.RootID)
	}
	var users []string
	for i := range 30 {
		u, err := tr.CreateUser(User{Name: fmt.Sprintf("u%d", i), ExternalID: fmt.Sprintf("x%d", i)})
		require.NoError(t, err)
		users = append(users, u.ID)
	}
	// A random forest, with memberships across orgs, main departments and
	// leaders who are members nowhere in the org they lead.
	for i := range 200 {
		parent := nodes[r.IntN(len(nodes))]
		in := NodeInput{ParentID: parent, Name: fmt.Sprintf("n%d", i)}
		if r.IntN(4) == 0 {
			in.LeaderUserID = users[r.IntN(len(users))]
		}
		n, err := tr.AddNode(in)
		require.NoError(t, err)
		nodes = append(nodes, n.ID)
	}
	for _, u := range users[:25] {
		for range 1 + r.IntN(4) {
			n := nodes[r.IntN(len(nodes))]
			if ok, _ := tr.HasMember(n, u); !ok {
				require.NoError(t, tr.AddMembers(n, u))
			}
		}
		depts, err := tr.UserDepartments(u)
		require.NoError(t, err)
		require.NoError(t, tr.SetMainDepartment(u, depts[0].Node.ID))
	}
	s := tr.Snapshot()
	for _, o := range orgs {
		got, err := s.DumpOrg(o.ID)
		require.NoError(t, err)
		assert.Equal(t, orgPart(s.Dump(), o.ID), got, "org %s", o.ID)
		assert.NotEmpty(t, got.Users)
	}
	// An org with nothing but its root.
	empty, err := tr.CreateOrg(OrgInput{Name: "empty"})
	require.NoError(t, err)
	got, err := tr.Snapshot().DumpOrg(empty.ID)
	require.NoError(t, err)
	assert.Equal(t, orgPart(tr.Snapshot().Dump(), empty.ID), got)
	require.Len(t, got.Nodes, 1)

	_, err = s.DumpOrg("no-such-org")
	require.ErrorIs(t, err, ErrNotFound)
}

// TestDumpOrgDeepChain checks that the walk is iterative.
func TestDumpOrgDeepChain(t *testing.T) {
	tr := newTestTree(t, WithLimits(Limits{MaxDepth: -1}))
	o, err := tr.CreateOrg(OrgInput{Name: "deep"})
	require.NoError(t, err)
	parent := o.RootID
	require.NoError(t, tr.Update(func(tx *Tx) error {
		for i := range 20_000 {
			n, err := tx.AddNode(NodeInput{ParentID: parent, Name: fmt.Sprint(i)})
			if err != nil {
				return err
			}
			parent = n.ID
		}
		return nil
	}))
	d, err := tr.Snapshot().DumpOrg(o.ID)
	require.NoError(t, err)
	assert.Len(t, d.Nodes, 20_001)
}

// ExampleSnapshot_DumpOrg reads one org without copying the others.
func ExampleSnapshot_DumpOrg() {
	tr := New(WithIDGenerator(SequentialIDs("id")))
	acme, _ := tr.CreateOrg(OrgInput{Name: "Acme"})
	_, _ = tr.CreateOrg(OrgInput{Name: "Other"})
	dev, _ := tr.AddNode(NodeInput{ParentID: acme.RootID, Name: "Dev"})
	ann, _ := tr.CreateUser(User{Name: "Ann"})
	_ = tr.AddMembers(dev.ID, ann.ID)

	d, _ := tr.Snapshot().DumpOrg(acme.ID)
	for _, n := range d.Nodes {
		fmt.Println("node", n.Name)
	}
	for _, u := range d.Users {
		fmt.Println("user", u.Name, len(u.Memberships))
	}
	// Output:
	// node Acme
	// node Dev
	// user Ann 1
}

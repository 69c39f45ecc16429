package orgtree

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// randomStep applies one random write (which may fail and change nothing).
func randomStep(tr *Tree, rng *rand.Rand) {
	s := tr.Snapshot()
	d := s.Dump()
	pickNode := func() string {
		if len(d.Nodes) == 0 {
			return ""
		}
		return d.Nodes[rng.IntN(len(d.Nodes))].ID
	}
	pickUser := func() string {
		if len(d.Users) == 0 {
			return ""
		}
		return d.Users[rng.IntN(len(d.Users))].ID
	}
	_ = tr.Update(func(tx *Tx) error {
		for range 1 + rng.IntN(3) {
			switch op := rng.IntN(14); {
			case op == 0 || len(d.Orgs) == 0:
				_, _ = tx.CreateOrg(OrgInput{Name: fmt.Sprintf("org%d", rng.IntN(100))})
			case op <= 3:
				_, _ = tx.AddNode(NodeInput{ParentID: pickNode(), Name: fmt.Sprintf("n%d", rng.IntN(1000)), Code: fmt.Sprintf("c%d", rng.IntN(50))})
			case op == 4:
				_, _ = tx.UpdateNode(pickNode(), NodeUpdate{Name: Ptr(fmt.Sprintf("r%d", rng.IntN(1000)))})
			case op == 5:
				_, _ = tx.UpdateNode(pickNode(), NodeUpdate{Order: Ptr(rng.IntN(3)), Description: Ptr("d")})
			case op == 6:
				_, _ = tx.MoveNode(pickNode(), pickNode())
			case op == 7 && rng.IntN(3) == 0:
				_ = tx.DeleteNode(pickNode(), Cascade)
			case op == 8:
				_, _ = tx.CreateUser(User{Name: fmt.Sprintf("u%d", rng.IntN(100))})
			case op == 9:
				_ = tx.AddMembers(pickNode(), pickUser(), pickUser())
			case op == 10:
				_ = tx.RemoveMembers(pickNode(), pickUser())
			case op == 11 && len(d.Users) > 0:
				// A member's main department must be one of its nodes.
				u := d.Users[rng.IntN(len(d.Users))]
				if len(u.Memberships) > 0 {
					_ = tx.SetMainDepartment(u.ID, u.Memberships[rng.IntN(len(u.Memberships))].NodeID)
				}
			case op == 12:
				_, _ = tx.UpdateUser(pickUser(), UserUpdate{Email: Ptr(fmt.Sprintf("e%d@x", rng.IntN(9)))})
			case op == 13 && rng.IntN(4) == 0:
				_ = tx.DeleteUser(pickUser())
			}
		}
		return nil
	})
}

// bruteDiff computes the changes between two versions from their Dumps.
func bruteDiff(a, b *Dump) *Changes {
	c := &Changes{From: a.Seq, To: b.Seq}
	orgsA, orgsB := byID(a.Orgs, func(o OrgRecord) string { return o.ID }), byID(b.Orgs, func(o OrgRecord) string { return o.ID })
	for id, o := range orgsA {
		if n, ok := orgsB[id]; !ok {
			c.Orgs = append(c.Orgs, OrgChange{Kind: Removed, ID: id, Old: &o})
		} else if o != n {
			c.Orgs = append(c.Orgs, OrgChange{Kind: Updated, ID: id, Old: &o, New: &n})
		}
	}
	for id, n := range orgsB {
		if _, ok := orgsA[id]; !ok {
			c.Orgs = append(c.Orgs, OrgChange{Kind: Added, ID: id, New: &n})
		}
	}
	nodesA, nodesB := byID(a.Nodes, func(n NodeRecord) string { return n.ID }), byID(b.Nodes, func(n NodeRecord) string { return n.ID })
	for id, o := range nodesA {
		if n, ok := nodesB[id]; !ok {
			c.Nodes = append(c.Nodes, NodeChange{Kind: Removed, ID: id, OrgID: o.OrgID, Old: &o})
		} else if !reflect.DeepEqual(o, n) {
			c.Nodes = append(c.Nodes, NodeChange{Kind: Updated, ID: id, OrgID: o.OrgID, Old: &o, New: &n,
				Moved: o.ParentID != n.ParentID, Renamed: o.Name != n.Name || !maps.Equal(o.NameI18n, n.NameI18n)})
		}
	}
	for id, n := range nodesB {
		if _, ok := nodesA[id]; !ok {
			c.Nodes = append(c.Nodes, NodeChange{Kind: Added, ID: id, OrgID: n.OrgID, New: &n})
		}
	}
	type mk struct{ node, user string }
	members := func(d *Dump) map[mk]Membership {
		m := map[mk]Membership{}
		for _, u := range d.Users {
			for _, ms := range u.Memberships {
				m[mk{ms.NodeID, u.ID}] = ms
			}
		}
		return m
	}
	ma, mb := members(a), members(b)
	for k, m := range ma {
		if _, ok := mb[k]; !ok {
			c.Members = append(c.Members, MemberChange{NodeID: k.node, UserID: k.user, JoinedAt: m.JoinedAt})
		}
	}
	for k, m := range mb {
		if _, ok := ma[k]; !ok {
			c.Members = append(c.Members, MemberChange{NodeID: k.node, UserID: k.user, Joined: true, JoinedAt: m.JoinedAt})
		}
	}
	usersA, usersB := byID(a.Users, func(u UserRecord) string { return u.ID }), byID(b.Users, func(u UserRecord) string { return u.ID })
	for id, o := range usersA {
		n, ok := usersB[id]
		if n.MainDepartmentID != o.MainDepartmentID {
			c.MainDepartments = append(c.MainDepartments, MainDepartmentChange{UserID: id, OldNodeID: o.MainDepartmentID, NewNodeID: n.MainDepartmentID})
		}
		ou, nu := o.User, n.User
		if !ok {
			c.Users = append(c.Users, UserChange{Kind: Removed, ID: id, Old: &ou})
			continue
		}
		x, y := ou, nu
		x.MainDepartmentID, y.MainDepartmentID = "", ""
		if x != y {
			c.Users = append(c.Users, UserChange{Kind: Updated, ID: id, Old: &ou, New: &nu})
		}
	}
	for id, n := range usersB {
		if _, ok := usersA[id]; !ok {
			nu := n.User
			c.Users = append(c.Users, UserChange{Kind: Added, ID: id, New: &nu})
			if n.MainDepartmentID != "" {
				c.MainDepartments = append(c.MainDepartments, MainDepartmentChange{UserID: id, NewNodeID: n.MainDepartmentID})
			}
		}
	}
	d := differ{out: c}
	d.sort()
	return c
}

func byID[T any](xs []T, id func(T) string) map[string]T {
	m := make(map[string]T, len(xs))
	for _, x := range xs {
		m[id(x)] = x
	}
	return m
}

// TestDiffMatchesDumps compares Diff with a brute-force comparison of the
// Dumps of random pairs of versions of random histories, rollbacks and
// forks included.
func TestDiffMatchesDumps(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range size(30, 300) {
		tr := newTestTree(t)
		var snaps []Snapshot
		for step := range 40 + rng.IntN(80) {
			randomStep(tr, rng)
			snaps = append(snaps, tr.Snapshot())
			if step%25 == 24 && rng.IntN(2) == 0 {
				// Go back: later versions now sit on a discarded branch.
				require.NoError(t, tr.Rollback(snaps[len(snaps)-1-rng.IntN(10)]))
			}
			if step == 30 && rng.IntN(3) == 0 {
				tr = tr.Fork()
			}
		}
		for range 20 {
			a, b := snaps[rng.IntN(len(snaps))], snaps[rng.IntN(len(snaps))]
			got, err := Diff(a, b)
			require.NoError(t, err)
			want := bruteDiff(a.Dump(), b.Dump())
			if !reflect.DeepEqual(normal(got), normal(want)) {
				require.Equalf(t, normal(want), normal(got), "round %d: diff %d -> %d", round, a.Seq(), b.Seq())
			}
			if a.st == b.st {
				require.True(t, got.Empty())
			}
		}
	}
}

// normal makes nil and empty lists equal for comparison.
func normal(c *Changes) *Changes {
	x := *c
	x.Orgs, x.Nodes, x.Members = slices.Clip(x.Orgs), slices.Clip(x.Nodes), slices.Clip(x.Members)
	if len(x.Orgs) == 0 {
		x.Orgs = nil
	}
	if len(x.Nodes) == 0 {
		x.Nodes = nil
	}
	if len(x.Members) == 0 {
		x.Members = nil
	}
	if len(x.Users) == 0 {
		x.Users = nil
	}
	if len(x.MainDepartments) == 0 {
		x.MainDepartments = nil
	}
	return &x
}

// BenchmarkDiff diffs two versions of a 100k-node tree with 300k
// memberships that differ by one rename, one move and one membership: the
// time follows the three changes, not the tree.
func BenchmarkDiff(b *testing.B) {
	tr := New(WithIDGenerator(SequentialIDs("n")))
	var ids []string
	var users []string
	require.NoError(b, tr.Update(func(tx *Tx) error {
		org, err := tx.CreateOrg(OrgInput{Name: "big"})
		if err != nil {
			return err
		}
		ids = append(ids, org.RootID)
		for i := 1; i < 100_000; i++ {
			n, err := tx.AddNode(NodeInput{ParentID: ids[(i-1)/10], Name: fmt.Sprintf("n%d", i)})
			if err != nil {
				return err
			}
			ids = append(ids, n.ID)
		}
		for i := range 100_000 {
			u, err := tx.CreateUser(User{Name: fmt.Sprintf("u%d", i)})
			if err != nil {
				return err
			}
			users = append(users, u.ID)
			for k := range 3 {
				if err := tx.AddMembers(ids[(i*7+k*31337)%len(ids)], u.ID); err != nil {
					return err
				}
			}
		}
		return nil
	}))
	before := tr.Snapshot()
	require.NoError(b, tr.Update(func(tx *Tx) error {
		if _, err := tx.UpdateNode(ids[5000], NodeUpdate{Name: Ptr("renamed")}); err != nil {
			return err
		}
		if _, err := tx.MoveNode(ids[70000], ids[3]); err != nil {
			return err
		}
		return tx.AddMembers(ids[123], users[999])
	}))
	after := tr.Snapshot()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c, err := Diff(before, after)
		if err != nil || len(c.Nodes) != 2 || len(c.Members) != 1 {
			b.Fatalf("%v %+v", err, c)
		}
	}
}

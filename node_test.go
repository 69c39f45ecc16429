package orgtree

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateOrgAndRoot(t *testing.T) {
	tr := newTestTree(t)
	org, err := tr.CreateOrg(OrgInput{Name: "  GoSDKOrg2 ", Code: "codes", Description: "d"})
	require.NoError(t, err)
	checked(t, tr)
	root, err := tr.RootNode(org.ID)
	require.NoError(t, err)
	assert.Equal(t, "GoSDKOrg2", root.Name, "names are trimmed")
	assert.Equal(t, org.RootID, root.ID)
	assert.True(t, root.IsRoot())
	isRoot, err := tr.IsRoot(root.ID)
	require.NoError(t, err)
	assert.True(t, isRoot)
	got, err := tr.Org(org.ID)
	require.NoError(t, err)
	assert.Equal(t, org, got)
	byCode, err := tr.NodeByCode(org.ID, "codes")
	require.NoError(t, err)
	assert.Equal(t, root, byCode)
}

func TestCreateOrgErrors(t *testing.T) {
	tr := newTestTree(t)
	_, err := tr.CreateOrg(OrgInput{ID: "o1", RootID: "r1", Name: "a"})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		in   OrgInput
		want error
	}{
		{"empty name", OrgInput{Name: "  "}, ErrInvalidName},
		{"long name", OrgInput{Name: strings.Repeat("名", 65)}, ErrInvalidName},
		{"control char", OrgInput{Name: "a\x00b"}, ErrInvalidName},
		{"invalid utf8", OrgInput{Name: "a\xffb"}, ErrInvalidName},
		{"reserved code", OrgInput{Name: "a", Code: "sys:x"}, ErrInvalidCode},
		{"reserved code upper", OrgInput{Name: "a", Code: "SYS:x"}, ErrInvalidCode},
		{"code with space", OrgInput{Name: "a", Code: "a b"}, ErrInvalidCode},
		{"duplicate org id", OrgInput{ID: "o1", Name: "a"}, ErrExists},
		{"duplicate root id", OrgInput{RootID: "r1", Name: "a"}, ErrExists},
		{"bad org id", OrgInput{ID: "a b", Name: "a"}, ErrInvalidArgument},
		{"bad i18n key", OrgInput{Name: "a", NameI18n: map[string]string{"": "x"}}, ErrInvalidArgument},
		{"bad i18n name", OrgInput{Name: "a", NameI18n: map[string]string{"en": ""}}, ErrInvalidName},
		{"long description", OrgInput{Name: "a", Description: strings.Repeat("x", 4097)}, ErrLimitExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unchanged(t, tr, tc.want, func() error { _, err := tr.CreateOrg(tc.in); return err })
		})
	}
}

func TestAddNodeErrors(t *testing.T) {
	s := newSample(t, WithLimits(Limits{MaxChildren: 3, MaxDepth: 3}))
	other, err := s.tr.CreateOrg(OrgInput{Name: "Other"})
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		in   NodeInput
		want error
	}{
		{"no parent", NodeInput{Name: "x"}, ErrInvalidArgument},
		{"unknown parent", NodeInput{ParentID: "nope", Name: "x"}, ErrNotFound},
		{"wrong org", NodeInput{OrgID: other.ID, ParentID: s.dev, Name: "x"}, ErrCrossOrg},
		{"unknown org", NodeInput{OrgID: "nope", ParentID: s.dev, Name: "x"}, ErrNotFound},
		{"duplicate code", NodeInput{ParentID: s.dev, Name: "x", Code: "backend"}, ErrDuplicateCode},
		{"empty name", NodeInput{ParentID: s.dev, Name: ""}, ErrInvalidName},
		{"too deep", NodeInput{ParentID: s.backend, Name: "x"}, nil},
		{"duplicate id", NodeInput{ID: s.dev, ParentID: s.dev, Name: "x"}, ErrExists},
		{"duplicate external id", NodeInput{ParentID: s.dev, Name: "x", ExternalID: "e1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == nil {
				_, err := s.tr.AddNode(tc.in)
				require.NoError(t, err)
				checked(t, s.tr)
				return
			}
			unchanged(t, s.tr, tc.want, func() error { _, err := s.tr.AddNode(tc.in); return err })
		})
	}
	// backend is at depth 2, its new child at 3; one more level is too deep.
	kids, err := s.tr.Children(s.backend, 1)
	require.NoError(t, err)
	require.Len(t, kids, 1)
	unchanged(t, s.tr, ErrLimitExceeded, func() error {
		_, err := s.tr.AddNode(NodeInput{ParentID: kids[0].ID, Name: "deeper"})
		return err
	})
	unchanged(t, s.tr, ErrExists, func() error {
		_, err := s.tr.AddNode(NodeInput{ParentID: s.ops, Name: "x", ExternalID: "e1"})
		return err
	})
	// The code is unique per org, not per tree.
	_, err = s.tr.AddNode(NodeInput{ParentID: other.RootID, Name: "x", Code: "backend"})
	require.NoError(t, err)
	// dev has backend, frontend and the two added above: MaxChildren 3 is exceeded.
	unchanged(t, s.tr, ErrLimitExceeded, func() error {
		_, err := s.tr.AddNode(NodeInput{ParentID: s.dev, Name: "fifth"})
		return err
	})
}

func TestSiblingOrder(t *testing.T) {
	tr := newTestTree(t)
	org, _ := tr.CreateOrg(OrgInput{Name: "o"})
	a, _ := tr.AddNode(NodeInput{ParentID: org.RootID, Name: "a"})
	b, _ := tr.AddNode(NodeInput{ParentID: org.RootID, Name: "b", Order: 5})
	c, _ := tr.AddNode(NodeInput{ParentID: org.RootID, Name: "c"})
	ids, err := tr.ChildIDs(org.RootID)
	require.NoError(t, err)
	assert.Equal(t, []string{b.ID, a.ID, c.ID}, ids, "larger order first, then creation")
	_, err = tr.UpdateNode(c.ID, NodeUpdate{Order: Ptr(9)})
	require.NoError(t, err)
	checked(t, tr)
	ids, _ = tr.ChildIDs(org.RootID)
	assert.Equal(t, []string{c.ID, b.ID, a.ID}, ids)
}

func TestUpdateNode(t *testing.T) {
	s := newSample(t)
	before, _ := s.tr.Node(s.dev)
	n, err := s.tr.UpdateNode(s.dev, NodeUpdate{Name: Ptr(" R&D "), Code: Ptr("rd"), NameI18n: map[string]string{"en-US": "R&D"}})
	require.NoError(t, err)
	checked(t, s.tr)
	assert.Equal(t, "R&D", n.Name)
	assert.Equal(t, "rd", n.Code)
	assert.Equal(t, map[string]string{"en-US": "R&D"}, n.NameI18n)
	assert.True(t, n.UpdatedAt.After(before.UpdatedAt))
	_, err = s.tr.NodeByCode(s.org.ID, "dev")
	assert.ErrorIs(t, err, ErrNotFound, "the old code is free")
	got, err := s.tr.NodeByCode(s.org.ID, "rd")
	require.NoError(t, err)
	assert.Equal(t, s.dev, got.ID)

	// Clearing the code and the i18n map.
	n, err = s.tr.UpdateNode(s.dev, NodeUpdate{Code: Ptr(""), NameI18n: map[string]string{}})
	require.NoError(t, err)
	assert.Empty(t, n.Code)
	assert.Nil(t, n.NameI18n)
	checked(t, s.tr)

	// A no-op update commits nothing.
	seq := s.tr.Snapshot().Seq()
	_, err = s.tr.UpdateNode(s.dev, NodeUpdate{Name: Ptr("R&D")})
	require.NoError(t, err)
	assert.Equal(t, seq, s.tr.Snapshot().Seq())

	for _, tc := range []struct {
		name string
		id   string
		u    NodeUpdate
		want error
	}{
		{"unknown", "nope", NodeUpdate{Name: Ptr("x")}, ErrNotFound},
		{"empty name", s.dev, NodeUpdate{Name: Ptr(" ")}, ErrInvalidName},
		{"duplicate code", s.dev, NodeUpdate{Code: Ptr("backend")}, ErrDuplicateCode},
		{"reserved code", s.dev, NodeUpdate{Code: Ptr("sys:admin")}, ErrInvalidCode},
		{"bad external id", s.dev, NodeUpdate{ExternalID: Ptr("a\nb")}, ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unchanged(t, s.tr, tc.want, func() error { _, err := s.tr.UpdateNode(tc.id, tc.u); return err })
		})
	}
}

func TestPathsAndDepth(t *testing.T) {
	s := newSample(t)
	ids, err := s.tr.Path(s.backend)
	require.NoError(t, err)
	assert.Equal(t, []string{s.root, s.dev, s.backend}, ids)
	names, err := s.tr.NamePath(s.backend)
	require.NoError(t, err)
	assert.Equal(t, []string{"Acme", "dev", "backend"}, names)
	codes, err := s.tr.CodePath(s.frontend)
	require.NoError(t, err)
	assert.Equal(t, []string{"root", "dev", ""}, codes)
	d, err := s.tr.Depth(s.backend)
	require.NoError(t, err)
	assert.Equal(t, 2, d)
	anc, err := s.tr.Ancestors(s.backend)
	require.NoError(t, err)
	require.Len(t, anc, 2)
	assert.Equal(t, s.root, anc[0].ID)
	assert.Equal(t, s.dev, anc[1].ID)
	for _, f := range []func(string) ([]string, error){s.tr.Path, s.tr.NamePath, s.tr.CodePath} {
		_, err := f("nope")
		assert.ErrorIs(t, err, ErrNotFound)
	}
}

func TestChildrenDepth(t *testing.T) {
	s := newSample(t)
	kids, err := s.tr.Children(s.root, 1)
	require.NoError(t, err)
	assert.Equal(t, []string{s.dev, s.ops}, nodeIDs(kids))
	all, err := s.tr.Children(s.root, 2)
	require.NoError(t, err)
	assert.Equal(t, []string{s.dev, s.backend, s.frontend, s.ops}, nodeIDs(all))
	seq, err := s.tr.Descendants(s.dev)
	require.NoError(t, err)
	var got []string
	for n := range seq {
		got = append(got, n.ID)
	}
	assert.Equal(t, []string{s.backend, s.frontend}, got)
	_, err = s.tr.Children(s.root, 0)
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, err = s.tr.Children("nope", 1)
	assert.ErrorIs(t, err, ErrNotFound)
}

func nodeIDs(ns []Node) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

func TestMoveNode(t *testing.T) {
	s := newSample(t)
	other, _ := s.tr.CreateOrg(OrgInput{Name: "Other"})
	for _, tc := range []struct {
		name     string
		id, dest string
		want     error
	}{
		{"under itself", s.dev, s.dev, ErrCycle},
		{"under a descendant", s.dev, s.backend, ErrCycle},
		{"root", s.root, s.dev, ErrRootNode},
		{"cross org", s.dev, other.RootID, ErrCrossOrg},
		{"unknown node", "nope", s.dev, ErrNotFound},
		{"unknown parent", s.dev, "nope", ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unchanged(t, s.tr, tc.want, func() error { _, err := s.tr.MoveNode(tc.id, tc.dest); return err })
		})
	}
	n, err := s.tr.MoveNode(s.dev, s.ops)
	require.NoError(t, err)
	checked(t, s.tr)
	assert.Equal(t, s.ops, n.ParentID)
	ids, _ := s.tr.Path(s.backend)
	assert.Equal(t, []string{s.root, s.ops, s.dev, s.backend}, ids)
	ok, _ := s.tr.HasMember(s.backend, s.alice)
	assert.True(t, ok, "members move with their node")
	count, _ := s.tr.MemberCount(s.ops, true)
	assert.Equal(t, 2, count, "alice and bob, bob once")
}

func TestMoveRespectsMaxDepth(t *testing.T) {
	s := newSample(t, WithLimits(Limits{MaxDepth: 3}))
	leaf, err := s.tr.AddNode(NodeInput{ParentID: s.backend, Name: "leaf"}) // depth 3
	require.NoError(t, err)
	// Under ops (depth 1) dev would sit at 2 and leaf at 4.
	unchanged(t, s.tr, ErrLimitExceeded, func() error { _, err := s.tr.MoveNode(s.dev, s.ops); return err })
	// Moving the leaf up and a shallow subtree down are fine.
	_, err = s.tr.MoveNode(leaf.ID, s.ops)
	require.NoError(t, err)
	_, err = s.tr.MoveNode(s.dev, s.ops)
	require.NoError(t, err)
	checked(t, s.tr)
	d, _ := s.tr.Depth(s.backend)
	assert.Equal(t, 3, d)
}

func TestDeleteNode(t *testing.T) {
	s := newSample(t)
	unchanged(t, s.tr, ErrRootNode, func() error { return s.tr.DeleteNode(s.root, Cascade) })
	unchanged(t, s.tr, ErrNotEmpty, func() error { return s.tr.DeleteNode(s.dev, RefuseNonEmpty) })
	unchanged(t, s.tr, ErrNotEmpty, func() error { return s.tr.DeleteNode(s.ops, RefuseNonEmpty) })
	unchanged(t, s.tr, ErrNotFound, func() error { return s.tr.DeleteNode("nope", Cascade) })
	unchanged(t, s.tr, ErrInvalidArgument, func() error { return s.tr.DeleteNode(s.ops, DeleteMode(7)) })
	require.NoError(t, s.tr.DeleteNode(s.frontend, RefuseNonEmpty))
	require.NoError(t, s.tr.SetMainDepartment(s.alice, s.backend))
	require.NoError(t, s.tr.DeleteNode(s.dev, Cascade))
	checked(t, s.tr)
	for _, id := range []string{s.dev, s.backend, s.frontend} {
		_, err := s.tr.Node(id)
		assert.ErrorIs(t, err, ErrNotFound)
	}
	_, err := s.tr.NodeByCode(s.org.ID, "backend")
	assert.ErrorIs(t, err, ErrNotFound)
	alice, _ := s.tr.User(s.alice)
	assert.Empty(t, alice.MainDepartmentID, "main department goes with the node")
	depts, _ := s.tr.UserDepartments(s.bob)
	require.Len(t, depts, 1)
	assert.Equal(t, s.ops, depts[0].Node.ID)
	assert.Equal(t, Stats{Orgs: 1, Nodes: 2, Users: 3, Memberships: 2}, s.tr.Snapshot().Stats())
}

func TestDeleteOrg(t *testing.T) {
	s := newSample(t)
	other, _ := s.tr.CreateOrg(OrgInput{Name: "Other"})
	require.NoError(t, s.tr.AddMembers(other.RootID, s.alice))
	require.NoError(t, s.tr.DeleteOrg(s.org.ID))
	checked(t, s.tr)
	_, err := s.tr.Org(s.org.ID)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Equal(t, Stats{Orgs: 1, Nodes: 1, Users: 3, Memberships: 1}, s.tr.Snapshot().Stats())
	unchanged(t, s.tr, ErrNotFound, func() error { return s.tr.DeleteOrg(s.org.ID) })
}

func TestListOrgs(t *testing.T) {
	tr := newTestTree(t)
	var ids []string
	for i := 0; i < 25; i++ {
		o, err := tr.CreateOrg(OrgInput{Name: "org"})
		require.NoError(t, err)
		ids = append(ids, o.ID)
	}
	p, err := tr.ListOrgs(0, 0)
	require.NoError(t, err)
	assert.Equal(t, 25, p.TotalCount)
	require.Len(t, p.List, 10)
	assert.Equal(t, ids[0], p.List[0].ID)
	p, err = tr.ListOrgs(3, 10)
	require.NoError(t, err)
	require.Len(t, p.List, 5)
	assert.Equal(t, ids[20], p.List[0].ID)
	p, err = tr.ListOrgs(1<<60, 1000)
	require.NoError(t, err)
	assert.Empty(t, p.List)
	_, err = tr.ListOrgs(-1, 10)
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, err = tr.ListOrgs(1, 1001)
	assert.ErrorIs(t, err, ErrLimitExceeded)

	// Orgs is the same order without pages, past the page-size limit too.
	all := tr.Orgs()
	require.Len(t, all, 25)
	for i, o := range all {
		assert.Equal(t, ids[i], o.ID)
	}
	require.NoError(t, tr.DeleteOrg(ids[3]))
	assert.Len(t, tr.Orgs(), 24)
	assert.Empty(t, New().Orgs())
}

func TestParseSortBy(t *testing.T) {
	for o := SortCreatedAtDesc; o <= SortUpdatedAtAsc; o++ {
		got, err := ParseSortBy(o.String())
		require.NoError(t, err)
		assert.Equal(t, o, got)
		got, err = ParseSortBy(strings.ToLower(o.String()))
		require.NoError(t, err)
		assert.Equal(t, o, got)
	}
	for _, bad := range []string{"", "CREATED", "SortBy(7)"} {
		_, err := ParseSortBy(bad)
		assert.ErrorIs(t, err, ErrInvalidArgument, bad)
	}
}

func TestFormatParsePath(t *testing.T) {
	for _, p := range [][]string{{"a"}, {"a/b", `c\d`, ""}, {""}, {`\`, "/", "//"}} {
		got, err := ParsePath(FormatPath(p))
		require.NoError(t, err)
		assert.Equal(t, p, got)
	}
	_, err := ParsePath(`a\`)
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, err = ParsePath(`a\x`)
	assert.ErrorIs(t, err, ErrInvalidArgument)
}

// TestCycleRefusedWithoutTransaction checks that Tree.MoveNode, which
// refuses a cyclic move on the newest version before any transaction,
// answers exactly as the move inside a transaction does, and changes
// nothing: no version, no commit hook.
func TestCycleRefusedWithoutTransaction(t *testing.T) {
	commits := 0
	s := newSample(t, WithCommitHook(func(*ChangeSet) error { commits++; return nil }))
	commits = 0
	seq := s.tr.Snapshot().Seq()
	_, direct := s.tr.MoveNode(s.dev, s.backend)
	require.ErrorIs(t, direct, ErrCycle)
	var inTx error
	require.Error(t, s.tr.Update(func(tx *Tx) error {
		_, inTx = tx.MoveNode(s.dev, s.backend)
		return inTx
	}))
	require.Equal(t, inTx.Error(), direct.Error())
	assert.Contains(t, direct.Error(), s.dev)
	assert.Equal(t, seq, s.tr.Snapshot().Seq())
	assert.Zero(t, commits)
	checked(t, s.tr)
}

// TestWideChildLists moves and deletes children of a parent with more
// children than childIndex scans for by handle, so that both the scan and
// the binary search by sibling order find the child to take out.
func TestWideChildLists(t *testing.T) {
	tr := newTestTree(t)
	org, _ := tr.CreateOrg(OrgInput{Name: "o"})
	other, _ := tr.AddNode(NodeInput{ParentID: org.RootID, Name: "other"})
	wide, _ := tr.AddNode(NodeInput{ParentID: org.RootID, Name: "wide"})
	var kids []string
	for i := range 80 {
		n, err := tr.AddNode(NodeInput{ParentID: wide.ID, Name: fmt.Sprint("k", i), Order: i % 7})
		require.NoError(t, err)
		kids = append(kids, n.ID)
	}
	for i, id := range kids {
		switch i % 3 {
		case 0:
			_, err := tr.MoveNode(id, other.ID)
			require.NoError(t, err)
		case 1:
			require.NoError(t, tr.DeleteNode(id, Cascade))
		}
		checked(t, tr)
	}
	left, _ := tr.ChildIDs(wide.ID)
	moved, _ := tr.ChildIDs(other.ID)
	assert.Len(t, left, 80/3)
	assert.Len(t, moved, (80+2)/3)
}

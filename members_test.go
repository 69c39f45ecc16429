package orgtree

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUsers(t *testing.T) {
	tr := newTestTree(t)
	at := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	u, err := tr.CreateUser(User{ID: "u1", Name: "Ann", ExternalID: "ding-1", CreatedAt: at})
	require.NoError(t, err)
	assert.Equal(t, at, u.CreatedAt)
	assert.Equal(t, at, u.UpdatedAt)
	got, err := tr.UserByExternalID("ding-1")
	require.NoError(t, err)
	assert.Equal(t, u, got)
	for _, tc := range []struct {
		name string
		u    User
		want error
	}{
		{"duplicate id", User{ID: "u1"}, ErrExists},
		{"duplicate external id", User{ExternalID: "ding-1"}, ErrExists},
		{"main department", User{MainDepartmentID: "x"}, ErrInvalidArgument},
		{"bad id", User{ID: "a b"}, ErrInvalidArgument},
		{"control in name", User{Name: "a\x01"}, ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unchanged(t, tr, tc.want, func() error { _, err := tr.CreateUser(tc.u); return err })
		})
	}
	u2, err := tr.UpdateUser("u1", UserUpdate{Email: Ptr("ann@example.com"), ExternalID: Ptr("ding-2")})
	require.NoError(t, err)
	assert.Equal(t, "ann@example.com", u2.Email)
	_, err = tr.UserByExternalID("ding-1")
	assert.ErrorIs(t, err, ErrNotFound)
	checked(t, tr)
	_, err = tr.CreateUser(User{ID: "u2", ExternalID: "ding-3"})
	require.NoError(t, err)
	unchanged(t, tr, ErrExists, func() error { _, err := tr.UpdateUser("u1", UserUpdate{ExternalID: Ptr("ding-3")}); return err })
	unchanged(t, tr, ErrNotFound, func() error { _, err := tr.UpdateUser("nope", UserUpdate{}); return err })
	require.NoError(t, tr.DeleteUser("u1"))
	checked(t, tr)
	unchanged(t, tr, ErrNotFound, func() error { return tr.DeleteUser("u1") })
}

func TestMembershipOps(t *testing.T) {
	s := newSample(t)
	tr := s.tr
	// Adding again is a no-op; unknown users fail and add nobody.
	seq := tr.Snapshot().Seq()
	require.NoError(t, tr.AddMembers(s.backend, s.alice))
	assert.Equal(t, seq, tr.Snapshot().Seq())
	unchanged(t, tr, ErrNotFound, func() error { return tr.AddMembers(s.frontend, s.alice, "ghost") })
	unchanged(t, tr, ErrNotFound, func() error { return tr.AddMembers("nope", s.alice) })
	unchanged(t, tr, ErrNotMember, func() error { return tr.RemoveMembers(s.backend, s.alice, s.carol) })
	unchanged(t, tr, ErrNotMember, func() error { return tr.MoveMembers(s.ops, s.frontend, s.alice) })
	unchanged(t, tr, ErrNotMember, func() error { return tr.SetMainDepartment(s.alice, s.ops) })
	unchanged(t, tr, ErrNotFound, func() error { return tr.SetMainDepartment("ghost", s.ops) })

	require.NoError(t, tr.SetMainDepartment(s.bob, s.backend))
	require.NoError(t, tr.MoveMembers(s.backend, s.ops, s.alice, s.bob))
	checked(t, tr)
	bob, _ := tr.User(s.bob)
	assert.Equal(t, s.ops, bob.MainDepartmentID, "main department follows the move")
	n, _ := tr.MemberCount(s.backend, false)
	assert.Zero(t, n)
	n, _ = tr.MemberCount(s.ops, false)
	assert.Equal(t, 2, n, "bob was already in ops and is counted once")

	depts, err := tr.UserDepartments(s.bob)
	require.NoError(t, err)
	require.Len(t, depts, 1)
	assert.True(t, depts[0].IsMain)

	require.NoError(t, tr.RemoveMembers(s.ops, s.bob))
	bob, _ = tr.User(s.bob)
	assert.Empty(t, bob.MainDepartmentID)
	require.NoError(t, tr.SetMainDepartment(s.alice, s.ops))
	require.NoError(t, tr.SetMainDepartment(s.alice, ""))
	checked(t, tr)
}

func TestListMembers(t *testing.T) {
	s := newSample(t)
	tr := s.tr
	p, err := tr.ListMembers(s.backend, ListMembersOptions{})
	require.NoError(t, err)
	assert.Equal(t, 2, p.TotalCount)
	assert.Equal(t, []string{s.bob, s.alice}, userIDs(p.List), "newest first by default")
	p, err = tr.ListMembers(s.root, ListMembersOptions{IncludeDescendants: true, SortBy: SortCreatedAtAsc})
	require.NoError(t, err)
	assert.Equal(t, 3, p.TotalCount, "bob is in two nodes but counted once")
	assert.Equal(t, []string{s.alice, s.bob, s.carol}, userIDs(p.List))
	p, err = tr.ListMembers(s.root, ListMembersOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{s.carol}, userIDs(p.List))

	// Updating bob moves him to the front of the updatedAt order.
	_, err = tr.UpdateUser(s.alice, UserUpdate{Name: Ptr("Alice")})
	require.NoError(t, err)
	p, _ = tr.ListMembers(s.root, ListMembersOptions{IncludeDescendants: true, SortBy: SortUpdatedAtDesc})
	assert.Equal(t, []string{s.alice, s.carol, s.bob}, userIDs(p.List))
	p, _ = tr.ListMembers(s.root, ListMembersOptions{IncludeDescendants: true, SortBy: SortUpdatedAtAsc})
	assert.Equal(t, []string{s.bob, s.carol, s.alice}, userIDs(p.List))

	// Pages and cursors.
	p, _ = tr.ListMembers(s.root, ListMembersOptions{IncludeDescendants: true, SortBy: SortCreatedAtAsc, Page: 2, Limit: 2})
	assert.Equal(t, []string{s.carol}, userIDs(p.List))
	assert.Empty(t, p.NextCursor)
	p, _ = tr.ListMembers(s.root, ListMembersOptions{IncludeDescendants: true, SortBy: SortCreatedAtAsc, Limit: 1})
	require.NotEmpty(t, p.NextCursor)
	// A member added before the cursor position does not shift the next page.
	dave, _ := tr.CreateUser(User{Name: "dave", CreatedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, tr.AddMembers(s.ops, dave.ID))
	p2, err := tr.ListMembers(s.root, ListMembersOptions{IncludeDescendants: true, SortBy: SortCreatedAtAsc, Limit: 1, Cursor: p.NextCursor})
	require.NoError(t, err)
	assert.Equal(t, []string{s.bob}, userIDs(p2.List))
	assert.Equal(t, 4, p2.TotalCount)

	for _, tc := range []struct {
		name string
		opt  ListMembersOptions
	}{
		{"negative page", ListMembersOptions{Page: -1}},
		{"negative limit", ListMembersOptions{Limit: -1}},
		{"bad sort", ListMembersOptions{SortBy: 9}},
		{"bad cursor", ListMembersOptions{Cursor: "!!"}},
		{"cursor for another order", ListMembersOptions{Cursor: p.NextCursor, SortBy: SortCreatedAtDesc}},
		{"cursor with page", ListMembersOptions{Cursor: p.NextCursor, SortBy: SortCreatedAtAsc, Page: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tr.ListMembers(s.root, tc.opt)
			assert.ErrorIs(t, err, ErrInvalidArgument)
		})
	}
	_, err = tr.ListMembers(s.root, ListMembersOptions{Limit: 5000})
	assert.ErrorIs(t, err, ErrLimitExceeded)
	_, err = tr.ListMembers("nope", ListMembersOptions{})
	assert.ErrorIs(t, err, ErrNotFound)
}

func userIDs(us []User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

func TestResources(t *testing.T) {
	s := newSample(t)
	tr := s.tr
	require.NoError(t, tr.GrantResource(s.dev, Resource{Namespace: "app", Code: "books:1", Type: ResourceData, Actions: []string{"books:update", "books:delete", "books:update"}}))
	require.NoError(t, tr.GrantResource(s.dev, Resource{Namespace: "app", Code: "menu_a", Type: ResourceMenu}))
	require.NoError(t, tr.GrantResource(s.dev, Resource{Namespace: "other", Code: "menu_b", Type: ResourceMenu}))
	checked(t, tr)
	all, err := tr.AuthorizedResources(s.dev, ResourceFilter{})
	require.NoError(t, err)
	assert.Equal(t, 3, all.TotalCount)
	assert.Equal(t, []string{"books:delete", "books:update"}, all.List[0].Actions, "actions sorted and distinct")
	menus, err := tr.AuthorizedResourcesByCode(s.org.ID, "dev", ResourceFilter{Type: ResourceMenu, Namespace: "app"})
	require.NoError(t, err)
	assert.Equal(t, ResourceList{TotalCount: 1, List: []Resource{{Namespace: "app", Code: "menu_a", Type: ResourceMenu}}}, menus)
	// Granting the same again changes nothing; a new action set replaces.
	seq := tr.Snapshot().Seq()
	require.NoError(t, tr.GrantResource(s.dev, Resource{Namespace: "app", Code: "menu_a", Type: ResourceMenu}))
	assert.Equal(t, seq, tr.Snapshot().Seq())
	require.NoError(t, tr.RevokeResource(s.dev, "app", "menu_a"))
	unchanged(t, tr, ErrNotFound, func() error { return tr.RevokeResource(s.dev, "app", "menu_a") })
	unchanged(t, tr, ErrInvalidArgument, func() error {
		return tr.GrantResource(s.dev, Resource{Namespace: "app", Code: "x", Type: "WIDGET"})
	})
	unchanged(t, tr, ErrInvalidArgument, func() error { return tr.GrantResource(s.dev, Resource{Namespace: "app", Type: ResourceAPI}) })
	unchanged(t, tr, ErrNotFound, func() error { return tr.GrantResource("nope", Resource{Code: "x", Type: ResourceAPI}) })
	_, err = tr.AuthorizedResources(s.dev, ResourceFilter{Type: "WIDGET"})
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, err = tr.AuthorizedResourcesByCode(s.org.ID, "nope", ResourceFilter{})
	assert.ErrorIs(t, err, ErrNotFound)
	// Grants go with a deleted node.
	require.NoError(t, tr.DeleteNode(s.dev, Cascade))
	_, err = tr.AuthorizedResources(s.dev, ResourceFilter{})
	assert.ErrorIs(t, err, ErrNotFound)
	checked(t, tr)
}

// TestLeaderClearedWithUser: deleting a user clears LeaderUserID on every
// node it led, reports those nodes in the ChangeSet, and keeps Check clean
// through moves, renames and node deletions; a user created by the same
// import can lead.
func TestLeaderClearedWithUser(t *testing.T) {
	var sets []*ChangeSet
	tr := New(WithCommitHook(func(cs *ChangeSet) error { sets = append(sets, cs); return nil }))
	org, err := tr.CreateOrg(OrgInput{Name: "Acme"})
	require.NoError(t, err)
	alice, err := tr.CreateUser(User{Name: "alice"})
	require.NoError(t, err)
	bob, err := tr.CreateUser(User{Name: "bob"})
	require.NoError(t, err)
	a, err := tr.AddNode(NodeInput{ParentID: org.RootID, Name: "a", LeaderUserID: alice.ID})
	require.NoError(t, err)
	b, err := tr.AddNode(NodeInput{ParentID: a.ID, Name: "b", LeaderUserID: alice.ID})
	require.NoError(t, err)
	c, err := tr.AddNode(NodeInput{ParentID: org.RootID, Name: "c", LeaderUserID: bob.ID})
	require.NoError(t, err)
	_, err = tr.UpdateNode(org.RootID, NodeUpdate{LeaderUserID: Ptr(alice.ID)})
	require.NoError(t, err)
	_, err = tr.UpdateNode(c.ID, NodeUpdate{LeaderUserID: Ptr(alice.ID)}) // bob → alice
	require.NoError(t, err)
	_, err = tr.UpdateNode(c.ID, NodeUpdate{LeaderUserID: Ptr(bob.ID)}) // and back
	require.NoError(t, err)
	require.NoError(t, tr.DeleteNode(b.ID, Cascade))
	checked(t, tr)

	sets = nil
	require.NoError(t, tr.DeleteUser(alice.ID))
	checked(t, tr)
	for _, id := range []string{org.RootID, a.ID} {
		n, err := tr.Node(id)
		require.NoError(t, err)
		assert.Empty(t, n.LeaderUserID, "node %s still led by a deleted user", id)
	}
	n, err := tr.Node(c.ID)
	require.NoError(t, err)
	assert.Equal(t, bob.ID, n.LeaderUserID)
	require.Len(t, sets, 1)
	var changed []string
	for _, r := range sets[0].Nodes {
		changed = append(changed, r.ID)
		assert.Empty(t, r.LeaderUserID)
	}
	assert.ElementsMatch(t, []string{org.RootID, a.ID}, changed)
	assert.Equal(t, []string{alice.ID}, sets[0].DeletedUsers)

	// A leader defined by the same import, then the round trip through Load.
	_, err = tr.ImportJSON(strings.NewReader(`{"name":"Imp","leaderUserId":"new-1","members":[{"id":"new-1","name":"Neo"}]}`), ImportOptions{KeepIDs: true})
	require.NoError(t, err)
	checked(t, tr)
	fresh := New()
	require.NoError(t, fresh.Load(tr.Snapshot().Dump()))
	checked(t, fresh)
	require.NoError(t, fresh.DeleteUser("new-1"))
	checked(t, fresh)
}

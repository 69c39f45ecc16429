package orgtree

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestListMembersStrategiesAgree runs every listing twice, sorting all
// members and walking the user order, and compares both with a brute-force
// answer, across orders, pages, cursors and timestamp ties.
func TestListMembersStrategiesAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	tr := newTestTree(t)
	org, _ := tr.CreateOrg(OrgInput{Name: "o"})
	nodes := []string{org.RootID}
	for i := 0; i < 30; i++ {
		n, err := tr.AddNode(NodeInput{ParentID: nodes[rng.IntN(len(nodes))], Name: "n"})
		require.NoError(t, err)
		nodes = append(nodes, n.ID)
	}
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	var users []string
	for i := 0; i < 120; i++ {
		u := User{Name: fmt.Sprint(i)}
		if rng.IntN(2) == 0 { // many users share a few timestamps
			u.CreatedAt = t0.Add(time.Duration(rng.IntN(4)) * time.Second)
		}
		created, err := tr.CreateUser(u)
		require.NoError(t, err)
		users = append(users, created.ID)
		for k := rng.IntN(3); k >= 0; k-- {
			require.NoError(t, tr.AddMembers(nodes[rng.IntN(len(nodes))], created.ID))
		}
		if rng.IntN(4) == 0 {
			_, err := tr.UpdateUser(users[rng.IntN(len(users))], UserUpdate{Name: Ptr(fmt.Sprint("x", i))})
			require.NoError(t, err)
		}
	}
	checked(t, tr)
	defer func(old int) { scanThreshold = old }(scanThreshold)
	for _, node := range nodes[:8] {
		for _, sub := range []bool{false, true} {
			for o := SortCreatedAtDesc; o <= SortUpdatedAtAsc; o++ {
				want := bruteMembers(t, tr, node, sub, o)
				for _, threshold := range []int{1 << 30, 0} {
					scanThreshold = threshold
					for _, limit := range []int{1, 3, 7} {
						// Pages.
						var got []string
						for page := 1; ; page++ {
							p, err := tr.ListMembers(node, ListMembersOptions{IncludeDescendants: sub, SortBy: o, Page: page, Limit: limit})
							require.NoError(t, err)
							require.Equal(t, len(want), p.TotalCount)
							if len(p.List) == 0 {
								break
							}
							got = append(got, userIDs(p.List)...)
						}
						require.Equal(t, want, got, "pages: node %s sub %v order %v threshold %d", node, sub, o, threshold)
						// Cursors.
						got = nil
						cursor := ""
						for {
							p, err := tr.ListMembers(node, ListMembersOptions{IncludeDescendants: sub, SortBy: o, Limit: limit, Cursor: cursor})
							require.NoError(t, err)
							got = append(got, userIDs(p.List)...)
							if p.NextCursor == "" {
								break
							}
							cursor = p.NextCursor
						}
						require.Equal(t, want, got, "cursor: node %s sub %v order %v threshold %d", node, sub, o, threshold)
					}
				}
			}
		}
	}
}

// bruteMembers lists the distinct members of a node (or subtree) sorted by
// o, from exported data only.
func bruteMembers(t *testing.T, tr *Tree, node string, sub bool, o SortBy) []string {
	ids := []string{node}
	if sub {
		ids = append(ids, childIDs(tr, node)...)
	}
	seen := map[string]User{}
	exp := tr.Snapshot().Dump()
	inScope := map[string]bool{}
	for _, id := range ids {
		inScope[id] = true
	}
	for _, u := range exp.Users {
		for _, m := range u.Memberships {
			if inScope[m.NodeID] {
				seen[u.ID] = u.User
			}
		}
	}
	var us []User
	for _, u := range seen {
		us = append(us, u)
	}
	slices.SortFunc(us, func(a, b User) int {
		at, bt := a.CreatedAt, b.CreatedAt
		if o == SortUpdatedAtAsc || o == SortUpdatedAtDesc {
			at, bt = a.UpdatedAt, b.UpdatedAt
		}
		c := at.Compare(bt)
		if o == SortCreatedAtDesc || o == SortUpdatedAtDesc {
			c = -c
		}
		if c != 0 {
			return c
		}
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	out := []string{}
	for _, u := range us {
		out = append(out, u.ID)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

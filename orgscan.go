package orgtree

import (
	"cmp"
	"slices"
)

// OrgDump is one org's part of a Dump: the org, its nodes, and the users
// that its nodes refer to. It is what a reader needs to work on one org
// (package reconcile plans a sync from it) without copying the whole tree.
type OrgDump struct {
	// Seq is the version the records were read from.
	Seq uint64    `json:"seq"`
	Org OrgRecord `json:"org"`
	// Nodes are the org's nodes, the root included, sorted by id.
	Nodes []NodeRecord `json:"nodes"`
	// Users are the users with a membership in one of the org's nodes or
	// leading one of them, sorted by id. Each record is the same as in Dump:
	// it lists every membership of the user, those in other orgs included.
	Users []UserRecord `json:"users"`
}

// DumpOrg returns the records of org orgID as Dump has them. It costs
// O(the org's nodes, their memberships and the listed users' memberships)
// and does not depend on the size of the rest of the tree.
func (s Snapshot) DumpOrg(orgID string) (*OrgDump, error) {
	o, err := s.lookupOrg("dump org", orgID)
	if err != nil {
		return nil, err
	}
	st := s.st
	d := &OrgDump{Seq: st.seq, Org: st.orgRecord(o)}
	seen := map[uid]struct{}{}
	var users []uid
	note := func(u uid) {
		if _, ok := seen[u]; !ok {
			seen[u] = struct{}{}
			users = append(users, u)
		}
	}
	// An explicit stack over the children lists: orgs may be deep.
	stack := []nid{o.root}
	for len(stack) > 0 {
		r := st.node(stack[len(stack)-1])
		stack = append(stack[:len(stack)-1], r.children...)
		d.Nodes = append(d.Nodes, st.nodeRecord(r))
		for _, m := range r.members {
			note(m.user)
		}
		if r.leaderUserID != "" {
			if u, ok := st.userIDs.Get(r.leaderUserID); ok {
				note(u)
			}
		}
	}
	d.Users = make([]UserRecord, 0, len(users))
	for _, u := range users {
		d.Users = append(d.Users, st.userRecord(u, st.user(u)))
	}
	slices.SortFunc(d.Nodes, func(a, b NodeRecord) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(d.Users, func(a, b UserRecord) int { return cmp.Compare(a.ID, b.ID) })
	return d, nil
}

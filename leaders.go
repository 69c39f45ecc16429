package orgtree

import (
	"fmt"
	"slices"
)

// A node's LeaderUserID names a user, like a user's main department names a
// node: it must exist when it is set (AddNode, UpdateNode, CreateOrg, Import,
// Load), and DeleteUser clears it on every node the user led, reporting
// those nodes in the ChangeSet. Each user keeps the sorted handles of the
// nodes it leads, so that clearing costs what the user led, not the tree.

// checkLeader fails unless id is empty or an existing user.
func (s Snapshot) checkLeader(id string) error {
	if id == "" {
		return nil
	}
	if _, ok := s.st.userIDs.Get(id); ok {
		return nil
	}
	return fmt.Errorf("leaderUserId: user %q: %w", id, ErrNotFound)
}

// setLeader moves node n from the leads of user old to those of user new
// (either may be empty). It does not mark the users changed: leads are
// derived from the nodes, which are.
func (tx *Tx) setLeader(n nid, old, new string) {
	if old == new {
		return
	}
	if u, ok := tx.st.userIDs.Get(old); ok && old != "" {
		w := tx.ownLeads(u)
		if i, found := slices.BinarySearch(w.leads, n); found {
			w.leads = slices.Delete(w.leads, i, i+1)
		}
	}
	if u, ok := tx.st.userIDs.Get(new); ok && new != "" {
		w := tx.ownLeads(u)
		if i, found := slices.BinarySearch(w.leads, n); !found {
			w.leads = slices.Insert(w.leads, i, n)
		}
	}
}

// ownLeads returns the transaction's copy of user u with a private leads slice.
func (tx *Tx) ownLeads(u uid) *userRec {
	r := tx.copyUser(u)
	ownSlice(&r.own, ownLeads, &r.leads)
	return r
}

// clearLeads empties LeaderUserID on every node user r leads (r is being deleted).
func (tx *Tx) clearLeads(r *userRec) {
	if len(r.leads) == 0 {
		return
	}
	now := tx.now()
	for _, n := range r.leads {
		w := tx.mutNode(n)
		tx.mutExtra(w)
		w.leaderUserID = ""
		w.updated = now
	}
}

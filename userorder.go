package orgtree

import (
	"iter"
	"slices"
	"sync"

	"github.com/google/btree"
)

// Users are also kept in two ordered indexes, by (createdAt, id) and by
// (updatedAt, id), as copy-on-write B-trees: Clone is O(1) and a
// transaction copies only the nodes it changes, so published versions stay
// immutable. A large member listing walks this order and keeps the users
// that belong to the node or subtree, instead of sorting them all.

type userKey struct {
	at int64
	id string
	u  uid
}

func userKeyLess(a, b userKey) bool {
	return a.at < b.at || (a.at == b.at && a.id < b.id)
}

func newUserOrder() *btree.BTreeG[userKey] { return btree.NewG(32, userKeyLess) }

// ownUserOrder gives the transaction private copies of the user indexes.
func (tx *Tx) ownUserOrder() {
	if !tx.ownsUserOrder {
		tx.st.usersByCreated = tx.st.usersByCreated.Clone()
		tx.st.usersByUpdated = tx.st.usersByUpdated.Clone()
		tx.ownsUserOrder = true
	}
}

func (tx *Tx) orderUser(u uid, r *userRec) {
	tx.ownUserOrder()
	tx.st.usersByCreated.ReplaceOrInsert(userKey{r.created, r.id, u})
	tx.st.usersByUpdated.ReplaceOrInsert(userKey{r.updated, r.id, u})
}

// orderUsers adds the new users us to the user order, on goroutines of
// their own; the transaction must not touch the order until wait returns.
func (tx *Tx) orderUsers(us []uid) (wait func()) {
	if len(us) < bulkEntries {
		for _, u := range us {
			tx.orderUser(u, tx.st.user(u))
		}
		return func() {}
	}
	tx.ownUserOrder()
	var wg sync.WaitGroup
	for _, by := range []struct {
		tree *btree.BTreeG[userKey]
		at   func(*userRec) int64
	}{
		{tx.st.usersByCreated, func(r *userRec) int64 { return r.created }},
		{tx.st.usersByUpdated, func(r *userRec) int64 { return r.updated }},
	} {
		keys := make([]userKey, len(us))
		for i, u := range us {
			r := tx.st.user(u)
			keys[i] = userKey{by.at(r), r.id, u}
		}
		wg.Go(func() {
			for _, k := range keys {
				by.tree.ReplaceOrInsert(k)
			}
		})
	}
	return wg.Wait
}

func (tx *Tx) unorderUser(u uid, r *userRec) {
	tx.ownUserOrder()
	tx.st.usersByCreated.Delete(userKey{r.created, r.id, u})
	tx.st.usersByUpdated.Delete(userKey{r.updated, r.id, u})
}

// maxKeyID sorts after every id (ids are valid UTF-8, which never has 0xff).
const maxKeyID = "\xff"

// usersInOrder yields users in the exact order o (ties by id ascending),
// starting after the key after when it is not nil.
func (st *state) usersInOrder(o SortBy, after *memberKey) iter.Seq[userKey] {
	tree := st.usersByCreated
	if o == SortUpdatedAtAsc || o == SortUpdatedAtDesc {
		tree = st.usersByUpdated
	}
	past := func(k userKey) bool { return after == nil || o.cmp(memberKey{k.at, k.id}, *after) > 0 }
	if o == SortCreatedAtAsc || o == SortUpdatedAtAsc {
		return func(yield func(userKey) bool) {
			visit := func(k userKey) bool { return !past(k) || yield(k) }
			if after == nil {
				tree.Ascend(visit)
			} else {
				tree.AscendGreaterOrEqual(userKey{at: after.at, id: after.id}, visit)
			}
		}
	}
	// Descending by time but ascending by id within one timestamp: the
	// tree descends both, so each run of equal timestamps is reversed.
	return func(yield func(userKey) bool) {
		var group []userKey
		stopped := false
		flush := func() bool {
			slices.Reverse(group)
			for _, k := range group {
				if past(k) && !yield(k) {
					stopped = true
					return false
				}
			}
			group = group[:0]
			return true
		}
		visit := func(k userKey) bool {
			if len(group) > 0 && group[0].at != k.at && !flush() {
				return false
			}
			group = append(group, k)
			return true
		}
		if after == nil {
			tree.Descend(visit)
		} else {
			tree.DescendLessOrEqual(userKey{at: after.at, id: maxKeyID}, visit)
		}
		if !stopped && len(group) > 0 {
			flush()
		}
	}
}

// checkUserOrder verifies both user indexes against the user records.
func (s Snapshot) checkUserOrder(c *checker) {
	st := s.st
	for name, tree := range map[string]*btree.BTreeG[userKey]{"createdAt": st.usersByCreated, "updatedAt": st.usersByUpdated} {
		if tree.Len() != st.userCount {
			c.bad("user %s index has %d entries, %d users live", name, tree.Len(), st.userCount)
		}
		tree.Ascend(func(k userKey) bool {
			r := st.user(k.u)
			at := int64(0)
			if r != nil {
				at = r.created
				if name == "updatedAt" {
					at = r.updated
				}
			}
			if r == nil || r.id != k.id || at != k.at {
				c.bad("user %s index entry %q at %d does not match the user", name, k.id, k.at)
			}
			return true
		})
	}
}

// scanThreshold is the listing size above which a page is found by walking
// the user order rather than sorting every member. A variable so that tests
// can run both strategies on small data.
var scanThreshold = 2048

// pageByScan walks the user order and keeps members of n (or of its
// subtree) until it has skip+limit+1 of them, or c stops it (the caller
// then looks at c).
func (st *state) pageByScan(c *canceller, n nid, subtree bool, o SortBy, after *memberKey, skip, limit int) (keys []memberKey, more bool) {
	r := st.node(n)
	belongs := func(u uid) bool {
		if !subtree {
			return r.hasMember(u)
		}
		for _, d := range st.user(u).depts {
			if st.inSubtree(d, n) {
				return true
			}
		}
		return false
	}
	for k := range st.usersInOrder(o, after) {
		if c.stop() {
			return nil, false // the caller looks at c
		}
		if !belongs(k.u) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if len(keys) == limit {
			return keys, true
		}
		keys = append(keys, memberKey{k.at, k.id})
	}
	return keys, false
}

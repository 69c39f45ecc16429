package orgtree

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/orgtree/orgtree/internal/pmap"
)

// ChangeKind says whether a record was added, removed or updated between
// two versions.
type ChangeKind uint8

const (
	// Added: the record is in the newer version only.
	Added ChangeKind = iota + 1
	// Removed: the record is in the older version only.
	Removed
	// Updated: the record is in both, with different stored fields.
	Updated
)

// String returns "added", "removed" or "updated".
func (k ChangeKind) String() string {
	switch k {
	case Added:
		return "added"
	case Removed:
		return "removed"
	case Updated:
		return "updated"
	}
	return fmt.Sprintf("ChangeKind(%d)", uint8(k))
}

// MarshalText encodes the kind as its String, so JSON says "added".
func (k ChangeKind) MarshalText() ([]byte, error) {
	switch k {
	case Added, Removed, Updated:
		return []byte(k.String()), nil
	}
	return nil, fmt.Errorf("orgtree: change kind %d: %w", uint8(k), ErrInvalidArgument)
}

// UnmarshalText decodes what MarshalText encodes.
func (k *ChangeKind) UnmarshalText(b []byte) error {
	for _, c := range []ChangeKind{Added, Removed, Updated} {
		if string(b) == c.String() {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("orgtree: change kind %q: %w", b, ErrInvalidArgument)
}

// Changes is what Diff reports: every difference between two versions of a
// tree, by record. Each list is sorted by id (members by node, then user).
type Changes struct {
	// From and To are the version numbers of the older and newer snapshot.
	From  uint64       `json:"from"`
	To    uint64       `json:"to"`
	Orgs  []OrgChange  `json:"orgs,omitempty"`
	Nodes []NodeChange `json:"nodes,omitempty"`
	// Members lists memberships that exist in one version only; a node
	// or user removed with its memberships lists them here too.
	Members []MemberChange `json:"members,omitempty"`
	// MainDepartments lists users whose main department differs (an
	// absent user counts as having none).
	MainDepartments []MainDepartmentChange `json:"mainDepartments,omitempty"`
	// Users lists users added, removed, or with changed fields other
	// than their main department (see MainDepartments) and memberships.
	Users []UserChange `json:"users,omitempty"`
}

// Empty reports whether the two versions hold the same records.
func (c *Changes) Empty() bool {
	return len(c.Orgs) == 0 && len(c.Nodes) == 0 && len(c.Members) == 0 && len(c.MainDepartments) == 0 && len(c.Users) == 0
}

// OrgChange is one org added, removed or changed. Old is nil when added,
// New when removed.
type OrgChange struct {
	Kind ChangeKind `json:"kind"`
	ID   string     `json:"id"`
	Old  *OrgRecord `json:"old,omitempty"`
	New  *OrgRecord `json:"new,omitempty"`
}

// NodeChange is one node added, removed or changed. Old is nil when added,
// New when removed. For an update, Moved says the parent changed and
// Renamed that the name or its translations changed; other field changes
// show in Old and New. Nodes below a moved node are not listed: their
// paths change, their records do not.
type NodeChange struct {
	Kind    ChangeKind  `json:"kind"`
	ID      string      `json:"id"`
	OrgID   string      `json:"orgId"`
	Old     *NodeRecord `json:"old,omitempty"`
	New     *NodeRecord `json:"new,omitempty"`
	Moved   bool        `json:"moved,omitempty"`
	Renamed bool        `json:"renamed,omitempty"`
}

// MemberChange is one membership that exists in one version only.
type MemberChange struct {
	NodeID string `json:"nodeId"`
	UserID string `json:"userId"`
	// Joined is true for a membership of the newer version only, false
	// for one that the newer version no longer has.
	Joined bool `json:"joined"`
	// JoinedAt is when the membership was made (in the version that has it).
	JoinedAt time.Time `json:"joinedAt"`
}

// MainDepartmentChange is a user whose main department differs; an empty
// id means none.
type MainDepartmentChange struct {
	UserID    string `json:"userId"`
	OldNodeID string `json:"oldNodeId,omitempty"`
	NewNodeID string `json:"newNodeId,omitempty"`
}

// UserChange is one user added, removed or with changed fields. Old is nil
// when added, New when removed. MainDepartmentID is as in each version.
type UserChange struct {
	Kind ChangeKind `json:"kind"`
	ID   string     `json:"id"`
	Old  *User      `json:"old,omitempty"`
	New  *User      `json:"new,omitempty"`
}

// Diff lists the changes from older to newer, two versions of one tree (or
// of a tree and its forks). It walks the two versions side by side and
// skips every part they share, so its cost follows the number of records
// that changed between them, not the size of the tree: after a rename in a
// tree of a million nodes it looks at a few dozen trie slots. Either
// version may be the newer one; Diff(a, a) is empty. Snapshots of unrelated
// trees are compared correctly, only without the shortcut.
func Diff(older, newer Snapshot) (*Changes, error) {
	return DiffContext(context.Background(), older, newer)
}

// DiffContext is Diff that stops when ctx ends: it looks at ctx before it
// starts, between its phases and every few hundred records it compares,
// and then returns an error wrapping ctx.Err() and no changes. Diffs of
// close versions are quick; this is for distant ones (unrelated trees, or
// versions a whole import apart).
func DiffContext(ctx context.Context, older, newer Snapshot) (*Changes, error) {
	if older.st == nil || newer.st == nil {
		return nil, fmt.Errorf("orgtree: diff: zero Snapshot: %w", ErrInvalidArgument)
	}
	d := differ{a: older.st, b: newer.st, out: &Changes{From: older.st.seq, To: newer.st.seq}, c: newCanceller(ctx, "diff")}
	for _, phase := range []func(){d.orgs, d.nodes, d.users, d.sort} {
		if d.c.now() {
			return nil, d.c.stopped()
		}
		phase()
	}
	if err := d.c.stopped(); err != nil {
		return nil, err
	}
	return d.out, nil
}

// Diff lists the changes from this version to newer; see the function Diff.
func (s Snapshot) Diff(newer Snapshot) (*Changes, error) { return Diff(s, newer) }

// DiffContext lists the changes from this version to newer until ctx
// ends; see the function DiffContext.
func (s Snapshot) DiffContext(ctx context.Context, newer Snapshot) (*Changes, error) {
	return DiffContext(ctx, s, newer)
}

type differ struct {
	a, b *state
	out  *Changes
	// c stops the walks when the caller's context ends (nil: never).
	c *canceller
}

func samePtr[T any](x, y *T) bool { return x == y }

// diffSlots compares two record vectors slot by slot, calling pair for each
// record present in both, and returns the records only the older (gone) or
// only the newer (born) version has. A slot may hold different records in
// the two versions (versions on two branches of a Rollback, or unrelated
// trees), so a record that left one slot is paired by id with the same
// record in another. When c stops it, what it returns is incomplete: the
// caller looks at c.
func diffSlots[R any](c *canceller, older, newer pmap.Vec[*R], id func(*R) string, pair func(o, n *R)) (gone, born []*R) {
	newer.Diff(older, samePtr[R], func(_ int, o, n *R, _, _ bool) bool {
		if c.stop() {
			return false
		}
		switch {
		case o == nil && n == nil: // a deleted slot beyond the other's length
		case o == nil:
			born = append(born, n)
		case n == nil:
			gone = append(gone, o)
		case id(o) != id(n):
			gone, born = append(gone, o), append(born, n)
		default:
			pair(o, n)
		}
		return true
	})
	if len(gone) > 0 && len(born) > 0 && !c.now() {
		byID := make(map[string]*R, len(born))
		for _, n := range born {
			byID[id(n)] = n
		}
		gone = slices.DeleteFunc(gone, func(o *R) bool {
			n, ok := byID[id(o)]
			if ok {
				pair(o, n)
				delete(byID, id(o))
			}
			return ok
		})
		born = slices.DeleteFunc(born, func(n *R) bool { _, ok := byID[id(n)]; return !ok })
	}
	return gone, born
}

func (d *differ) orgs() {
	d.b.orgs.Diff(d.a.orgs, samePtr[orgRec], func(id string, o, n *orgRec, inOld, inNew bool) bool {
		if d.c.stop() {
			return false
		}
		switch {
		case !inOld:
			r := d.b.orgRecord(n)
			d.out.Orgs = append(d.out.Orgs, OrgChange{Kind: Added, ID: id, New: &r})
		case !inNew:
			r := d.a.orgRecord(o)
			d.out.Orgs = append(d.out.Orgs, OrgChange{Kind: Removed, ID: id, Old: &r})
		default:
			ro, rn := d.a.orgRecord(o), d.b.orgRecord(n)
			if ro != rn {
				d.out.Orgs = append(d.out.Orgs, OrgChange{Kind: Updated, ID: id, Old: &ro, New: &rn})
			}
		}
		return true
	})
}

// nodes compares the node vectors slot by slot. A slot may hold different
// nodes in the two versions (versions on two branches of a Rollback, or
// unrelated trees), so records are matched by id at the end.
func (d *differ) nodes() {
	gone, born := diffSlots(d.c, d.a.nodes, d.b.nodes, func(r *nodeRec) string { return r.id }, d.nodePair)
	for _, o := range gone {
		if d.c.stop() {
			return
		}
		r := d.a.nodeRecord(o)
		d.out.Nodes = append(d.out.Nodes, NodeChange{Kind: Removed, ID: o.id, OrgID: o.orgID, Old: &r})
		for _, m := range o.members {
			d.member(d.a, o, m, false)
		}
	}
	for _, n := range born {
		if d.c.stop() {
			return
		}
		r := d.b.nodeRecord(n)
		d.out.Nodes = append(d.out.Nodes, NodeChange{Kind: Added, ID: n.id, OrgID: n.orgID, New: &r})
		for _, m := range n.members {
			d.member(d.b, n, m, true)
		}
	}
}

// nodePair compares two records of one node: its stored fields, then its
// member lists (both sorted by user handle, so one merge).
func (d *differ) nodePair(o, n *nodeRec) {
	if !sameNodeFields(o, n) {
		ro, rn := d.a.nodeRecord(o), d.b.nodeRecord(n)
		d.out.Nodes = append(d.out.Nodes, NodeChange{
			Kind: Updated, ID: n.id, OrgID: n.orgID, Old: &ro, New: &rn,
			Moved:   o.parentID != n.parentID,
			Renamed: o.name != n.name || !maps.Equal(o.nameI18n, n.nameI18n),
		})
	}
	if sameSlice(o.members, n.members) {
		return
	}
	om, nm := o.members, n.members
	for len(om) > 0 || len(nm) > 0 {
		switch {
		case len(nm) == 0 || len(om) > 0 && om[0].user < nm[0].user:
			d.member(d.a, o, om[0], false)
			om = om[1:]
		case len(om) == 0 || nm[0].user < om[0].user:
			d.member(d.b, n, nm[0], true)
			nm = nm[1:]
		default:
			if d.a.user(om[0].user).id != d.b.user(nm[0].user).id {
				// One handle, two users (versions on two branches).
				d.member(d.a, o, om[0], false)
				d.member(d.b, n, nm[0], true)
			}
			om, nm = om[1:], nm[1:]
		}
	}
}

// sameSlice reports whether two slices are the same array and length: a
// member list the writer did not copy.
func sameSlice[T any](x, y []T) bool {
	return len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
}

func (d *differ) member(st *state, r *nodeRec, m member, joined bool) {
	d.out.Members = append(d.out.Members, MemberChange{NodeID: r.id, UserID: st.user(m.user).id, Joined: joined, JoinedAt: timeOf(m.joined)})
}

// sameNodeFields compares the stored fields of two records of one node
// (children, members and derived fields aside).
func sameNodeFields(o, n *nodeRec) bool {
	if o.parentID != n.parentID || o.name != n.name || o.code != n.code || o.order != n.order ||
		o.created != n.created || o.updated != n.updated || o.orgID != n.orgID || !maps.Equal(o.nameI18n, n.nameI18n) {
		return false
	}
	if o.nodeExtra == n.nodeExtra {
		return true
	}
	x, y := o.nodeExtra, n.nodeExtra
	return x.description == y.description && x.externalID == y.externalID && x.leaderUserID == y.leaderUserID &&
		maps.Equal(x.descriptionI18n, y.descriptionI18n) &&
		slices.EqualFunc(x.resources, y.resources, resourceEqual)
}

func (d *differ) users() {
	gone, born := diffSlots(d.c, d.a.users, d.b.users, func(r *userRec) string { return r.id }, d.userPair)
	for _, o := range gone {
		if d.c.stop() {
			return
		}
		u := d.a.userValue(o)
		d.out.Users = append(d.out.Users, UserChange{Kind: Removed, ID: o.id, Old: &u})
		if u.MainDepartmentID != "" {
			d.out.MainDepartments = append(d.out.MainDepartments, MainDepartmentChange{UserID: u.ID, OldNodeID: u.MainDepartmentID})
		}
	}
	for _, n := range born {
		if d.c.stop() {
			return
		}
		u := d.b.userValue(n)
		d.out.Users = append(d.out.Users, UserChange{Kind: Added, ID: n.id, New: &u})
		if u.MainDepartmentID != "" {
			d.out.MainDepartments = append(d.out.MainDepartments, MainDepartmentChange{UserID: u.ID, NewNodeID: u.MainDepartmentID})
		}
	}
}

func (d *differ) userPair(o, n *userRec) {
	uo, un := d.a.userValue(o), d.b.userValue(n)
	if uo.MainDepartmentID != un.MainDepartmentID {
		d.out.MainDepartments = append(d.out.MainDepartments, MainDepartmentChange{UserID: un.ID, OldNodeID: uo.MainDepartmentID, NewNodeID: un.MainDepartmentID})
	}
	mo, mn := uo, un
	mo.MainDepartmentID, mn.MainDepartmentID = "", ""
	if !reflect.DeepEqual(mo, mn) {
		d.out.Users = append(d.out.Users, UserChange{Kind: Updated, ID: un.ID, Old: &uo, New: &un})
	}
}

func (d *differ) sort() {
	c := d.out
	slices.SortFunc(c.Orgs, func(x, y OrgChange) int { return cmp.Compare(x.ID, y.ID) })
	slices.SortFunc(c.Nodes, func(x, y NodeChange) int { return cmp.Compare(x.ID, y.ID) })
	slices.SortFunc(c.Users, func(x, y UserChange) int { return cmp.Compare(x.ID, y.ID) })
	slices.SortFunc(c.MainDepartments, func(x, y MainDepartmentChange) int { return cmp.Compare(x.UserID, y.UserID) })
	slices.SortFunc(c.Members, func(x, y MemberChange) int {
		return cmp.Or(cmp.Compare(x.NodeID, y.NodeID), cmp.Compare(x.UserID, y.UserID), cmpBool(x.Joined, y.Joined))
	})
	// A membership is keyed by (node, user): one reported as left and
	// joined again under other handles (a user deleted and created again
	// with its id, or two branches of history) is no change.
	out := c.Members[:0]
	for i := 0; i < len(c.Members); i++ {
		m := c.Members[i]
		if i+1 < len(c.Members) {
			nx := c.Members[i+1]
			if nx.NodeID == m.NodeID && nx.UserID == m.UserID && !m.Joined && nx.Joined {
				i++
				continue
			}
		}
		out = append(out, m)
	}
	c.Members = out
}

func cmpBool(x, y bool) int {
	switch {
	case x == y:
		return 0
	case !x:
		return -1
	}
	return 1
}

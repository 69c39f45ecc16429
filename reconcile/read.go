package reconcile

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strconv"

	"github.com/orgtree/orgtree"
)

// current is what the planner reads: one org and the users it refers to,
// never the rest of the tree (see Snapshot.DumpOrg), plus the users the
// input names that live elsewhere or do not exist yet.
type current struct {
	orgID    string
	root     *orgtree.NodeRecord
	nodes    map[string]*orgtree.NodeRecord // node id → record, this org only
	byExt    map[string]string              // external id → node id (non-root nodes)
	children map[string][]string            // node id → child ids
	users    map[string]*userState          // user id → what the plan knows of it
	userExt  map[string]string              // user external id → user id, for the users read
	absent   []string                       // external ids looked up and not found, sorted
	inOrg    map[string][]string            // user id → node ids of this org it belongs to
	codes    map[string]string              // code → node id
	members  int                            // memberships in the org
}

// userState is a user as the planner sees it.
type userState struct {
	orgtree.User
	// home is the org whose syncs own the user's fields and main
	// department: the org of its main department or, without one, of its
	// oldest membership; "" for a user who belongs nowhere.
	home string
}

// owned reports whether a sync of org may change u's fields and main
// department (see the package doc, "Users shared by several orgs").
func (u *userState) owned(org string) bool { return u.home == "" || u.home == org }

// load reads org orgID of s and the users with the given external ids.
func load(s orgtree.Snapshot, orgID string, lookups []string) (*current, error) {
	d, err := s.DumpOrg(orgID)
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	c := &current{orgID: orgID, nodes: make(map[string]*orgtree.NodeRecord, len(d.Nodes)), byExt: map[string]string{},
		children: map[string][]string{}, users: make(map[string]*userState, len(d.Users)), userExt: map[string]string{},
		inOrg: map[string][]string{}, codes: map[string]string{}}
	for i := range d.Nodes {
		n := &d.Nodes[i]
		c.nodes[n.ID] = n
		if n.ID == d.Org.RootID {
			c.root = n
		} else {
			c.children[n.ParentID] = append(c.children[n.ParentID], n.ID)
			if n.ExternalID != "" {
				c.byExt[n.ExternalID] = n.ID
			}
		}
		if n.Code != "" {
			c.codes[n.Code] = n.ID
		}
	}
	orgOf := func(nodeID string) string {
		if _, ok := c.nodes[nodeID]; ok {
			return orgID
		}
		n, err := s.Node(nodeID)
		if err != nil {
			return ""
		}
		return n.OrgID
	}
	for i := range d.Users {
		u := &d.Users[i]
		st := &userState{User: u.User}
		for _, m := range u.Memberships {
			if _, ok := c.nodes[m.NodeID]; ok {
				c.inOrg[u.ID] = append(c.inOrg[u.ID], m.NodeID)
				c.members++
			}
		}
		slices.Sort(c.inOrg[u.ID])
		switch {
		case u.MainDepartmentID != "":
			st.home = orgOf(u.MainDepartmentID)
		case len(u.Memberships) > 0: // sorted oldest first
			st.home = orgOf(u.Memberships[0].NodeID)
		}
		c.addUser(st)
	}
	for _, ext := range lookups {
		if _, ok := c.userExt[ext]; ok {
			continue
		}
		u, err := s.UserByExternalID(ext)
		switch {
		case errors.Is(err, orgtree.ErrNotFound):
			c.absent = append(c.absent, ext)
			continue
		case err != nil:
			return nil, fmt.Errorf("reconcile: %w", err)
		}
		st := &userState{User: u}
		if u.MainDepartmentID != "" {
			st.home = orgOf(u.MainDepartmentID)
		} else if depts, err := s.UserDepartments(u.ID); err == nil && len(depts) > 0 {
			st.home = depts[0].Node.OrgID // oldest first; none is in this org
		}
		c.addUser(st)
	}
	slices.Sort(c.absent)
	return c, nil
}

func (c *current) addUser(u *userState) {
	c.users[u.ID] = u
	if u.ExternalID != "" {
		c.userExt[u.ExternalID] = u.ID
	}
}

// fingerprint digests everything a plan depends on: the org's structure
// and the fields the planner compares, and the users it read. Apply
// recomputes it; any difference means the plan may no longer be right.
// It does not use the tree's version number, so writes elsewhere do not
// matter and a version number reused after a rollback cannot fool it.
func (c *current) fingerprint() string {
	h := sha256.New()
	w := fieldWriter{h: h}
	w.str("org", c.orgID, c.root.ID)
	for _, id := range sortedKeys(c.nodes) {
		n := c.nodes[id]
		_, marked := n.DescriptionI18n[MarkKey]
		w.str("node", n.ID, n.ParentID, n.Name, strconv.Itoa(n.Order), n.Code, n.ExternalID, n.LeaderUserID, strconv.FormatBool(marked))
	}
	for _, id := range sortedKeys(c.users) {
		u := c.users[id]
		w.str("user", u.ID, u.ExternalID, u.Name, u.Username, u.Email, u.Phone, u.MainDepartmentID, u.home)
		w.str(c.inOrg[id]...)
	}
	w.str("absent")
	w.str(c.absent...)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// fieldWriter feeds length-prefixed strings to a hash, so that field
// boundaries are part of the digest ("ab","c" ≠ "a","bc"). It gathers a
// record in buf and writes it at once (a string handed to a hash.Hash
// would be copied to the heap each time).
type fieldWriter struct {
	h   hash.Hash
	buf []byte
}

func (w *fieldWriter) str(fields ...string) {
	w.buf = binary.AppendUvarint(w.buf[:0], uint64(len(fields)))
	for _, f := range fields {
		w.buf = binary.AppendUvarint(w.buf, uint64(len(f)))
		w.buf = append(w.buf, f...)
	}
	w.h.Write(w.buf)
}

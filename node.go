package orgtree

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"reflect"
	"slices"
	"time"
)

// Node is a department, or the root node of an org. Values returned by the
// API are copies: changing them changes nothing in the tree.
type Node struct {
	ID              string            `json:"id"`
	OrgID           string            `json:"orgId"`
	ParentID        string            `json:"parentId,omitempty"` // empty for a root
	Name            string            `json:"name"`
	NameI18n        map[string]string `json:"nameI18n,omitempty"` // locale → name
	Description     string            `json:"description"`
	DescriptionI18n map[string]string `json:"descriptionI18n,omitempty"`
	Code            string            `json:"code,omitempty"` // unique within the org when set; case-sensitive
	Order           int               `json:"order"`          // siblings sort by larger order first
	ExternalID      string            `json:"externalId,omitempty"`
	LeaderUserID    string            `json:"leaderUserId,omitempty"` // an existing user; cleared when it is deleted
	CreatedAt       time.Time         `json:"createdAt"`
	UpdatedAt       time.Time         `json:"updatedAt"`
}

// IsRoot reports whether n is the root node of its org.
func (n Node) IsRoot() bool { return n.ParentID == "" }

// NodeInput describes a node to add. ParentID and Name are required.
type NodeInput struct {
	ID              string // generated when empty
	OrgID           string // optional; must be the parent's org when set
	ParentID        string
	Name            string
	NameI18n        map[string]string
	Code            string
	Description     string
	DescriptionI18n map[string]string
	Order           int
	ExternalID      string // the id of this department in a provider (see package reconcile)
	// LeaderUserID, when set, must name an existing user (ErrNotFound
	// otherwise); it need not be a member. DeleteUser clears it.
	LeaderUserID string
}

// NodeUpdate is a partial update: nil fields are left as they are. For the
// i18n maps, nil means "keep" and an empty non-nil map means "clear". An empty
// Code, ExternalID or LeaderUserID clears the field.
type NodeUpdate struct {
	Name            *string
	NameI18n        map[string]string
	Code            *string
	Description     *string
	DescriptionI18n map[string]string
	Order           *int
	ExternalID      *string
	LeaderUserID    *string
}

// Ptr returns a pointer to v, for filling NodeUpdate and UserUpdate.
func Ptr[T any](v T) *T { return &v }

// DeleteMode says what DeleteNode does with a node that has children or members.
type DeleteMode int

const (
	// Cascade deletes the node with its whole subtree and every membership in it.
	Cascade DeleteMode = iota
	// RefuseNonEmpty fails with ErrNotEmpty if the node has children or members.
	RefuseNonEmpty
)

type fieldsInput struct {
	name            string
	nameI18n        map[string]string
	code            string
	description     string
	descriptionI18n map[string]string
	order           int
	externalID      string
	leaderUserID    string
}

func (f fieldsInput) equal(g fieldsInput) bool {
	return f.name == g.name && f.code == g.code && f.description == g.description && f.order == g.order &&
		f.externalID == g.externalID && f.leaderUserID == g.leaderUserID &&
		maps.Equal(f.nameI18n, g.nameI18n) && maps.Equal(f.descriptionI18n, g.descriptionI18n)
}

func (r *nodeRec) fields() fieldsInput {
	return fieldsInput{
		name: r.name, nameI18n: r.nameI18n, code: r.code, description: r.description,
		descriptionI18n: r.descriptionI18n, order: r.order, externalID: r.externalID, leaderUserID: r.leaderUserID,
	}
}

// cleanFields validates node fields and returns them normalised (trimmed
// names, private copies of the maps).
func (s Snapshot) cleanFields(op string, f fieldsInput) (fieldsInput, error) {
	return s.cleanChanged(op, f, nil)
}

// cleanChanged is cleanFields for an update of a node whose fields were
// old: the fields it leaves as they were passed these checks when stored,
// and a rename is a frequent write.
func (s Snapshot) cleanChanged(op string, f fieldsInput, old *fieldsInput) (fieldsInput, error) {
	f, problems := s.checkFields(f, old)
	for i, p := range problems {
		problems[i] = fmt.Errorf("orgtree: %s: %w", op, p)
	}
	return f, errors.Join(problems...)
}

// cleanFieldsAll checks every field and returns every problem found (an
// import reports them all, not the first of each node).
func (s Snapshot) cleanFieldsAll(f fieldsInput) (fieldsInput, []error) { return s.checkFields(f, nil) }

// checkFields checks the fields of f that differ from old (all of them when
// old is nil) and returns every problem found.
func (s Snapshot) checkFields(f fieldsInput, old *fieldsInput) (fieldsInput, []error) {
	lim := s.st.cfg.limits
	var problems []error
	var err error
	if old == nil || f.name != old.name {
		if f.name, err = cleanName(f.name, lim.MaxNameLength); err != nil {
			problems = append(problems, err)
		}
	}
	if old == nil || !sameMap(f.nameI18n, old.nameI18n) {
		if f.nameI18n, err = checkI18n("nameI18n", f.nameI18n, true, lim); err != nil {
			problems = append(problems, err)
		}
	}
	if old == nil || f.description != old.description {
		if err = checkText("description", f.description, lim.MaxDescriptionLength); err != nil {
			problems = append(problems, err)
		}
	}
	if old == nil || !sameMap(f.descriptionI18n, old.descriptionI18n) {
		if f.descriptionI18n, err = checkI18n("descriptionI18n", f.descriptionI18n, false, lim); err != nil {
			problems = append(problems, err)
		}
	}
	if f.code != "" && (old == nil || f.code != old.code) {
		if err = checkCode(f.code); err != nil {
			problems = append(problems, err)
		}
	}
	if old == nil || f.externalID != old.externalID {
		if err = checkRef("externalId", f.externalID); err != nil {
			problems = append(problems, err)
		}
	}
	if old == nil || f.leaderUserID != old.leaderUserID {
		if err = checkRef("leaderUserId", f.leaderUserID); err != nil {
			problems = append(problems, err)
		}
	}
	return f, problems
}

// sameMap reports whether a and b are the same map (not merely equal ones):
// an update that does not set a map keeps the record's.
func sameMap(a, b map[string]string) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer())
}

// checkUnique fails if code or externalID is taken in org by a node other than self.
func checkUnique(op string, o *orgRec, code, externalID string, self nid) error {
	if code != "" {
		if n, ok := o.codes.Get(code); ok && n != self {
			return fmt.Errorf("orgtree: %s: code %q in org %q: %w", op, code, o.id, ErrDuplicateCode)
		}
	}
	if externalID != "" {
		if n, ok := o.extIDs.Get(externalID); ok && n != self {
			return fmt.Errorf("orgtree: %s: externalId %q in org %q: %w", op, externalID, o.id, ErrExists)
		}
	}
	return nil
}

// childCmp orders siblings: larger order first, then older first, then by id.
func (st *state) childCmp(a, b nid) int {
	ra, rb := st.node(a), st.node(b)
	return cmp.Or(cmp.Compare(rb.order, ra.order), cmp.Compare(ra.created, rb.created), cmp.Compare(ra.id, rb.id))
}

// orgFor returns the org a node with fields f is added to: the
// transaction's copy when the node's code or external id go into the
// org's indexes, else the record as it is, so that adding a plain node
// neither copies its org nor lists it as changed.
func (tx *Tx) orgFor(orgID string, f fieldsInput) *orgRec {
	if f.code != "" || f.externalID != "" {
		return tx.mutOrg(orgID)
	}
	o, _ := tx.st.orgs.Get(orgID)
	return o
}

func (tx *Tx) insertChild(parent, child nid) {
	p := tx.mutNode(parent)
	ownSlice(&p.own, ownChildren, &p.children)
	i, _ := slices.BinarySearchFunc(p.children, child, tx.st.childCmp)
	p.children = slices.Insert(p.children, i, child)
}

func (tx *Tx) removeChild(parent, child nid) {
	p := tx.mutNode(parent)
	if i := tx.st.childIndex(p.children, child); i >= 0 {
		ownSlice(&p.own, ownChildren, &p.children)
		p.children = slices.Delete(p.children, i, i+1)
	}
}

// childIndex returns the position of child in children (ordered by
// childCmp), or -1. A short list is scanned for the handle: that reads no
// sibling's record, where a binary search reads one per step.
func (st *state) childIndex(children []nid, child nid) int {
	if len(children) <= 32 {
		return slices.Index(children, child)
	}
	if i, ok := slices.BinarySearchFunc(children, child, st.childCmp); ok {
		return i
	}
	return -1
}

// insertNode creates a node whose fields are already valid and unique in
// org o, which must be owned by the transaction when f has a code or an
// external id (see orgFor).
func (tx *Tx) insertNode(o *orgRec, parent nid, id string, f fieldsInput, now int64) nid {
	st := tx.st
	r := &nodeRec{
		edit: tx.edit, own: ownChildren | ownMembers | ownListed,
		id: id, orgID: o.id, parent: parent, parentID: st.idOf(parent),
		name: f.name, nameI18n: f.nameI18n, code: f.code, order: f.order, created: now, updated: now,
		nodeExtra: newExtra(f.description, f.descriptionI18n, f.externalID, f.leaderUserID, nil),
	}
	n := nid(st.nodes.Len())
	st.nodes = st.nodes.Append(tx.edit, r)
	depth := int32(0)
	if parent != 0 {
		depth = int32(st.depth(parent)) + 1
	}
	st.appendNode(tx.edit, rollup{depth: depth, parent: parent})
	if st.nodeCount-tx.base.nodeCount == bulkEntries {
		st.nodeIDs = st.nodeIDs.Own(tx.edit) // a bulk load: write the index in place from now on
	}
	st.nodeIDs = st.nodeIDs.Set(tx.edit, id, n)
	st.nodeCount++
	if f.code != "" {
		o.codes = o.codes.Set(tx.edit, f.code, n)
	}
	if f.externalID != "" {
		o.extIDs = o.extIDs.Set(tx.edit, f.externalID, n)
	}
	tx.dirty.node(n)
	tx.nameChanged(n, nil)
	tx.setLeader(n, "", f.leaderUserID)
	if parent != 0 {
		tx.insertChild(parent, n)
	}
	return n
}

// checkRoom fails if parent cannot take one more child at its depth+1.
func (tx *Tx) checkRoom(op string, parent nid) error {
	lim := tx.st.cfg.limits
	pr := tx.st.node(parent)
	if len(pr.children) >= lim.MaxChildren {
		return fmt.Errorf("orgtree: %s: node %q already has %d children: %w", op, pr.id, len(pr.children), ErrLimitExceeded)
	}
	if tx.st.depth(parent) >= lim.MaxDepth {
		return fmt.Errorf("orgtree: %s: a child of node %q would be deeper than %d: %w", op, pr.id, lim.MaxDepth, ErrLimitExceeded)
	}
	return nil
}

// AddNode adds a node under in.ParentID and returns it.
func (tx *Tx) AddNode(in NodeInput) (Node, error) {
	const op = "add node"
	if err := tx.writable(op); err != nil {
		return Node{}, err
	}
	if in.ParentID == "" {
		return Node{}, fmt.Errorf("orgtree: %s: parent id is required: %w", op, ErrInvalidArgument)
	}
	p, pr, err := tx.lookupNode(op, in.ParentID)
	if err != nil {
		return Node{}, err
	}
	if in.OrgID != "" && in.OrgID != pr.orgID {
		if _, err := tx.lookupOrg(op, in.OrgID); err != nil {
			return Node{}, err
		}
		return Node{}, fmt.Errorf("orgtree: %s: parent %q is in org %q, not %q: %w", op, pr.id, pr.orgID, in.OrgID, ErrCrossOrg)
	}
	f, err := tx.cleanFields(op, fieldsInput{
		name: in.Name, nameI18n: in.NameI18n, code: in.Code, description: in.Description,
		descriptionI18n: in.DescriptionI18n, order: in.Order, externalID: in.ExternalID, leaderUserID: in.LeaderUserID,
	})
	if err != nil {
		return Node{}, err
	}
	if err := tx.checkLeader(f.leaderUserID); err != nil {
		return Node{}, fmt.Errorf("orgtree: %s: %w", op, err)
	}
	o, _ := tx.st.orgs.Get(pr.orgID)
	if err := checkUnique(op, o, f.code, f.externalID, 0); err != nil {
		return Node{}, err
	}
	if err := tx.checkRoom(op, p); err != nil {
		return Node{}, err
	}
	id, err := tx.pickID(op, "node", in.ID, func(id string) bool { _, ok := tx.st.nodeIDs.Get(id); return ok })
	if err != nil {
		return Node{}, err
	}
	n := tx.insertNode(tx.orgFor(pr.orgID, f), p, id, f, tx.now())
	return tx.st.nodeValue(tx.st.node(n)), nil
}

// UpdateNode changes the given fields of a node and returns it. An update
// that changes nothing is not a change: updatedAt stays and nothing commits.
func (tx *Tx) UpdateNode(id string, u NodeUpdate) (Node, error) {
	const op = "update node"
	if err := tx.writable(op); err != nil {
		return Node{}, err
	}
	n, r, err := tx.lookupNode(op, id)
	if err != nil {
		return Node{}, err
	}
	old := r.fields()
	f := old
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&f.name, u.Name)
	set(&f.code, u.Code)
	set(&f.description, u.Description)
	set(&f.externalID, u.ExternalID)
	set(&f.leaderUserID, u.LeaderUserID)
	if u.NameI18n != nil {
		f.nameI18n = u.NameI18n
	}
	if u.DescriptionI18n != nil {
		f.descriptionI18n = u.DescriptionI18n
	}
	if u.Order != nil {
		f.order = *u.Order
	}
	if f, err = tx.cleanChanged(op, f, &old); err != nil {
		return Node{}, err
	}
	if f.equal(old) {
		return tx.st.nodeValue(r), nil
	}
	if f.leaderUserID != old.leaderUserID {
		if err := tx.checkLeader(f.leaderUserID); err != nil {
			return Node{}, fmt.Errorf("orgtree: %s: node %q: %w", op, r.id, err)
		}
	}
	if f.code != old.code || f.externalID != old.externalID {
		o, _ := tx.st.orgs.Get(r.orgID)
		if err := checkUnique(op, o, f.code, f.externalID, n); err != nil {
			return Node{}, err
		}
		o = tx.mutOrg(r.orgID)
		if f.code != old.code {
			if old.code != "" {
				o.codes = o.codes.Delete(tx.edit, old.code)
			}
			if f.code != "" {
				o.codes = o.codes.Set(tx.edit, f.code, n)
			}
		}
		if f.externalID != old.externalID {
			if old.externalID != "" {
				o.extIDs = o.extIDs.Delete(tx.edit, old.externalID)
			}
			if f.externalID != "" {
				o.extIDs = o.extIDs.Set(tx.edit, f.externalID, n)
			}
		}
	}
	if f.name != old.name || !maps.Equal(f.nameI18n, old.nameI18n) {
		tx.nameChanged(n, r)
	}
	reorder := f.order != old.order && r.parent != 0
	if reorder {
		tx.removeChild(r.parent, n) // while the old sort key is in place
	}
	w := tx.mutNode(n)
	w.name, w.nameI18n, w.code, w.order = f.name, f.nameI18n, f.code, f.order
	if f.description != old.description || !maps.Equal(f.descriptionI18n, old.descriptionI18n) ||
		f.externalID != old.externalID || f.leaderUserID != old.leaderUserID {
		tx.mutExtra(w)
		w.description, w.descriptionI18n, w.externalID, w.leaderUserID = f.description, f.descriptionI18n, f.externalID, f.leaderUserID
		tx.setLeader(n, old.leaderUserID, f.leaderUserID)
	}
	w.updated = tx.now()
	if reorder {
		tx.insertChild(w.parent, n)
	}
	return tx.st.nodeValue(w), nil
}

// DeleteNode deletes a node. With Cascade its subtree and every membership
// in it go too; with RefuseNonEmpty a node with children or members is kept
// and ErrNotEmpty returned. Root nodes are deleted with DeleteOrg.
func (tx *Tx) DeleteNode(id string, mode DeleteMode) error {
	const op = "delete node"
	if err := tx.writable(op); err != nil {
		return err
	}
	if mode != Cascade && mode != RefuseNonEmpty {
		return fmt.Errorf("orgtree: %s: unknown mode %d: %w", op, mode, ErrInvalidArgument)
	}
	n, r, err := tx.lookupNode(op, id)
	if err != nil {
		return err
	}
	if r.parent == 0 {
		return fmt.Errorf("orgtree: %s: node %q is the root of org %q (use DeleteOrg): %w", op, id, r.orgID, ErrRootNode)
	}
	if mode == RefuseNonEmpty && (len(r.children) > 0 || len(r.members) > 0) {
		return fmt.Errorf("orgtree: %s: node %q has %d children and %d members: %w", op, id, len(r.children), len(r.members), ErrNotEmpty)
	}
	tx.deleteSubtree(n)
	return nil
}

// deleteSubtree removes top and everything below it, iteratively.
func (tx *Tx) deleteSubtree(top nid) {
	st := tx.st
	above := st.rootPath(st.parentOf(top)) // empty for a root
	if len(above) > 0 {
		users := st.subtreeUsers(top)
		defer tx.dropRollups(above, users) // once the subtree's memberships are gone
		tx.removeChild(above[len(above)-1], top)
	}
	org := tx.mutOrg(st.node(top).orgID)
	stack := []nid{top}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		r := st.node(n)
		stack = append(stack, r.children...)
		for _, m := range r.members {
			tx.unlinkUser(m.user, n)
		}
		if r.code != "" {
			org.codes = org.codes.Delete(tx.edit, r.code)
		}
		if r.externalID != "" {
			org.extIDs = org.extIDs.Delete(tx.edit, r.externalID)
		}
		tx.setLeader(n, r.leaderUserID, "")
		tx.nameChanged(n, r)
		st.nodeCount--
		st.nodeIDs = st.nodeIDs.Delete(tx.edit, r.id)
		st.nodes = st.nodes.Set(tx.edit, int(n), nil)
		tx.dirty.node(n)
	}
}

// MoveNode makes newParentID the parent of node id, keeping the subtree,
// its members and grants. It fails with ErrCycle if newParentID is the node
// or one of its descendants, with ErrCrossOrg across orgs and with
// ErrRootNode for a root. Moving to the current parent changes nothing.
// The cycle check walks the new parent's ancestors up to the node's depth;
// the depths of the moved subtree shift, and the distinct member counts of
// both root paths follow its members (see the package documentation).
func (tx *Tx) MoveNode(id, newParentID string) (Node, error) {
	const op = "move node"
	if err := tx.writable(op); err != nil {
		return Node{}, err
	}
	n, p, r, pr, err := tx.st.moveTarget(op, id, newParentID)
	if err != nil {
		return Node{}, err
	}
	if r.parent == p {
		return tx.st.nodeValue(r), nil
	}
	newParentDepth := tx.st.depth(p)
	lim := tx.st.cfg.limits
	if tx.replaying {
		lim.MaxChildren, lim.MaxDepth = maxInt, maxInt // Apply checks the result
	}
	if len(pr.children) >= lim.MaxChildren {
		return Node{}, fmt.Errorf("orgtree: %s: node %q already has %d children: %w", op, newParentID, len(pr.children), ErrLimitExceeded)
	}
	// Only a move that takes the subtree deeper can break MaxDepth; then the
	// subtree's height is measured, stopping one level past what would fit.
	deeper := newParentDepth+1 > tx.st.depth(n)
	if deeper && lim.MaxDepth < maxInt && tx.subtreeDeeperThan(n, lim.MaxDepth-newParentDepth-1) {
		return Node{}, fmt.Errorf("orgtree: %s: the subtree of %q would reach deeper than %d: %w", op, id, lim.MaxDepth, ErrLimitExceeded)
	}
	tx.moveRollups(n, p)
	tx.removeChild(r.parent, n)
	w := tx.mutNode(n)
	w.parent, w.parentID = p, pr.id
	tx.setParent(n, p)
	w.updated = tx.now()
	tx.insertChild(p, n)
	return tx.st.nodeValue(w), nil
}

// subtreeDeeperThan reports whether any node below top is more than h
// levels below it. It only runs when a move takes a subtree deeper, and
// stops at the first level past h.
func (tx *Tx) subtreeDeeperThan(top nid, h int) bool {
	if h < 0 {
		return true
	}
	level := []nid{top}
	for d := 0; len(level) > 0; d++ {
		if d > h {
			return true
		}
		var next []nid
		for _, n := range level {
			next = append(next, tx.st.node(n).children...)
		}
		level = next
	}
	return false
}

// nodeValue copies a record into the exported form.
func (st *state) nodeValue(r *nodeRec) Node {
	n := Node{
		ID: r.id, OrgID: r.orgID, Name: r.name, NameI18n: cloneI18n(r.nameI18n),
		Description: r.description, DescriptionI18n: cloneI18n(r.descriptionI18n),
		Code: r.code, Order: r.order, ExternalID: r.externalID, LeaderUserID: r.leaderUserID,
		CreatedAt: timeOf(r.created), UpdatedAt: timeOf(r.updated), ParentID: r.parentID,
	}
	return n
}

// Node returns the node with the given id.
func (s Snapshot) Node(id string) (Node, error) {
	_, r, err := s.lookupNode("get node", id)
	if err != nil {
		return Node{}, err
	}
	return s.st.nodeValue(r), nil
}

// NodeByCode returns the node of org orgID whose code is code.
func (s Snapshot) NodeByCode(orgID, code string) (Node, error) {
	o, err := s.lookupOrg("node by code", orgID)
	if err != nil {
		return Node{}, err
	}
	n, ok := o.codes.Get(code)
	if !ok {
		return Node{}, fmt.Errorf("orgtree: node by code: code %q in org %q: %w", code, orgID, ErrNotFound)
	}
	return s.st.nodeValue(s.st.node(n)), nil
}

// NodeByExternalID returns the node of org orgID with the given external id.
func (s Snapshot) NodeByExternalID(orgID, externalID string) (Node, error) {
	o, err := s.lookupOrg("node by external id", orgID)
	if err != nil {
		return Node{}, err
	}
	n, ok := o.extIDs.Get(externalID)
	if !ok {
		return Node{}, fmt.Errorf("orgtree: node by external id: %q in org %q: %w", externalID, orgID, ErrNotFound)
	}
	return s.st.nodeValue(s.st.node(n)), nil
}

// IsRoot reports whether node id is the root of its org.
func (s Snapshot) IsRoot(id string) (bool, error) {
	_, r, err := s.lookupNode("is root", id)
	if err != nil {
		return false, err
	}
	return r.parent == 0, nil
}

// Children returns the nodes below id down to depth levels (1 = direct
// children), parents before their children and siblings in sibling order.
func (s Snapshot) Children(id string, depth int) ([]Node, error) {
	return s.ChildrenContext(context.Background(), id, depth)
}

// ChildrenContext is Children that stops when ctx ends: it looks at ctx
// before it starts and every few hundred nodes, and then returns an error
// wrapping ctx.Err() and no nodes.
func (s Snapshot) ChildrenContext(ctx context.Context, id string, depth int) ([]Node, error) {
	const op = "children"
	if depth < 1 {
		return nil, fmt.Errorf("orgtree: %s: depth %d < 1: %w", op, depth, ErrInvalidArgument)
	}
	n, _, err := s.lookupNode(op, id)
	if err != nil {
		return nil, err
	}
	c := newCanceller(ctx, op)
	if c.now() {
		return nil, c.stopped()
	}
	out := []Node{}
	for r, d := range s.st.walkTo(n, depth) {
		if c.stop() {
			return nil, c.stopped()
		}
		if d > 0 {
			out = append(out, s.st.nodeValue(r))
		}
	}
	return out, nil
}

// walk yields top and every node below it in pre-order (parents first,
// siblings in order) with its depth relative to top. It is iterative, so it
// handles any depth, and it may be stopped early.
func (st *state) walk(top nid) iter.Seq2[*nodeRec, int] { return st.walkTo(top, -1) }

// walkTo is walk down to maxDepth levels below top (any depth if
// maxDepth < 0): the levels below are not visited at all, so listing the
// direct children of a root costs its children, not its tree.
func (st *state) walkTo(top nid, maxDepth int) iter.Seq2[*nodeRec, int] {
	return func(yield func(*nodeRec, int) bool) {
		type frame struct {
			n     nid
			depth int
		}
		stack := []frame{{top, 0}}
		for len(stack) > 0 {
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			r := st.node(f.n)
			if !yield(r, f.depth) {
				return
			}
			if f.depth == maxDepth {
				continue
			}
			for i := len(r.children) - 1; i >= 0; i-- {
				stack = append(stack, frame{r.children[i], f.depth + 1})
			}
		}
	}
}

// Descendants returns every node below id in pre-order, as a sequence that
// reads this snapshot (so it is consistent however long it is iterated).
func (s Snapshot) Descendants(id string) (iter.Seq[Node], error) {
	n, _, err := s.lookupNode("descendants", id)
	if err != nil {
		return nil, err
	}
	return func(yield func(Node) bool) {
		for r, d := range s.st.walk(n) {
			if d > 0 && !yield(s.st.nodeValue(r)) {
				return
			}
		}
	}, nil
}

// Ancestors returns the ancestors of id, root first, without id itself.
func (s Snapshot) Ancestors(id string) ([]Node, error) {
	n, _, err := s.lookupNode("ancestors", id)
	if err != nil {
		return nil, err
	}
	chain := s.st.chain(n)
	out := make([]Node, 0, len(chain)-1)
	for _, r := range chain[:len(chain)-1] {
		out = append(out, s.st.nodeValue(r))
	}
	return out, nil
}

// chain returns the records from the root down to n.
func (st *state) chain(n nid) []*nodeRec {
	return rootward(st, n, func(r *nodeRec) *nodeRec { return r })
}

// rootward returns field of every node from the root down to n. The kept
// depth sizes the answer, so it is filled from its end in one allocation
// and one record read per level.
func rootward[T any](st *state, n nid, field func(*nodeRec) T) []T {
	if n == 0 {
		return nil
	}
	out := make([]T, st.depth(n)+1)
	for i := len(out) - 1; i >= 0; i-- {
		r := st.node(n)
		out[i] = field(r)
		n = r.parent
	}
	return out
}

func (s Snapshot) pathOf(op, id string, field func(*nodeRec) string) ([]string, error) {
	n, _, err := s.lookupNode(op, id)
	if err != nil {
		return nil, err
	}
	return rootward(s.st, n, field), nil
}

// Path returns the ids from the root down to id, id included. O(depth).
func (s Snapshot) Path(id string) ([]string, error) {
	return s.pathOf("path", id, func(r *nodeRec) string { return r.id })
}

// NamePath returns the names from the root down to id, id included. A slice
// is unambiguous whatever the names contain; FormatPath joins it reversibly.
func (s Snapshot) NamePath(id string) ([]string, error) {
	return s.pathOf("name path", id, func(r *nodeRec) string { return r.name })
}

// CodePath returns the codes from the root down to id ("" for a node without code).
func (s Snapshot) CodePath(id string) ([]string, error) {
	return s.pathOf("code path", id, func(r *nodeRec) string { return r.code })
}

// Depth returns the depth of id; a root has depth 0. O(1): depths are kept.
func (s Snapshot) Depth(id string) (int, error) {
	n, _, err := s.lookupNode("depth", id)
	if err != nil {
		return 0, err
	}
	return s.st.depth(n), nil
}

// ChildIDs returns the ids of the direct children of id in sibling order.
func (s Snapshot) ChildIDs(id string) ([]string, error) {
	_, r, err := s.lookupNode("child ids", id)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(r.children))
	for i, c := range r.children {
		out[i] = s.st.node(c).id
	}
	return out, nil
}

// Node returns the node with the given id.
func (t *Tree) Node(id string) (Node, error) { return t.Snapshot().Node(id) }

// NodeByCode returns the node of an org with the given code.
func (t *Tree) NodeByCode(orgID, code string) (Node, error) {
	return t.Snapshot().NodeByCode(orgID, code)
}

// NodeByExternalID returns the node of an org with the given external id.
func (t *Tree) NodeByExternalID(orgID, externalID string) (Node, error) {
	return t.Snapshot().NodeByExternalID(orgID, externalID)
}

// IsRoot reports whether a node is the root of its org.
func (t *Tree) IsRoot(id string) (bool, error) { return t.Snapshot().IsRoot(id) }

// Children returns the nodes below id down to depth levels; see Snapshot.Children.
func (t *Tree) Children(id string, depth int) ([]Node, error) {
	return t.Snapshot().Children(id, depth)
}

// ChildrenContext returns the nodes below id down to depth levels until
// ctx ends; see Snapshot.ChildrenContext.
func (t *Tree) ChildrenContext(ctx context.Context, id string, depth int) ([]Node, error) {
	return t.Snapshot().ChildrenContext(ctx, id, depth)
}

// ChildIDs returns the ids of the direct children of id in sibling order.
func (t *Tree) ChildIDs(id string) ([]string, error) { return t.Snapshot().ChildIDs(id) }

// Descendants returns every node below id, read from one snapshot.
func (t *Tree) Descendants(id string) (iter.Seq[Node], error) { return t.Snapshot().Descendants(id) }

// Ancestors returns the ancestors of id, root first.
func (t *Tree) Ancestors(id string) ([]Node, error) { return t.Snapshot().Ancestors(id) }

// Path returns the ids from the root down to id.
func (t *Tree) Path(id string) ([]string, error) { return t.Snapshot().Path(id) }

// NamePath returns the names from the root down to id.
func (t *Tree) NamePath(id string) ([]string, error) { return t.Snapshot().NamePath(id) }

// CodePath returns the codes from the root down to id.
func (t *Tree) CodePath(id string) ([]string, error) { return t.Snapshot().CodePath(id) }

// Depth returns the depth of id (a root has depth 0).
func (t *Tree) Depth(id string) (int, error) { return t.Snapshot().Depth(id) }

// AddNode adds a node; see Tx.AddNode.
func (t *Tree) AddNode(in NodeInput) (Node, error) {
	return update1(t, func(tx *Tx) (Node, error) { return tx.AddNode(in) })
}

// UpdateNode changes the given fields of a node; see Tx.UpdateNode.
func (t *Tree) UpdateNode(id string, u NodeUpdate) (Node, error) {
	return update1(t, func(tx *Tx) (Node, error) { return tx.UpdateNode(id, u) })
}

// DeleteNode deletes a node; see Tx.DeleteNode.
func (t *Tree) DeleteNode(id string, mode DeleteMode) error {
	return t.Update(func(tx *Tx) error { return tx.DeleteNode(id, mode) })
}

// MoveNode gives a node a new parent; see Tx.MoveNode.
func (t *Tree) MoveNode(id, newParentID string) (Node, error) {
	// A move under the node's own subtree is refused on the newest version,
	// before any transaction begins: that is the answer a transaction begun
	// at that instant would give, so the refusal costs the ancestor walk.
	_, _, _, _, err := t.Snapshot().st.moveTarget("move node", id, newParentID)
	if ce, ok := err.(*cycleError); ok {
		return Node{}, ce
	}
	return update1(t, func(tx *Tx) (Node, error) { return tx.MoveNode(id, newParentID) })
}

// moveTarget resolves a move of id under newParentID and checks what does
// not depend on limits: both nodes exist, id is not a root, both are in one
// org, and (unless newParentID already is id's parent) the new parent is not
// in id's subtree. It returns the error Tx.MoveNode gives for each.
func (st *state) moveTarget(op, id, newParentID string) (n, p nid, r, pr *nodeRec, err error) {
	s := Snapshot{st: st}
	if n, r, err = s.lookupNode(op, id); err != nil {
		return 0, 0, nil, nil, err
	}
	if p, pr, err = s.lookupNode(op, newParentID); err != nil {
		return 0, 0, nil, nil, err
	}
	switch {
	case r.parent == 0:
		err = fmt.Errorf("orgtree: %s: node %q is the root of org %q: %w", op, id, r.orgID, ErrRootNode)
	case pr.orgID != r.orgID:
		err = fmt.Errorf("orgtree: %s: node %q is in org %q, parent %q in org %q: %w", op, id, r.orgID, newParentID, pr.orgID, ErrCrossOrg)
	case r.parent != p && st.inSubtree(p, n):
		// n would become its own ancestor: p lies below it, a walk of
		// depth(p)-depth(n) parents.
		err = &cycleError{id: id, parentID: newParentID}
	}
	return n, p, r, pr, err
}

// cycleError refuses a move under the node itself or its descendants. It is
// formatted when read, so a refused move allocates one small value.
type cycleError struct{ id, parentID string }

func (e *cycleError) Error() string {
	return fmt.Sprintf("orgtree: move node: cannot move node %q under %q, which is the node itself or one of its descendants: %v", e.id, e.parentID, ErrCycle)
}

func (e *cycleError) Unwrap() error { return ErrCycle }

// Is answers errors.Is(err, ErrCycle) without a step through Unwrap: a
// caller that retries or reports refused moves asks it of every refusal.
func (e *cycleError) Is(target error) bool { return target == ErrCycle }

// setMinus returns the elements of sorted a that are not in sorted b.
func setMinus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
		}
	}
	return out
}

// idOf returns the id of a live handle, "" for 0.
func (st *state) idOf(n nid) string {
	if n == 0 {
		return ""
	}
	return st.node(n).id
}

package orgtree

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"slices"
)

// Apply makes the tree's newest version the current one with cs applied, in
// one step: readers see either the old version or the new one. It is for
// replicas that receive ChangeSets committed elsewhere (package replicate);
// the commit hook is not called, watchers are notified as for a commit.
//
// cs must have been committed by a tree that held the same records as this
// one's newest version. Apply replays it through the engine's own write
// paths, so it costs about what the original transaction cost (a one-node
// change on a 100k-node tree takes microseconds), and it keeps every index
// and rollup exact. The result is verified against cs: every record cs names
// must come out exactly as cs says, and every other record the replay
// touched must come out unchanged. A ChangeSet that does not apply cleanly
// (a node it updates is missing, a node it adds exists, a move would make a
// cycle, a limit would be exceeded, or the result differs from cs) is
// refused with an error wrapping ErrBadChangeSet and the specific reason,
// and the tree is left as it was.
//
// The new version gets the next local version number (cs.Seq names the
// version on the tree that produced it, not on this one).
func (t *Tree) Apply(cs *ChangeSet) error {
	if cs == nil {
		return fmt.Errorf("orgtree: apply: nil change set: %w", ErrInvalidArgument)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tx := t.begin()
	defer tx.close()
	tx.replaying = true
	if err := tx.replay(cs); err != nil {
		return fmt.Errorf("orgtree: apply change %d: %w: %w", cs.Seq, ErrBadChangeSet, err)
	}
	return t.commitWith(tx, false)
}

// changeIndex is a ChangeSet by id.
type changeIndex struct {
	orgs               map[string]*OrgRecord
	nodes              map[string]*NodeRecord
	users              map[string]*UserRecord
	delOrgs, delNodes  map[string]bool
	delUsers           map[string]bool
	newNodes, movedSet map[string]bool
}

func indexChange(cs *ChangeSet) (*changeIndex, error) {
	ci := &changeIndex{
		orgs: make(map[string]*OrgRecord, len(cs.Orgs)), nodes: make(map[string]*NodeRecord, len(cs.Nodes)),
		users: make(map[string]*UserRecord, len(cs.Users)), delOrgs: make(map[string]bool, len(cs.DeletedOrgs)),
		delNodes: make(map[string]bool, len(cs.DeletedNodes)), delUsers: make(map[string]bool, len(cs.DeletedUsers)),
		newNodes: map[string]bool{}, movedSet: map[string]bool{},
	}
	dup := func(what, id string) error {
		return fmt.Errorf("%s %q listed twice: %w", what, id, ErrInvalidArgument)
	}
	for i := range cs.Orgs {
		if ci.orgs[cs.Orgs[i].ID] != nil {
			return nil, dup("org", cs.Orgs[i].ID)
		}
		ci.orgs[cs.Orgs[i].ID] = &cs.Orgs[i]
	}
	for i := range cs.Nodes {
		if ci.nodes[cs.Nodes[i].ID] != nil {
			return nil, dup("node", cs.Nodes[i].ID)
		}
		ci.nodes[cs.Nodes[i].ID] = &cs.Nodes[i]
	}
	for i := range cs.Users {
		if ci.users[cs.Users[i].ID] != nil {
			return nil, dup("user", cs.Users[i].ID)
		}
		ci.users[cs.Users[i].ID] = &cs.Users[i]
	}
	for _, id := range cs.DeletedOrgs {
		if ci.delOrgs[id] || ci.orgs[id] != nil {
			return nil, dup("org", id)
		}
		ci.delOrgs[id] = true
	}
	for _, id := range cs.DeletedNodes {
		if ci.delNodes[id] || ci.nodes[id] != nil {
			return nil, dup("node", id)
		}
		ci.delNodes[id] = true
	}
	for _, id := range cs.DeletedUsers {
		if ci.delUsers[id] || ci.users[id] != nil {
			return nil, dup("user", id)
		}
		ci.delUsers[id] = true
	}
	return ci, nil
}

// replay applies cs through the transaction's write paths. The order of
// the steps makes every intermediate state valid whenever the final one is:
// unique keys that change are released first, nodes are placed shallowest
// first by their final depth (so a move never sees a cycle the result does
// not have), memberships are set before nodes go, and nodes go deepest
// first. Limits are checked on the result.
func (tx *Tx) replay(cs *ChangeSet) error {
	const op = "apply"
	st := tx.st
	ci, err := indexChange(cs)
	if err != nil {
		return err
	}
	tx.actor, tx.reason = cs.Actor, cs.Reason

	// 1. Release the codes and external ids of nodes and users that change
	// them or go, so that another record of the change may take them.
	for _, id := range cs.DeletedNodes {
		n, _, err := tx.lookupNode(op, id)
		if err != nil {
			return err
		}
		tx.releaseNodeKeys(n, "", "")
	}
	for i := range cs.Nodes {
		rec := &cs.Nodes[i]
		if n, r, ok := st.nodeByID(rec.ID); ok {
			if r.orgID != rec.OrgID {
				return fmt.Errorf("orgtree: %s: node %q is in org %q, not %q: %w", op, rec.ID, r.orgID, rec.OrgID, ErrCrossOrg)
			}
			tx.releaseNodeKeys(n, rec.Code, rec.ExternalID)
		} else {
			ci.newNodes[rec.ID] = true
		}
	}
	for _, id := range cs.DeletedUsers {
		u, _, err := tx.lookupUser(op, id)
		if err != nil {
			return err
		}
		tx.releaseUserExt(u, "")
	}
	for i := range cs.Users {
		if u, _, ok := st.userByID(cs.Users[i].ID); ok {
			tx.releaseUserExt(u, cs.Users[i].ExternalID)
		}
	}

	// 2. New orgs with their root nodes; fields of existing orgs.
	for i := range cs.Orgs {
		if err := tx.replayOrg(&cs.Orgs[i], ci); err != nil {
			return err
		}
	}

	// 3. Users' own fields (memberships come once the nodes are in place):
	// leaders must exist before nodes name them.
	for i := range cs.Users {
		if err := tx.replayUserFields(&cs.Users[i]); err != nil {
			return err
		}
	}

	// 4. New and moved nodes, shallowest first by final depth.
	steps, err := tx.placementOrder(cs, ci)
	if err != nil {
		return err
	}
	for _, rec := range steps {
		if ci.newNodes[rec.ID] {
			if err := tx.replayAddNode(rec); err != nil {
				return err
			}
		} else if _, err := tx.MoveNode(rec.ID, rec.ParentID); err != nil {
			return err
		}
	}

	// 5. Every node's fields, codes and grants as the record says.
	for i := range cs.Nodes {
		if err := tx.replayNodeFields(&cs.Nodes[i]); err != nil {
			return err
		}
	}

	// 6. Memberships and main departments.
	for i := range cs.Users {
		if err := tx.replayMemberships(&cs.Users[i]); err != nil {
			return err
		}
	}

	// 7. Deletions: nodes deepest first (each must be a leaf by then, so
	// nothing goes that cs does not list), users, then orgs.
	dels := make([]nid, 0, len(cs.DeletedNodes))
	for _, id := range cs.DeletedNodes {
		n, _ := st.nodeIDs.Get(id)
		dels = append(dels, n)
	}
	slices.SortFunc(dels, func(a, b nid) int { return cmp.Compare(st.depth(b), st.depth(a)) })
	for _, n := range dels {
		r := st.node(n)
		if r.parent == 0 {
			if !ci.delOrgs[r.orgID] {
				return fmt.Errorf("orgtree: %s: node %q is the root of org %q, which is not deleted: %w", op, r.id, r.orgID, ErrRootNode)
			}
			continue // with its org
		}
		if len(r.children) > 0 {
			return fmt.Errorf("orgtree: %s: deleted node %q keeps child %q: %w", op, r.id, st.node(r.children[0]).id, ErrNotEmpty)
		}
		tx.deleteSubtree(n)
	}
	for _, id := range cs.DeletedUsers {
		if err := tx.DeleteUser(id); err != nil {
			return err
		}
	}
	for _, id := range cs.DeletedOrgs {
		o, err := tx.lookupOrg(op, id)
		if err != nil {
			return err
		}
		root := st.node(o.root)
		if !ci.delNodes[root.id] || len(root.children) > 0 {
			return fmt.Errorf("orgtree: %s: deleted org %q keeps nodes: %w", op, id, ErrNotEmpty)
		}
		if err := tx.DeleteOrg(id); err != nil {
			return err
		}
	}

	// 8. The result is what cs says, and within the limits.
	if err := tx.verifyReplay(ci); err != nil {
		return err
	}
	return tx.replayLimits(steps, ci)
}

// releaseNodeKeys takes node n's code and external id out of its org's
// indexes (and off the record) unless they stay as code and extID.
func (tx *Tx) releaseNodeKeys(n nid, code, extID string) {
	r := tx.st.node(n)
	dropCode := r.code != "" && r.code != code
	dropExt := r.externalID != "" && r.externalID != extID
	if !dropCode && !dropExt {
		return
	}
	o := tx.mutOrg(r.orgID)
	w := tx.mutNode(n)
	if dropCode {
		if m, ok := o.codes.Get(w.code); ok && m == n {
			o.codes = o.codes.Delete(tx.edit, w.code)
		}
		w.code = ""
	}
	if dropExt {
		if m, ok := o.extIDs.Get(w.externalID); ok && m == n {
			o.extIDs = o.extIDs.Delete(tx.edit, w.externalID)
		}
		tx.mutExtra(w)
		w.externalID = ""
	}
}

// releaseUserExt takes user u's external id out of the index unless it
// stays as extID.
func (tx *Tx) releaseUserExt(u uid, extID string) {
	r := tx.st.user(u)
	if r.externalID == "" || r.externalID == extID {
		return
	}
	if m, ok := tx.st.userExt.Get(r.externalID); ok && m == u {
		tx.st.userExt = tx.st.userExt.Delete(tx.edit, r.externalID)
	}
	tx.mutUser(u).externalID = ""
}

func (tx *Tx) replayOrg(rec *OrgRecord, ci *changeIndex) error {
	const op = "apply"
	st := tx.st
	if err := checkTenantID(rec.TenantID); err != nil {
		return fmt.Errorf("orgtree: %s: org %q: %w", op, rec.ID, err)
	}
	if _, ok := st.orgs.Get(rec.ID); ok {
		o := tx.mutOrg(rec.ID)
		o.tenantID, o.created, o.updated = rec.TenantID, rec.CreatedAt.UnixNano(), rec.UpdatedAt.UnixNano()
		tx.bumpTime(o.created, o.updated)
		return nil
	}
	if err := checkID(rec.ID); err != nil {
		return fmt.Errorf("orgtree: %s: org %q: %w", op, rec.ID, err)
	}
	root := ci.nodes[rec.RootID]
	if root == nil || !ci.newNodes[root.ID] || root.ParentID != "" || root.OrgID != rec.ID {
		return fmt.Errorf("orgtree: %s: new org %q: root node %q is not a new parentless node of the org: %w", op, rec.ID, rec.RootID, ErrNotFound)
	}
	if err := tx.validateNodeRecord(root); err != nil {
		return fmt.Errorf("orgtree: %s: node %q: %w", op, root.ID, err)
	}
	o := &orgRec{edit: tx.edit, id: rec.ID, tenantID: rec.TenantID, created: rec.CreatedAt.UnixNano(), updated: rec.UpdatedAt.UnixNano()}
	st.orgs = st.orgs.Set(tx.edit, rec.ID, o)
	tx.dirty.org(rec.ID)
	o.root = tx.insertNode(o, 0, root.ID, recordFields(root, false), root.CreatedAt.UnixNano())
	tx.bumpTime(o.created, o.updated, root.CreatedAt.UnixNano())
	delete(ci.newNodes, root.ID) // placed
	return nil
}

// recordFields returns the fields of rec; without keys, no code, external
// id or leader (they are set once every record is in place).
func recordFields(rec *NodeRecord, keys bool) fieldsInput {
	f := fieldsInput{
		name: rec.Name, nameI18n: cloneI18n(rec.NameI18n), description: rec.Description,
		descriptionI18n: cloneI18n(rec.DescriptionI18n), order: rec.Order,
	}
	if keys {
		f.code, f.externalID, f.leaderUserID = rec.Code, rec.ExternalID, rec.LeaderUserID
	}
	return f
}

func (tx *Tx) replayUserFields(rec *UserRecord) error {
	const op = "apply"
	st := tx.st
	u := rec.User
	u.MainDepartmentID = ""
	if err := validateUser(&u); err != nil {
		return fmt.Errorf("orgtree: %s: user %q: %w", op, rec.ID, err)
	}
	if rec.ID == "" {
		return fmt.Errorf("orgtree: %s: user without id: %w", op, ErrInvalidArgument)
	}
	created, updated := rec.CreatedAt.UnixNano(), rec.UpdatedAt.UnixNano()
	tx.bumpTime(created, updated)
	n, r, ok := st.userByID(rec.ID)
	if !ok {
		if _, err := tx.insertUser(&u, created, updated); err != nil {
			return fmt.Errorf("orgtree: %s: %w", op, err)
		}
		return nil
	}
	if u.ExternalID != r.externalID && u.ExternalID != "" {
		if _, taken := st.userExt.Get(u.ExternalID); taken {
			return fmt.Errorf("orgtree: %s: user %q: externalId %q: %w", op, rec.ID, u.ExternalID, ErrExists)
		}
		st.userExt = st.userExt.Set(tx.edit, u.ExternalID, n)
	}
	w := tx.mutUser(n)
	tx.unorderUser(n, w)
	w.name, w.username, w.email, w.phone, w.externalID = u.Name, u.Username, u.Email, u.Phone, u.ExternalID
	w.created, w.updated = created, updated
	tx.orderUser(n, w)
	return nil
}

// placementOrder returns the new and the moved nodes of cs, sorted by their
// depth in the result. Placing them in that order means each one's final
// parent already hangs where it ends, so a move finds no cycle the result
// does not have and an add finds its parent.
func (tx *Tx) placementOrder(cs *ChangeSet, ci *changeIndex) ([]*NodeRecord, error) {
	const op = "apply"
	st := tx.st
	depth := make(map[string]int, len(cs.Nodes))
	parentOf := func(id string) (string, error) {
		if rec := ci.nodes[id]; rec != nil {
			return rec.ParentID, nil
		}
		if ci.delNodes[id] {
			return "", fmt.Errorf("orgtree: %s: node %q is deleted but has children in the result: %w", op, id, ErrNotFound)
		}
		_, r, ok := st.nodeByID(id)
		if !ok {
			return "", fmt.Errorf("orgtree: %s: node %q: %w", op, id, ErrNotFound)
		}
		return r.parentID, nil
	}
	finalDepth := func(id string) (int, error) {
		var chain []string
		seen := map[string]bool{}
		d := -1
		for cur := id; cur != ""; {
			if v, ok := depth[cur]; ok {
				d = v
				break
			}
			if ci.nodes[cur] != nil {
				if seen[cur] {
					return 0, fmt.Errorf("orgtree: %s: node %q is its own ancestor in the result: %w", op, cur, ErrCycle)
				}
				seen[cur] = true
			}
			chain = append(chain, cur)
			p, err := parentOf(cur)
			if err != nil {
				return 0, err
			}
			cur = p
		}
		for i := len(chain) - 1; i >= 0; i-- {
			d++
			depth[chain[i]] = d
		}
		return depth[id], nil
	}
	var steps []*NodeRecord
	for i := range cs.Nodes {
		rec := &cs.Nodes[i]
		_, r, exists := st.nodeByID(rec.ID)
		switch {
		case ci.newNodes[rec.ID]:
			if rec.ParentID == "" {
				return nil, fmt.Errorf("orgtree: %s: new node %q has no parent and is no new org's root: %w", op, rec.ID, ErrInvalidArgument)
			}
		case exists && r.parentID != rec.ParentID:
			if rec.ParentID == "" || r.parent == 0 {
				return nil, fmt.Errorf("orgtree: %s: node %q: a root stays a root: %w", op, rec.ID, ErrRootNode)
			}
			ci.movedSet[rec.ID] = true
		default:
			continue
		}
		if _, err := finalDepth(rec.ID); err != nil {
			return nil, err
		}
		steps = append(steps, rec)
	}
	slices.SortStableFunc(steps, func(a, b *NodeRecord) int { return cmp.Compare(depth[a.ID], depth[b.ID]) })
	return steps, nil
}

func (tx *Tx) replayAddNode(rec *NodeRecord) error {
	const op = "apply"
	p, pr, err := tx.lookupNode(op, rec.ParentID)
	if err != nil {
		return fmt.Errorf("orgtree: %s: node %q: parent: %w", op, rec.ID, err)
	}
	if pr.orgID != rec.OrgID {
		return fmt.Errorf("orgtree: %s: node %q of org %q under %q of org %q: %w", op, rec.ID, rec.OrgID, pr.id, pr.orgID, ErrCrossOrg)
	}
	if err := tx.validateNodeRecord(rec); err != nil {
		return fmt.Errorf("orgtree: %s: node %q: %w", op, rec.ID, err)
	}
	created := rec.CreatedAt.UnixNano()
	tx.bumpTime(created)
	f := recordFields(rec, false)
	tx.insertNode(tx.orgFor(rec.OrgID, f), p, rec.ID, f, created)
	return nil
}

// replayNodeFields makes node rec.ID's fields, keys, leader and grants
// those of rec; its place in the tree is already right.
func (tx *Tx) replayNodeFields(rec *NodeRecord) error {
	const op = "apply"
	st := tx.st
	n, r, err := tx.lookupNode(op, rec.ID)
	if err != nil {
		return err
	}
	f, err := tx.cleanFields(op, recordFields(rec, true))
	if err != nil {
		return fmt.Errorf("orgtree: %s: node %q: %w", op, rec.ID, err)
	}
	if f.name != rec.Name {
		return fmt.Errorf("orgtree: %s: node %q: name %q is not trimmed: %w", op, rec.ID, rec.Name, ErrInvalidName)
	}
	if err := tx.checkLeader(f.leaderUserID); err != nil {
		return fmt.Errorf("orgtree: %s: node %q: %w", op, rec.ID, err)
	}
	resources := cloneResources(rec.Resources)
	for i, res := range resources {
		if resources[i], err = cleanResource(res); err != nil {
			return fmt.Errorf("orgtree: %s: node %q: %w", op, rec.ID, err)
		}
	}
	sortResources(resources)
	old := r.fields()
	if f.code != old.code || f.externalID != old.externalID {
		o, _ := st.orgs.Get(r.orgID)
		if err := checkUnique(op, o, f.code, f.externalID, n); err != nil {
			return err
		}
		o = tx.mutOrg(r.orgID)
		if f.code != old.code && f.code != "" { // a changed code was released
			o.codes = o.codes.Set(tx.edit, f.code, n)
		}
		if f.externalID != old.externalID && f.externalID != "" {
			o.extIDs = o.extIDs.Set(tx.edit, f.externalID, n)
		}
	}
	if f.name != old.name || !maps.Equal(f.nameI18n, old.nameI18n) {
		tx.nameChanged(n, r)
	}
	reorder := f.order != old.order && r.parent != 0
	if reorder {
		tx.removeChild(r.parent, n)
	}
	w := tx.mutNode(n)
	w.name, w.nameI18n, w.code, w.order = f.name, f.nameI18n, f.code, f.order
	if f.description != old.description || !maps.Equal(f.descriptionI18n, old.descriptionI18n) ||
		f.externalID != old.externalID || f.leaderUserID != old.leaderUserID || !slices.EqualFunc(resources, w.resources, resourceEqual) {
		tx.mutExtra(w)
		w.description, w.descriptionI18n, w.externalID, w.leaderUserID = f.description, f.descriptionI18n, f.externalID, f.leaderUserID
		w.resources = resources
		w.own |= ownResources
		tx.setLeader(n, old.leaderUserID, f.leaderUserID)
	}
	w.updated = rec.UpdatedAt.UnixNano()
	tx.bumpTime(w.updated)
	if reorder {
		tx.insertChild(w.parent, n)
	}
	return nil
}

// replayMemberships makes user rec.ID's memberships and main department
// those of rec.
func (tx *Tx) replayMemberships(rec *UserRecord) error {
	const op = "apply"
	st := tx.st
	u, r, err := tx.lookupUser(op, rec.ID)
	if err != nil {
		return err
	}
	want := make(map[string]int64, len(rec.Memberships))
	for _, m := range rec.Memberships {
		if _, dup := want[m.NodeID]; dup {
			return fmt.Errorf("orgtree: %s: user %q: membership of node %q listed twice: %w", op, rec.ID, m.NodeID, ErrInvalidArgument)
		}
		want[m.NodeID] = m.JoinedAt.UnixNano()
	}
	for _, n := range slices.Clone(r.depts) {
		nr := st.node(n)
		if j, ok := want[nr.id]; ok && j == nr.memberJoined(u) {
			delete(want, nr.id)
			continue
		}
		tx.unlink(n, u)
	}
	for _, m := range rec.Memberships {
		joined, ok := want[m.NodeID]
		if !ok {
			continue
		}
		n, _, err := tx.lookupNode(op, m.NodeID)
		if err != nil {
			return fmt.Errorf("orgtree: %s: user %q: membership: %w", op, rec.ID, err)
		}
		tx.link(n, u, joined)
		tx.bumpTime(joined)
	}
	var main nid
	if rec.MainDepartmentID != "" {
		n, nr, ok := st.nodeByID(rec.MainDepartmentID)
		if !ok || !nr.hasMember(u) {
			return fmt.Errorf("orgtree: %s: user %q: main department %q: %w", op, rec.ID, rec.MainDepartmentID, ErrNotMember)
		}
		main = n
	}
	if st.user(u).main != main {
		tx.mutUser(u).main = main
	}
	tx.dirty.user(u) // listed in cs: its record is compared
	return nil
}

// replayLimits checks, on the result, the limits that each step skipped.
func (tx *Tx) replayLimits(steps []*NodeRecord, ci *changeIndex) error {
	const op = "apply"
	st := tx.st
	lim := st.cfg.limits
	checked := map[nid]bool{}
	for _, rec := range steps {
		n, _ := st.nodeIDs.Get(rec.ID)
		p := st.parentOf(n)
		if !checked[p] {
			checked[p] = true
			if pr := st.node(p); len(pr.children) > lim.MaxChildren {
				return fmt.Errorf("orgtree: %s: node %q would have %d children: %w", op, pr.id, len(pr.children), ErrLimitExceeded)
			}
		}
		d := st.depth(n)
		if d > lim.MaxDepth {
			return fmt.Errorf("orgtree: %s: node %q would be at depth %d > %d: %w", op, rec.ID, d, lim.MaxDepth, ErrLimitExceeded)
		}
		if ci.movedSet[rec.ID] && lim.MaxDepth < maxInt && d > tx.base.depth(n) && tx.subtreeDeeperThan(n, lim.MaxDepth-d) {
			return fmt.Errorf("orgtree: %s: the subtree of %q would reach deeper than %d: %w", op, rec.ID, lim.MaxDepth, ErrLimitExceeded)
		}
	}
	return nil
}

// verifyReplay checks the result against cs: every record cs names is as
// cs says, every other record the replay touched is as it was.
func (tx *Tx) verifyReplay(ci *changeIndex) error {
	const op = "apply"
	st, base := tx.st, tx.base
	mismatch := func(what, id string) error {
		return fmt.Errorf("orgtree: %s: %s %q does not come out as the change set says", op, what, id)
	}
	same := func(a, b any) bool {
		x, err1 := json.Marshal(a)
		y, err2 := json.Marshal(b)
		return err1 == nil && err2 == nil && bytes.Equal(x, y)
	}
	for id, rec := range ci.orgs {
		o, ok := st.orgs.Get(id)
		if !ok || !same(st.orgRecord(o), rec) {
			return mismatch("org", id)
		}
	}
	for id := range ci.delOrgs {
		if _, ok := st.orgs.Get(id); ok {
			return mismatch("org", id)
		}
	}
	for id := range tx.dirty.orgs.all() {
		if ci.orgs[id] != nil || ci.delOrgs[id] {
			continue
		}
		o, ok := st.orgs.Get(id)
		b, was := base.orgs.Get(id)
		if ok != was || (ok && !same(st.orgRecord(o), base.orgRecord(b))) {
			return mismatch("org", id)
		}
	}
	for id, rec := range ci.nodes {
		_, r, ok := st.nodeByID(id)
		if !ok || !same(st.nodeRecord(r), rec) {
			return mismatch("node", id)
		}
	}
	for id := range ci.delNodes {
		if _, ok := st.nodeIDs.Get(id); ok {
			return mismatch("node", id)
		}
	}
	listedNode := func(id string) bool { return ci.nodes[id] != nil || ci.delNodes[id] }
	if id, changed := unlistedChange(tx.dirty.nodes.all(), st, base, nodeRecordOf, listedNode, same); changed {
		return mismatch("node", id)
	}
	for id, rec := range ci.users {
		u, r, ok := st.userByID(id)
		if !ok || !same(st.userRecord(u, r), rec) {
			return mismatch("user", id)
		}
	}
	for id := range ci.delUsers {
		if _, ok := st.userIDs.Get(id); ok {
			return mismatch("user", id)
		}
	}
	listedUser := func(id string) bool { return ci.users[id] != nil || ci.delUsers[id] }
	if id, changed := unlistedChange(tx.dirty.users.all(), st, base, userRecordOf, listedUser, same); changed {
		return mismatch("user", id)
	}
	return nil
}

// unlistedChange returns the id of a record the replay touched (dirty) that
// the change set does not list and that is not as it was in base.
func unlistedChange[H nid | uid](dirty iter.Seq[H], st, base *state, record func(*state, H) (string, any), listed func(string) bool, same func(a, b any) bool) (string, bool) {
	for h := range dirty {
		id, now := record(st, h)
		was, before := record(base, h)
		if id == "" {
			id = was
		}
		if id == "" || listed(id) {
			continue // added and deleted again, or named by the change set
		}
		if (now == nil) != (before == nil) || (now != nil && !same(now, before)) {
			return id, true
		}
	}
	return "", false
}

// nodeRecordOf and userRecordOf give a handle's id and stored record in a
// version, or "" and nil when the handle is not live there.
func nodeRecordOf(st *state, n nid) (string, any) {
	if r := st.node(n); r != nil {
		return r.id, st.nodeRecord(r)
	}
	return "", nil
}

func userRecordOf(st *state, u uid) (string, any) {
	if r := st.user(u); r != nil {
		return r.id, st.userRecord(u, r)
	}
	return "", nil
}

package orgtree

import (
	"cmp"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"sync"
	"time"
	"unsafe"
)

// dirtySet lists the records a transaction changed, for its ChangeSet.
type dirtySet struct {
	nodes smallSet[nid]
	users smallSet[uid]
	orgs  smallSet[string]
	// off: a Load, which publishes no ChangeSet, lists nothing.
	off bool
}

func (d *dirtySet) node(n nid) {
	if !d.off {
		d.nodes.add(n)
	}
}

func (d *dirtySet) user(u uid) {
	if !d.off {
		d.users.add(u)
	}
}

// org lists org id even in a Load: commit folds the code indexes of the
// orgs listed.
func (d *dirtySet) org(id string) { d.orgs.add(id) }

func (d *dirtySet) empty() bool {
	return d.nodes.len() == 0 && d.users.len() == 0 && d.orgs.len() == 0
}

// smallSet is a set that holds its first few keys inline: most
// transactions change one or two records of each kind, and a map made for
// those would cost more than the change itself.
type smallSet[K comparable] struct {
	few  [4]K
	n    int            // keys in few
	more map[K]struct{} // the keys after the first len(few)
}

func (s *smallSet[K]) add(k K) {
	for _, x := range s.few[:s.n] {
		if x == k {
			return
		}
	}
	switch {
	case s.n < len(s.few):
		s.few[s.n] = k
		s.n++
	case s.more == nil:
		s.more = map[K]struct{}{k: {}}
	default:
		s.more[k] = struct{}{}
	}
}

func (s *smallSet[K]) len() int { return s.n + len(s.more) }

// all yields the keys, in no particular order.
func (s *smallSet[K]) all() iter.Seq[K] {
	return func(yield func(K) bool) {
		for _, k := range s.few[:s.n] {
			if !yield(k) {
				return
			}
		}
		for k := range s.more {
			if !yield(k) {
				return
			}
		}
	}
}

// OrgRecord is the stored form of an org.
type OrgRecord struct {
	ID        string    `json:"id"`
	RootID    string    `json:"rootId"`
	TenantID  string    `json:"tenantId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// NodeRecord is the stored form of a node: its fields and its grants.
// Children order, depth and paths are derived and not stored.
type NodeRecord struct {
	Node
	Resources []Resource `json:"resources,omitempty"`
}

// Membership is one user's membership of one node.
type Membership struct {
	NodeID   string    `json:"nodeId"`
	JoinedAt time.Time `json:"joinedAt"`
}

// UserRecord is the stored form of a user: its fields, main department and
// every membership, in the order they were joined.
type UserRecord struct {
	User
	Memberships []Membership `json:"memberships,omitempty"`
}

// ChangeSet lists the records a committed transaction created, changed or
// deleted. Upserts carry the full new record, so applying a ChangeSet to a
// store keyed by id is idempotent. Lists are sorted by id.
type ChangeSet struct {
	// Seq is the sequence number of the version this change produces.
	Seq          uint64       `json:"seq"`
	Orgs         []OrgRecord  `json:"orgs,omitempty"`
	Nodes        []NodeRecord `json:"nodes,omitempty"`
	Users        []UserRecord `json:"users,omitempty"`
	DeletedOrgs  []string     `json:"deletedOrgs,omitempty"`
	DeletedNodes []string     `json:"deletedNodes,omitempty"`
	DeletedUsers []string     `json:"deletedUsers,omitempty"`
	// Actor and Reason say who made the change and why, as the
	// transaction was told (Tx.SetActor); empty when not told.
	Actor  string `json:"actor,omitempty"`
	Reason string `json:"reason,omitempty"`

	// from and to are the versions before and after the change, set only
	// while the commit hook runs (see Changes).
	from, to *state
}

// Changes returns what this transaction changed, as Diff(before, after)
// reports it: moves, renames, member and main-department changes, with
// the old records beside the new ones (a ChangeSet carries only the new
// ones). It costs what Diff costs: in proportion to the change. It answers
// only while the commit hook runs; afterwards it fails with
// ErrInvalidArgument, so that a ChangeSet a hook keeps does not keep two
// versions of the tree alive.
func (cs *ChangeSet) Changes() (*Changes, error) {
	if cs.from == nil || cs.to == nil {
		return nil, fmt.Errorf("orgtree: change set %d: Changes is only available inside the commit hook: %w", cs.Seq, ErrInvalidArgument)
	}
	return Diff(Snapshot{st: cs.from}, Snapshot{st: cs.to})
}

func (tx *Tx) changeSet() *ChangeSet {
	st, base := tx.st, tx.base
	cs := &ChangeSet{Seq: st.seq, Actor: tx.actor, Reason: tx.reason}
	for id := range tx.dirty.orgs.all() {
		if o, ok := st.orgs.Get(id); ok {
			cs.Orgs = append(cs.Orgs, st.orgRecord(o))
		} else if _, was := base.orgs.Get(id); was {
			cs.DeletedOrgs = append(cs.DeletedOrgs, id)
		}
	}
	for n := range tx.dirty.nodes.all() {
		if r := st.node(n); r != nil {
			cs.Nodes = append(cs.Nodes, st.nodeRecord(r))
		} else if old := base.node(n); old != nil {
			cs.DeletedNodes = append(cs.DeletedNodes, old.id)
		}
	}
	for u := range tx.dirty.users.all() {
		if r := st.user(u); r != nil {
			cs.Users = append(cs.Users, st.userRecord(u, r))
		} else if old := base.user(u); old != nil {
			cs.DeletedUsers = append(cs.DeletedUsers, old.id)
		}
	}
	slices.SortFunc(cs.Orgs, func(a, b OrgRecord) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(cs.Nodes, func(a, b NodeRecord) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(cs.Users, func(a, b UserRecord) int { return cmp.Compare(a.ID, b.ID) })
	slices.Sort(cs.DeletedOrgs)
	slices.Sort(cs.DeletedNodes)
	slices.Sort(cs.DeletedUsers)
	return cs
}

func (st *state) orgRecord(o *orgRec) OrgRecord {
	return OrgRecord{ID: o.id, RootID: st.node(o.root).id, TenantID: o.tenantID, CreatedAt: timeOf(o.created), UpdatedAt: timeOf(o.updated)}
}

func (st *state) nodeRecord(r *nodeRec) NodeRecord {
	return NodeRecord{Node: st.nodeValue(r), Resources: cloneResources(r.resources)}
}

func (st *state) userRecord(u uid, r *userRec) UserRecord {
	rec := UserRecord{User: st.userValue(r)}
	for _, n := range r.depts {
		nr := st.node(n)
		rec.Memberships = append(rec.Memberships, Membership{NodeID: nr.id, JoinedAt: timeOf(nr.memberJoined(u))})
	}
	slices.SortFunc(rec.Memberships, func(a, b Membership) int {
		return cmp.Or(a.JoinedAt.Compare(b.JoinedAt), cmp.Compare(a.NodeID, b.NodeID))
	})
	return rec
}

// Dump is the whole content of a version as flat records: what a store
// writes to take a full copy and hands to Load to rebuild a tree.
type Dump struct {
	Seq   uint64       `json:"seq"`
	Orgs  []OrgRecord  `json:"orgs"`
	Nodes []NodeRecord `json:"nodes"`
	Users []UserRecord `json:"users"`
}

// Dump returns every record of this version, sorted by id.
func (s Snapshot) Dump() *Dump {
	st := s.st
	d := &Dump{Seq: st.seq}
	for _, o := range st.orgs.All() {
		d.Orgs = append(d.Orgs, st.orgRecord(o))
	}
	for _, r := range st.nodes.All() {
		if r != nil {
			d.Nodes = append(d.Nodes, st.nodeRecord(r))
		}
	}
	for i, r := range st.users.All() {
		if r != nil {
			d.Users = append(d.Users, st.userRecord(uid(i), r))
		}
	}
	slices.SortFunc(d.Orgs, func(a, b OrgRecord) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(d.Nodes, func(a, b NodeRecord) int { return cmp.Compare(a.ID, b.ID) })
	slices.SortFunc(d.Users, func(a, b UserRecord) int { return cmp.Compare(a.ID, b.ID) })
	return d
}

// Load replaces the content of an empty tree with the records of d, in any
// order (children before parents is fine). It validates every record and the
// structure they form (the parts of Check that read records: links,
// reachability, both sides of every membership) and loads nothing if
// anything is wrong; the indexes it derives from them are not checked
// again (call Check for that). It builds the tree in bulk, on every core,
// without the per-change index maintenance of a transaction. The
// commit hook is not called: the records come from the store. The tree's
// version number becomes d.Seq, which must be above every number the tree
// has handed out (any number will do for a tree that never committed), and
// no earlier version is an ancestor of the loaded one (see Rollback).
func (t *Tree) Load(d *Dump) error {
	if d == nil {
		return fmt.Errorf("orgtree: load: no dump: %w", ErrInvalidArgument)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if cur := t.cur.Load(); cur.orgs.Len() > 0 || cur.userCount > 0 {
		return fmt.Errorf("orgtree: load: tree is not empty: %w", ErrInvalidArgument)
	}
	if t.lastSeq > 0 && d.Seq <= t.lastSeq {
		return fmt.Errorf("orgtree: load: version %d: this tree has used numbers up to %d: %w", d.Seq, t.lastSeq, ErrInvalidArgument)
	}
	tx := t.begin()
	defer tx.close()
	if err := tx.loadChecked(d); err != nil {
		return err
	}
	tx.st.seq = d.Seq
	t.lastSeq, t.line = d.Seq, &lineage{}
	tx.st.line, tx.st.published = t.line, true
	t.cur.Store(tx.st)
	t.notifyAll()
	return nil
}

// loadChecked loads d into the transaction's empty version, settles its
// indexes and checks the records and the structure they form.
func (tx *Tx) loadChecked(d *Dump) error {
	if err := tx.load(d); err != nil {
		return err
	}
	tx.settleIndexes(true)
	if err := (Snapshot{st: tx.st}).checkRecords(); err != nil {
		return fmt.Errorf("orgtree: load: %w", err)
	}
	return nil
}

func (tx *Tx) load(d *Dump) error {
	st := tx.st
	e := tx.edit
	tx.dirty.off = true
	st.nodeIDs, st.userIDs = st.nodeIDs.Reserve(e, len(d.Nodes)), st.userIDs.Reserve(e, len(d.Users))
	st.userExt = st.userExt.Own(e)
	if err := tx.checkRecordsAlone(d); err != nil {
		return err
	}
	// Users first, so memberships can refer to them. A repeated id or
	// external id overwrites its index entry, so the indexes come out
	// shorter than the list; only then is the repeat looked for.
	us := make([]uid, len(d.Users))
	exts := 0
	for i := range d.Users {
		u := &d.Users[i].User
		if u.ExternalID != "" {
			exts++
		}
		us[i] = tx.insertUserAs(u.ID, u, u.CreatedAt.UnixNano(), u.UpdatedAt.UnixNano())
	}
	if st.userIDs.Len() != len(d.Users) || st.userExt.Len() != exts {
		return repeatedUser(d.Users)
	}
	// The user order is built beside the rest of the load: it needs only
	// the users, and nothing else reads it before the load ends.
	wait := tx.orderUsers(us)
	defer wait()
	// Nodes, without links.
	parents := make([]string, 0, len(d.Nodes))
	handles := make([]nid, 0, len(d.Nodes))
	for i := range d.Nodes {
		rec := &d.Nodes[i]
		if _, ok := st.nodeIDs.Get(rec.ID); ok {
			return fmt.Errorf("orgtree: load: node %q: %w", rec.ID, ErrExists)
		}
		if err := tx.checkLeader(rec.LeaderUserID); err != nil {
			return fmt.Errorf("orgtree: load: node %q: %w", rec.ID, err)
		}
		resources := cloneResources(rec.Resources)
		sortResources(resources)
		r := &nodeRec{
			edit: e, own: ownChildren | ownMembers,
			id: rec.ID, orgID: rec.OrgID, name: rec.Name, nameI18n: cloneI18n(rec.NameI18n),
			code: rec.Code, order: rec.Order, created: rec.CreatedAt.UnixNano(), updated: rec.UpdatedAt.UnixNano(),
			nodeExtra: newExtra(rec.Description, cloneI18n(rec.DescriptionI18n), rec.ExternalID, rec.LeaderUserID, resources),
		}
		n := nid(st.nodes.Len())
		st.nodes = st.nodes.Append(e, r)
		st.appendNode(e, rollup{})
		st.nodeIDs = st.nodeIDs.Set(e, r.id, n)
		st.nodeCount++
		tx.nameChanged(n, nil)
		tx.setLeader(n, "", rec.LeaderUserID)
		parents = append(parents, rec.ParentID)
		handles = append(handles, n)
		tx.bumpTime(r.created, r.updated)
	}
	// Orgs.
	for _, o := range d.Orgs {
		if err := checkID(o.ID); err != nil {
			return fmt.Errorf("orgtree: load: org %q: %w", o.ID, err)
		}
		if _, ok := st.orgs.Get(o.ID); ok {
			return fmt.Errorf("orgtree: load: org %q: %w", o.ID, ErrExists)
		}
		if err := checkTenantID(o.TenantID); err != nil {
			return fmt.Errorf("orgtree: load: org %q: %w", o.ID, err)
		}
		root, r, ok := st.nodeByID(o.RootID)
		if !ok || r.orgID != o.ID {
			return fmt.Errorf("orgtree: load: org %q: root %q: %w", o.ID, o.RootID, ErrNotFound)
		}
		st.orgs = st.orgs.Set(e, o.ID, &orgRec{edit: e, id: o.ID, tenantID: o.TenantID, root: root, created: o.CreatedAt.UnixNano(), updated: o.UpdatedAt.UnixNano()})
		tx.bumpTime(o.CreatedAt.UnixNano(), o.UpdatedAt.UnixNano())
	}
	// Links, codes and external ids.
	for i, n := range handles {
		r := st.node(n)
		if _, ok := st.orgs.Get(r.orgID); !ok {
			return fmt.Errorf("orgtree: load: node %q: org %q: %w", r.id, r.orgID, ErrNotFound)
		}
		org := tx.mutOrg(r.orgID)
		if parents[i] == "" {
			if org.root != n {
				return fmt.Errorf("orgtree: load: node %q has no parent but is not the root of org %q: %w", r.id, r.orgID, ErrCorrupt)
			}
		} else {
			p, pr, ok := st.nodeByID(parents[i])
			if !ok {
				return fmt.Errorf("orgtree: load: node %q: parent %q: %w", r.id, parents[i], ErrNotFound)
			}
			if pr.orgID != r.orgID {
				return fmt.Errorf("orgtree: load: node %q: parent %q: %w", r.id, parents[i], ErrCrossOrg)
			}
			r.parent, r.parentID = p, pr.id
			tx.setParent(n, p)
			pr.children = append(pr.children, n) // pr is owned: created above
		}
		if r.code != "" {
			if _, dup := org.codes.Get(r.code); dup {
				return fmt.Errorf("orgtree: load: node %q: code %q: %w", r.id, r.code, ErrDuplicateCode)
			}
			org.codes = org.codes.Set(e, r.code, n)
		}
		if r.externalID != "" {
			if _, dup := org.extIDs.Get(r.externalID); dup {
				return fmt.Errorf("orgtree: load: node %q: externalId %q: %w", r.id, r.externalID, ErrExists)
			}
			org.extIDs = org.extIDs.Set(e, r.externalID, n)
		}
	}
	for _, n := range handles {
		r := st.node(n)
		slices.SortFunc(r.children, st.childCmp)
	}
	if err := tx.loadMemberships(d.Users, us, d.Nodes, handles); err != nil {
		return err
	}
	tx.rebuildRollups()
	return nil
}

// loadMemberships links the users' memberships, without rollups (they are
// computed once at the end). Each node's members are gathered by a
// counting sort over the flat list of links, so that no node record is
// visited once per membership; users come in handle order, so each node's
// members arrive sorted, and a repeated membership shows in the user's
// sorted departments.
// nodes and handles are the loaded node records and their handles.
func (tx *Tx) loadMemberships(users []UserRecord, us []uid, nodes []NodeRecord, handles []nid) error {
	st := tx.st
	total := 0
	for i := range users {
		total += len(users[i].Memberships)
	}
	byAddr := newIDsByAddress(nodes, handles)
	links := make([]nid, 0, total)
	start := make([]int32, st.nodes.Len()+1) // counts, then where each node's members start
	for i := range users {
		for _, m := range users[i].Memberships {
			n, ok := byAddr.get(m.NodeID)
			if !ok {
				if n, _, ok = st.nodeByID(m.NodeID); !ok {
					return fmt.Errorf("orgtree: load: user %q: membership of node %q: %w", users[i].ID, m.NodeID, ErrNotFound)
				}
			}
			links = append(links, n)
			start[n+1]++
		}
	}
	for n := 1; n < len(start); n++ {
		start[n] += start[n-1]
	}
	flat := make([]member, total)
	next := slices.Clone(start[:len(start)-1])
	at := links
	for i := range users {
		u, ms := us[i], users[i].Memberships
		depts := make([]nid, len(ms))
		for j, m := range ms {
			n := at[j]
			joined := m.JoinedAt.UnixNano()
			flat[next[n]] = member{user: u, joined: joined}
			next[n]++
			depts[j] = n
			tx.bumpTime(joined, 0)
		}
		at = at[len(ms):]
		slices.Sort(depts)
		ur := st.user(u)
		ur.depts = depts
		for k := 1; k < len(depts); k++ {
			if depts[k] == depts[k-1] {
				return fmt.Errorf("orgtree: load: user %q: membership of node %q: %w", ur.id, st.node(depts[k]).id, ErrExists)
			}
		}
		if main := users[i].MainDepartmentID; main != "" {
			n, _, ok := st.nodeByID(main)
			if _, joined := slices.BinarySearch(depts, n); !ok || !joined {
				return fmt.Errorf("orgtree: load: user %q: main department %q: %w", ur.id, main, ErrNotMember)
			}
			ur.main = n
		}
	}
	// Each node gets a list of its own, so that a later change to one
	// node's members does not keep the others' alive.
	for _, n := range handles {
		if from, to := start[n], start[n+1]; to > from {
			st.node(n).members = slices.Clone(flat[from:to])
		}
	}
	st.memberships += total
	return nil
}

// bumpTime keeps the monotonic clock ahead of loaded timestamps.
func (tx *Tx) bumpTime(ts ...int64) {
	for _, t := range ts {
		if t > tx.st.lastTime {
			tx.st.lastTime = t
		}
	}
}

// checkRecordsAlone checks what each user and node record of d must be on
// its own (ids, names, text fields, resources), as CreateUser and AddNode
// would have, spread over the cores: it is much of a load's work and reads
// nothing else. The error is that of the first bad record, users first.
func (tx *Tx) checkRecordsAlone(d *Dump) error {
	parts := min(runtime.GOMAXPROCS(0), 8, 1+(len(d.Users)+len(d.Nodes))/4096)
	errs := make([]error, 2*parts) // each part's first bad user, then first bad node
	var wg sync.WaitGroup
	for k := range parts {
		wg.Go(func() {
			for i := len(d.Users) * k / parts; i < len(d.Users)*(k+1)/parts; i++ {
				u := &d.Users[i].User
				err := validateUser(u)
				if err == nil && u.ID == "" {
					err = fmt.Errorf("a user without id: %w", ErrInvalidArgument)
				}
				if err != nil {
					errs[k] = fmt.Errorf("orgtree: load: user %q: %w", u.ID, err)
					break
				}
			}
			for i := len(d.Nodes) * k / parts; i < len(d.Nodes)*(k+1)/parts; i++ {
				if err := tx.checkNodeAlone(&d.Nodes[i]); err != nil {
					errs[parts+k] = fmt.Errorf("orgtree: load: node %q: %w", d.Nodes[i].ID, err)
					break
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// repeatedUser names the first user whose id or external id an earlier
// user of users has.
func repeatedUser(users []UserRecord) error {
	ids, exts := make(map[string]bool, len(users)), make(map[string]bool)
	for _, u := range users {
		if ids[u.ID] {
			return fmt.Errorf("orgtree: load: user %q: %w", u.ID, ErrExists)
		}
		if u.ExternalID != "" && exts[u.ExternalID] {
			return fmt.Errorf("orgtree: load: user %q: externalId %q: %w", u.ID, u.ExternalID, ErrExists)
		}
		ids[u.ID], exts[u.ExternalID] = true, true
	}
	return fmt.Errorf("orgtree: load: the user indexes disagree with the records: %w", ErrCorrupt)
}

// validateNodeRecord checks a stored node as AddNode would have.
func (tx *Tx) validateNodeRecord(rec *NodeRecord) error {
	if err := tx.checkNodeAlone(rec); err != nil {
		return err
	}
	if _, ok := tx.st.nodeIDs.Get(rec.ID); ok {
		return ErrExists
	}
	return tx.checkLeader(rec.LeaderUserID)
}

// checkNodeAlone checks what a stored node must be on its own.
func (tx *Tx) checkNodeAlone(rec *NodeRecord) error {
	if err := checkID(rec.ID); err != nil {
		return err
	}
	if err := checkID(rec.OrgID); err != nil {
		return fmt.Errorf("org id: %w", err)
	}
	f, err := tx.cleanFields("load", fieldsInput{
		name: rec.Name, nameI18n: rec.NameI18n, code: rec.Code, description: rec.Description,
		descriptionI18n: rec.DescriptionI18n, order: rec.Order, externalID: rec.ExternalID, leaderUserID: rec.LeaderUserID,
	})
	if err != nil {
		return err
	}
	if f.name != rec.Name {
		return fmt.Errorf("name %q is not trimmed: %w", rec.Name, ErrInvalidName)
	}
	for _, r := range rec.Resources {
		if _, err := cleanResource(r); err != nil {
			return err
		}
	}
	return nil
}

// idsByAddress finds loaded nodes by the address and length of their id's
// bytes. The memberships of a dump name their nodes with the very strings
// of the node records (Snapshot.Dump and persist's decoder both share
// them), so a lookup is one probe of a flat table, without hashing or
// comparing the id. A string that is only equal to a node's id is not
// found here; the caller then asks the id index.
type idsByAddress struct {
	slots []addrSlot
	mask  uint64
}

type addrSlot struct {
	p   uintptr // the address of the id's first byte; 0 marks a free slot
	len int
	n   nid
}

func newIDsByAddress(nodes []NodeRecord, handles []nid) idsByAddress {
	size := 1
	for size < 2*len(nodes) {
		size *= 2
	}
	t := idsByAddress{slots: make([]addrSlot, size), mask: uint64(size - 1)}
	for i := range nodes {
		id := nodes[i].ID
		p := uintptr(unsafe.Pointer(unsafe.StringData(id)))
		if p == 0 {
			continue
		}
		k := mix64(uint64(p)) & t.mask
		for t.slots[k].p != 0 {
			k = (k + 1) & t.mask
		}
		t.slots[k] = addrSlot{p: p, len: len(id), n: handles[i]}
	}
	return t
}

// get returns the handle of the node whose id is the string id itself.
// The strings are alive (the dump holds them), so an address and length
// seen in the table are that node's id bytes.
func (t idsByAddress) get(id string) (nid, bool) {
	p := uintptr(unsafe.Pointer(unsafe.StringData(id)))
	if p == 0 || len(t.slots) == 0 {
		return 0, false
	}
	for k := mix64(uint64(p)) & t.mask; ; k = (k + 1) & t.mask {
		switch s := &t.slots[k]; {
		case s.p == 0:
			return 0, false
		case s.p == p && s.len == len(id):
			return s.n, true
		}
	}
}

package orgtree

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"
	"github.com/orgtree/orgtree/internal/pmap"
)

// nid is the compact internal handle of a node (0 means none); uid the same
// for users. Handles index persistent vectors, so walking parents or member
// lists never hashes a string.
type (
	nid uint32
	uid uint32
)

// state is one immutable version of the whole engine. Readers hold a pointer
// to it; the writer builds the next version by copying only what it touches.
type state struct {
	cfg *config

	seq      uint64 // version number: unique within the tree (see Tree.Rollback)
	lastTime int64  // the newest timestamp handed out (UnixNano)
	// line is the branch of history this version was committed on;
	// published is set once the version is (or was) the tree's newest.
	line      *lineage
	published bool

	nodes      pmap.Vec[*nodeRec] // by nid; slot 0 unused, deleted slots nil
	roll       pmap.Vec[rollup]   // by nid, beside nodes: depth and parent (rollup.go)
	counts     pmap.Vec[int32]    // by nid, beside nodes: distinct users in the subtree (rollup.go)
	nodeIDs    pmap.Layered[nid]  // node id → nid
	users      pmap.Vec[*userRec] // by uid; slot 0 unused, deleted slots nil
	userIDs    pmap.Layered[uid]  // user id → uid
	userExt    pmap.Layered[uid]  // user externalId → uid
	orgs       pmap.Map[*orgRec]  // org id → org
	grams      pmap.Map[*posting] // name n-gram → nodes (see searchindex.go)
	pending    *pendingName       // name changes not yet in grams, newest first
	pendingLen int
	// staleCounts: a large transaction stopped keeping distinct counts;
	// commit recomputes them (never set in a published version).
	staleCounts bool

	usersByCreated *btree.BTreeG[userKey] // see userorder.go
	usersByUpdated *btree.BTreeG[userKey]

	nodeCount   int
	userCount   int
	memberships int
}

type orgRec struct {
	edit             *pmap.Edit
	id               string
	tenantID         string
	root             nid
	created, updated int64
	codes            pmap.Layered[nid] // node code → nid
	extIDs           pmap.Layered[nid] // node externalId → nid
}

type nodeRec struct {
	edit   *pmap.Edit
	own    ownership // which slices this txn's copy already owns
	parent nid

	// parentID is the parent's id, kept beside its handle so that reading
	// a node costs one record, not two.
	id, orgID, parentID string
	children            []nid // sorted by childCmp
	name                string
	nameI18n            map[string]string
	code                string
	order               int
	created             int64
	updated             int64
	members             []member // direct members, sorted by user handle
	*nodeExtra                   // never nil; noExtra when all its fields are empty
}

// nodeExtra holds the fields most nodes leave empty, out of line, so that a
// node without them pays one pointer. Its fields are read through nodeRec by
// promotion; writes go through Tx.mutExtra.
type nodeExtra struct {
	description     string
	descriptionI18n map[string]string
	externalID      string
	leaderUserID    string
	resources       []Resource // sorted by (namespace, code)
}

// noExtra is shared by every node without extra fields; it is never written.
var noExtra = &nodeExtra{}

func newExtra(description string, descriptionI18n map[string]string, externalID, leaderUserID string, resources []Resource) *nodeExtra {
	if description == "" && len(descriptionI18n) == 0 && externalID == "" && leaderUserID == "" && len(resources) == 0 {
		return noExtra
	}
	return &nodeExtra{description, descriptionI18n, externalID, leaderUserID, resources}
}

// mutExtra gives the transaction's copy w a private nodeExtra to write.
func (tx *Tx) mutExtra(w *nodeRec) {
	if w.own&ownExtra == 0 || w.nodeExtra == noExtra {
		c := *w.nodeExtra
		w.nodeExtra = &c
		w.own |= ownExtra
		w.own &^= ownResources // the copy still shares the resources array
	}
}

type ownership uint8

const (
	ownChildren ownership = 1 << iota
	ownMembers
	ownResources
	ownDepts
	ownExtra
	ownLeads
	// ownListed: the record is in the transaction's dirty set, so that a
	// bulk load's millionth change to it does not ask the set again.
	ownListed
)

type member struct {
	user   uid
	joined int64
}

type userRec struct {
	edit *pmap.Edit
	own  ownership

	id, name, username, email, phone, externalID string
	created, updated                             int64
	depts                                        []nid // sorted by handle
	main                                         nid
	leads                                        []nid // nodes it leads, sorted (leaders.go)
}

// Tree is an in-memory forest of orgs. All methods are safe for concurrent
// use: reads run lock-free on the newest published version, writes are
// serialised and become visible atomically. See the package documentation.
type Tree struct {
	cfg config
	mu  sync.Mutex // held by the one writer
	cur atomic.Pointer[state]
	// Guarded by mu: the highest version number handed out (never handed
	// out again) and the branch of history new commits go on.
	lastSeq uint64
	line    *lineage
	// watchReg holds the open watch channels (watch.go); nil until used.
	watchReg atomic.Pointer[watchers]
}

// lineage is one branch of a tree's history. Every Rollback starts a new
// branch off the version it returns to, so that a version on a discarded
// branch can be told from an ancestor of the current one; a branch keeps
// only its parent branch alive, never a version.
type lineage struct {
	parent *lineage
	at     uint64 // the parent's last version that belongs to this history
}

// isAncestor reports whether v is the current version cur or one it was
// built on, following the branches back from line.
func isAncestor(v, cur *state, line *lineage) bool {
	if !v.published {
		return false
	}
	limit := cur.seq
	for l := line; l != nil; l = l.parent {
		if v.line == l {
			return v.seq <= limit
		}
		limit = l.at
	}
	return false
}

// New returns an empty tree.
func New(opts ...Option) *Tree {
	t := &Tree{}
	for _, o := range opts {
		o(&t.cfg)
	}
	t.cfg.limits = t.cfg.limits.withDefaults()
	if t.cfg.clock == nil {
		t.cfg.clock = time.Now
	}
	if t.cfg.newID == nil {
		t.cfg.newID = objectIDs()
	}
	t.line = &lineage{}
	t.cur.Store(emptyState(&t.cfg, t.line))
	return t
}

// emptyState returns a published version with no entries, of lineage line.
func emptyState(cfg *config, line *lineage) *state {
	st := &state{cfg: cfg, usersByCreated: newUserOrder(), usersByUpdated: newUserOrder(), line: line, published: true}
	// Slot 0 of both vectors stands for "none".
	st.nodes = st.nodes.Append(nil, nil)
	st.appendNode(nil, rollup{})
	st.users = st.users.Append(nil, nil)
	return st
}

// Limits returns the limits in force, defaults filled in.
func (t *Tree) Limits() Limits { return t.cfg.limits }

// Snapshot returns a consistent read-only view of the newest committed
// version. It costs one atomic load, holds no lock, and stays valid and
// unchanged for as long as the caller keeps it, whatever writers do meanwhile.
func (t *Tree) Snapshot() Snapshot { return Snapshot{st: t.cur.Load()} }

// View runs fn on a snapshot. It exists for symmetry with Update.
func (t *Tree) View(fn func(Snapshot) error) error { return fn(t.Snapshot()) }

// Update runs fn in a read-write transaction. If fn returns nil the changes
// are committed atomically (after the commit hook, if any, accepts them); if
// fn returns an error or panics, nothing it did is kept. Only one Update runs
// at a time; calling Update from inside fn deadlocks.
func (t *Tree) Update(fn func(*Tx) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	tx := t.begin()
	defer tx.close()
	if err := fn(tx); err != nil {
		return err
	}
	return t.commit(tx)
}

func (t *Tree) begin() *Tx { return beginOn(t.cur.Load()) }

// beginOn starts a transaction on version base.
func beginOn(base *state) *Tx {
	// One allocation holds the transaction and its working version: a
	// small write should cost little beyond what it copies. (The Edit is
	// apart: records keep it, and must not keep a version alive.)
	b := &txBlock{st: *base}
	b.st.published = false
	b.tx = Tx{Snapshot: Snapshot{st: &b.st}, base: base, edit: pmap.NewEdit(), dirty: &b.dirty}
	return &b.tx
}

// txBlock is what begin allocates. A published version points into it, so
// it lives as long as that version; commit drops what it no longer needs.
type txBlock struct {
	tx    Tx
	st    state
	dirty dirtySet
}

func (t *Tree) commit(tx *Tx) error { return t.commitWith(tx, true) }

// commitWith publishes tx; hook says whether the commit hook sees it
// (not for Apply, whose change was committed elsewhere).
func (t *Tree) commitWith(tx *Tx, hook bool) error {
	if tx.dirty.empty() {
		return nil
	}
	// A number is never handed out twice, not even after a refused commit
	// or a Rollback: a version number names one state of this tree.
	t.lastSeq++
	tx.st.seq, tx.st.line = t.lastSeq, t.line
	// A transaction that added many entries (a bulk load) leaves the id and
	// code indexes folded, so lookups afterwards take one probe.
	if tx.st.nodeCount-tx.base.nodeCount > bulkEntries || tx.st.userCount-tx.base.userCount > bulkEntries {
		tx.compact = true
	}
	if tx.st.staleCounts {
		tx.rebuildRollups()
		tx.st.staleCounts = false
	}
	tx.settleIndexes(tx.compact)
	if hook && t.cfg.hook != nil {
		cs := tx.changeSet()
		cs.from, cs.to = tx.base, tx.st
		err := t.cfg.hook(cs)
		cs.from, cs.to = nil, nil
		if err != nil {
			return fmt.Errorf("orgtree: commit hook refused change %d: %w", tx.st.seq, err)
		}
	}
	tx.st.published = true
	t.cur.Store(tx.st)
	t.notifyCommit(tx)
	tx.base, *tx.dirty = nil, dirtySet{} // the published version must not keep its parent alive
	return nil
}

// Rollback makes an earlier version of this tree the newest one again,
// discarding every transaction committed after it. It is for stores that
// acknowledge writes before they reach disk (package persist's group commit):
// when a delayed write fails, memory is put back to what the store holds.
// The commit hook is not called. Readers holding later snapshots keep them.
//
// to must be an ancestor of the current version: a snapshot of this tree
// taken from Tree.Snapshot (or a committed Tx) on the current line of
// history, the current version included (then nothing changes). A version
// that an earlier Rollback discarded, a snapshot of another tree or fork,
// or the working version of a transaction that did not commit is refused
// with ErrInvalidArgument, and nothing changes.
//
// Version numbers are never reused: the next commit after a Rollback gets
// a number above every one this tree has handed out, so Seq names exactly
// one state of a tree (and Seq increases along the history of the current
// version, with gaps where versions were discarded or refused).
func (t *Tree) Rollback(to Snapshot) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := t.cur.Load()
	if to.st == nil || to.st.cfg != &t.cfg {
		return fmt.Errorf("orgtree: rollback: snapshot of another tree: %w", ErrInvalidArgument)
	}
	if to.st.seq > cur.seq {
		return fmt.Errorf("orgtree: rollback: snapshot %d is newer than version %d: %w", to.st.seq, cur.seq, ErrInvalidArgument)
	}
	if !isAncestor(to.st, cur, t.line) {
		return fmt.Errorf("orgtree: rollback: snapshot %d is not an ancestor of version %d (an uncommitted version, or one a rollback discarded): %w", to.st.seq, cur.seq, ErrInvalidArgument)
	}
	if to.st == cur {
		return nil
	}
	t.line = &lineage{parent: to.st.line, at: to.st.seq}
	t.cur.Store(to.st)
	t.notifyAll()
	return nil
}

// settleIndexes keeps the deltas of the lookup indexes small in the version
// about to be published; after a bulk load (all) it folds them completely,
// so that version answers lookups in one probe.
func (tx *Tx) settleIndexes(all bool) {
	if all || tx.st.pendingLen > pendingFold {
		tx.foldPending()
	}
	st := tx.st
	if all {
		st.nodeIDs, st.userIDs, st.userExt = st.nodeIDs.Compact(), st.userIDs.Compact(), st.userExt.Compact()
	} else {
		st.nodeIDs, st.userIDs, st.userExt = st.nodeIDs.Settle(), st.userIDs.Settle(), st.userExt.Settle()
	}
	for id := range tx.dirty.orgs.all() {
		if r, ok := st.orgs.Get(id); ok {
			var codes, extIDs pmap.Layered[nid]
			if all {
				codes, extIDs = r.codes.Compact(), r.extIDs.Compact()
			} else {
				codes, extIDs = r.codes.Settle(), r.extIDs.Settle()
			}
			if codes != r.codes || extIDs != r.extIDs {
				o := tx.mutOrg(id)
				o.codes, o.extIDs = codes, extIDs
			}
		}
	}
}

// update1 runs one Tx method as its own transaction.
func update1[T any](t *Tree, fn func(*Tx) (T, error)) (T, error) {
	var out T
	err := t.Update(func(tx *Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}

// Snapshot is a read-only view of one committed version of a Tree (or, inside
// a Tx, of the transaction's working version). The zero Snapshot is not usable.
type Snapshot struct {
	st *state
}

// Limits returns the limits of the tree this version belongs to.
func (s Snapshot) Limits() Limits { return s.st.cfg.limits }

// Seq returns the version number: it names this one state of its tree and
// no other (Tree.Rollback never lets a number be reused). Each commit that
// changes something gets a higher number than any before it, one more than
// the last in the absence of rollbacks and refused commits.
func (s Snapshot) Seq() uint64 { return s.st.seq }

// Stats counts what a version holds.
type Stats struct {
	Orgs, Nodes, Users, Memberships int
}

// Stats returns the entity counts of this version in O(1).
func (s Snapshot) Stats() Stats {
	return Stats{Orgs: s.st.orgs.Len(), Nodes: s.st.nodeCount, Users: s.st.userCount, Memberships: s.st.memberships}
}

// Tx is a read-write transaction. Its read methods (from the embedded
// Snapshot) see its own uncommitted changes. Every write method either applies
// completely or returns an error and changes nothing, so a caller may handle
// an error and go on; returning an error from the Update function discards
// the whole transaction. A Tx must not be used after Update returns.
type Tx struct {
	Snapshot
	base   *state
	edit   *pmap.Edit
	dirty  *dirtySet
	closed bool
	// bulk defers rollup maintenance to attachRollups (imports).
	bulk bool
	// compact folds the id and code indexes at commit (after bulk loads).
	compact bool
	// ownsUserOrder: the user indexes were cloned for this transaction.
	ownsUserOrder bool
	// links counts the memberships this transaction made (see countLink).
	links int
	// who and why made this change, for its ChangeSet (actor.go).
	actor, reason string
	// replaying: Tree.Apply is replaying a ChangeSet; limits are checked
	// on the result, not on each step (a step may pass through a state
	// the source never had).
	replaying bool
}

func (tx *Tx) close() { tx.closed = true }

func (tx *Tx) writable(op string) error {
	if tx.closed {
		return fmt.Errorf("orgtree: %s: %w", op, ErrTxClosed)
	}
	return nil
}

// now returns a timestamp strictly after every earlier one of this tree.
func (tx *Tx) now() int64 {
	t := tx.st.cfg.clock().UnixNano()
	if t <= tx.st.lastTime {
		t = tx.st.lastTime + 1
	}
	tx.st.lastTime = t
	return t
}

func (tx *Tx) newID(op string, taken func(string) bool) (string, error) {
	id := tx.st.cfg.newID()
	if err := checkID(id); err != nil {
		return "", fmt.Errorf("orgtree: %s: generated id %q: %w", op, id, err)
	}
	if taken(id) {
		return "", fmt.Errorf("orgtree: %s: generated id %q: %w", op, id, ErrExists)
	}
	return id, nil
}

// node returns the record for a live handle (nil for 0 or deleted).
func (st *state) node(n nid) *nodeRec { return st.nodes.Get(int(n)) }
func (st *state) user(u uid) *userRec { return st.users.Get(int(u)) }

func (st *state) nodeByID(id string) (nid, *nodeRec, bool) {
	n, ok := st.nodeIDs.Get(id)
	if !ok {
		return 0, nil, false
	}
	return n, st.node(n), true
}

func (st *state) userByID(id string) (uid, *userRec, bool) {
	u, ok := st.userIDs.Get(id)
	if !ok {
		return 0, nil, false
	}
	return u, st.user(u), true
}

func (s Snapshot) lookupNode(op, id string) (nid, *nodeRec, error) {
	n, r, ok := s.st.nodeByID(id)
	if !ok {
		return 0, nil, fmt.Errorf("orgtree: %s: node %q: %w", op, id, ErrNotFound)
	}
	return n, r, nil
}

func (s Snapshot) lookupUser(op, id string) (uid, *userRec, error) {
	u, r, ok := s.st.userByID(id)
	if !ok {
		return 0, nil, fmt.Errorf("orgtree: %s: user %q: %w", op, id, ErrNotFound)
	}
	return u, r, nil
}

func (s Snapshot) lookupOrg(op, id string) (*orgRec, error) {
	o, ok := s.st.orgs.Get(id)
	if !ok {
		return nil, fmt.Errorf("orgtree: %s: org %q: %w", op, id, ErrNotFound)
	}
	return o, nil
}

// mutNode returns a copy of node n that this transaction owns and may change
// in place, installing it in the working version on first touch.
func (tx *Tx) mutNode(n nid) *nodeRec {
	r := tx.st.node(n)
	if r.edit != tx.edit {
		c := *r
		c.edit, c.own = tx.edit, 0
		r = &c
		tx.st.nodes = tx.st.nodes.Set(tx.edit, int(n), r)
	}
	if r.own&ownListed == 0 {
		tx.dirty.node(n)
		r.own |= ownListed
	}
	return r
}

// mutUser returns the transaction's copy of user u and lists it as changed.
func (tx *Tx) mutUser(u uid) *userRec {
	r := tx.copyUser(u)
	if r.own&ownListed == 0 {
		tx.dirty.user(u)
		r.own |= ownListed
	}
	return r
}

// copyUser returns the transaction's copy of user u without listing it as
// changed: for derived fields that no stored record holds.
func (tx *Tx) copyUser(u uid) *userRec {
	r := tx.st.user(u)
	if r.edit != tx.edit {
		c := *r
		c.edit, c.own = tx.edit, 0
		r = &c
		tx.st.users = tx.st.users.Set(tx.edit, int(u), r)
	}
	return r
}

func (tx *Tx) mutOrg(id string) *orgRec {
	r, _ := tx.st.orgs.Get(id)
	if r.edit != tx.edit {
		c := *r
		c.edit = tx.edit
		r = &c
		tx.st.orgs = tx.st.orgs.Set(tx.edit, id, r)
	}
	tx.dirty.org(id)
	return r
}

// ownSlice makes *s private to the transaction's copy the first time it is
// changed, so earlier versions sharing the backing array never see a write.
// The copy has room for one more element: most changes insert one, and
// the insert then does not copy the slice a second time.
func ownSlice[T any](own *ownership, bit ownership, s *[]T) {
	if *own&bit == 0 {
		*s = append(make([]T, 0, len(*s)+1), (*s)...)
		*own |= bit
	}
}

func timeOf(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

package orgtree

import "github.com/orgtree/orgtree/internal/pmap"

// Fork returns a new tree whose first version is this one: an independent,
// writable copy that shares every structure with it, made in O(1) whatever
// the size of the tree. Writes to either tree are never seen by the other;
// each copies only what it changes, as any transaction does.
//
// The fork keeps the limits, clock and id generator of the original (the
// generators of this package are safe for concurrent use); opts override
// them. It never inherits the commit hook: a fork of a persisted tree lives
// in memory unless opts install one.
func (s Snapshot) Fork(opts ...Option) *Tree {
	t := &Tree{cfg: *s.st.cfg}
	t.cfg.hook = nil
	for _, o := range opts {
		o(&t.cfg)
	}
	t.cfg.limits = t.cfg.limits.withDefaults()
	st := *s.st
	st.cfg = &t.cfg
	// The fork's history starts here: its numbers go on from this version's,
	// and no version of the original is an ancestor (see Tree.Rollback).
	t.lastSeq, t.line = st.seq, &lineage{}
	st.line, st.published = t.line, true
	t.cur.Store(&st)
	return t
}

// Fork returns an independent copy of the newest version; see Snapshot.Fork.
func (t *Tree) Fork(opts ...Option) *Tree { return t.Snapshot().Fork(opts...) }

// Fork returns an independent tree holding the transaction's working
// version, uncommitted changes included; see Snapshot.Fork. The transaction
// goes on, and from then on copies what it changes again, so that the fork
// never sees its later writes.
func (tx *Tx) Fork(opts ...Option) *Tree {
	if tx.st.staleCounts {
		tx.rebuildRollups()
		tx.st.staleCounts = false
	}
	t := tx.Snapshot.Fork(opts...)
	tx.edit = pmap.NewEdit()
	tx.ownsUserOrder = false
	return t
}

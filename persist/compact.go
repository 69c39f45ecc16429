package persist

import (
	"errors"

	"go.etcd.io/bbolt"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/internal/recordcodec"
)

// compactor writes a new full record in the background once the deltas
// after the current one have grown past max(compactMin, half the full
// record): Open then reads at most about one and a half times the content.
// It takes the newest version known to be on disk, encodes it without any
// lock held (snapshots are immutable), and replaces the full record and
// every delta up to that version in one bbolt transaction; commits wait for
// that transaction only, like for any other write.
type compactor struct {
	db    *DB
	kicks chan struct{}
	stop  chan struct{}
	done  chan struct{}
}

func startCompactor(db *DB) *compactor {
	c := &compactor{db: db, kicks: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

func (c *compactor) kick() { notify(c.kicks) }

// close waits for a compaction under way and stops the goroutine.
func (c *compactor) close() {
	close(c.stop)
	<-c.done
}

func (c *compactor) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.kicks:
			// A failed compaction changes nothing on disk; the next write
			// past the threshold tries again.
			_ = c.db.compact()
		}
	}
}

// errCompactSkipped: nothing to compact (the version on disk is the full
// record already, or group commit failed).
var errCompactSkipped = errors.New("nothing to compact")

// compact writes the newest durable version as the full record.
func (db *DB) compact() error {
	snap, ok := db.durable()
	if !ok {
		return errCompactSkipped
	}
	d := snap.Dump()
	parts := recordcodec.EncodeRecord(recordcodec.KindFull, d.Orgs, d.Nodes, d.Users, [3][]string{})
	return db.update(func(tx *bbolt.Tx) error {
		w, err := newLogWriter(tx)
		if err != nil {
			return err
		}
		if w.st.base >= d.Seq {
			return errCompactSkipped
		}
		if err := w.replaceBase(d.Seq, parts); err != nil {
			return err
		}
		return w.finish()
	})
}

// durable returns the newest version whose records are all on disk: in the
// default mode the tree's current version (its commit hook wrote it before
// it was published), with group commit the last flushed one.
func (db *DB) durable() (orgtree.Snapshot, bool) {
	if db.g == nil {
		return db.tree.Snapshot(), true
	}
	g := db.g
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.durable, g.err == nil
}

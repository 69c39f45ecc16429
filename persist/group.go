package persist

import (
	"fmt"
	"sync"
	"time"

	"github.com/orgtree/orgtree"
)

// group is the group-commit machinery: the commit hook queues change sets,
// one flusher goroutine writes them in batches.
type group struct {
	db     *DB
	window time.Duration
	kick   chan struct{} // something was queued
	urgent chan struct{} // someone waits in Sync: do not sit out the window
	stop   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	cond    sync.Cond
	pending []*orgtree.ChangeSet
	durable orgtree.Snapshot // newest version known to be on disk
	err     error            // sticky: the flush that failed
	closed  bool             // no new changes are taken
	stopped bool             // the flusher has written its last batch
}

func startGroup(db *DB) *group {
	g := &group{
		db:      db,
		window:  db.cfg.window,
		kick:    make(chan struct{}, 1),
		urgent:  make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		durable: db.tree.Snapshot(),
	}
	g.cond.L = &g.mu
	go g.run()
	return g
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// enqueue is the commit hook in group-commit mode.
func (g *group) enqueue(cs *orgtree.ChangeSet) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.err != nil:
		return fmt.Errorf("%w: %w", ErrFailed, g.err)
	case g.closed:
		return ErrClosed
	}
	g.pending = append(g.pending, cs)
	notify(g.kick)
	return nil
}

func (g *group) run() {
	defer func() {
		g.mu.Lock()
		g.stopped = true
		g.cond.Broadcast()
		g.mu.Unlock()
		close(g.done)
	}()
	for {
		select {
		case <-g.kick:
		case <-g.urgent:
		case <-g.stop:
			g.flush()
			return
		}
		timer := time.NewTimer(g.window)
		select {
		case <-timer.C:
		case <-g.urgent:
		case <-g.stop:
		}
		timer.Stop()
		g.flush()
	}
}

// flush writes every queued change set whose version is published. A hook
// that has queued but whose version is not yet visible stays for the next
// round: what is written is always a version readers could have seen.
func (g *group) flush() {
	snap := g.db.tree.Snapshot()
	g.mu.Lock()
	if g.err != nil {
		g.mu.Unlock()
		return
	}
	var batch []*orgtree.ChangeSet
	keep := g.pending[:0]
	for _, cs := range g.pending {
		if cs.Seq <= snap.Seq() {
			batch = append(batch, cs)
		} else {
			keep = append(keep, cs)
		}
	}
	clear(g.pending[len(keep):])
	g.pending = keep
	g.mu.Unlock()
	if len(batch) == 0 {
		return
	}

	err := g.db.write(batch)

	g.mu.Lock()
	if err != nil {
		g.err = err
		durable := g.durable
		g.mu.Unlock()
		// Later hooks now refuse, so after Rollback memory equals disk.
		_ = g.db.tree.Rollback(durable)
		g.mu.Lock()
	} else {
		g.durable = snap
		if len(g.pending) > 0 {
			notify(g.kick)
		}
	}
	g.cond.Broadcast()
	g.mu.Unlock()
}

// sync waits until version seq is on disk.
func (g *group) sync(seq uint64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.durable.Seq() < seq && g.err == nil && !g.stopped {
		notify(g.urgent)
		g.cond.Wait()
	}
	switch {
	case g.err != nil:
		return fmt.Errorf("%w: %w", ErrFailed, g.err)
	case g.durable.Seq() < seq:
		return ErrClosed
	}
	return nil
}

// close refuses new changes, waits for the ones in flight to be published,
// writes everything queued and stops the flusher.
func (g *group) close() error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	// A no-op Update takes the writer lock: once it runs, every commit that
	// passed the hook before closed was set has been published.
	_ = g.db.tree.Update(func(*orgtree.Tx) error { return nil })
	close(g.stop)
	<-g.done
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return fmt.Errorf("%w: %w", ErrFailed, g.err)
	}
	return nil
}

// Package replicate binds an orgtree.Tree to an etcd cluster so that several
// processes hold the same tree. Every write is one etcd transaction that
// appends the write's ChangeSet to a log and succeeds only if the log's head
// has not moved since the replica last applied it, so writes from all
// replicas are linearizable and the engine's invariants (no cycles, unique
// codes) hold across replicas. Replicas follow the log through etcd's watch
// stream; reads stay local.
//
// Status: first cut. Snapshots, splitting of large changes and staleness
// reporting are not written yet (see the README of the branch report).
package replicate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/orgtree/orgtree"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrConflict is what the commit hook returns when another replica wrote
// first; Update catches up and re-runs fn on it.
var ErrConflict = errors.New("replicate: another write came first")

// Replica is one process's copy of a tree kept in etcd.
type Replica struct {
	cli    *clientv3.Client
	prefix string
	tree   *orgtree.Tree

	mu      sync.Mutex // serialises local writes and applying the log
	cond    *sync.Cond
	index   uint64 // log entries applied
	headRev int64  // etcd mod revision of the head key at index
	err     error  // set when the watch stream ended for good

	cancel context.CancelFunc
	done   chan struct{}
}

func (r *Replica) headKey() string                  { return r.prefix + "/head" }
func (r *Replica) logKey(i uint64) string           { return fmt.Sprintf("%s/log/%020d", r.prefix, i) }
func (r *Replica) logPrefix() string                { return r.prefix + "/log/" }
func parseIndex(b []byte) (uint64, error)           { return strconv.ParseUint(string(b), 10, 64) }
func (r *Replica) hook(cs *orgtree.ChangeSet) error { return r.publish(cs) }

// Open loads the log stored under prefix and follows it.
func Open(ctx context.Context, cli *clientv3.Client, prefix string, opts ...orgtree.Option) (*Replica, error) {
	r := &Replica{cli: cli, prefix: prefix, done: make(chan struct{})}
	r.cond = sync.NewCond(&r.mu)
	r.tree = orgtree.New(append(opts, orgtree.WithCommitHook(r.hook))...)
	resp, err := cli.Get(ctx, r.logPrefix(), clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("replicate: open: %w", err)
	}
	for _, kv := range resp.Kvs {
		if err := r.applyKV(kv.Value, kv.ModRevision); err != nil {
			return nil, fmt.Errorf("replicate: open: %w", err)
		}
	}
	wctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.follow(wctx, resp.Header.Revision+1)
	return r, nil
}

// Tree returns the local tree, for reads. Writes must go through Update.
func (r *Replica) Tree() *orgtree.Tree { return r.tree }

// Close stops following the log.
func (r *Replica) Close() error {
	r.cancel()
	<-r.done
	return nil
}

type entry struct {
	Index  uint64             `json:"index"`
	Change *orgtree.ChangeSet `json:"change"`
}

// applyKV applies one log entry read from etcd; entries this replica has
// already applied (its own writes) are skipped. Caller holds no lock.
func (r *Replica) applyKV(val []byte, rev int64) error {
	var e entry
	if err := json.Unmarshal(val, &e); err != nil {
		return fmt.Errorf("log entry at revision %d: %w", rev, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Index <= r.index {
		return nil
	}
	if e.Index != r.index+1 {
		return fmt.Errorf("log entry %d after %d: gap", e.Index, r.index)
	}
	if err := r.tree.Apply(e.Change); err != nil {
		return fmt.Errorf("log entry %d: %w", e.Index, err)
	}
	r.index, r.headRev = e.Index, rev
	r.cond.Broadcast()
	return nil
}

func (r *Replica) follow(ctx context.Context, from int64) {
	defer close(r.done)
	wc := r.cli.Watch(ctx, r.logPrefix(), clientv3.WithPrefix(), clientv3.WithRev(from))
	for resp := range wc {
		if err := resp.Err(); err != nil {
			r.fail(err)
			return
		}
		for _, ev := range resp.Events {
			if ev.Type != clientv3.EventTypePut {
				continue
			}
			if err := r.applyKV(ev.Kv.Value, ev.Kv.ModRevision); err != nil {
				r.fail(err)
				return
			}
		}
	}
}

func (r *Replica) fail(err error) {
	r.mu.Lock()
	r.err = err
	r.cond.Broadcast()
	r.mu.Unlock()
}

// publish is the commit hook: it appends cs to the log in one etcd
// transaction guarded by the head revision this replica has applied. It
// runs with r.mu held (Update takes it before calling Tree.Update).
func (r *Replica) publish(cs *orgtree.ChangeSet) error {
	val, err := json.Marshal(entry{Index: r.index + 1, Change: cs})
	if err != nil {
		return err
	}
	cmp := clientv3.Compare(clientv3.ModRevision(r.headKey()), "=", r.headRev)
	resp, err := r.cli.Txn(context.Background()).If(cmp).Then(
		clientv3.OpPut(r.headKey(), strconv.FormatUint(r.index+1, 10)),
		clientv3.OpPut(r.logKey(r.index+1), string(val)),
	).Commit()
	if err != nil {
		return fmt.Errorf("replicate: write: %w", err)
	}
	if !resp.Succeeded {
		return ErrConflict
	}
	r.index, r.headRev = r.index+1, resp.Header.Revision
	return nil
}

// Update runs fn on the newest state of the cluster's tree and commits its
// changes to etcd. When another replica wrote first, it waits until that
// write is applied here and runs fn again, so fn may run more than once and
// must not have side effects outside tx.
func (r *Replica) Update(ctx context.Context, fn func(*orgtree.Tx) error) error {
	for {
		// fn must see the newest state: an error it returns on a stale
		// state (a node another replica just added) would be final.
		if err := r.Sync(ctx); err != nil {
			return err
		}
		r.mu.Lock()
		if r.err != nil {
			err := r.err
			r.mu.Unlock()
			return fmt.Errorf("replicate: not following the log: %w", err)
		}
		err := r.tree.Update(fn)
		r.mu.Unlock()
		if !errors.Is(err, ErrConflict) {
			return err
		}
	}
}

// Sync waits until this replica has applied every write etcd acknowledged
// before Sync was called: a read after Sync sees them (read-your-writes and
// linearizable reads).
func (r *Replica) Sync(ctx context.Context) error {
	resp, err := r.cli.Get(ctx, r.headKey())
	if err != nil {
		return fmt.Errorf("replicate: sync: %w", err)
	}
	var want int64
	if len(resp.Kvs) > 0 {
		want = resp.Kvs[0].ModRevision
	}
	stop := context.AfterFunc(ctx, func() { r.mu.Lock(); r.cond.Broadcast(); r.mu.Unlock() })
	defer stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.headRev < want {
		if r.err != nil {
			return fmt.Errorf("replicate: sync: %w", r.err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("replicate: sync: %w", ctx.Err())
		}
		r.cond.Wait()
	}
	return nil
}

// Package replicate binds an orgtree.Tree to an etcd cluster so that several
// processes (replicas) hold the same tree and any of them may write.
//
// # Model
//
// The cluster's tree is a log of ChangeSets in etcd, plus a snapshot. Every
// write is one etcd transaction that appends the write's ChangeSet to the
// log and succeeds only if the log's head is still the entry the replica
// last applied (a compare on the head key). So writes from all replicas are
// linearizable, and every invariant the engine checks (no cycles, unique
// codes, limits) holds across replicas: fn runs on the newest state, and if
// another replica wrote first the replica catches up and runs fn again.
// Two replicas moving A under B and B under A at the same moment end with
// one move applied and the other refused with orgtree.ErrCycle.
//
// Replicas follow the log through etcd's watch stream and apply each entry
// with orgtree.Tree.Apply (cost proportional to the change). Reads are local
// and lock-free: Tree().Snapshot() as for any tree. Read gives the same
// snapshot with its Freshness (the last time the replica confirmed it had
// applied everything etcd acknowledged); Sync waits until it has, for
// read-your-writes and linearizable reads.
//
// # Keys
//
// Under the prefix P: P/head holds the index of the newest entry; P/log/N is
// entry N; a change larger than the chunk size (WithChunkSize, below etcd's
// request limit) is written first as P/chunk/N/W/K keys under a short lease,
// invisible to readers, and then committed by the guarded transaction that
// adds P/log/N, which only names the chunks and detaches them from the
// lease: a reader sees the whole change or nothing. P/snap names the newest
// snapshot, whose Dump is stored in P/snapdata/N/K chunks.
//
// # Snapshots and compaction
//
// With WithSnapshotEvery(k), the replica that writes entry N (N a multiple
// of k) stores a snapshot of the tree at N, then deletes the log entries
// and chunks up to N and older snapshots; WithEtcdCompaction also compacts
// etcd's history up to that point. A replica that opens, or that falls so
// far behind that the entries it needs are gone (deleted, or compacted out
// of its watch), loads the newest snapshot and then the log after it.
// Snapshots are stored in the binary record codec persist writes its log
// with (about a seventh of the JSON's size), fetched a page of chunks at a time and
// decoded as they arrive, and built into the tree in bulk (Tree.Replace).
// A damaged snapshot is never half loaded: it fails with ErrBadSnapshot
// and the replica keeps what it had until a newer snapshot replaces it.
//
// # Failures
//
// Writes and Sync need a quorum of etcd. When the replica cannot reach it
// within the request timeout (WithTimeout), they fail with ErrUnavailable;
// reads go on answering from the last applied state and Read reports how
// stale it is. A write whose commit was sent but not acknowledged is
// resolved on the next contact: each Update carries a write id, and once
// the replica has caught up it knows whether the entry landed, so a write
// is applied once or not at all, never twice; if the replica cannot find
// out before ctx ends, the error wraps ErrOutcomeUnknown. An etcd member
// that crashes (rather than shutting down) can leave the watches on it
// open and silent; when Sync sees etcd's head ahead and nothing applied
// for a heartbeat, the replica drops its watch, catches up and watches
// again on a new stream.
package replicate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/orgtree/orgtree"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

var (
	// ErrConflict is what the commit hook returns when another replica
	// wrote first; Update catches up and runs fn again, so callers see it
	// only if they call the tree's Update themselves (which they must not).
	ErrConflict = errors.New("replicate: another write came first")
	// ErrUnavailable means etcd could not be reached (no quorum, or this
	// replica is cut off) within the request timeout: the write was not
	// made. Reads still answer from the replica's last state. It wraps
	// orgtree.ErrUnavailable, which package server answers HTTP 503 with
	// Retry-After without knowing this package.
	ErrUnavailable = fmt.Errorf("replicate: etcd %w", orgtree.ErrUnavailable)
	// ErrOutcomeUnknown means a write was sent to etcd but neither its
	// acknowledgement nor the log could be read back before ctx ended: it
	// may have been committed (then every replica applies it) or not. It
	// does not wrap ErrUnavailable, which promises the write was not made:
	// a blind retry could apply it twice.
	ErrOutcomeUnknown = errors.New("replicate: outcome of the write unknown")
	// ErrTooLarge means a change needs more chunks than one etcd
	// transaction may name; raise WithChunkSize (and etcd's request limit).
	ErrTooLarge = errors.New("replicate: change too large")
	// ErrDiverged means an entry of the log did not apply to this
	// replica's tree (orgtree.ErrBadChangeSet): the replica stops
	// following and refuses writes; reopen it to reload from etcd.
	ErrDiverged = errors.New("replicate: replica diverged from the log")
	// ErrClosed means the replica was closed.
	ErrClosed = errors.New("replicate: replica closed")
)

// Option configures Open.
type Option func(*config)

type config struct {
	treeOpts      []orgtree.Option
	chunkSize     int
	snapshotEvery uint64
	compact       bool
	timeout       time.Duration
	heartbeat     time.Duration
}

// WithTreeOptions passes options to the replica's orgtree.New (limits,
// clock, ids). Every replica of a tree should use the same limits.
func WithTreeOptions(opts ...orgtree.Option) Option {
	return func(c *config) { c.treeOpts = append(c.treeOpts, opts...) }
}

// WithChunkSize sets the largest value written in one etcd request
// (default 1 MiB, below etcd's default 1.5 MiB request limit). Larger
// changes and snapshots are split into chunks of this size.
func WithChunkSize(n int) Option { return func(c *config) { c.chunkSize = n } }

// WithSnapshotEvery makes the replica that writes every k-th log entry
// store a snapshot and delete the log before it (default 1000; 0 never).
func WithSnapshotEvery(k uint64) Option { return func(c *config) { c.snapshotEvery = k } }

// WithEtcdCompaction makes snapshot writers also compact etcd's history up
// to the snapshot, for clusters that do not run etcd's auto-compaction.
func WithEtcdCompaction() Option { return func(c *config) { c.compact = true } }

// WithTimeout bounds each round trip to etcd that Update and Sync make
// when their context has no earlier deadline (default 5 s).
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithHeartbeat sets how often an idle replica checks that it is up to
// date (default 1 s); Freshness.SyncedAt advances with each check.
func WithHeartbeat(d time.Duration) Option { return func(c *config) { c.heartbeat = d } }

// maxChunks keeps a commit within etcd's default 128 operations per
// transaction (head, log entry and one operation per chunk).
const maxChunks = 120

// chunkLease is how long uncommitted chunks live.
const chunkLease = 60 // seconds

// Replica is one process's copy of a tree kept in etcd. Its methods are
// safe for concurrent use.
type Replica struct {
	cli    *clientv3.Client
	prefix string
	cfg    config
	tree   *orgtree.Tree

	mu       sync.Mutex // serialises local writes and applying the log
	cond     *sync.Cond
	index    uint64          // log entries applied
	writeID  string          // id of the write being committed (publish)
	waiting  map[string]bool // write ids of Updates in flight → landed
	syncedAt time.Time       // start of the last Sync that found us up to date
	err      error           // ErrDiverged or ErrClosed: stops writes
	snapping bool            // a snapshot is being written
	loads    int             // snapshots loaded
	reloads  int             // catch-ups after the watch was lost
	behind   error           // why catching up fails, if for the data (ErrBadSnapshot)
	stalled  chan struct{}   // Sync to follow: the watch delivers nothing
	watchGen int             // watches started (follow's)
	lost     int             // commits refused because another write came first (for benchmarks)
	unsure   int             // commits sent whose answer was lost (for tests)

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func (r *Replica) headKey() string          { return r.prefix + "/head" }
func (r *Replica) logKey(i uint64) string   { return fmt.Sprintf("%s/log/%020d", r.prefix, i) }
func (r *Replica) logEnd() string           { return r.prefix + "/log0" } // just past every log key
func (r *Replica) snapKey() string          { return r.prefix + "/snap" }
func (r *Replica) snapData(i uint64) string { return fmt.Sprintf("%s/snapdata/%020d/", r.prefix, i) }
func (r *Replica) chunkDir(i uint64, w string) string {
	return fmt.Sprintf("%s/chunk/%020d/%s/", r.prefix, i, w)
}
func chunkKey(dir string, k int) string { return fmt.Sprintf("%s%06d", dir, k) }

// entry is the value of a log key: the change, or the chunks holding it.
type entry struct {
	Index  uint64             `json:"index"`
	Writer string             `json:"writer"`
	Change *orgtree.ChangeSet `json:"change,omitempty"`
	Chunks int                `json:"chunks,omitempty"`
	Part   string             `json:"part,omitempty"` // names the chunks of this attempt
}

// Open loads the tree stored under prefix (the newest snapshot, then the
// log after it) and follows it until Close. cli is the caller's; Close does
// not close it.
func Open(ctx context.Context, cli *clientv3.Client, prefix string, opts ...Option) (*Replica, error) {
	cfg := config{chunkSize: 1 << 20, snapshotEvery: 1000, timeout: 5 * time.Second, heartbeat: time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.chunkSize < 1024 {
		return nil, fmt.Errorf("replicate: open: chunk size %d < 1024: %w", cfg.chunkSize, orgtree.ErrInvalidArgument)
	}
	r := &Replica{cli: cli, prefix: prefix, cfg: cfg, waiting: map[string]bool{}, stalled: make(chan struct{}, 1)}
	r.cond = sync.NewCond(&r.mu)
	r.tree = orgtree.New(append(cfg.treeOpts, orgtree.WithCommitHook(r.publish))...)
	rev, err := r.catchUp(ctx)
	// A member that crashed can answer "server stopped" until it is
	// replaced, and the client does not send the catch-up's transaction
	// elsewhere by itself: try again, for as long as one request may take.
	// Damaged data is final.
	for deadline := time.Now().Add(cfg.timeout); err != nil && !errors.Is(err, ErrBadSnapshot) && !errors.Is(err, ErrDiverged) &&
		ctx.Err() == nil && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
			rev, err = r.catchUp(ctx)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("replicate: open %q: %w", prefix, err)
	}
	r.syncedAt = time.Now()
	wctx, cancel := context.WithCancel(context.Background())
	r.ctx, r.cancel = wctx, cancel
	r.wg.Add(2)
	go r.follow(wctx, rev)
	go r.beat(wctx)
	return r, nil
}

// Tree returns the local tree, for reads. Writes must go through Update:
// a write made on the tree directly is refused by its commit hook
// (orgtree.ErrInvalidArgument), so it is never silently local.
func (r *Replica) Tree() *orgtree.Tree { return r.tree }

// Freshness says how up to date a read is.
type Freshness struct {
	// Index is the number of log entries the snapshot reflects.
	Index uint64
	// SyncedAt is when the replica last confirmed that it had applied
	// every write etcd had acknowledged (at open, Sync or a heartbeat).
	// Writes acknowledged after it may be missing from the snapshot.
	SyncedAt time.Time
	// Err is why the replica is not following etcd right now, if it is
	// not (ErrUnavailable while cut off, ErrBadSnapshot while it is behind
	// and cannot load the snapshot it needs, ErrDiverged, ErrClosed).
	Err error
	// SnapshotLoads counts the snapshots the replica loaded since Open
	// (at Open, and each time it fell so far behind that the entries it
	// needed were gone); WatchReloads the times its watch of the log ended
	// (compaction, a lost etcd leader, a broken connection, a silent watch
	// dropped) and it caught up again. Both should stay small: a steady climb means the replica
	// cannot keep up or etcd compacts too eagerly.
	SnapshotLoads, WatchReloads int
}

// Stale returns how long ago SyncedAt was.
func (f Freshness) Stale() time.Duration { return time.Since(f.SyncedAt) }

// Read returns the newest local snapshot and how fresh it is. It never
// waits for etcd: a cut-off replica answers from its last state.
func (r *Replica) Read() (orgtree.Snapshot, Freshness) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := Freshness{Index: r.index, SyncedAt: r.syncedAt, Err: r.err, SnapshotLoads: r.loads, WatchReloads: r.reloads}
	if f.Err == nil {
		f.Err = r.behind
	}
	if f.Err == nil && time.Since(r.syncedAt) > r.cfg.heartbeat+r.cfg.timeout {
		f.Err = fmt.Errorf("%w: not in sync for %v", ErrUnavailable, time.Since(r.syncedAt).Round(time.Millisecond))
	}
	return r.tree.Snapshot(), f
}

// Close stops following the log. Reads of Tree keep working.
func (r *Replica) Close() error {
	r.cancel()
	r.wg.Wait()
	r.mu.Lock()
	if r.err == nil {
		r.err = ErrClosed
	}
	r.cond.Broadcast()
	r.mu.Unlock()
	return nil
}

func (r *Replica) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.cond.Broadcast()
	r.mu.Unlock()
}

// reqCtx bounds one round trip to etcd.
func (r *Replica) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.cfg.timeout)
}

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// catchUp applies everything etcd holds after the replica's index, loading
// the snapshot first when the entries it needs are gone, and returns the
// etcd revision it read at. Caller holds no lock.
func (r *Replica) catchUp(ctx context.Context) (int64, error) {
	r.mu.Lock()
	from := r.index + 1
	r.mu.Unlock()
	rctx, cancel := r.reqCtx(ctx)
	defer cancel()
	resp, err := r.cli.Txn(rctx).Then(
		clientv3.OpGet(r.snapKey()),
		clientv3.OpGet(r.logKey(from), clientv3.WithRange(r.logEnd())),
	).Commit()
	if err != nil {
		return 0, unavailable("catch up", err)
	}
	rev := resp.Header.Revision
	logKVs := resp.Responses[1].GetResponseRange().Kvs
	entries := make([]entry, len(logKVs))
	for i, kv := range logKVs {
		if entries[i], err = decodeEntry(kv.Value); err != nil {
			return 0, err
		}
	}
	var first uint64
	if len(entries) > 0 {
		first = entries[0].Index
	}
	// The snapshot is needed only if the entries after our index are gone:
	// the log starts later, or is empty while the snapshot is ahead of us.
	// A damaged snapshot key matters only then.
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 && first != from {
		meta, err := decodeSnapMeta(kvs[0].Value)
		if err != nil {
			return 0, err
		}
		if meta.Index >= from {
			if err := r.loadSnapshot(rctx, meta, rev); err != nil {
				return 0, err
			}
		}
	}
	for i, kv := range logKVs {
		if err := r.applyEntry(rctx, entries[i], kv.ModRevision); err != nil {
			return 0, err
		}
	}
	return rev, nil
}

// entryValue is the value of a log entry holding change, an encoded
// ChangeSet: what json.Marshal makes of the entry, without encoding the
// change again (publish needs its size first, to choose between this and
// chunks).
func entryValue(index uint64, writer string, change []byte) []byte {
	w, _ := json.Marshal(writer) // a string always encodes
	b := make([]byte, 0, len(change)+len(w)+40)
	b = append(b, `{"index":`...)
	b = strconv.AppendUint(b, index, 10)
	b = append(b, `,"writer":`...)
	b = append(b, w...)
	b = append(b, `,"change":`...)
	b = append(b, change...)
	return append(b, '}')
}

func decodeEntry(val []byte) (entry, error) {
	var e entry
	if err := json.Unmarshal(val, &e); err != nil {
		return e, fmt.Errorf("log entry: %w", err)
	}
	return e, nil
}

// errMissingChunks: a value names chunks that are not all there.
var errMissingChunks = errors.New("chunks missing")

// readChunks reads the chunks under dir as of revision rev and joins them.
func (r *Replica) readChunks(ctx context.Context, dir string, n int, rev int64) ([]byte, error) {
	resp, err := r.cli.Get(ctx, dir, clientv3.WithPrefix(), clientv3.WithRev(rev),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) != n {
		return nil, fmt.Errorf("%w: %s: %d chunks, want %d", errMissingChunks, dir, len(resp.Kvs), n)
	}
	var buf bytes.Buffer
	for _, kv := range resp.Kvs {
		buf.Write(kv.Value)
	}
	return buf.Bytes(), nil
}

// applyKV applies one log entry read from etcd at revision rev; entries
// already applied (this replica's own writes) are skipped.
func (r *Replica) applyKV(ctx context.Context, val []byte, rev int64) error {
	e, err := decodeEntry(val)
	if err != nil {
		return err
	}
	return r.applyEntry(ctx, e, rev)
}

// applyEntry applies decoded log entry e, written at revision rev.
func (r *Replica) applyEntry(ctx context.Context, e entry, rev int64) error {
	r.mu.Lock()
	applied := e.Index <= r.index
	r.mu.Unlock()
	if applied {
		return nil
	}
	if e.Chunks > 0 {
		data, err := r.readChunks(ctx, r.chunkDir(e.Index, e.Part), e.Chunks, rev)
		if err != nil {
			return fmt.Errorf("log entry %d: %w", e.Index, err)
		}
		e.Change = new(orgtree.ChangeSet)
		if err := json.Unmarshal(data, e.Change); err != nil {
			return fmt.Errorf("log entry %d: %w", e.Index, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Index <= r.index {
		return nil
	}
	if e.Index != r.index+1 {
		return errGap{fmt.Errorf("log entry %d after %d", e.Index, r.index)}
	}
	if e.Change == nil {
		return fmt.Errorf("%w: log entry %d has no change", ErrDiverged, e.Index)
	}
	if err := r.tree.Apply(e.Change); err != nil {
		return fmt.Errorf("%w: log entry %d: %w", ErrDiverged, e.Index, err)
	}
	r.index = e.Index
	if _, ok := r.waiting[e.Writer]; ok {
		r.waiting[e.Writer] = true
	}
	r.cond.Broadcast()
	return nil
}

// errGap: the watch skipped entries (they were deleted by a snapshot
// writer); catching up loads the snapshot.
type errGap struct{ error }

// follow watches the log from revision rev on, catching up again (from the
// snapshot if need be) whenever the watch ends: compaction, a lost leader,
// a broken connection.
func (r *Replica) follow(ctx context.Context, rev int64) {
	defer r.wg.Done()
	for ctx.Err() == nil {
		err := r.watch(ctx, rev+1)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrDiverged) {
			r.fail(err)
			return
		}
		for ctx.Err() == nil {
			rev, err = r.catchUp(ctx)
			r.mu.Lock()
			r.behind = nil
			if err == nil {
				r.reloads++
			} else if errors.Is(err, ErrBadSnapshot) {
				// Retried: a newer snapshot replaces a damaged one.
				r.behind = err
			}
			r.cond.Broadcast()
			r.mu.Unlock()
			if err == nil {
				break
			}
			if errors.Is(err, ErrDiverged) {
				r.fail(err)
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// errStalled: Sync found the watch silent while the log grew.
var errStalled = errors.New("replicate: watch stalled")

func (r *Replica) watch(ctx context.Context, from int64) error {
	// Each watch on a gRPC stream of its own: the client shares a stream
	// among watches with the same metadata, and the stream of a stalled
	// watch may be the one that is stuck.
	r.watchGen++
	md := metadata.AppendToOutgoingContext(clientv3.WithRequireLeader(ctx), "orgtree-watch", strconv.Itoa(r.watchGen))
	wctx, cancel := context.WithCancel(md)
	defer cancel()
	select {
	case <-r.stalled: // a nudge for the watch that ended
	default:
	}
	wc := r.cli.Watch(wctx, r.prefix+"/log/", clientv3.WithPrefix(), clientv3.WithRev(from))
	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case resp, ok = <-wc:
		case <-r.stalled:
			return errStalled
		}
		if !ok {
			break
		}
		if err := resp.Err(); err != nil {
			return err
		}
		for _, ev := range resp.Events {
			if ev.Type != clientv3.EventTypePut {
				continue // deletions are the snapshot writer's cleanup
			}
			if err := r.applyKV(wctx, ev.Kv.Value, ev.Kv.ModRevision); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// nudgeIfStalled tells the follower to drop its watch if the replica has
// not applied anything since it was at index, while etcd's head is at
// want: an etcd member that crashed (no orderly shutdown, so no
// cancellation of the watches on it, WithRequireLeader notwithstanding)
// can leave a watch open and silent for good.
func (r *Replica) nudgeIfStalled(index, want uint64) {
	r.mu.Lock()
	stalled := r.index == index && r.index < want
	r.mu.Unlock()
	if stalled {
		select {
		case r.stalled <- struct{}{}:
		default:
		}
	}
}

// beat checks periodically that the replica is in sync, so that
// Freshness.SyncedAt stays recent while nothing is written.
func (r *Replica) beat(ctx context.Context) {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = r.Sync(ctx)
		}
	}
}

// Sync waits until this replica has applied every write etcd acknowledged
// before Sync was called: a read after Sync sees them (read-your-writes
// and linearizable reads). It fails with ErrUnavailable if etcd cannot be
// reached within the request timeout, and with ErrBadSnapshot if the
// replica is so far behind that it needs the snapshot and that is damaged.
func (r *Replica) Sync(ctx context.Context) error {
	start := time.Now()
	rctx, cancel := r.reqCtx(ctx)
	defer cancel()
	resp, err := r.cli.Get(rctx, r.headKey())
	if err != nil {
		return unavailable("sync", err)
	}
	var want uint64
	if len(resp.Kvs) > 0 {
		if want, err = strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64); err != nil {
			return fmt.Errorf("replicate: sync: head %q: %w", resp.Kvs[0].Value, err)
		}
	}
	stop := context.AfterFunc(rctx, func() { r.mu.Lock(); r.cond.Broadcast(); r.mu.Unlock() })
	defer stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.index < want {
		// Entries reach the replica through the watch in milliseconds;
		// none for a heartbeat means the watch is stuck.
		index := r.index
		nudge := time.AfterFunc(r.cfg.heartbeat, func() { r.nudgeIfStalled(index, want) })
		defer nudge.Stop()
	}
	for r.index < want {
		if r.err != nil {
			return fmt.Errorf("replicate: sync: %w", r.err)
		}
		if rctx.Err() != nil {
			if r.behind != nil { // a damaged snapshot, not etcd, holds it back
				return fmt.Errorf("replicate: sync: %w", r.behind)
			}
			return unavailable("sync: applying the log", rctx.Err())
		}
		r.cond.Wait()
	}
	if start.After(r.syncedAt) {
		r.syncedAt = start
	}
	return nil
}

func newWriteID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Update runs fn on the newest state of the cluster's tree and commits its
// changes to etcd. When another replica wrote first, it waits until that
// write is applied here and runs fn again, so fn may run more than once and
// must not have side effects outside tx. An error of fn is returned as is
// (orgtree.ErrCycle, ...); etcd out of reach gives ErrUnavailable, a commit
// whose fate could not be learnt ErrOutcomeUnknown.
func (r *Replica) Update(ctx context.Context, fn func(*orgtree.Tx) error) error {
	id := newWriteID()
	r.mu.Lock()
	if r.err != nil { // closed or diverged: no need to ask etcd
		err := r.err
		r.mu.Unlock()
		return fmt.Errorf("replicate: update: %w", err)
	}
	r.waiting[id] = false
	r.mu.Unlock()
	defer func() { r.mu.Lock(); delete(r.waiting, id); r.mu.Unlock() }()
	sent := false // a commit of this write may have reached etcd
	for {
		// fn must see the newest state: an error it returns on a stale
		// state (a node another replica just added) would be final.
		if err := r.Sync(ctx); err != nil {
			if sent { // %v: err wraps ErrUnavailable, which this is not
				return fmt.Errorf("%w: %v", ErrOutcomeUnknown, err)
			}
			return err
		}
		r.mu.Lock()
		if r.waiting[id] { // an earlier attempt landed after all
			r.mu.Unlock()
			return nil
		}
		if r.err != nil {
			err := r.err
			r.mu.Unlock()
			return fmt.Errorf("replicate: update: %w", err)
		}
		r.writeID = id
		err := r.tree.Update(fn)
		r.writeID = ""
		snap := r.wantSnapshot(err)
		r.mu.Unlock()
		if snap != nil {
			r.wg.Add(1)
			go r.saveSnapshot(snap)
		}
		var unknown errUnknown
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrConflict):
			continue
		case errors.As(err, &unknown):
			sent = true
			continue
		default:
			return err
		}
	}
}

// refused reports whether etcd answered a request with a definite
// refusal (too large, too many operations, ...), as opposed to a failure
// after which the request may still have been applied.
func refused(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	code := status.Code(err)
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		code = ee.Code()
	}
	switch code {
	case codes.InvalidArgument, codes.ResourceExhausted, codes.FailedPrecondition, codes.OutOfRange, codes.PermissionDenied, codes.Unauthenticated:
		return true
	}
	return false
}

// errUnknown: the commit request failed without an answer; Update learns
// the outcome by catching up.
type errUnknown struct{ error }

// publish is the commit hook: it appends cs to the log in one etcd
// transaction guarded by the head this replica has applied. It runs with
// r.mu held (Update takes it before calling Tree.Update).
func (r *Replica) publish(cs *orgtree.ChangeSet) error {
	if r.writeID == "" {
		return fmt.Errorf("replicate: write to the tree outside Replica.Update: %w", orgtree.ErrInvalidArgument)
	}
	next := r.index + 1
	change, err := json.Marshal(cs)
	if err != nil {
		return err
	}
	val := entryValue(next, r.writeID, change)
	ctx, cancel := r.reqCtx(context.Background())
	defer cancel()
	var chunkOps []clientv3.Op
	if len(val) > r.cfg.chunkSize {
		e := entry{Index: next, Writer: r.writeID, Chunks: (len(change) + r.cfg.chunkSize - 1) / r.cfg.chunkSize, Part: newWriteID()}
		if e.Chunks > maxChunks {
			return fmt.Errorf("%w: %d bytes in %d-byte chunks needs %d chunks, at most %d fit one commit", ErrTooLarge, len(change), r.cfg.chunkSize, e.Chunks, maxChunks)
		}
		if chunkOps, err = r.stageChunks(ctx, r.chunkDir(next, e.Part), change); err != nil {
			return unavailable("write chunks", err)
		}
		if val, err = json.Marshal(e); err != nil {
			return err
		}
	}
	guard := clientv3.Compare(clientv3.Value(r.headKey()), "=", strconv.FormatUint(r.index, 10))
	if r.index == 0 {
		guard = clientv3.Compare(clientv3.CreateRevision(r.headKey()), "=", 0)
	}
	ops := append([]clientv3.Op{
		clientv3.OpPut(r.headKey(), strconv.FormatUint(next, 10)),
		clientv3.OpPut(r.logKey(next), string(val)),
	}, chunkOps...)
	resp, err := r.cli.Txn(ctx).If(guard).Then(ops...).Commit()
	if err != nil {
		if refused(err) {
			return fmt.Errorf("replicate: commit refused by etcd: %w", err)
		}
		r.unsure++
		return errUnknown{unavailable("commit", err)}
	}
	if !resp.Succeeded {
		r.lost++
		return ErrConflict // the chunks, if any, expire with their lease
	}
	r.index = next
	r.waiting[r.writeID] = true
	return nil
}

// stageChunks writes the chunks of a change under dir, under a short lease
// so that the chunks of a commit that never happens go away, and returns
// the operations that keep them: re-puts that leave the value and drop the
// lease, for the commit transaction.
func (r *Replica) stageChunks(ctx context.Context, dir string, data []byte) ([]clientv3.Op, error) {
	lease, err := r.cli.Grant(ctx, chunkLease)
	if err != nil {
		return nil, err
	}
	n, err := r.putChunks(ctx, dir, data, clientv3.WithLease(lease.ID))
	if err != nil {
		return nil, err
	}
	keep := make([]clientv3.Op, n)
	for k := range keep {
		keep[k] = clientv3.OpPut(chunkKey(dir, k), "", clientv3.WithIgnoreValue())
	}
	return keep, nil
}

// putChunks writes data under dir in chunks of the chunk size (a change
// being committed, or a snapshot) and returns how many it wrote.
func (r *Replica) putChunks(ctx context.Context, dir string, data []byte, opts ...clientv3.OpOption) (int, error) {
	k := 0
	for ; len(data) > 0; k++ {
		n := min(len(data), r.cfg.chunkSize)
		if _, err := r.cli.Put(ctx, chunkKey(dir, k), string(data[:n]), opts...); err != nil {
			return k, err
		}
		data = data[n:]
	}
	return k, nil
}

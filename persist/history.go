package persist

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"

	"github.com/orgtree/orgtree"
)

// The change history (see the package documentation, "Change history").
//
// One top-level bucket, "history", made when history is first turned on:
//
//	history/state    sealed: the historyState below
//	history/entries  8-byte big-endian version → sealed entry
//	history/nodes    uvarint(len(id)) id, 8-byte version → sealed empty value
//
// An entry is the 8-byte big-endian unix-nanosecond time of the commit, a
// uvarint count of node ids and the ids (each uvarint length and bytes:
// what history/nodes holds for it, so trimming drops those keys without
// decoding the entry), then its body: the binary encoding of the entry, or
// in entries older builds wrote, its JSON (historycodec.go).

var (
	bucketHistory = []byte("history")
	bucketEntries = []byte("entries")
	bucketHNodes  = []byte("nodes")
	keyHState     = []byte("state")
)

var (
	// ErrNoHistory is returned by the history queries of a store that
	// keeps no change history (see WithHistory).
	ErrNoHistory = errors.New("persist: the store keeps no change history")
	// ErrHistoryTrimmed means a query asks for changes older than the
	// history holds: they were trimmed by its bounds, or made while the
	// store kept no history. The caller must start from the current state.
	ErrHistoryTrimmed = errors.New("persist: the change history no longer reaches that far back")
	// ErrInvalidQuery is returned for a history query that makes no sense:
	// a version the store has not reached, a zero time, an empty node id,
	// a negative limit, or negative bounds in WithHistory.
	ErrInvalidQuery = errors.New("persist: invalid history query")
)

// HistoryOptions bounds the change history. A zero bound does not limit;
// all zero keeps every change forever. The newest entry is always kept,
// even when it alone exceeds MaxBytes.
type HistoryOptions struct {
	// MaxAge drops entries older than this (checked at every write and
	// at Open).
	MaxAge time.Duration
	// MaxBytes bounds the stored size of the entries (their encoded
	// bytes; bbolt's page overhead comes on top).
	MaxBytes int64
	// MaxEntries bounds the number of entries.
	MaxEntries int64
	// Clock gives the time an entry is stamped with (default time.Now).
	// Entry times never go backwards, whatever the clock does, so a
	// since-time query is a range of versions. It is not stored.
	Clock func() time.Time
}

// WithHistory turns the change history on with the given bounds: every
// committed transaction is recorded, in the same bbolt transaction as the
// change itself. The store remembers that it keeps a history, and its
// bounds: a later Open without WithHistory goes on recording with them,
// so that no change is ever missing from the middle of the history.
func WithHistory(o HistoryOptions) Option {
	return func(c *config) { c.history = &o }
}

// WithDefaultHistory keeps a change history: the one the store has, with
// its stored bounds, or else a new one with o's bounds. (WithHistory
// replaces the stored bounds.) The clock of o is used either way.
func WithDefaultHistory(o HistoryOptions) Option {
	return func(c *config) { c.history, c.historyDefault = &o, true }
}

// WithoutHistory drops a store's change history, if it has one, and stops
// recording.
func WithoutHistory() Option {
	return func(c *config) { c.noHistory = true }
}

// HistoryEntry is one committed transaction as the history keeps it.
type HistoryEntry struct {
	// Seq is the version the transaction made.
	Seq uint64 `json:"seq"`
	// Time is when it was written, by the history's clock.
	Time time.Time `json:"time"`
	// Actor and Reason are what the transaction was told
	// (orgtree.Tx.SetActor).
	Actor  string `json:"actor,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Changes is orgtree.Diff of the versions before and after it.
	Changes *orgtree.Changes `json:"changes"`
}

// HistoryInfo describes what the history holds.
type HistoryInfo struct {
	// Start is the version from which the history is complete: every
	// change after Start and up to Head is in it (older ones were trimmed,
	// or made before history was turned on).
	Start uint64 `json:"start"`
	// Head is the newest version recorded.
	Head uint64 `json:"head"`
	// Entries and Bytes are the number and encoded size of the entries.
	Entries int64 `json:"entries"`
	Bytes   int64 `json:"bytes"`
	// Bounds in force (zero: none).
	MaxAge     time.Duration `json:"maxAge,omitempty"`
	MaxBytes   int64         `json:"maxBytes,omitempty"`
	MaxEntries int64         `json:"maxEntries,omitempty"`
}

// historyState is history/state.
type historyState struct {
	start, head uint64
	entries     int64
	bytes       int64
	// trimmedTime is the time of the newest entry trimmed (or of the
	// moment history began): a since-time query at or before it cannot be
	// answered completely.
	trimmedTime int64
	// lastTime is the time of the newest entry; entry times never go back.
	lastTime   int64
	maxAge     int64
	maxBytes   int64
	maxEntries int64
}

const historyStateSize = 10 * 8

func (s historyState) encode() []byte {
	out := make([]byte, 0, historyStateSize)
	for _, v := range []uint64{s.start, s.head, uint64(s.entries), uint64(s.bytes), uint64(s.trimmedTime),
		uint64(s.lastTime), uint64(s.maxAge), uint64(s.maxBytes), uint64(s.maxEntries), 0} {
		out = binary.BigEndian.AppendUint64(out, v)
	}
	return out
}

func readHistoryState(b *bbolt.Bucket) (historyState, error) {
	sealed := b.Get(keyHState)
	if sealed == nil {
		return historyState{}, fmt.Errorf("%w: history/state missing", ErrCorrupt)
	}
	v, err := open(bucketHistory, keyHState, sealed)
	if err != nil {
		return historyState{}, err
	}
	if len(v) != historyStateSize {
		return historyState{}, fmt.Errorf("%w: history/state is %d bytes, want %d", ErrCorrupt, len(v), historyStateSize)
	}
	u := func(i int) uint64 { return binary.BigEndian.Uint64(v[8*i:]) }
	s := historyState{start: u(0), head: u(1), entries: int64(u(2)), bytes: int64(u(3)), trimmedTime: int64(u(4)),
		lastTime: int64(u(5)), maxAge: int64(u(6)), maxBytes: int64(u(7)), maxEntries: int64(u(8))}
	if s.head < s.start || s.entries < 0 || s.bytes < 0 || s.maxAge < 0 || s.maxBytes < 0 || s.maxEntries < 0 {
		return historyState{}, fmt.Errorf("%w: history/state is inconsistent: %+v", ErrCorrupt, s)
	}
	return s, nil
}

// recorder is the history side of a DB: it turns change sets into entries
// in the commit hook (where the version before the change is at hand) and
// writes them in the bbolt transaction that writes the change.
type recorder struct {
	clock func() time.Time

	mu sync.Mutex
	// pending holds the encoded entries of change sets not yet written,
	// by version: group commit writes them later, in a batch.
	pending map[uint64]*pendingEntry
}

type pendingEntry struct {
	value []byte // the encoded entry
	time  int64
	nodes []string
}

func entryKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func nodeKey(id string, seq uint64) []byte {
	k := binary.AppendUvarint(make([]byte, 0, 10+len(id)+8), uint64(len(id)))
	k = append(k, id...)
	return binary.BigEndian.AppendUint64(k, seq)
}

func nodePrefix(id string) []byte {
	return append(binary.AppendUvarint(nil, uint64(len(id))), id...)
}

// setupHistory runs at Open, after the tree is loaded: it turns the
// history on, off, or goes on with the one the store has, and trims it by
// age. It returns the recorder, nil when the store keeps no history.
func (db *DB) setupHistory(seq uint64) (*recorder, error) {
	o := db.cfg.history
	if o != nil && (o.MaxAge < 0 || o.MaxBytes < 0 || o.MaxEntries < 0) {
		return nil, fmt.Errorf("persist: history bounds %+v: %w", *o, ErrInvalidQuery)
	}
	clock := time.Now
	if o != nil && o.Clock != nil {
		clock = o.Clock
	}
	if db.cfg.readOnly {
		return nil, nil // queries read the bucket; nothing is recorded
	}
	have := false
	if err := db.bolt.View(func(tx *bbolt.Tx) error { have = tx.Bucket(bucketHistory) != nil; return nil }); err != nil {
		return nil, err
	}
	switch {
	case db.cfg.noHistory:
		if have {
			if err := db.update(func(tx *bbolt.Tx) error { return tx.DeleteBucket(bucketHistory) }); err != nil {
				return nil, db.writeErr(err)
			}
		}
		return nil, nil
	case o == nil && !have:
		return nil, nil
	}
	now := clock().UnixNano()
	err := db.update(func(tx *bbolt.Tx) error {
		h := tx.Bucket(bucketHistory)
		var st historyState
		fresh := h == nil
		if fresh {
			var err error
			if h, err = tx.CreateBucket(bucketHistory); err != nil {
				return err
			}
			if _, err := h.CreateBucket(bucketEntries); err != nil {
				return err
			}
			if _, err := h.CreateBucket(bucketHNodes); err != nil {
				return err
			}
			st = historyState{start: seq, head: seq, trimmedTime: now, lastTime: now}
			if seq == 0 {
				st.trimmedTime = 0 // begun with the store: nothing is missing
			}
		} else {
			var err error
			if st, err = readHistoryState(h); err != nil {
				return err
			}
			if st.head != seq {
				// Written by a build that kept no history (or rolled
				// back): the changes in between are unknown.
				st.start, st.head, st.trimmedTime = seq, seq, max(st.lastTime, now)
			}
		}
		if o != nil && (!db.cfg.historyDefault || fresh) {
			st.maxAge, st.maxBytes, st.maxEntries = int64(o.MaxAge), o.MaxBytes, o.MaxEntries
		}
		if err := trimHistory(h, &st, now); err != nil {
			return err
		}
		return h.Put(keyHState, seal(keyHState, st.encode()))
	})
	if err != nil {
		return nil, db.writeErr(err)
	}
	return &recorder{clock: clock, pending: map[uint64]*pendingEntry{}}, nil
}

// record turns cs into an entry; it runs in the commit hook, where
// cs.Changes answers. The entry waits in pending until write stores it.
func (r *recorder) record(cs *orgtree.ChangeSet) error {
	c, err := cs.Changes()
	if err != nil {
		return err
	}
	now := r.clock()
	nodes := touchedNodes(c)
	p := &pendingEntry{time: now.UnixNano(), nodes: nodes}
	n := 0
	for _, id := range nodes {
		n += binary.MaxVarintLen64 + len(id)
	}
	v := appendEntryNodes(make([]byte, 8, 8+binary.MaxVarintLen64+n+64), nodes)
	p.value = appendEntryBody(v, HistoryEntry{Seq: cs.Seq, Actor: cs.Actor, Reason: cs.Reason, Changes: c})
	r.mu.Lock()
	r.pending[cs.Seq] = p
	r.mu.Unlock()
	return nil
}

// drop forgets the entries of versions that will not be written.
func (r *recorder) drop(seqs ...uint64) {
	r.mu.Lock()
	for _, s := range seqs {
		delete(r.pending, s)
	}
	r.mu.Unlock()
}

// touchedNodes lists, sorted and once each, the nodes a change concerns:
// the nodes changed and those whose members or main-department users
// changed.
func touchedNodes(c *orgtree.Changes) []string {
	var ids []string
	for _, n := range c.Nodes {
		ids = append(ids, n.ID)
	}
	for _, m := range c.Members {
		ids = append(ids, m.NodeID)
	}
	for _, m := range c.MainDepartments {
		for _, id := range []string{m.OldNodeID, m.NewNodeID} {
			if id != "" {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// append writes the pending entries of batch, in the caller's bbolt
// transaction (the one that writes the changes), and trims.
func (r *recorder) append(tx *bbolt.Tx, batch []*orgtree.ChangeSet) error {
	h := tx.Bucket(bucketHistory)
	if h == nil {
		return fmt.Errorf("%w: history bucket missing", ErrCorrupt)
	}
	st, err := readHistoryState(h)
	if err != nil {
		return err
	}
	entries, nodes := h.Bucket(bucketEntries), h.Bucket(bucketHNodes)
	if entries == nil || nodes == nil {
		return fmt.Errorf("%w: history buckets missing", ErrCorrupt)
	}
	entries.FillPercent, nodes.FillPercent = 0.95, 0.9
	r.mu.Lock()
	ps := make([]*pendingEntry, len(batch))
	for i, cs := range batch {
		ps[i] = r.pending[cs.Seq]
	}
	r.mu.Unlock()
	for i, cs := range batch {
		p := ps[i]
		if p == nil {
			return fmt.Errorf("persist: history: no entry for version %d", cs.Seq)
		}
		t := max(p.time, st.lastTime)
		binary.BigEndian.PutUint64(p.value, uint64(t))
		key := entryKey(cs.Seq)
		if err := entries.Put(key, seal(key, p.value)); err != nil {
			return err
		}
		for _, id := range p.nodes {
			k := nodeKey(id, cs.Seq)
			if err := nodes.Put(k, seal(k, nil)); err != nil {
				return err
			}
		}
		st.head, st.lastTime = cs.Seq, t
		st.entries++
		st.bytes += int64(len(p.value))
	}
	if err := trimHistory(h, &st, r.clock().UnixNano()); err != nil {
		return err
	}
	return h.Put(keyHState, seal(keyHState, st.encode()))
}

// trimHistory drops the oldest entries while a bound is exceeded, keeping
// the newest one.
func trimHistory(h *bbolt.Bucket, st *historyState, now int64) error {
	entries, nodes := h.Bucket(bucketEntries), h.Bucket(bucketHNodes)
	if entries == nil || nodes == nil {
		return fmt.Errorf("%w: history buckets missing", ErrCorrupt)
	}
	c := entries.Cursor()
	for k, sealed := c.First(); k != nil && st.entries > 1; k, sealed = c.First() {
		v, err := open(bucketHistory, k, sealed)
		if err != nil {
			return err
		}
		if len(v) < 8 || len(k) != 8 {
			return fmt.Errorf("%w: history entry %x", ErrCorrupt, k)
		}
		t := int64(binary.BigEndian.Uint64(v))
		over := (st.maxBytes > 0 && st.bytes > st.maxBytes) ||
			(st.maxEntries > 0 && st.entries > st.maxEntries) ||
			(st.maxAge > 0 && t < now-st.maxAge)
		if !over {
			break
		}
		ids, _, err := entryNodes(v[8:])
		if err != nil {
			return fmt.Errorf("%w: history entry %d: %w", ErrCorrupt, binary.BigEndian.Uint64(k), err)
		}
		seq := binary.BigEndian.Uint64(k)
		for _, id := range ids {
			if err := nodes.Delete(nodeKey(id, seq)); err != nil {
				return err
			}
		}
		if err := c.Delete(); err != nil {
			return err
		}
		st.entries--
		st.bytes -= int64(len(v))
		st.start, st.trimmedTime = seq, max(st.trimmedTime, t)
	}
	return nil
}

// appendEntryNodes appends the node ids of an entry (after its time) to
// dst, as entryNodes reads them.
func appendEntryNodes(dst []byte, nodes []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(nodes)))
	for _, id := range nodes {
		dst = binary.AppendUvarint(dst, uint64(len(id)))
		dst = append(dst, id...)
	}
	return dst
}

// entryNodes reads the node ids of an entry (after its time) and returns
// them with the rest: the body (historycodec.go).
func entryNodes(v []byte) ([]string, []byte, error) {
	n, k := binary.Uvarint(v)
	if k <= 0 || n > uint64(len(v)) {
		return nil, nil, errors.New("bad node count")
	}
	v = v[k:]
	ids := make([]string, 0, n)
	for range n {
		l, k := binary.Uvarint(v)
		if k <= 0 || l > uint64(len(v)-k) {
			return nil, nil, errors.New("bad node id")
		}
		ids = append(ids, string(v[k:k+int(l)]))
		v = v[k+int(l):]
	}
	return ids, v, nil
}

func decodeEntry(k, sealed []byte) (HistoryEntry, error) {
	var e HistoryEntry
	v, err := open(bucketHistory, k, sealed)
	if err != nil {
		return e, err
	}
	if len(v) < 8 || len(k) != 8 {
		return e, fmt.Errorf("%w: history entry %x", ErrCorrupt, k)
	}
	seq := binary.BigEndian.Uint64(k)
	_, body, err := entryNodes(v[8:])
	if err == nil {
		e, err = decodeEntryBody(seq, int64(binary.BigEndian.Uint64(v)), body)
	}
	if err != nil {
		return e, fmt.Errorf("%w: history entry %d: %w", ErrCorrupt, seq, err)
	}
	return e, nil
}

// History is the query side of a store's change history; DB.History
// returns it. Its methods read the file in their own bbolt read
// transaction: they never block writers, and work on a read-only store.
type History struct{ db *DB }

// History returns the store's change history. Its queries fail with
// ErrNoHistory when the store keeps none.
func (db *DB) History() *History { return &History{db: db} }

// view runs fn on the history bucket and its state.
func (h *History) view(fn func(b *bbolt.Bucket, st historyState) error) error {
	err := h.db.bolt.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketHistory)
		if b == nil {
			return ErrNoHistory
		}
		st, err := readHistoryState(b)
		if err != nil {
			return err
		}
		if b.Bucket(bucketEntries) == nil || b.Bucket(bucketHNodes) == nil {
			return fmt.Errorf("%w: history buckets missing", ErrCorrupt)
		}
		return fn(b, st)
	})
	if errors.Is(err, bolterr.ErrDatabaseNotOpen) {
		err = ErrClosed
	}
	if err != nil {
		return fmt.Errorf("persist: history of %s: %w", h.db.path, err)
	}
	return nil
}

// Info returns what the history holds.
func (h *History) Info() (HistoryInfo, error) {
	var info HistoryInfo
	err := h.view(func(_ *bbolt.Bucket, st historyState) error {
		info = HistoryInfo{Start: st.start, Head: st.head, Entries: st.entries, Bytes: st.bytes,
			MaxAge: time.Duration(st.maxAge), MaxBytes: st.maxBytes, MaxEntries: st.maxEntries}
		return nil
	})
	return info, err
}

func checkLimit(limit int) error {
	if limit < 0 {
		return fmt.Errorf("limit %d: %w", limit, ErrInvalidQuery)
	}
	return nil
}

// Since returns the entries of the changes after version seq, oldest
// first, at most limit of them (0: all). It fails with ErrHistoryTrimmed
// when seq is older than the history's Start, and with ErrInvalidQuery when
// seq is past the tree's current version. In group-commit mode the history
// follows the disk: changes not yet flushed are not in it yet.
func (h *History) Since(seq uint64, limit int) ([]HistoryEntry, error) {
	what := fmt.Sprintf("since version %d", seq)
	if cur := h.db.tree.Snapshot().Seq(); seq > cur {
		return nil, fmt.Errorf("persist: history %s: the store is at version %d: %w", what, cur, ErrInvalidQuery)
	}
	return h.suffix(what, limit, func(c *bbolt.Cursor, st historyState) ([]byte, error) {
		if seq < st.start {
			return nil, fmt.Errorf("%s: the history starts after version %d: %w", what, st.start, ErrHistoryTrimmed)
		}
		k, _ := c.Seek(entryKey(seq + 1))
		return k, nil
	})
}

// SinceTime returns the entries written at or after t, oldest first, at
// most limit (0: all). It fails with ErrHistoryTrimmed when entries that
// recent may have been trimmed (or t is before the history began), and
// with ErrInvalidQuery for a zero t.
func (h *History) SinceTime(t time.Time, limit int) ([]HistoryEntry, error) {
	what := "since " + t.Format(time.RFC3339Nano)
	if t.IsZero() {
		return nil, fmt.Errorf("persist: history since the zero time: %w", ErrInvalidQuery)
	}
	want := t.UnixNano()
	return h.suffix(what, limit, func(c *bbolt.Cursor, st historyState) ([]byte, error) {
		if want <= st.trimmedTime {
			return nil, fmt.Errorf("%s: the history starts at %s: %w", what,
				time.Unix(0, st.trimmedTime).UTC().Format(time.RFC3339Nano), ErrHistoryTrimmed)
		}
		// Entry times never decrease with the version, so the answer is a
		// suffix of the entries: walk back from the newest to its start.
		var first []byte
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if len(v) < 12 {
				return nil, fmt.Errorf("%w: history entry %x", ErrCorrupt, k)
			}
			if int64(binary.BigEndian.Uint64(v[4:])) < want {
				break
			}
			first = k
		}
		return first, nil
	})
}

// suffix answers Since and SinceTime: start checks the query against the
// history's state and returns the key of the first entry to return (nil:
// none), from which the entries are read in version order, at most limit
// (0: all). what names the query in errors.
func (h *History) suffix(what string, limit int, start func(*bbolt.Cursor, historyState) ([]byte, error)) ([]HistoryEntry, error) {
	if err := checkLimit(limit); err != nil {
		return nil, fmt.Errorf("persist: history %s: %w", what, err)
	}
	var out []HistoryEntry
	err := h.view(func(b *bbolt.Bucket, st historyState) error {
		c := b.Bucket(bucketEntries).Cursor()
		first, err := start(c, st)
		if err != nil || first == nil {
			return err
		}
		for k, v := c.Seek(first); k != nil && (limit == 0 || len(out) < limit); k, v = c.Next() {
			e, err := decodeEntry(k, v)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// Node returns the entries that concern node id (the node itself changed,
// or its members, or users' main department moved to or from it), oldest
// first, at most limit (0: all). A node deleted long ago still has its
// history as far as the history reaches.
func (h *History) Node(id string, limit int) ([]HistoryEntry, error) {
	if err := checkLimit(limit); err != nil {
		return nil, fmt.Errorf("persist: history of node %q: %w", id, err)
	}
	if id == "" {
		return nil, fmt.Errorf("persist: history of node \"\": %w", ErrInvalidQuery)
	}
	var out []HistoryEntry
	err := h.view(func(b *bbolt.Bucket, _ historyState) error {
		entries := b.Bucket(bucketEntries)
		prefix := nodePrefix(id)
		c := b.Bucket(bucketHNodes).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && (limit == 0 || len(out) < limit); k, _ = c.Next() {
			if len(k) != len(prefix)+8 {
				continue // not a key of this store
			}
			ek := k[len(prefix):]
			v := entries.Get(ek)
			if v == nil {
				return fmt.Errorf("%w: history/nodes names version %d, which has no entry", ErrCorrupt, binary.BigEndian.Uint64(ek))
			}
			e, err := decodeEntry(ek, v)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

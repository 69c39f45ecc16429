package persist

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"runtime/debug"
	"slices"

	"go.etcd.io/bbolt"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/internal/recordcodec"
)

// FormatVersion is the on-disk format this build writes (DB.Format tells
// the version of an open store's file). It reads version 1 too, and
// upgrades it on the first read-write Open.
const FormatVersion = 2

var (
	bucketMeta = []byte("meta")
	bucketLog  = []byte("log")

	keyFormat = []byte("format")
	keyLog    = []byte("log")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// seal prefixes value with the checksum of key and value, so a damaged key,
// a damaged value and a value stored under the wrong key are all caught.
func seal(key, value []byte) []byte {
	out := make([]byte, 4, 4+len(value))
	binary.BigEndian.PutUint32(out, checksum(key, value))
	return append(out, value...)
}

func checksum(key, value []byte) uint32 {
	return crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, value)
}

// open returns the value behind a sealed record, or ErrCorrupt.
func open(bucket, key, sealed []byte) ([]byte, error) {
	if len(sealed) < 4 {
		return nil, fmt.Errorf("%w: %s/%q: record of %d bytes", ErrCorrupt, bucket, key, len(sealed))
	}
	value := sealed[4:]
	if binary.BigEndian.Uint32(sealed) != checksum(key, value) {
		return nil, fmt.Errorf("%w: %s/%q: checksum mismatch", ErrCorrupt, bucket, key)
	}
	return value, nil
}

// logState is the meta/log value: where the log stands. Open checks the
// log bucket against it, so a lost or extra record is caught.
type logState struct {
	base      uint64 // sequence number of the full record; 0: none, the log is empty
	head      uint64 // sequence number of the newest record
	records   uint64 // records in the log, the full one included
	parts     uint64 // bbolt values in the log bucket
	baseBytes uint64 // bytes of the full record
	logBytes  uint64 // bytes of the delta records after it
}

const logStateSize = 6 * 8

func (s logState) encode() []byte {
	out := make([]byte, 0, logStateSize)
	for _, v := range []uint64{s.base, s.head, s.records, s.parts, s.baseBytes, s.logBytes} {
		out = binary.BigEndian.AppendUint64(out, v)
	}
	return out
}

func readLogState(meta *bbolt.Bucket) (logState, error) {
	v, err := metaValue(meta, keyLog, logStateSize)
	if err != nil {
		return logState{}, err
	}
	u := func(i int) uint64 { return binary.BigEndian.Uint64(v[8*i:]) }
	s := logState{base: u(0), head: u(1), records: u(2), parts: u(3), baseBytes: u(4), logBytes: u(5)}
	if (s.records == 0) != (s.base == 0) || s.head < s.base || s.parts < s.records {
		return logState{}, fmt.Errorf("%w: meta/log is inconsistent: %+v", ErrCorrupt, s)
	}
	return s, nil
}

// logKey is the key of part part of the record of version seq: sorted by
// version, then part.
func logKey(seq uint64, part int) []byte {
	k := make([]byte, 12)
	binary.BigEndian.PutUint64(k, seq)
	binary.BigEndian.PutUint32(k[8:], uint32(part))
	return k
}

// initialize makes the buckets of a new store; it leaves an existing one alone.
func initialize(tx *bbolt.Tx) error {
	if tx.Bucket(bucketMeta) != nil {
		return nil
	}
	if !hasNoBuckets(tx) {
		return errForeign
	}
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	if _, err := tx.CreateBucket(bucketLog); err != nil {
		return err
	}
	if err := meta.Put(keyFormat, seal(keyFormat, binary.BigEndian.AppendUint32(nil, FormatVersion))); err != nil {
		return err
	}
	return meta.Put(keyLog, seal(keyLog, logState{}.encode()))
}

// readAll reads and verifies every record. A file without any bucket is a
// fresh store: it reads as empty, and fresh says so. version is the format
// version of the file.
func readAll(tx *bbolt.Tx) (d *orgtree.Dump, version int, fresh bool, err error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		if hasNoBuckets(tx) {
			return &orgtree.Dump{}, FormatVersion, true, nil
		}
		return nil, 0, false, errForeign
	}
	format, err := metaValue(meta, keyFormat, 4)
	if err != nil {
		return nil, 0, false, err
	}
	switch v := binary.BigEndian.Uint32(format); v {
	case 1:
		d, err = readV1(tx, meta)
		return d, 1, false, err
	case 2:
		d, err = readLog(tx, meta)
		return d, 2, false, err
	default:
		return nil, 0, false, fmt.Errorf("%w: format version %d, this build reads 1 and 2", ErrFormat, v)
	}
}

var errForeign = fmt.Errorf("%w: bbolt file without an orgtree meta bucket", ErrFormat)

// hasNoBuckets tells a fresh bbolt file (which becomes a store) from one
// another program made.
func hasNoBuckets(tx *bbolt.Tx) bool {
	empty := true
	_ = tx.ForEach(func([]byte, *bbolt.Bucket) error { empty = false; return nil })
	return empty
}

// readLog reads a version 2 store: the full record and the deltas after
// it, checksummed, decoded on all cores and merged into one dump.
func readLog(tx *bbolt.Tx, meta *bbolt.Bucket) (*orgtree.Dump, error) {
	st, err := readLogState(meta)
	if err != nil {
		return nil, err
	}
	b := tx.Bucket(bucketLog)
	if b == nil {
		return nil, fmt.Errorf("%w: bucket %s missing", ErrCorrupt, bucketLog)
	}
	// Collect the parts, checking the key sequence as bbolt sorts it.
	type rawRec struct {
		seq   uint64
		parts []rawRecord
	}
	var recs []rawRec
	var all []rawRecord
	err = b.ForEach(func(key, sealed []byte) error {
		if len(key) != 12 {
			return fmt.Errorf("%w: log key %x", ErrCorrupt, key)
		}
		seq, part := binary.BigEndian.Uint64(key), int(binary.BigEndian.Uint32(key[8:]))
		if part == 0 {
			recs = append(recs, rawRec{seq: seq})
		}
		if len(recs) == 0 || recs[len(recs)-1].seq != seq || len(recs[len(recs)-1].parts) != part {
			return fmt.Errorf("%w: log key %x out of sequence", ErrCorrupt, key)
		}
		r := rawRecord{key, sealed}
		recs[len(recs)-1].parts = append(recs[len(recs)-1].parts, r)
		all = append(all, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if uint64(len(recs)) != st.records || uint64(len(all)) != st.parts {
		return nil, fmt.Errorf("%w: log holds %d records in %d parts, meta says %d in %d", ErrCorrupt, len(recs), len(all), st.records, st.parts)
	}
	d := &orgtree.Dump{Seq: st.head}
	if len(recs) == 0 {
		return d, nil
	}
	if recs[0].seq != st.base || recs[len(recs)-1].seq != st.head {
		return nil, fmt.Errorf("%w: log runs from version %d to %d, meta says %d to %d", ErrCorrupt, recs[0].seq, recs[len(recs)-1].seq, st.base, st.head)
	}
	payloads := make([][]byte, len(all))
	if err := parallel(len(all), func(i int) error {
		var err error
		payloads[i], err = open(bucketLog, all[i].key, all[i].sealed)
		return err
	}); err != nil {
		return nil, err
	}
	var records []*recordcodec.Record
	var chunks []*recordcodec.Chunk
	for _, r := range recs {
		rec, err := recordcodec.ParseRecord(r.seq, payloads[:len(r.parts)])
		payloads = payloads[len(r.parts):]
		if err != nil {
			return nil, fmt.Errorf("%w: log record %d: %w", ErrCorrupt, r.seq, err)
		}
		want := byte(recordcodec.KindDelta)
		if len(records) == 0 {
			want = recordcodec.KindFull
		}
		if rec.Kind != want {
			return nil, fmt.Errorf("%w: log record %d is of kind %d, want %d", ErrCorrupt, r.seq, rec.Kind, want)
		}
		records = append(records, rec)
		chunks = append(chunks, rec.Chunks...)
	}
	for _, step := range []func(*recordcodec.Chunk) error{(*recordcodec.Chunk).Decode, (*recordcodec.Chunk).Resolve} {
		if err := parallel(len(chunks), func(i int) error {
			if err := step(chunks[i]); err != nil {
				return fmt.Errorf("%w: log record %d: %w", ErrCorrupt, chunks[i].Rec.Seq, err)
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	merge(d, records)
	return d, nil
}

// merge folds the deltas into the full record: the last record of an id
// wins, a deletion removes it.
func merge(d *orgtree.Dump, records []*recordcodec.Record) {
	base := records[0]
	d.Orgs, d.Nodes, d.Users = base.Orgs, base.Nodes, base.Users
	if len(records) == 1 {
		return
	}
	orgs := map[string]*orgtree.OrgRecord{}
	nodes := map[string]*orgtree.NodeRecord{}
	users := map[string]*orgtree.UserRecord{}
	for _, r := range records[1:] {
		for i := range r.Orgs {
			orgs[r.Orgs[i].ID] = &r.Orgs[i]
		}
		for i := range r.Nodes {
			nodes[r.Nodes[i].ID] = &r.Nodes[i]
		}
		for i := range r.Users {
			users[r.Users[i].ID] = &r.Users[i]
		}
		for _, id := range r.Deleted[0] {
			orgs[id] = nil
		}
		for _, id := range r.Deleted[1] {
			nodes[id] = nil
		}
		for _, id := range r.Deleted[2] {
			users[id] = nil
		}
	}
	d.Orgs = applyChanges(d.Orgs, orgs, func(o *orgtree.OrgRecord) string { return o.ID })
	d.Nodes = applyChanges(d.Nodes, nodes, func(n *orgtree.NodeRecord) string { return n.ID })
	d.Users = applyChanges(d.Users, users, func(u *orgtree.UserRecord) string { return u.ID })
}

// applyChanges replaces, drops and adds the records changes names (nil:
// deleted), in one pass over list.
func applyChanges[T any](list []T, changes map[string]*T, id func(*T) string) []T {
	if len(changes) == 0 {
		return list
	}
	out := list[:0]
	for i := range list {
		c, changed := changes[id(&list[i])]
		switch {
		case !changed:
			out = append(out, list[i])
		case c != nil:
			out = append(out, *c)
		}
		if changed {
			delete(changes, id(&list[i]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(changes)) {
		if c := changes[k]; c != nil {
			out = append(out, *c)
		}
	}
	return out
}

// parallel is recordcodec.Parallel for work that reads the mapped file: like
// openFile, each item turns a memory fault (a truncated file) into an error
// instead of a crash, on whichever goroutine it runs.
func parallel(n int, fn func(i int) error) error {
	return recordcodec.Parallel(n, func(i int) (err error) {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: reading records: %v", ErrCorrupt, r)
			}
		}()
		return fn(i)
	})
}

// logWriter appends records inside one bbolt write transaction and keeps
// meta/log in step.
type logWriter struct {
	tx        *bbolt.Tx
	meta, log *bbolt.Bucket
	st        logState
}

func newLogWriter(tx *bbolt.Tx) (*logWriter, error) {
	w := &logWriter{tx: tx, meta: tx.Bucket(bucketMeta), log: tx.Bucket(bucketLog)}
	if w.meta == nil || w.log == nil {
		return nil, fmt.Errorf("%w: meta or log bucket missing", ErrCorrupt)
	}
	var err error
	w.st, err = readLogState(w.meta)
	// Keys only grow: full pages are never split again, so fill them.
	w.log.FillPercent = 0.95
	return w, err
}

// apply appends the record of one change set. The first record of an empty
// store holds everything there is, so it is written as the full record.
func (w *logWriter) apply(cs *orgtree.ChangeSet) error {
	kind := byte(recordcodec.KindDelta)
	if w.st.records == 0 {
		kind = recordcodec.KindFull
	}
	parts := recordcodec.EncodeRecord(kind, cs.Orgs, cs.Nodes, cs.Users, [3][]string{cs.DeletedOrgs, cs.DeletedNodes, cs.DeletedUsers})
	size, err := w.put(cs.Seq, parts)
	if err != nil {
		return err
	}
	if kind == recordcodec.KindFull {
		w.st.base, w.st.baseBytes = cs.Seq, uint64(size)
	} else {
		w.st.logBytes += uint64(size)
	}
	w.st.head = cs.Seq
	w.st.records++
	w.st.parts += uint64(len(parts))
	return nil
}

func (w *logWriter) put(seq uint64, parts [][]byte) (int, error) {
	size := 0
	for i, p := range parts {
		key := logKey(seq, i)
		if err := w.log.Put(key, seal(key, p)); err != nil {
			return 0, err
		}
		size += len(p)
	}
	return size, nil
}

// replaceBase writes the full record of version seq and drops every record
// up to it; the deltas after it stay. The log bucket is made anew with the
// records that stay: that costs one pass over the bucket's pages, where
// deleting the old records one by one through a cursor costs a walk over
// the emptied leaves for every record (quadratic: a compaction of a log
// that group commit filled with a million small records took minutes).
func (w *logWriter) replaceBase(seq uint64, parts [][]byte) error {
	type kv struct{ k, v []byte }
	var keep []kv
	c := w.log.Cursor()
	for k, v := c.Seek(logKey(seq+1, 0)); k != nil; k, v = c.Next() {
		// bbolt wants the bytes given to Put valid until the commit, and
		// these point into pages the bucket's deletion frees.
		keep = append(keep, kv{bytes.Clone(k), bytes.Clone(v)})
	}
	if err := w.tx.DeleteBucket(bucketLog); err != nil {
		return err
	}
	log, err := w.tx.CreateBucket(bucketLog)
	if err != nil {
		return err
	}
	log.FillPercent = 0.95
	w.log = log
	size, err := w.put(seq, parts)
	if err != nil {
		return err
	}
	st := logState{base: seq, head: max(w.st.head, seq), records: 1, parts: uint64(len(parts)), baseBytes: uint64(size)}
	for _, r := range keep {
		if err := log.Put(r.k, r.v); err != nil {
			return err
		}
		st.parts++
		if binary.BigEndian.Uint32(r.k[8:]) == 0 {
			st.records++
		}
		st.logBytes += uint64(len(r.v) - 4)
	}
	w.st = st
	return nil
}

// finish writes meta/log.
func (w *logWriter) finish() error {
	return w.meta.Put(keyLog, seal(keyLog, w.st.encode()))
}

// upgrade turns a version 1 store into a version 2 one holding d, in the
// caller's bbolt transaction: it commits whole or not at all, so a crash
// leaves either store, never neither.
func upgrade(tx *bbolt.Tx, d *orgtree.Dump) error {
	meta := tx.Bucket(bucketMeta)
	for _, name := range recordBuckets {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return err
			}
		}
	}
	for _, key := range [][]byte{keySeq, keyCount} {
		if err := meta.Delete(key); err != nil {
			return err
		}
	}
	if _, err := tx.CreateBucket(bucketLog); err != nil {
		return err
	}
	if err := meta.Put(keyFormat, seal(keyFormat, binary.BigEndian.AppendUint32(nil, FormatVersion))); err != nil {
		return err
	}
	w := &logWriter{tx: tx, meta: meta, log: tx.Bucket(bucketLog)}
	w.log.FillPercent = 0.95
	if d.Seq > 0 {
		parts := recordcodec.EncodeRecord(recordcodec.KindFull, d.Orgs, d.Nodes, d.Users, [3][]string{})
		size, err := w.put(d.Seq, parts)
		if err != nil {
			return err
		}
		w.st = logState{base: d.Seq, head: d.Seq, records: 1, parts: uint64(len(parts)), baseBytes: uint64(size)}
	}
	return w.finish()
}

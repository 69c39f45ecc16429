package persist

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"go.etcd.io/bbolt"

	"github.com/orgtree/orgtree"
)

// formatVersion is the on-disk format this build writes and reads.
const formatVersion = 1

var (
	bucketMeta  = []byte("meta")
	bucketOrgs  = []byte("orgs")
	bucketNodes = []byte("nodes")
	bucketUsers = []byte("users")

	keyFormat = []byte("format")
	keySeq    = []byte("seq")
	keyCount  = []byte("count")
)

// kind indexes the three record buckets, in the order of the count value.
type kind int

const (
	kindOrg kind = iota
	kindNode
	kindUser
	kinds
)

var recordBuckets = [kinds][]byte{bucketOrgs, bucketNodes, bucketUsers}

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
	for _, name := range recordBuckets {
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	if err := meta.Put(keyFormat, seal(keyFormat, binary.BigEndian.AppendUint32(nil, formatVersion))); err != nil {
		return err
	}
	w := &writer{meta: meta}
	return w.finish()
}

// readAll reads and verifies every record. A file without any bucket is a
// fresh store: it reads as empty, and fresh says so.
func readAll(tx *bbolt.Tx) (d *orgtree.Dump, fresh bool, err error) {
	d, err = readRecords(tx)
	if errors.Is(err, errNoMeta) {
		if hasNoBuckets(tx) {
			return &orgtree.Dump{}, true, nil
		}
		return nil, false, errForeign
	}
	return d, false, err
}

var (
	errNoMeta  = errors.New("no meta bucket")
	errForeign = fmt.Errorf("%w: bbolt file without an orgtree meta bucket", ErrFormat)
)

// hasNoBuckets tells a fresh bbolt file (which becomes a store) from one
// another program made.
func hasNoBuckets(tx *bbolt.Tx) bool {
	empty := true
	_ = tx.ForEach(func([]byte, *bbolt.Bucket) error { empty = false; return nil })
	return empty
}

func readRecords(tx *bbolt.Tx) (*orgtree.Dump, error) {
	d := &orgtree.Dump{}
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return nil, errNoMeta
	}
	format, err := metaValue(meta, keyFormat, 4)
	if err != nil {
		return nil, err
	}
	if v := binary.BigEndian.Uint32(format); v != formatVersion {
		return nil, fmt.Errorf("%w: format version %d, this build reads %d", ErrFormat, v, formatVersion)
	}
	seq, err := metaValue(meta, keySeq, 8)
	if err != nil {
		return nil, err
	}
	d.Seq = binary.BigEndian.Uint64(seq)
	rawCounts, err := metaValue(meta, keyCount, 8*int(kinds))
	if err != nil {
		return nil, err
	}
	var raw [kinds][]rawRecord
	for k := range kinds {
		b := tx.Bucket(recordBuckets[k])
		if b == nil {
			return nil, fmt.Errorf("%w: bucket %s missing", ErrCorrupt, recordBuckets[k])
		}
		err := b.ForEach(func(key, sealed []byte) error {
			raw[k] = append(raw[k], rawRecord{key, sealed})
			return nil
		})
		if err != nil {
			return nil, err
		}
		if n, want := uint64(len(raw[k])), binary.BigEndian.Uint64(rawCounts[8*k:]); n != want {
			return nil, fmt.Errorf("%w: bucket %s holds %d records, meta says %d", ErrCorrupt, recordBuckets[k], n, want)
		}
	}
	d.Orgs = make([]orgtree.OrgRecord, len(raw[kindOrg]))
	d.Nodes = make([]orgtree.NodeRecord, len(raw[kindNode]))
	d.Users = make([]orgtree.UserRecord, len(raw[kindUser]))
	err = parallel(len(raw[kindOrg])+len(raw[kindNode])+len(raw[kindUser]), func(i int) error {
		for k := range kinds {
			if i < len(raw[k]) {
				return decodeAt(d, k, i, raw[k][i])
			}
			i -= len(raw[k])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

func metaValue(meta *bbolt.Bucket, key []byte, size int) ([]byte, error) {
	sealed := meta.Get(key)
	if sealed == nil {
		return nil, fmt.Errorf("%w: meta/%s missing", ErrCorrupt, key)
	}
	v, err := open(bucketMeta, key, sealed)
	if err != nil {
		return nil, err
	}
	if len(v) != size {
		return nil, fmt.Errorf("%w: meta/%s is %d bytes, want %d", ErrCorrupt, key, len(v), size)
	}
	return v, nil
}

// rawRecord is a record as bbolt holds it; the slices point into the
// mapped file and are valid while the read transaction lasts.
type rawRecord struct{ key, sealed []byte }

// decodeAt verifies raw and decodes it into slot i of its kind's list.
func decodeAt(d *orgtree.Dump, k kind, i int, raw rawRecord) error {
	value, err := open(recordBuckets[k], raw.key, raw.sealed)
	if err != nil {
		return err
	}
	var id string
	switch k {
	case kindOrg:
		err = json.Unmarshal(value, &d.Orgs[i])
		id = d.Orgs[i].ID
	case kindNode:
		err = json.Unmarshal(value, &d.Nodes[i])
		id = d.Nodes[i].ID
	case kindUser:
		err = json.Unmarshal(value, &d.Users[i])
		id = d.Users[i].ID
	}
	if err != nil {
		return fmt.Errorf("%w: %s/%q: %w", ErrCorrupt, recordBuckets[k], raw.key, err)
	}
	if id != string(raw.key) {
		return fmt.Errorf("%w: %s/%q holds the record of %q", ErrCorrupt, recordBuckets[k], raw.key, id)
	}
	return nil
}

// parallel runs fn(0..n-1) on all cores and returns the first error. The
// workers read the mapped file, so like openFile they turn a memory fault
// (a truncated file) into an error instead of a crash.
func parallel(n int, fn func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), max(1, n/256))
	var next atomic.Int64
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
			defer func() {
				if r := recover(); r != nil {
					errs[w] = fmt.Errorf("%w: reading records: %v", ErrCorrupt, r)
				}
			}()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errs[w] = err
					next.Store(int64(n)) // stop the others early
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// writer applies change sets inside one bbolt write transaction and keeps
// the record counts and the sequence number in step.
type writer struct {
	meta    *bbolt.Bucket
	buckets [kinds]*bbolt.Bucket
	counts  [kinds]uint64
	seq     uint64
}

func newWriter(tx *bbolt.Tx) (*writer, error) {
	w := &writer{meta: tx.Bucket(bucketMeta)}
	if w.meta == nil {
		return nil, fmt.Errorf("%w: meta bucket missing", ErrCorrupt)
	}
	for k := range kinds {
		if w.buckets[k] = tx.Bucket(recordBuckets[k]); w.buckets[k] == nil {
			return nil, fmt.Errorf("%w: bucket %s missing", ErrCorrupt, recordBuckets[k])
		}
	}
	raw, err := metaValue(w.meta, keyCount, 8*int(kinds))
	if err != nil {
		return nil, err
	}
	for k := range kinds {
		w.counts[k] = binary.BigEndian.Uint64(raw[8*k:])
	}
	return w, nil
}

func (w *writer) apply(cs *orgtree.ChangeSet) error {
	for i := range cs.Orgs {
		if err := w.put(kindOrg, cs.Orgs[i].ID, &cs.Orgs[i]); err != nil {
			return err
		}
	}
	for i := range cs.Nodes {
		if err := w.put(kindNode, cs.Nodes[i].ID, &cs.Nodes[i]); err != nil {
			return err
		}
	}
	for i := range cs.Users {
		if err := w.put(kindUser, cs.Users[i].ID, &cs.Users[i]); err != nil {
			return err
		}
	}
	for k, ids := range [kinds][]string{cs.DeletedOrgs, cs.DeletedNodes, cs.DeletedUsers} {
		for _, id := range ids {
			if err := w.delete(kind(k), id); err != nil {
				return err
			}
		}
	}
	w.seq = cs.Seq
	return nil
}

func (w *writer) put(k kind, id string, record any) error {
	value, err := json.Marshal(record)
	if err != nil {
		return err
	}
	key := []byte(id)
	b := w.buckets[k]
	if b.Get(key) == nil {
		w.counts[k]++
	}
	return b.Put(key, seal(key, value))
}

func (w *writer) delete(k kind, id string) error {
	key := []byte(id)
	b := w.buckets[k]
	if b.Get(key) == nil {
		return nil
	}
	w.counts[k]--
	return b.Delete(key)
}

// finish writes the counts and the sequence number.
func (w *writer) finish() error {
	var counts []byte
	for _, n := range w.counts {
		counts = binary.BigEndian.AppendUint64(counts, n)
	}
	if err := w.meta.Put(keyCount, seal(keyCount, counts)); err != nil {
		return err
	}
	return w.meta.Put(keySeq, seal(keySeq, binary.BigEndian.AppendUint64(nil, w.seq)))
}

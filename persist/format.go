package persist

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"

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
	empty := true
	_ = tx.ForEach(func([]byte, *bbolt.Bucket) error { empty = false; return nil })
	if !empty {
		return fmt.Errorf("%w: bbolt file without an orgtree meta bucket", ErrFormat)
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

// readAll reads and verifies every record. A read-only open of a file that
// was never initialised reads as empty.
func readAll(tx *bbolt.Tx) (*orgtree.Dump, error) {
	d := &orgtree.Dump{}
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		empty := true
		_ = tx.ForEach(func([]byte, *bbolt.Bucket) error { empty = false; return nil })
		if empty {
			return d, nil
		}
		return nil, fmt.Errorf("%w: bbolt file without an orgtree meta bucket", ErrFormat)
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
	for k := range kinds {
		b := tx.Bucket(recordBuckets[k])
		if b == nil {
			return nil, fmt.Errorf("%w: bucket %s missing", ErrCorrupt, recordBuckets[k])
		}
		var n uint64
		err := b.ForEach(func(key, sealed []byte) error {
			n++
			value, err := open(recordBuckets[k], key, sealed)
			if err != nil {
				return err
			}
			return decodeInto(d, k, key, value)
		})
		if err != nil {
			return nil, err
		}
		if want := binary.BigEndian.Uint64(rawCounts[8*k:]); n != want {
			return nil, fmt.Errorf("%w: bucket %s holds %d records, meta says %d", ErrCorrupt, recordBuckets[k], n, want)
		}
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

func decodeInto(d *orgtree.Dump, k kind, key, value []byte) error {
	var id string
	var err error
	switch k {
	case kindOrg:
		d.Orgs = append(d.Orgs, orgtree.OrgRecord{})
		r := &d.Orgs[len(d.Orgs)-1]
		err = json.Unmarshal(value, r)
		id = r.ID
	case kindNode:
		d.Nodes = append(d.Nodes, orgtree.NodeRecord{})
		r := &d.Nodes[len(d.Nodes)-1]
		err = json.Unmarshal(value, r)
		id = r.ID
	case kindUser:
		d.Users = append(d.Users, orgtree.UserRecord{})
		r := &d.Users[len(d.Users)-1]
		err = json.Unmarshal(value, r)
		id = r.ID
	}
	if err != nil {
		return fmt.Errorf("%w: %s/%q: %w", ErrCorrupt, recordBuckets[k], key, err)
	}
	if id != string(key) {
		return fmt.Errorf("%w: %s/%q holds the record of %q", ErrCorrupt, recordBuckets[k], key, id)
	}
	return nil
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

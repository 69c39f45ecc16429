package persist

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/orgtree/orgtree"
)

// The buckets and meta keys of format version 1, which Open still reads
// (and upgrades: see upgrade).
var (
	bucketOrgs  = []byte("orgs")
	bucketNodes = []byte("nodes")
	bucketUsers = []byte("users")

	keySeq   = []byte("seq")
	keyCount = []byte("count")
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

// readV1 reads and verifies every record of a version 1 store.
func readV1(tx *bbolt.Tx, meta *bbolt.Bucket) (*orgtree.Dump, error) {
	d := &orgtree.Dump{}
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

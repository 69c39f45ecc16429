package persist

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"
)

// historySeeds are real stored entries: the key and the sealed value of
// every entry of a store that ran historySample and a random workload,
// in the binary encoding and as the JSON older builds wrote.
func historySeeds(f *testing.F) (keys, sealed [][]byte) {
	f.Helper()
	db := mustOpen(f, tempPath(f), WithHistory(HistoryOptions{Clock: newFakeClock().now}))
	defer db.Close()
	historySample(f, db.Tree())
	w := &workload{r: rand.New(rand.NewPCG(5, 6))}
	for range 40 {
		_ = w.gen(db.Tree().Snapshot().Dump()).apply(db.Tree())
	}
	read := func() {
		require.NoError(f, db.bolt.View(func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketHistory).Bucket(bucketEntries).ForEach(func(k, v []byte) error {
				keys, sealed = append(keys, bytes.Clone(k)), append(sealed, bytes.Clone(v))
				return nil
			})
		}))
	}
	read()
	rewriteAsJSON(f, db)
	read()
	return keys, sealed
}

// FuzzHistoryEntry feeds damaged history entries to the decoder: as
// stored (so mostly caught by the checksum), and resealed, so that the
// damage reaches the decoding of the body. A refused entry is ErrCorrupt,
// never a panic; an accepted one prints as JSON (what orgtree log --json
// and the change events do with it), and one in the binary encoding
// decodes the same after being encoded again.
func FuzzHistoryEntry(f *testing.F) {
	keys, sealed := historySeeds(f)
	for i := range keys {
		f.Add(keys[i], sealed[i], false)
		v, err := open(bucketHistory, keys[i], sealed[i])
		require.NoError(f, err)
		f.Add(keys[i], bytes.Clone(v), true)
	}
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1}, []byte{}, true)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1}, append(make([]byte, 9), entryBinary), true)
	f.Fuzz(func(t *testing.T, key, value []byte, reseal bool) {
		if reseal {
			value = seal(key, value)
		}
		e, err := decodeEntry(key, value)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		require.Len(t, key, 8)
		require.Equal(t, binary.BigEndian.Uint64(key), e.Seq)
		require.NotNil(t, e.Changes)
		got, err := json.Marshal(e)
		require.NoError(t, err, "an accepted entry prints")
		v, err := open(bucketHistory, key, value)
		require.NoError(t, err)
		_, body, err := entryNodes(v[8:])
		require.NoError(t, err)
		if body[0] != entryBinary {
			return // JSON: not every document has a binary twin (times' zones, empty lists)
		}
		again, err := decodeEntryBody(e.Seq, e.Time.UnixNano(), appendEntryBody(nil, e))
		require.NoError(t, err, "re-encoded")
		want, err := json.Marshal(again)
		require.NoError(t, err)
		require.JSONEq(t, string(got), string(want))
	})
}

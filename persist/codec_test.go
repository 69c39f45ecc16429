package persist

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/internal/recordcodec"
)

// decodeParts decodes one record the way readLog does, without the
// checksums and without recovering from panics: a panic fails the test.
func decodeParts(parts [][]byte) (*recordcodec.Record, error) {
	r, err := recordcodec.ParseRecord(7, parts)
	if err != nil {
		return nil, err
	}
	if err := r.Decode(); err != nil {
		return nil, err
	}
	return r, nil
}

// codecSample has every field of every record set somewhere, references
// to records inside and outside the record, and enough nodes for several
// chunks and parts.
func codecSample() (orgs []orgtree.OrgRecord, nodes []orgtree.NodeRecord, users []orgtree.UserRecord, deleted [3][]string) {
	at := time.Date(2026, 12, 3, 7, 0, 0, 123456789, time.UTC)
	orgs = []orgtree.OrgRecord{
		{ID: "o1", RootID: "n0000", TenantID: "t1", CreatedAt: at, UpdatedAt: at.Add(time.Hour)},
		{ID: "o2", RootID: "elsewhere", CreatedAt: at.Add(-time.Hour), UpdatedAt: at.Add(-time.Hour)},
	}
	for i := range 3 * recordcodec.ChunkSize {
		n := orgtree.NodeRecord{Node: orgtree.Node{
			ID: fmt.Sprintf("n%04d", i), OrgID: "o1", Name: fmt.Sprintf("部门 %d", i),
			CreatedAt: at.Add(time.Duration(i) * time.Microsecond), UpdatedAt: at.Add(time.Duration(i) * time.Second),
		}}
		if i > 0 {
			n.ParentID = fmt.Sprintf("n%04d", i/10)
		}
		switch i % 7 {
		case 0:
			n.Code, n.ExternalID, n.Order = fmt.Sprint("c", i), fmt.Sprint("ding-", i), -i
		case 1:
			n.NameI18n = map[string]string{"en-US": fmt.Sprint("Dept ", i), "ja": "部"}
			n.Description = string(bytes.Repeat([]byte{'d'}, 1000))
			n.DescriptionI18n = map[string]string{"en-US": "d"}
		case 2:
			n.LeaderUserID = fmt.Sprintf("u%03d", i%100)
			n.Resources = []orgtree.Resource{{Namespace: "ns", Code: "books", Type: orgtree.ResourceAPI, Actions: []string{"read", "write"}}, {Namespace: "ns", Code: "x", Type: orgtree.ResourceMenu}}
		case 3:
			n.LeaderUserID = "someone-else"
			n.ParentID = "outside-parent"
			n.OrgID = "o2"
		case 4:
			n.UpdatedAt = time.Time{}
			n.Order = 1 << 40
		}
		nodes = append(nodes, n)
	}
	for i := range 100 {
		u := orgtree.UserRecord{User: orgtree.User{ID: fmt.Sprintf("u%03d", i), CreatedAt: at.Add(time.Duration(-i) * time.Minute), UpdatedAt: at}}
		switch i % 3 {
		case 0:
			u.Name, u.Username, u.Email, u.Phone, u.ExternalID = "alice", "al", "a@example.com", "+1 555", fmt.Sprint("x", i)
			u.MainDepartmentID = "n0005"
		case 1:
			u.Email = fmt.Sprintf("u%d@example.com", i)
			u.MainDepartmentID = "gone-node"
		}
		for k := range i % 5 {
			u.Memberships = append(u.Memberships, orgtree.Membership{NodeID: fmt.Sprintf("n%04d", (i*37+k*1001)%len(nodes)), JoinedAt: at.Add(time.Duration(k) * time.Hour)})
		}
		if i%10 == 9 {
			u.Memberships = append(u.Memberships, orgtree.Membership{NodeID: "outside-node", JoinedAt: at.Add(-48 * time.Hour)})
		}
		users = append(users, u)
	}
	deleted = [3][]string{{"o9"}, {"n-del1", "n-del2"}, {"u-del"}}
	return orgs, nodes, users, deleted
}

func TestRecordRoundTrip(t *testing.T) {
	orgs, nodes, users, deleted := codecSample()
	parts := recordcodec.EncodeRecord(recordcodec.KindDelta, orgs, nodes, users, deleted)
	require.Greater(t, len(parts), 1, "the sample spans several parts")
	r, err := decodeParts(parts)
	require.NoError(t, err)
	assert.Equal(t, byte(recordcodec.KindDelta), r.Kind)
	assert.Equal(t, orgs, r.Orgs)
	assert.Equal(t, nodes, r.Nodes)
	assert.Equal(t, users, r.Users)
	assert.Equal(t, deleted, r.Deleted)
	assert.Len(t, r.Chunks, 3+1)

	t.Run("empty", func(t *testing.T) {
		r, err := decodeParts(recordcodec.EncodeRecord(recordcodec.KindFull, nil, nil, nil, [3][]string{}))
		require.NoError(t, err)
		assert.Empty(t, r.Nodes)
		assert.Empty(t, r.Users)
		assert.Equal(t, byte(recordcodec.KindFull), r.Kind)
	})
}

// TestRecordDamage decodes damaged records: every one fails with an error
// or decodes to something; none panics or allocates beyond its size.
func TestRecordDamage(t *testing.T) {
	orgs, nodes, users, deleted := codecSample()
	parts := recordcodec.EncodeRecord(recordcodec.KindDelta, orgs[:1], nodes[:300], users, deleted)
	require.Len(t, parts, 1)
	orig := parts[0]
	r := rand.New(rand.NewPCG(3, 3))
	failed := 0
	for i := range 3000 {
		data := bytes.Clone(orig)
		if i%4 == 0 {
			data = data[:r.IntN(len(data))]
		} else {
			for range 1 + r.IntN(3) {
				data[r.IntN(len(data))] ^= byte(1 + r.IntN(255))
			}
		}
		if _, err := decodeParts([][]byte{data}); err != nil {
			require.ErrorIs(t, err, recordcodec.ErrRecord)
			failed++
		}
	}
	t.Logf("%d of 3000 damaged records refused by the decoder alone (the checksum catches all)", failed)
	assert.Positive(t, failed)
}

// TestCompaction writes enough small commits for several compactions and
// checks that the log was compacted, that every reopen loads the same
// content, and that compaction goes on beside group commit too.
func TestCompaction(t *testing.T) {
	for name, opts := range map[string][]Option{"durable": nil, "group": {WithGroupCommit(time.Millisecond)}} {
		t.Run(name, func(t *testing.T) {
			opts := append(opts, withCompactMin(4<<10))
			db := mustOpen(t, tempPath(t), opts...)
			w := &workload{r: rand.New(rand.NewPCG(4, 4))}
			bases := map[uint64]bool{}
			for range 6 {
				runWorkload(t, db.Tree(), w, 150)
				require.NoError(t, db.Sync())
				want := db.Tree().Snapshot().Dump()
				st := readState(t, db)
				bases[st.base] = true
				db = reopen(t, db, opts...)
				require.Equal(t, want, db.Tree().Snapshot().Dump())
			}
			require.NoError(t, db.Close())
			assert.Greater(t, len(bases), 2, "the full record was rewritten")
		})
	}
}

func readState(t *testing.T, db *DB) logState {
	t.Helper()
	var st logState
	require.NoError(t, db.bolt.View(func(tx *bbolt.Tx) error {
		var err error
		st, err = readLogState(tx.Bucket(bucketMeta))
		return err
	}))
	return st
}

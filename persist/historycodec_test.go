package persist

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/orgtree/orgtree"
)

// rewriteAsJSON turns the stored entries of a history into the JSON
// bodies older builds wrote (keeping each entry's time and node ids), as a
// store written by such a build has them. It returns the entries as they
// were read before.
func rewriteAsJSON(t testing.TB, db *DB) []HistoryEntry {
	t.Helper()
	before, err := db.History().Since(0, 0)
	require.NoError(t, err)
	require.NoError(t, db.bolt.Update(func(tx *bbolt.Tx) error {
		h := tx.Bucket(bucketHistory)
		entries := h.Bucket(bucketEntries)
		st, err := readHistoryState(h)
		require.NoError(t, err)
		for _, e := range before {
			k := entryKey(e.Seq)
			v, err := open(bucketHistory, k, entries.Get(k))
			require.NoError(t, err)
			ids, body, err := entryNodes(v[8:])
			require.NoError(t, err)
			require.Equal(t, byte(entryBinary), body[0], "written in the binary encoding")
			js, err := json.Marshal(e)
			require.NoError(t, err)
			nv := append(appendEntryNodes(append([]byte(nil), v[:8]...), ids), js...)
			st.bytes += int64(len(nv) - len(v))
			require.NoError(t, entries.Put(k, seal(k, nv)))
		}
		return h.Put(keyHState, seal(keyHState, st.encode()))
	}))
	return before
}

// TestHistoryReadsJSONEntries: entries older builds wrote as JSON read as
// they did, beside the binary entries written after them, across a
// reopen; trimming and the node index work on both.
func TestHistoryReadsJSONEntries(t *testing.T) {
	path := tempPath(t)
	db := mustOpen(t, path, WithHistory(HistoryOptions{Clock: newFakeClock().now}))
	_, dev, _ := historySample(t, db.Tree())
	old := rewriteAsJSON(t, db)
	got, err := db.History().Since(0, 0)
	require.NoError(t, err)
	assertSameEntries(t, old, got)
	db = reopen(t, db)
	defer db.Close()
	// New entries, binary, after the JSON ones.
	_, err = db.Tree().UpdateAs("dave", "again", func(tx *orgtree.Tx) error {
		_, err := tx.UpdateNode(dev, orgtree.NodeUpdate{Name: new("platform")})
		return err
	}), nil
	require.NoError(t, err)
	got, err = db.History().Since(0, 0)
	require.NoError(t, err)
	require.Len(t, got, len(old)+1)
	assertSameEntries(t, old, got[:len(old)])
	last := got[len(got)-1]
	assert.Equal(t, "dave", last.Actor)
	require.Len(t, last.Changes.Nodes, 1)
	assert.Equal(t, "platform", last.Changes.Nodes[0].New.Name)
	nh, err := db.History().Node(dev, 0)
	require.NoError(t, err)
	assert.Len(t, nh, 4, "created, member, renamed (JSON), renamed again (binary)")
	requireHistoryConsistent(t, db)
}

func assertSameEntries(t *testing.T, want, got []HistoryEntry) {
	t.Helper()
	wj, err := json.Marshal(want)
	require.NoError(t, err)
	gj, err := json.Marshal(got)
	require.NoError(t, err)
	assert.JSONEq(t, string(wj), string(gj))
}

// TestEntryBodyRoundTrip covers what the engine's changes do not: changes
// whose ids no record carries, or that differ from their records', and
// empty changes.
func TestEntryBodyRoundTrip(t *testing.T) {
	node := orgtree.NodeRecord{Node: orgtree.Node{ID: "n1", OrgID: "o1", Name: "dev", ParentID: "n0", LeaderUserID: "u9",
		NameI18n: map[string]string{"zh": "研发"}, Order: -3}, Resources: []orgtree.Resource{{Namespace: "ns", Code: "c", Type: "API", Actions: []string{"read"}}}}
	for _, c := range []*orgtree.Changes{
		nil,
		{From: 3, To: 4},
		{From: 1, To: 9,
			Orgs:            []orgtree.OrgChange{{Kind: orgtree.Removed, ID: "o7"}, {Kind: orgtree.Added, ID: "o8", New: &orgtree.OrgRecord{ID: "other", RootID: "r"}}},
			Nodes:           []orgtree.NodeChange{{Kind: orgtree.Updated, ID: "n1", OrgID: "o1", Old: &node, New: &node, Moved: true, Renamed: true}, {Kind: orgtree.Removed, ID: "n2", OrgID: "o2"}, {Kind: orgtree.Added, ID: "x", OrgID: "o1", New: &node}},
			Users:           []orgtree.UserChange{{Kind: orgtree.Updated, ID: "u1", Old: &orgtree.User{ID: "u1", Name: "a"}, New: &orgtree.User{ID: "u1", Email: "b@c", MainDepartmentID: "n1"}}, {Kind: orgtree.Removed, ID: "u2"}},
			Members:         []orgtree.MemberChange{{NodeID: "n1", UserID: "u1", Joined: true}, {NodeID: "n1", UserID: "u2"}},
			MainDepartments: []orgtree.MainDepartmentChange{{UserID: "u1", OldNodeID: "n0", NewNodeID: "n1"}, {UserID: "u2", NewNodeID: "n1"}}},
	} {
		at := time.Date(2026, 12, 3, 15, 0, 0, 1, time.UTC)
		e := HistoryEntry{Seq: 9, Time: at, Actor: "a", Reason: "r", Changes: c}
		got, err := decodeEntryBody(9, at.UnixNano(), appendEntryBody(nil, e))
		require.NoError(t, err)
		if c == nil {
			e.Changes = &orgtree.Changes{}
		}
		assertSameEntries(t, []HistoryEntry{e}, []HistoryEntry{got})
	}
}

// BenchmarkHistoryEntrySize measures the stored body of an entry, JSON as
// older builds wrote it against the binary encoding, for one change of
// each common kind and for a bulk import: B/change is the body's bytes
// over the records it holds, and encode-ns/change the time to encode it.
func BenchmarkHistoryEntrySize(b *testing.B) {
	type sample struct {
		name string
		fn   func(*orgtree.Tx, orgtree.Org, string) error
	}
	samples := []sample{
		{"rename", func(tx *orgtree.Tx, _ orgtree.Org, dev string) error {
			_, err := tx.UpdateNode(dev, orgtree.NodeUpdate{Name: new("engineering")})
			return err
		}},
		{"add-node", func(tx *orgtree.Tx, org orgtree.Org, _ string) error {
			_, err := tx.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "team", Code: "team-1"})
			return err
		}},
		{"move", func(tx *orgtree.Tx, org orgtree.Org, dev string) error {
			n, err := tx.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "moved"})
			if err == nil {
				_, err = tx.MoveNode(n.ID, dev)
			}
			return err
		}},
		{"add-member", func(tx *orgtree.Tx, _ orgtree.Org, dev string) error {
			u, err := tx.CreateUser(orgtree.User{Name: "bob", Email: "bob@example.com"})
			if err == nil {
				err = tx.AddMembers(dev, u.ID)
			}
			return err
		}},
		{"bulk-10k-nodes", func(tx *orgtree.Tx, org orgtree.Org, _ string) error {
			for i := range 10_000 {
				if _, err := tx.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: fmt.Sprint("team ", i)}); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, s := range samples {
		b.Run(s.name, func(b *testing.B) {
			var jsonBytes, binBytes, records int
			var jsonTime, binTime time.Duration
			for range b.N {
				tr := orgtree.New(orgtree.WithIDGenerator(objectIDs()))
				org, err := tr.CreateOrg(orgtree.OrgInput{Name: "Acme"})
				require.NoError(b, err)
				dev, err := tr.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "dev"})
				require.NoError(b, err)
				before := tr.Snapshot()
				require.NoError(b, tr.UpdateAs("cli:alice", "orgtree sample", func(tx *orgtree.Tx) error { return s.fn(tx, org, dev.ID) }))
				c, err := orgtree.Diff(before, tr.Snapshot())
				require.NoError(b, err)
				e := HistoryEntry{Seq: c.To, Actor: "cli:alice", Reason: "orgtree sample", Changes: c}
				start := time.Now()
				js, err := json.Marshal(e)
				jsonTime += time.Since(start)
				require.NoError(b, err)
				start = time.Now()
				body := appendEntryBody(nil, e)
				binTime += time.Since(start)
				jsonBytes, binBytes = len(js), len(body)
				records = len(c.Orgs) + len(c.Nodes) + len(c.Users) + len(c.Members) + len(c.MainDepartments)
			}
			b.ReportMetric(float64(jsonBytes)/float64(records), "json-B/change")
			b.ReportMetric(float64(binBytes)/float64(records), "binary-B/change")
			b.ReportMetric(float64(jsonBytes)/float64(binBytes), "ratio")
			b.ReportMetric(float64(jsonTime.Nanoseconds())/float64(b.N*records), "json-encode-ns/change")
			b.ReportMetric(float64(binTime.Nanoseconds())/float64(b.N*records), "binary-encode-ns/change")
		})
	}
}

// objectIDs generates ids shaped like the server's (24 hex digits), so the
// sizes are those of a served store.
func objectIDs() func() string {
	n := 0
	return func() string {
		n++
		return fmt.Sprintf("65%06x%016x", n, uint64(n)*0x9e3779b97f4a7c15)
	}
}

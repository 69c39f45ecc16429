package persist

import (
	"encoding/json"
	"errors"
	"flag"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

// fakeClock advances by one second each time it is read.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func (c *fakeClock) skip(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// historySample makes an org with two departments and a member, then
// renames and moves one, under actors; it returns the department ids.
func historySample(t testing.TB, tr *orgtree.Tree) (org orgtree.Org, dev, ops string) {
	t.Helper()
	var err error
	org, err = tr.CreateOrg(orgtree.OrgInput{Name: "Acme"})
	require.NoError(t, err)
	require.NoError(t, tr.UpdateAs("alice", "new teams", func(tx *orgtree.Tx) error {
		d, err := tx.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "dev"})
		dev = d.ID
		if err != nil {
			return err
		}
		o, err := tx.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "ops"})
		ops = o.ID
		return err
	}))
	u, err := tr.CreateUser(orgtree.User{Name: "bob"})
	require.NoError(t, err)
	require.NoError(t, tr.AddMembers(dev, u.ID))
	require.NoError(t, tr.UpdateAs("carol", "rename", func(tx *orgtree.Tx) error {
		_, err := tx.UpdateNode(dev, orgtree.NodeUpdate{Name: new("engineering")})
		return err
	}))
	_, err = tr.MoveNode(ops, dev)
	require.NoError(t, err)
	return org, dev, ops
}

func TestHistoryAcrossReopen(t *testing.T) {
	clock := newFakeClock()
	path := tempPath(t)
	db := mustOpen(t, path, WithHistory(HistoryOptions{Clock: clock.now}))
	_, dev, ops := historySample(t, db.Tree())
	head := db.Tree().Snapshot().Seq()

	// Reopened without WithHistory: the store remembers it keeps one.
	db = reopen(t, db)
	defer func() { require.NoError(t, db.Close()) }()
	h := db.History()
	info, err := h.Info()
	require.NoError(t, err)
	assert.Equal(t, uint64(0), info.Start)
	assert.Equal(t, head, info.Head)
	assert.Equal(t, int64(6), info.Entries)

	all, err := h.Since(0, 0)
	require.NoError(t, err)
	require.Len(t, all, 6)
	for i, e := range all {
		assert.Equal(t, uint64(i+1), e.Seq)
		if i > 0 {
			assert.False(t, e.Time.Before(all[i-1].Time), "times never go back")
		}
	}
	assert.Equal(t, "alice", all[1].Actor)
	assert.Equal(t, "new teams", all[1].Reason)
	require.Len(t, all[1].Changes.Nodes, 2)
	assert.Equal(t, orgtree.Added, all[1].Changes.Nodes[0].Kind)
	rename := all[4]
	assert.Equal(t, "carol", rename.Actor)
	require.Len(t, rename.Changes.Nodes, 1)
	assert.True(t, rename.Changes.Nodes[0].Renamed)
	assert.Equal(t, "dev", rename.Changes.Nodes[0].Old.Name)
	assert.Equal(t, "engineering", rename.Changes.Nodes[0].New.Name)
	move := all[5]
	require.Len(t, move.Changes.Nodes, 1)
	assert.True(t, move.Changes.Nodes[0].Moved)
	assert.Equal(t, ops, move.Changes.Nodes[0].ID)
	assert.Equal(t, dev, move.Changes.Nodes[0].New.ParentID)

	// Writes after the reopen go on the same history.
	_, err = db.Tree().AddNode(orgtree.NodeInput{ParentID: dev, Name: "web"})
	require.NoError(t, err)
	later, err := h.Since(head, 0)
	require.NoError(t, err)
	require.Len(t, later, 1)
	assert.Equal(t, head+1, later[0].Seq)
}

func TestHistorySinceVersionAndTime(t *testing.T) {
	clock := newFakeClock()
	db := mustOpen(t, tempPath(t), WithHistory(HistoryOptions{Clock: clock.now}))
	defer db.Close()
	historySample(t, db.Tree())
	all, err := db.History().Since(0, 0)
	require.NoError(t, err)
	require.Len(t, all, 6)

	got, err := db.History().Since(3, 0)
	require.NoError(t, err)
	assert.Equal(t, []uint64{4, 5, 6}, seqs(got))
	got, err = db.History().Since(3, 2)
	require.NoError(t, err)
	assert.Equal(t, []uint64{4, 5}, seqs(got), "limit keeps the oldest")
	got, err = db.History().Since(6, 0)
	require.NoError(t, err)
	assert.Empty(t, got, "nothing after the newest version")

	got, err = db.History().SinceTime(all[3].Time, 0)
	require.NoError(t, err)
	assert.Equal(t, []uint64{4, 5, 6}, seqs(got), "since a time includes an entry at that time")
	got, err = db.History().SinceTime(all[3].Time.Add(time.Nanosecond), 0)
	require.NoError(t, err)
	assert.Equal(t, []uint64{5, 6}, seqs(got))
	got, err = db.History().SinceTime(all[5].Time.Add(time.Hour), 0)
	require.NoError(t, err)
	assert.Empty(t, got)
	got, err = db.History().SinceTime(all[0].Time, 1)
	require.NoError(t, err)
	assert.Equal(t, []uint64{1}, seqs(got))
}

func TestNodeHistory(t *testing.T) {
	db := mustOpen(t, tempPath(t), WithHistory(HistoryOptions{Clock: newFakeClock().now}))
	defer db.Close()
	_, dev, ops := historySample(t, db.Tree())
	got, err := db.History().Node(dev, 0)
	require.NoError(t, err)
	// Added, a member joined, renamed; the move of ops under it is ops's.
	assert.Equal(t, []uint64{2, 4, 5}, seqs(got))
	got, err = db.History().Node(ops, 0)
	require.NoError(t, err)
	assert.Equal(t, []uint64{2, 6}, seqs(got))

	require.NoError(t, db.Tree().DeleteNode(ops, orgtree.Cascade))
	got, err = db.History().Node(ops, 0)
	require.NoError(t, err)
	assert.Equal(t, []uint64{2, 6, 7}, seqs(got), "a deleted node keeps its history")
	assert.Equal(t, orgtree.Removed, got[2].Changes.Nodes[0].Kind)
	got, err = db.History().Node(ops, 1)
	require.NoError(t, err)
	assert.Equal(t, []uint64{2}, seqs(got))
	got, err = db.History().Node("never-there", 0)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestHistoryBounds(t *testing.T) {
	t.Run("entries", func(t *testing.T) {
		db := mustOpen(t, tempPath(t), WithHistory(HistoryOptions{MaxEntries: 3, Clock: newFakeClock().now}))
		defer db.Close()
		_, dev, _ := historySample(t, db.Tree())
		info, err := db.History().Info()
		require.NoError(t, err)
		assert.Equal(t, int64(3), info.Entries)
		assert.Equal(t, uint64(3), info.Start)
		_, err = db.History().Since(2, 0)
		assert.ErrorIs(t, err, ErrHistoryTrimmed)
		got, err := db.History().Since(3, 0)
		require.NoError(t, err)
		assert.Equal(t, []uint64{4, 5, 6}, seqs(got))
		got, err = db.History().Node(dev, 0)
		require.NoError(t, err)
		assert.Equal(t, []uint64{4, 5}, seqs(got), "trimming drops the node index too")
		requireHistoryConsistent(t, db)
	})
	t.Run("bytes", func(t *testing.T) {
		db := mustOpen(t, tempPath(t), WithHistory(HistoryOptions{MaxBytes: 500, Clock: newFakeClock().now}))
		defer db.Close()
		historySample(t, db.Tree())
		info, err := db.History().Info()
		require.NoError(t, err)
		assert.LessOrEqual(t, info.Bytes, int64(500))
		assert.Greater(t, info.Start, uint64(0))
		assert.Equal(t, uint64(6), info.Head)
		requireHistoryConsistent(t, db)
	})
	t.Run("newest entry stays", func(t *testing.T) {
		db := mustOpen(t, tempPath(t), WithHistory(HistoryOptions{MaxBytes: 1, Clock: newFakeClock().now}))
		defer db.Close()
		historySample(t, db.Tree())
		got, err := db.History().Since(5, 0)
		require.NoError(t, err)
		assert.Equal(t, []uint64{6}, seqs(got))
	})
	t.Run("age", func(t *testing.T) {
		clock := newFakeClock()
		path := tempPath(t)
		db := mustOpen(t, path, WithHistory(HistoryOptions{MaxAge: time.Hour, Clock: clock.now}))
		historySample(t, db.Tree())
		first, err := db.History().Since(0, 0)
		require.NoError(t, err)
		require.Len(t, first, 6)
		clock.skip(2 * time.Hour)
		_, err = db.Tree().CreateOrg(orgtree.OrgInput{Name: "Beta"})
		require.NoError(t, err)
		got, err := db.History().Since(6, 0)
		require.NoError(t, err)
		assert.Equal(t, []uint64{7}, seqs(got))
		_, err = db.History().Since(0, 0)
		assert.ErrorIs(t, err, ErrHistoryTrimmed)
		_, err = db.History().SinceTime(first[5].Time, 0)
		assert.ErrorIs(t, err, ErrHistoryTrimmed, "entries that recent were trimmed")

		// Open trims by age too, and new bounds replace the stored ones.
		clock.skip(2 * time.Hour)
		db = reopen(t, db, WithHistory(HistoryOptions{MaxAge: time.Hour, MaxEntries: 10, Clock: clock.now}))
		defer db.Close()
		info, err := db.History().Info()
		require.NoError(t, err)
		assert.Equal(t, int64(1), info.Entries, "the newest entry stays")
		assert.Equal(t, int64(10), info.MaxEntries)
		requireHistoryConsistent(t, db)
	})
}

func TestHistoryBadArguments(t *testing.T) {
	db := mustOpen(t, tempPath(t), WithHistory(HistoryOptions{}))
	defer db.Close()
	historySample(t, db.Tree())
	h := db.History()
	_, err := h.Since(100, 0)
	assert.ErrorIs(t, err, ErrInvalidQuery, "a version the store has not reached")
	_, err = h.Since(0, -1)
	assert.ErrorIs(t, err, ErrInvalidQuery)
	_, err = h.SinceTime(time.Time{}, 0)
	assert.ErrorIs(t, err, ErrInvalidQuery)
	all, err := h.SinceTime(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), 0)
	require.NoError(t, err, "a history begun with the store misses nothing")
	assert.Len(t, all, 6)
	_, err = h.Node("", 0)
	assert.ErrorIs(t, err, ErrInvalidQuery)
	_, err = h.Node("x", -3)
	assert.ErrorIs(t, err, ErrInvalidQuery)

	_, err = Open(tempPath(t), WithHistory(HistoryOptions{MaxAge: -time.Second}))
	assert.ErrorIs(t, err, ErrInvalidQuery)

	plain := mustOpen(t, tempPath(t))
	defer plain.Close()
	sample(t, plain.Tree())
	_, err = plain.History().Since(0, 0)
	assert.ErrorIs(t, err, ErrNoHistory)
	_, err = plain.History().Info()
	assert.ErrorIs(t, err, ErrNoHistory)
}

func TestHistoryTurnedOnLaterAndOff(t *testing.T) {
	path := tempPath(t)
	db := mustOpen(t, path)
	sample(t, db.Tree())
	seq := db.Tree().Snapshot().Seq()
	db = reopen(t, db, WithHistory(HistoryOptions{}))
	info, err := db.History().Info()
	require.NoError(t, err)
	assert.Equal(t, seq, info.Start, "complete only from when it was turned on")
	_, err = db.History().Since(seq-1, 0)
	assert.ErrorIs(t, err, ErrHistoryTrimmed)
	_, err = db.History().SinceTime(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), 0)
	assert.ErrorIs(t, err, ErrHistoryTrimmed, "before the history began")
	_, err = db.Tree().CreateOrg(orgtree.OrgInput{Name: "late"})
	require.NoError(t, err)
	got, err := db.History().Since(seq, 0)
	require.NoError(t, err)
	assert.Len(t, got, 1)

	db = reopen(t, db, WithoutHistory())
	defer func() { require.NoError(t, db.Close()) }()
	_, err = db.History().Info()
	assert.ErrorIs(t, err, ErrNoHistory)
	_, err = db.Tree().CreateOrg(orgtree.OrgInput{Name: "later"})
	require.NoError(t, err)
	db = reopen(t, db)
	_, err = db.History().Info()
	assert.ErrorIs(t, err, ErrNoHistory, "off stays off")
}

func TestHistoryReadOnly(t *testing.T) {
	path := tempPath(t)
	db := mustOpen(t, path, WithHistory(HistoryOptions{}))
	historySample(t, db.Tree())
	require.NoError(t, db.Close())
	ro := mustOpen(t, path, WithReadOnly())
	defer ro.Close()
	got, err := ro.History().Since(0, 0)
	require.NoError(t, err)
	assert.Len(t, got, 6)
}

// A failed write stores neither the change nor its entry.
func TestHistoryWriteFault(t *testing.T) {
	path := tempPath(t)
	var fail bool
	injected := errors.New("injected: no space left on device")
	db := mustOpen(t, path, WithHistory(HistoryOptions{}), withFault(func() error {
		if fail {
			return injected
		}
		return nil
	}))
	sample(t, db.Tree())
	fail = true
	_, err := db.Tree().CreateOrg(orgtree.OrgInput{Name: "x"})
	require.ErrorIs(t, err, injected)
	fail = false
	_, err = db.Tree().CreateOrg(orgtree.OrgInput{Name: "y"})
	require.NoError(t, err)
	db = reopen(t, db)
	defer db.Close()
	requireHistoryConsistent(t, db)
	assert.Empty(t, db.rec.pending, "no entry is left waiting")
}

func TestHistoryGroupCommit(t *testing.T) {
	path := tempPath(t)
	db := mustOpen(t, path, WithHistory(HistoryOptions{}), WithGroupCommit(5*time.Millisecond))
	w := &workload{r: rand.New(rand.NewPCG(5, 6))}
	runWorkload(t, db.Tree(), w, 200)
	require.NoError(t, db.Sync())
	requireHistoryConsistent(t, db)
	db = reopen(t, db)
	defer db.Close()
	requireHistoryConsistent(t, db)
}

// requireHistoryConsistent checks that the history ends at the tree's
// version, its state matches its entries, and every entry's node index
// keys exist.
func requireHistoryConsistent(t *testing.T, db *DB) {
	t.Helper()
	requireHistoryHead(t, db)
	requireNodeIndex(t, db)
}

// requireHistoryHead is the cheap half of requireHistoryConsistent: the
// history ends at the tree's version and its state matches its entries.
func requireHistoryHead(t *testing.T, db *DB) []HistoryEntry {
	t.Helper()
	info, err := db.History().Info()
	require.NoError(t, err)
	require.Equal(t, db.Tree().Snapshot().Seq(), info.Head, "the history ends at the tree's version")
	got, err := db.History().Since(info.Start, 0)
	require.NoError(t, err)
	require.Equal(t, info.Entries, int64(len(got)))
	if len(got) > 0 {
		require.Equal(t, info.Head, got[len(got)-1].Seq)
	}
	return got
}

// requireNodeIndex checks that the node index names exactly the entries
// that touch each node.
func requireNodeIndex(t *testing.T, db *DB) {
	t.Helper()
	info, err := db.History().Info()
	require.NoError(t, err)
	got, err := db.History().Since(info.Start, 0)
	require.NoError(t, err)
	byNode := map[string][]uint64{}
	for _, e := range got {
		for _, id := range touchedNodes(e.Changes) {
			byNode[id] = append(byNode[id], e.Seq)
		}
	}
	for id, want := range byNode {
		nh, err := db.History().Node(id, 0)
		require.NoError(t, err)
		require.Equal(t, want, seqs(nh), "node %s", id)
	}
}

func seqs(es []HistoryEntry) []uint64 {
	out := []uint64{}
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func TestDefaultHistoryKeepsStoredBounds(t *testing.T) {
	path := tempPath(t)
	db := mustOpen(t, path, WithDefaultHistory(HistoryOptions{MaxEntries: 7}))
	info, err := db.History().Info()
	require.NoError(t, err)
	assert.Equal(t, int64(7), info.MaxEntries, "a new history takes the defaults")
	db = reopen(t, db, WithHistory(HistoryOptions{MaxEntries: 3}))
	db = reopen(t, db, WithDefaultHistory(HistoryOptions{MaxEntries: 7}))
	defer db.Close()
	info, err = db.History().Info()
	require.NoError(t, err)
	assert.Equal(t, int64(3), info.MaxEntries, "an existing history keeps its bounds")
}

var historyOps = flag.Int("history.ops", 300, "random ops of TestHistoryRandom")

// TestHistoryRandom runs a random workload on a store with a bounded
// history, reopening it now and then, and checks every entry kept against
// Diff of the versions around its commit, the since-version answers
// against suffixes, and the node index against a scan.
func TestHistoryRandom(t *testing.T) {
	path := tempPath(t)
	opts := []Option{WithHistory(HistoryOptions{MaxEntries: 60, Clock: newFakeClock().now})}
	db := mustOpen(t, path, opts...)
	defer func() { db.Close() }()
	w := &workload{r: rand.New(rand.NewPCG(21, 22))}
	before := map[uint64]orgtree.Snapshot{} // version → the version its commit started from
	after := map[uint64]orgtree.Snapshot{}
	for i := range *historyOps {
		prev := db.Tree().Snapshot()
		_ = w.gen(prev.Dump()).apply(db.Tree())
		if cur := db.Tree().Snapshot(); cur.Seq() != prev.Seq() {
			before[cur.Seq()], after[cur.Seq()] = prev, cur
		}
		if i%97 == 96 {
			db = reopen(t, db)
		}
	}
	requireHistoryConsistent(t, db)
	info, err := db.History().Info()
	require.NoError(t, err)
	all, err := db.History().Since(info.Start, 0)
	require.NoError(t, err)
	require.NotEmpty(t, all)
	for _, e := range all {
		want, err := orgtree.Diff(before[e.Seq], after[e.Seq])
		require.NoError(t, err)
		wj, _ := json.Marshal(want)
		gj, _ := json.Marshal(e.Changes)
		require.JSONEq(t, string(wj), string(gj), "entry %d", e.Seq)
	}
	for range 20 {
		i := w.r.IntN(len(all))
		got, err := db.History().Since(all[i].Seq, 0)
		require.NoError(t, err)
		require.Equal(t, seqs(all[i+1:]), seqs(got))
	}
	byNode := map[string][]uint64{}
	for _, e := range all {
		for _, id := range touchedNodes(e.Changes) {
			byNode[id] = append(byNode[id], e.Seq)
		}
	}
	for id, want := range byNode {
		got, err := db.History().Node(id, 0)
		require.NoError(t, err)
		require.Equal(t, want, seqs(got), "node %s", id)
	}
}

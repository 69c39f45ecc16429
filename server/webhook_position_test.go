package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

// memPositions is a WebhookPositions in memory: a restart in these tests is
// a new Webhook over the same tree, history and positions.
type memPositions struct {
	mu   sync.Mutex
	seqs map[string]uint64
	sets int
	fail error // returned by SetWebhookPosition while set
}

func (p *memPositions) WebhookPosition(url string) (uint64, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	seq, ok := p.seqs[url]
	return seq, ok, nil
}

func (p *memPositions) SetWebhookPosition(url string, seq uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail != nil {
		return p.fail
	}
	if p.seqs == nil {
		p.seqs = map[string]uint64{}
	}
	p.seqs[url], p.sets = seq, p.sets+1
	return nil
}

func (p *memPositions) get(url string) uint64 {
	seq, _, _ := p.WebhookPosition(url)
	return seq
}

// expectedIDs are the ids of every event of the history after version
// from, in order.
func expectedIDs(t *testing.T, h History, from uint64) []string {
	t.Helper()
	cs, err := h.Since(from, 0)
	require.NoError(t, err)
	var ids []string
	for _, c := range cs {
		for _, m := range commitMessages(c, 0) {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// firstSeen drops the events a receiver got again (at least once means
// some may come twice) and returns the ids of the rest in arrival order.
func firstSeen(events []Event) []string {
	seen := map[string]bool{}
	var ids []string
	for _, e := range events {
		if !seen[e.ID] {
			seen[e.ID] = true
			ids = append(ids, e.ID)
		}
	}
	return ids
}

// twoOrgs writes n commits alternating between two orgs.
func twoOrgs(t *testing.T, tree *orgtree.Tree, a, b orgtree.Org, n int, tag string) {
	t.Helper()
	for i := range n {
		org := a
		if i%2 == 1 {
			org = b
		}
		_, err := tree.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: fmt.Sprintf("%s%d", tag, i)})
		require.NoError(t, err)
	}
}

// TestWebhookResumesFromStoredPosition: a receiver that fails while the
// server stops with undelivered events gets every one of them, in order,
// from a webhook made again on the same history and positions; the
// delivery log shows the retries.
func TestWebhookResumesFromStoredPosition(t *testing.T) {
	mh := NewMemoryHistory(1000)
	tree := orgtree.New(orgtree.WithCommitHook(mh.Hook))
	rc := &receiver{mode: "ok", secret: "s3cret"}
	hs := httptest.NewServer(rc)
	defer hs.Close()
	pos := &memPositions{}
	cfg := WebhookConfig{URL: hs.URL, Secret: rc.secret, History: mh, Positions: pos,
		MinBackoff: 2 * time.Millisecond, MaxBackoff: 10 * time.Millisecond, MaxBatch: 3}
	wh, err := NewWebhook(tree, cfg)
	require.NoError(t, err)
	require.Equal(t, uint64(0), pos.get(hs.URL), "a new receiver's position is stored at once")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- wh.Run(ctx) }()

	a, err := tree.CreateOrg(orgtree.OrgInput{Name: "A"})
	require.NoError(t, err)
	b, err := tree.CreateOrg(orgtree.OrgInput{Name: "B"})
	require.NoError(t, err)
	twoOrgs(t, tree, a, b, 6, "first")
	waitFor(t, func() bool { return wh.Delivered() == tree.Snapshot().Seq() })
	require.Equal(t, tree.Snapshot().Seq(), pos.get(hs.URL), "acknowledged: stored")

	// The receiver fails; the server stops with events undelivered.
	rc.set("fail")
	failing := rc.attempts.Load()
	twoOrgs(t, tree, a, b, 10, "second")
	waitFor(t, func() bool { return rc.attempts.Load() >= failing+3 })
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	stoppedAt := pos.get(hs.URL)
	require.Less(t, stoppedAt, tree.Snapshot().Seq())
	retries := 0
	for _, d := range wh.Deliveries() {
		if d.Attempt > 1 && d.Status == http.StatusServiceUnavailable {
			retries++
		}
	}
	assert.Positive(t, retries, "the delivery log shows the retries")

	// Writes go on while no webhook runs; then the server starts again and
	// the receiver recovers.
	twoOrgs(t, tree, a, b, 5, "third")
	rc.mu.Lock()
	before := len(rc.got)
	rc.mu.Unlock()
	rc.set("ok")
	wh2, err := NewWebhook(tree, cfg)
	require.NoError(t, err)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- wh2.Run(ctx) }()
	waitFor(t, func() bool { return wh2.Delivered() == tree.Snapshot().Seq() })
	cancel()
	<-done

	rc.mu.Lock()
	defer rc.mu.Unlock()
	assert.Zero(t, rc.badSig.Load())
	assert.Equal(t, expectedIDs(t, mh, 0), firstSeen(rc.got), "every event at least once, in order, none skipped")
	require.Greater(t, len(rc.got), before)
	assert.Equal(t, stoppedAt+1, rc.got[before].Seq, "resumed after the stored position, not from the start")
	assert.Equal(t, tree.Snapshot().Seq(), pos.get(hs.URL))
}

// TestWebhookPositionUnusable: a stored position newer than the tree (a
// store put back from an older backup) starts at the newest version with a
// stream.reset event; a position that cannot be stored is logged and
// delivery goes on.
func TestWebhookPositionUnusable(t *testing.T) {
	mh := NewMemoryHistory(100)
	tree := orgtree.New(orgtree.WithCommitHook(mh.Hook))
	org, err := tree.CreateOrg(orgtree.OrgInput{Name: "A"})
	require.NoError(t, err)
	rc := &receiver{mode: "ok", secret: "k"}
	hs := httptest.NewServer(rc)
	defer hs.Close()
	pos := &memPositions{seqs: map[string]uint64{hs.URL: 99}}
	wh, err := NewWebhook(tree, WebhookConfig{URL: hs.URL, Secret: rc.secret, History: mh, Positions: pos,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, uint64(99), pos.get(hs.URL), "not moved before the reset is delivered")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- wh.Run(ctx) }()
	waitFor(t, func() bool { return pos.get(hs.URL) == tree.Snapshot().Seq() })

	pos.mu.Lock()
	pos.fail = errors.New("disk full")
	pos.mu.Unlock()
	_, err = tree.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "dev"})
	require.NoError(t, err)
	waitFor(t, func() bool { return wh.Delivered() == tree.Snapshot().Seq() })
	cancel()
	<-done

	rc.mu.Lock()
	defer rc.mu.Unlock()
	require.Len(t, rc.got, 2)
	assert.Equal(t, resetType, rc.got[0].Type)
	assert.Equal(t, "department.created", rc.got[1].Type)
	var logged bool
	for _, d := range wh.Deliveries() {
		logged = logged || d.Error == "storing the delivery position: disk full"
	}
	assert.True(t, logged, "the failed store is in the delivery log")
	assert.Equal(t, tree.Snapshot().Seq()-1, pos.get(hs.URL), "the stored position lags: events again after a restart, none lost")
}

// countingHistory counts the commits a webhook reads.
type countingHistory struct {
	History
	calls, commits atomic.Int64
}

func (h *countingHistory) Since(seq uint64, limit int) ([]Commit, error) {
	cs, err := h.History.Since(seq, limit)
	h.calls.Add(1)
	h.commits.Add(int64(len(cs)))
	return cs, err
}

// TestWebhookDeadReceiverBlocksNothing: a receiver that never answers
// holds the webhook on one page of the history: writes go on at full
// speed, the webhook reads nothing more (nothing queues in memory), and
// its position stays where the receiver stopped.
func TestWebhookDeadReceiverBlocksNothing(t *testing.T) {
	mh := NewMemoryHistory(10000)
	tree := orgtree.New(orgtree.WithCommitHook(mh.Hook))
	hang := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer hs.Close()
	defer close(hang)
	ch := &countingHistory{History: mh}
	pos := &memPositions{}
	wh, err := NewWebhook(tree, WebhookConfig{URL: hs.URL, Secret: "k", History: ch, Positions: pos, Timeout: time.Minute})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- wh.Run(ctx) }()
	defer func() { cancel(); <-done }()

	org, err := tree.CreateOrg(orgtree.OrgInput{Name: "A"})
	require.NoError(t, err)
	waitFor(t, func() bool { return ch.commits.Load() > 0 }) // the webhook is in its first POST
	calls := ch.calls.Load()
	start := time.Now()
	const writes = 3000
	for i := range writes {
		_, err := tree.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: fmt.Sprintf("n%d", i)})
		require.NoError(t, err)
	}
	took := time.Since(start)
	t.Logf("%d writes beside a dead receiver in %s", writes, took)
	assert.Less(t, took, 10*time.Second)
	assert.Equal(t, calls, ch.calls.Load(), "no history read while the POST hangs: nothing is queued")
	assert.LessOrEqual(t, ch.commits.Load(), int64(historyPage))
	assert.Equal(t, uint64(0), pos.get(hs.URL))
	assert.Equal(t, uint64(0), wh.Delivered())
}

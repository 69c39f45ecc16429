package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

func TestEventStream(t *testing.T) {
	ts := startServer(t)
	ts.srv.cfg.RequestTimeout = 50 * time.Millisecond
	code, _ := ts.do(http.MethodGet, "/api/v2/events", "", nil)
	assert.Equal(t, http.StatusUnauthorized, code, "the stream is authenticated like the API")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.http.URL+"/api/v2/events", nil)
	require.NoError(t, err)
	req.Header.Set("x-authing-userpool-id", ts.pool)
	req.Header.Set("Authorization", "Bearer "+ts.token())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	r := bufio.NewReader(resp.Body)
	_, err = r.ReadString('\n') // the opening comment: the stream is live from here
	require.NoError(t, err)

	// The stream outlives the deadline of ordinary requests.
	time.Sleep(3 * ts.srv.cfg.RequestTimeout / 2)
	org, err := ts.tree.CreateOrg(orgtree.OrgInput{Name: "Acme"})
	require.NoError(t, err)
	_, err = ts.tree.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "dev"})
	require.NoError(t, err)

	var types []string
	for len(types) < 3 {
		line, err := r.ReadString('\n')
		require.NoError(t, err)
		if typ, ok := strings.CutPrefix(strings.TrimSpace(line), "event: "); ok {
			types = append(types, typ)
		}
		if data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: "); ok {
			var e Event
			require.NoError(t, json.Unmarshal([]byte(data), &e))
			assert.NotZero(t, e.Seq)
		}
	}
	// Two commits: an org with its root, then a department. They may come
	// in one diff or two; either way in this order.
	assert.Equal(t, "org.created", types[0])
	assert.Contains(t, types, "department.created")
}

// receiver is a local webhook receiver that can fail, stall and recover.
type receiver struct {
	mu       sync.Mutex
	mode     string // "ok", "fail", "slow"
	got      []Event
	ids      []string
	attempts atomic.Int64
	badSig   atomic.Int64
	secret   string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	rc.attempts.Add(1)
	body, _ := io.ReadAll(req.Body)
	if req.Header.Get("X-Orgtree-Signature") != Sign(rc.secret, body) {
		rc.badSig.Add(1)
		w.WriteHeader(http.StatusForbidden)
		return
	}
	rc.mu.Lock()
	mode := rc.mode
	rc.mu.Unlock()
	switch mode {
	case "fail":
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case "slow":
		time.Sleep(300 * time.Millisecond) // beyond the client timeout
		if req.Context().Err() != nil {
			return // the sender gave up: this attempt was never acknowledged
		}
	}
	var batch []Event
	if json.Unmarshal(body, &batch) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.got = append(rc.got, batch...)
	rc.ids = append(rc.ids, req.Header.Get("X-Orgtree-Delivery"))
	rc.mu.Unlock()
}

func (rc *receiver) set(mode string) { rc.mu.Lock(); rc.mode = mode; rc.mu.Unlock() }

func TestWebhookFailsDelaysRecovers(t *testing.T) {
	tree := orgtree.New()
	rc := &receiver{mode: "ok", secret: "s3cret"}
	hs := httptest.NewServer(rc)
	defer hs.Close()
	wh, err := NewWebhook(tree, WebhookConfig{URL: hs.URL, Secret: rc.secret, MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, Timeout: 100 * time.Millisecond, LogSize: 50, MaxBatch: 7})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- wh.Run(ctx) }()
	time.Sleep(20 * time.Millisecond) // Run takes its first version

	org, err := tree.CreateOrg(orgtree.OrgInput{Name: "Acme"})
	require.NoError(t, err)
	waitFor(t, func() bool { return wh.Delivered() == tree.Snapshot().Seq() })

	// A failing, then stalled receiver: writes go on, nothing piles up.
	rc.set("fail")
	var names []string
	for i := range 40 {
		n, err := tree.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "d" + string(rune('a'+i%26)) + string(rune('a'+i/26))})
		require.NoError(t, err)
		names = append(names, n.ID)
	}
	waitFor(t, func() bool { return rc.attempts.Load() > 4 })
	rc.set("slow")
	time.Sleep(400 * time.Millisecond)
	rc.set("ok")
	waitFor(t, func() bool { return wh.Delivered() == tree.Snapshot().Seq() })
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	rc.mu.Lock()
	defer rc.mu.Unlock()
	assert.Zero(t, rc.badSig.Load())
	created := map[string]bool{}
	for _, e := range rc.got {
		if e.Type == "department.created" {
			b, _ := json.Marshal(e.Data)
			var n orgtree.NodeRecord
			require.NoError(t, json.Unmarshal(b, &n))
			created[n.ID] = true
		}
	}
	for _, id := range names {
		assert.True(t, created[id], "department %s delivered", id)
	}
	for i := 1; i < len(rc.got); i++ {
		assert.LessOrEqual(t, rc.got[i-1].Seq, rc.got[i].Seq, "in version order")
	}
	log := wh.Deliveries()
	assert.LessOrEqual(t, len(log), 50, "the log is bounded")
	var failed, timedOut int
	for _, d := range log {
		if d.Status == http.StatusServiceUnavailable {
			failed++
		}
		if d.Status == 0 && d.Error != "" {
			timedOut++
		}
	}
	assert.Positive(t, failed, "failures logged")
	assert.Positive(t, timedOut, "timeouts logged")
	assert.Empty(t, log[len(log)-1].Error, "the last delivery succeeded")
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

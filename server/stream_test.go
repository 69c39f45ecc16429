package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

// startEventServer is startServer with a MemoryHistory of size commits
// (0: no History).
func startEventServer(t *testing.T, size int) *testServer {
	t.Helper()
	var opts []orgtree.Option
	cfg := Config{UserPoolID: NewObjectID(), Secret: "secret-" + NewObjectID(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PasswordKey: testPasswordKey()}
	if size > 0 {
		mh := NewMemoryHistory(size)
		opts = append(opts, orgtree.WithCommitHook(mh.Hook))
		cfg.History = mh
	}
	tree := orgtree.New(append(opts, orgtree.WithIDGenerator(NewObjectID))...)
	s, err := New(tree, cfg)
	require.NoError(t, err)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return &testServer{t: t, tree: tree, srv: s, http: hs, pool: cfg.UserPoolID, secret: cfg.Secret}
}

type sseEvent struct {
	id, typ string
	ev      Event
}

// stream connects to the event stream (resuming after lastID when given)
// and returns its events as they come; the opening line has been read, so
// the stream is live.
func (ts *testServer) stream(t *testing.T, lastID string) (<-chan sseEvent, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ts.http.URL+eventsPath, nil)
	require.NoError(t, err)
	req.Header.Set("x-authing-userpool-id", ts.pool)
	req.Header.Set("Authorization", "Bearer "+ts.token())
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	r := bufio.NewReader(resp.Body)
	_, err = r.ReadString('\n')
	require.NoError(t, err)
	out := make(chan sseEvent, 1000)
	go func() {
		defer close(out)
		defer resp.Body.Close()
		var cur sseEvent
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case line == "":
				if cur.typ != "" {
					out <- cur
				}
				cur = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				cur.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				cur.typ = line[7:]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[6:]), &cur.ev)
			}
		}
	}()
	return out, func() {
		cancel()
		for range out { // drain until the reader stops
		}
	}
}

func take(t *testing.T, c <-chan sseEvent, n int) []sseEvent {
	t.Helper()
	var got []sseEvent
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case e, ok := <-c:
			require.True(t, ok, "stream ended after %d events", len(got))
			got = append(got, e)
		case <-timeout:
			t.Fatalf("got %d of %d events: %+v", len(got), n, got)
		}
	}
	return got
}

func ids(es []sseEvent) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.id)
	}
	return out
}

// addThree commits three departments in one transaction: three events.
func addThree(t *testing.T, tree *orgtree.Tree, parent, actor string) {
	t.Helper()
	require.NoError(t, tree.UpdateAs(actor, "three at once", func(tx *orgtree.Tx) error {
		for _, name := range []string{"a", "b", "c"} {
			if _, err := tx.AddNode(orgtree.NodeInput{ParentID: parent, Name: name}); err != nil {
				return err
			}
		}
		return nil
	}))
}

func TestEventStreamResumes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		history int
	}{{"history", 100}, {"no history", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startEventServer(t, tc.history)
			org, err := ts.tree.CreateOrg(orgtree.OrgInput{Name: "Acme"})
			require.NoError(t, err)
			events, stop := ts.stream(t, "")
			addThree(t, ts.tree, org.RootID, "alice")
			first := take(t, events, 1) // the first of three
			stop()
			seq := ts.tree.Snapshot().Seq()
			assert.Equal(t, []string{itoa(seq) + "-0"}, ids(first))
			assert.Equal(t, "department.created", first[0].typ)
			if tc.history > 0 {
				assert.Equal(t, "alice", first[0].ev.Actor)
				assert.Equal(t, "three at once", first[0].ev.Reason)
			}

			// Written while the client was away.
			addThree(t, ts.tree, org.RootID, "bob")
			events, stop = ts.stream(t, first[0].id)
			defer stop()
			rest := take(t, events, 5)
			want := []string{itoa(seq) + "-1", itoa(seq) + "-2"}
			if tc.history > 0 {
				want = append(want, itoa(seq+1)+"-0", itoa(seq+1)+"-1", itoa(seq+1)+"-2")
				assert.Equal(t, "bob", rest[4].ev.Actor)
			} else {
				want = append(want, itoa(seq+1)+"-0", itoa(seq+1)+"-1", itoa(seq+1)+"-2")
			}
			assert.Equal(t, want, ids(rest), "the rest of the interrupted commit, then the one missed")
			for _, e := range rest {
				assert.Equal(t, "department.created", e.typ)
			}
			// And live from there.
			_, err = ts.tree.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "d"})
			require.NoError(t, err)
			live := take(t, events, 1)
			assert.Equal(t, itoa(seq+2)+"-0", live[0].id)
		})
	}
}

func TestEventStreamResetWhenTooOld(t *testing.T) {
	for _, tc := range []struct {
		name    string
		history int
	}{{"history", 2}, {"no history", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startEventServer(t, tc.history)
			org, err := ts.tree.CreateOrg(orgtree.OrgInput{Name: "Acme"})
			require.NoError(t, err)
			for range 4 {
				addThree(t, ts.tree, org.RootID, "alice")
			}
			seq := ts.tree.Snapshot().Seq()
			for _, last := range []string{"1-0", "garbage", "99999-0"} {
				events, stop := ts.stream(t, last)
				got := take(t, events, 1)
				assert.Equal(t, resetType, got[0].typ, last)
				assert.Equal(t, itoa(seq), got[0].id, "resume from the reset's id: everything up to now")
				data, _ := json.Marshal(got[0].ev.Data)
				assert.Contains(t, string(data), `"lastEventId":"`+last+`"`)
				_, err := ts.tree.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "x"})
				require.NoError(t, err)
				seq = ts.tree.Snapshot().Seq()
				live := take(t, events, 1)
				assert.Equal(t, "department.created", live[0].typ, "live after the reset")
				stop()
			}
		})
	}
}

func TestMemoryHistory(t *testing.T) {
	mh := NewMemoryHistory(3)
	tree := orgtree.New(orgtree.WithCommitHook(mh.Hook))
	for range 5 {
		_, err := tree.CreateOrg(orgtree.OrgInput{Name: "o"})
		require.NoError(t, err)
	}
	_, err := mh.Since(1, 0)
	assert.ErrorIs(t, err, ErrHistoryGone)
	got, err := mh.Since(2, 0)
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, uint64(3), got[0].Seq)
	got, err = mh.Since(2, 1)
	require.NoError(t, err)
	assert.Len(t, got, 1)
	got, err = mh.Since(5, 0)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func itoa(v uint64) string { b, _ := json.Marshal(v); return string(b) }

func TestWebhookWithHistoryCarriesActor(t *testing.T) {
	mh := NewMemoryHistory(100)
	tree := orgtree.New(orgtree.WithCommitHook(mh.Hook))
	rc := &receiver{mode: "fail", secret: "s3cret"}
	hs := httptest.NewServer(rc)
	defer hs.Close()
	wh, err := NewWebhook(tree, WebhookConfig{URL: hs.URL, Secret: rc.secret, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, History: mh})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- wh.Run(ctx) }()
	time.Sleep(20 * time.Millisecond) // Run takes its first version

	org, err := tree.CreateOrg(orgtree.OrgInput{Name: "Acme"})
	require.NoError(t, err)
	for _, who := range []string{"alice", "bob"} {
		addThree(t, tree, org.RootID, who)
	}
	waitFor(t, func() bool { return rc.attempts.Load() > 2 })
	rc.set("ok")
	waitFor(t, func() bool { return wh.Delivered() == tree.Snapshot().Seq() })
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	rc.mu.Lock()
	defer rc.mu.Unlock()
	var actors []string
	for _, e := range rc.got {
		if e.Type == "department.created" && e.Data != nil {
			b, _ := json.Marshal(e.Data)
			if !strings.Contains(string(b), `"parentId"`) {
				continue // a root
			}
			actors = append(actors, e.Actor)
		}
	}
	assert.Equal(t, []string{"alice", "alice", "alice", "bob", "bob", "bob"}, actors, "every event with its commit's actor, in order")
}

// API writes carry the request's actor and reason (or "api") into the
// events.
func TestAPIWritesCarryActor(t *testing.T) {
	ts := startEventServer(t, 100)
	events, stop := ts.stream(t, "")
	defer stop()
	gql := func(actor, reason, query string) {
		req, err := http.NewRequest(http.MethodPost, ts.http.URL+"/graphql/v2", strings.NewReader(`{"query":`+string(mustJSON(t, query))+`}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-authing-userpool-id", ts.pool)
		req.Header.Set("Authorization", "Bearer "+ts.token())
		if actor != "" {
			req.Header.Set("X-Orgtree-Actor", actor)
			req.Header.Set("X-Orgtree-Reason", reason)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NotContains(t, string(body), `"errors"`, string(body))
	}
	gql("", "", `mutation { createOrg(name: "Acme") { id } }`)
	got := take(t, events, 2) // the org and its root department
	assert.Equal(t, "org.created", got[0].typ)
	assert.Equal(t, "api", got[0].ev.Actor)
	assert.Equal(t, "api", got[1].ev.Actor)
	org := got[0].ev.OrgID
	gql("dana@acme", "new team", `mutation { addNode(orgId: "`+org+`", name: "dev") { id } }`)
	got = take(t, events, 1)
	assert.Equal(t, "department.created", got[0].typ)
	assert.Equal(t, "dana@acme", got[0].ev.Actor)
	assert.Equal(t, "new team", got[0].ev.Reason)
}

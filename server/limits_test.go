package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/orgtree/orgtree"
)

// busyAnswer is what a request answered: HTTP status, Retry-After, the
// envelope's (or first GraphQL error's) code and message.
type busyAnswer struct {
	status     int
	retryAfter string
	code       int
	msg        string
	took       time.Duration
}

// ask sends one request with the SDK's headers on its own client and
// decodes whichever envelope comes back.
func (ts *testServer) ask(method, path, token string, body []byte) busyAnswer {
	req, err := http.NewRequest(method, ts.http.URL+path, bytes.NewReader(body))
	if err != nil {
		return busyAnswer{msg: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-authing-userpool-id", ts.pool)
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return busyAnswer{msg: err.Error()}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := busyAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), took: time.Since(start)}
	var env struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Errors  []gqlErrorEntry
	}
	_ = json.Unmarshal(raw, &env)
	a.code, a.msg = env.Code, env.Message
	if len(env.Errors) > 0 {
		a.code, a.msg = env.Errors[0].Message.Code, env.Errors[0].Message.Message
	} else if strings.HasPrefix(path, "/graphql") {
		a.code = 200
	}
	return a
}

// TestBusy: with every slot of MaxInFlight taken, a request waits
// MaxQueueWait and is answered HTTP 503 with Retry-After (REST and GraphQL
// alike); a slot freed while it waits serves it; the requests holding the
// slots finish normally. The slots are held by real requests blocked on
// the tree's writer, so nothing here depends on how fast the machine (or
// the race detector) runs.
func TestBusy(t *testing.T) {
	const slots, wait = 3, 100 * time.Millisecond
	ts := hostileServer(t, Config{MaxInFlight: slots, MaxQueueWait: wait})
	token := ts.token()
	orgCount := func() busyAnswer { return ts.ask(http.MethodGet, "/api/v2/orgs/count", token, nil) }
	search := func() busyAnswer {
		return ts.ask(http.MethodPost, "/graphql/v2", token, []byte(`{"query":"{ searchNodes(keyword: \"Dept 1.1\") { id } }"}`))
	}

	// Hold the writer; each createOrg then holds a slot until it is let go.
	holding, release := make(chan struct{}), make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		writerDone <- ts.tree.Update(func(*orgtree.Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	var holders sync.WaitGroup
	held := make([]busyAnswer, slots)
	for i := range slots {
		holders.Add(1)
		go func() {
			defer holders.Done()
			body := fmt.Sprintf(`{"query":"mutation { createOrg(name: \"Held %d\") { id } }"}`, i)
			held[i] = ts.ask(http.MethodPost, "/graphql/v2", token, []byte(body))
		}()
	}
	require.Eventually(t, func() bool { return len(ts.srv.inFlight) == slots }, 5*time.Second*timeFactor, time.Millisecond)

	for name, try := range map[string]func() busyAnswer{"REST": orgCount, "GraphQL": search} {
		a := try()
		t.Logf("%s at the limit: %+v", name, a)
		assert.Equal(t, http.StatusServiceUnavailable, a.status, name)
		assert.Equal(t, "1", a.retryAfter, name)
		assert.Equal(t, 503, a.code, name)
		assert.Contains(t, a.msg, "server busy: 3 requests were running and none finished within 100ms: retry in 1 s", name)
		assert.GreaterOrEqual(t, a.took, wait, "%s: refused before MaxQueueWait", name)
		assert.Less(t, a.took, wait+2*time.Second*timeFactor, name)
	}
	// Many at once: each refused alike, none waits past MaxQueueWait by
	// much.
	var excess sync.WaitGroup
	answers := make([]busyAnswer, 20)
	for i := range answers {
		excess.Add(1)
		go func() { defer excess.Done(); answers[i] = orgCount() }()
	}
	excess.Wait()
	for _, a := range answers {
		assert.Equal(t, http.StatusServiceUnavailable, a.status)
		assert.Equal(t, "1", a.retryAfter)
	}

	// A slot freed while a request waits serves it.
	ts.srv.cfg.MaxQueueWait = 10 * time.Second * timeFactor // read by admit only (no request in flight reads it now)
	waiting := make(chan busyAnswer, 1)
	go func() { waiting <- orgCount() }()
	time.Sleep(20 * time.Millisecond)
	close(release)
	require.NoError(t, <-writerDone)
	a := <-waiting
	assert.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, 200, a.code, a.msg)
	assert.Empty(t, a.retryAfter)

	holders.Wait()
	for _, h := range held {
		assert.Equal(t, http.StatusOK, h.status)
		assert.Equal(t, 200, h.code, h.msg)
	}
	assert.Equal(t, 200, search().code)
	assert.Len(t, ts.srv.inFlight, 0)
}

// bigSearchTree is a tree whose every node matches "Dept": an unlimited
// search of it takes the engine long enough to be cancelled in the middle.
var bigSearchTree = sync.OnceValues(func() (*orgtree.Tree, error) {
	tree := orgtree.New(orgtree.WithLimits(orgtree.Limits{MaxChildren: -1}))
	err := tree.Update(func(tx *orgtree.Tx) error {
		org, err := tx.CreateOrg(orgtree.OrgInput{Name: "Dept root"})
		if err != nil {
			return err
		}
		ids := []string{org.RootID}
		for i := 1; i < 80_000; i++ {
			n, err := tx.AddNode(orgtree.NodeInput{ParentID: ids[(i-1)/16], Name: fmt.Sprintf("Dept %d", i)})
			if err != nil {
				return err
			}
			ids = append(ids, n.ID)
		}
		return nil
	})
	return tree, err
})

// TestCancelledSearchStops: a request whose client goes away in the middle
// of an unlimited search stops the engine's search, not only the writing
// of its answer: the handler returns long before the search alone would
// have ended, and leaves no goroutine behind.
func TestCancelledSearchStops(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tree, err := bigSearchTree()
	require.NoError(t, err)
	s, err := New(tree, Config{UserPoolID: "pool", Secret: "secret", PasswordKey: testPasswordKey(), MaxCost: 1 << 40,
		MaxAnswerBytes: 1 << 30, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	token, _, _, err := s.IssueToken("pool", "secret")
	require.NoError(t, err)
	h := s.Handler()

	// What the engine's search alone takes, uncancelled.
	engine := time.Duration(1 << 62)
	for range 3 {
		start := time.Now()
		_, err := tree.Search("Dept", orgtree.SearchOptions{})
		require.NoError(t, err)
		engine = min(engine, time.Since(start))
	}

	run := func(ctx context.Context) (*httptest.ResponseRecorder, time.Duration) {
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql/v2",
			strings.NewReader(`{"query":"{ searchNodes(keyword: \"Dept\") { id } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-authing-userpool-id", "pool")
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, req)
		return w, time.Since(start)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var w *httptest.ResponseRecorder
	var took time.Duration
	go func() {
		defer close(done)
		w, took = run(ctx)
	}()
	time.Sleep(engine / 10) // inside the engine's search: it has hardly begun
	cancelled := time.Now()
	cancel()
	<-done
	stop := time.Since(cancelled)
	t.Logf("the engine's search alone: %s; the request ran %s, and ended %s after its client left", engine, took, stop)
	assert.Contains(t, w.Body.String(), "the client closed the request")
	assert.Less(t, stop, engine/2, "the search ran on after the client left")
	assert.Len(t, s.inFlight, 0)
}

// TestAnswerCap: an answer over MaxAnswerBytes is refused with code 413
// saying how to ask for less — REST before the answer is built, GraphQL as
// soon as it grows past the cap — and answers under the cap are served.
func TestAnswerCap(t *testing.T) {
	const limit = 256 << 10
	ts := hostileServer(t, Config{MaxAnswerBytes: limit, MaxCost: 1 << 40})
	token := ts.token()
	snap := ts.tree.Snapshot()
	org := snap.Orgs()[0]
	small, err := ts.tree.CreateOrg(orgtree.OrgInput{Name: "Small", TenantID: "small"})
	require.NoError(t, err)
	dept0, err := ts.tree.NodeByCode(org.ID, "d0")
	require.NoError(t, err)
	cases := []struct {
		name, method, path, body string
		code                     int
		msg                      string
		maxHeap                  uint64
	}{
		{"export of every org", http.MethodGet, "/api/v2/orgs/export", "", 413, "export one org at a time", 8 << 20},
		{"export of the large org", http.MethodGet, "/api/v2/orgs/export?org_id=" + org.ID, "", 413, "walk the org a level at a time", 8 << 20},
		{"export of a small org", http.MethodGet, "/api/v2/orgs/export?org_id=" + small.ID, "", 200, "", 8 << 20},
		{"by-tenant, small", http.MethodGet, "/api/v2/orgs/by-tenant?tenant_id=small", "", 200, "", 8 << 20},
		{"children, whole tree", http.MethodGet, "/api/v2/orgs/children?nodeId=" + org.RootID + "&depth=100", "", 413, "ask for fewer levels", 8 << 20},
		// 100 children, each listing its 199 children's ids: counted
		// under the cap, refused as it is written.
		{"children of the root", http.MethodGet, "/api/v2/orgs/children?nodeId=" + org.RootID, "", 413, "ask for fewer levels", 8 << 20},
		{"children of a department", http.MethodGet, "/api/v2/orgs/children?nodeId=" + dept0.ID, "", 200, "", 8 << 20},
		{"GraphQL search of 20k hits", http.MethodPost, "/graphql/v2", `{"query":"{ searchNodes(keyword: \"Dept\") { ` + nodeFields + ` } }"}`, 413, "select fewer fields, fewer aliases, or page", 16 << 20},
		{"GraphQL search of one hit", http.MethodPost, "/graphql/v2", `{"query":"{ searchNodes(keyword: \"Dept 7.7\") { id } }"}`, 200, "", 8 << 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var a busyAnswer
			d, heap := measure(func() { a = ts.ask(c.method, c.path, token, []byte(c.body)) })
			row(t, c.name+fmt.Sprintf(", cap %d KiB", limit>>10), fmt.Sprintf("%d, code %d: %.60s", a.status, a.code, a.msg), d, heap)
			assert.Equal(t, http.StatusOK, a.status)
			assert.Equal(t, c.code, a.code, a.msg)
			assert.Contains(t, a.msg, c.msg)
			if c.code == 413 {
				assert.Contains(t, a.msg, "larger than the server's limit of 262144 bytes")
			}
			assert.LessOrEqual(t, heap, c.maxHeap)
			assert.Less(t, d, 2*time.Second*timeFactor)
		})
	}
	// GraphQL's extension code names the kind.
	errs := ts.gqlErrors(`{ searchNodes(keyword: "Dept") { `+nodeFields+` } }`, nil)
	assert.Equal(t, "RESPONSE_TOO_LARGE", errs[0].Extensions.Code)
}

// TestStoreUnavailable: a write whose store cannot be reached (a replica
// cut off from etcd: Config.Update fails with orgtree.ErrUnavailable) is
// answered HTTP 503 with Retry-After and code 503 in the usual envelope,
// REST and GraphQL alike; reads still answer; a GraphQL document one of
// whose mutations did write stays HTTP 200 with its errors, since
// retrying it whole would write that mutation twice.
func TestStoreUnavailable(t *testing.T) {
	var ts *testServer
	var mu sync.Mutex
	okWrites := -1 // writes let through before the store goes away; -1: all
	ts = hostileServer(t, Config{Update: func(fn func(*orgtree.Tx) error) error {
		mu.Lock()
		down := okWrites == 0
		if okWrites > 0 {
			okWrites--
		}
		mu.Unlock()
		if down {
			return fmt.Errorf("replica: etcd %w: context deadline exceeded", orgtree.ErrUnavailable)
		}
		return ts.tree.Update(fn)
	}})
	setOK := func(n int) { mu.Lock(); okWrites = n; mu.Unlock() }
	token := ts.token()
	gql := func(q string) busyAnswer {
		body, err := json.Marshal(map[string]any{"query": q})
		require.NoError(t, err)
		return ts.ask(http.MethodPost, "/graphql/v2", token, body)
	}
	doc, err := json.Marshal(map[string]any{"id": "imported", "name": "Imported", "children": []any{}})
	require.NoError(t, err)
	importBody, err := json.Marshal(map[string]any{"filetype": "json", "file": string(doc)})
	require.NoError(t, err)

	setOK(0)
	for name, a := range map[string]busyAnswer{
		"GraphQL": gql(`mutation { createOrg(name: "Down") { id } }`),
		"REST":    ts.ask(http.MethodPost, "/api/v2/orgs/import", token, importBody),
	} {
		t.Logf("%s while the store is down: %+v", name, a)
		assert.Equal(t, http.StatusServiceUnavailable, a.status, name)
		assert.Equal(t, "5", a.retryAfter, name)
		assert.Equal(t, 503, a.code, name)
		assert.Contains(t, a.msg, "service unavailable: the tree's store cannot be reached, the write was not made: retry in 5 s", name)
		assert.Contains(t, a.msg, "context deadline exceeded", name)
	}
	a := ts.ask(http.MethodGet, "/api/v2/orgs/count", token, nil)
	assert.Equal(t, http.StatusOK, a.status, "reads answer while the store is down")
	assert.Equal(t, 200, a.code)

	// One mutation written, the next refused: not safe to retry whole.
	setOK(1)
	a = gql(`mutation { a: createOrg(name: "First") { id } b: createOrg(name: "Second") { id } }`)
	assert.Equal(t, http.StatusOK, a.status, "%+v", a)
	assert.Empty(t, a.retryAfter)
	assert.Equal(t, 503, a.code)

	setOK(-1)
	a = gql(`mutation { createOrg(name: "Back") { id } }`)
	assert.Equal(t, http.StatusOK, a.status, "%+v", a)
	ts.check()
}

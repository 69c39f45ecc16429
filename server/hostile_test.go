package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

// Hostile clients (issue 14, item 10 and the hostile-client list): every
// case is answered — refused, cut off or served — within a time bound and
// with the server's heap bounded. Each case logs a row of the table
// "input → answer → time → peak heap" (go test -run TestHostile -v).

// hostileNodes is the size of the tree the hostile cases run on: every
// node's name contains "Dept", so a search for it hits them all.
const hostileNodes = 20_000

// hostileTree builds, once, a tree of hostileNodes nodes (100 departments
// of 200) and 2,000 users in one department.
var hostileTree = sync.OnceValues(func() (*orgtree.Tree, error) {
	tree := orgtree.New(orgtree.WithIDGenerator(NewObjectID))
	org, err := tree.CreateOrg(orgtree.OrgInput{Name: "Dept root", Code: "root"})
	if err != nil {
		return nil, err
	}
	err = tree.Update(func(tx *orgtree.Tx) error {
		per := hostileNodes / 100
		for i := 0; i < 100; i++ {
			d, err := tx.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: fmt.Sprintf("Dept %d", i), Code: fmt.Sprintf("d%d", i)})
			if err != nil {
				return err
			}
			for j := 1; j < per; j++ {
				if _, err := tx.AddNode(orgtree.NodeInput{ParentID: d.ID, Name: fmt.Sprintf("Dept %d.%d", i, j)}); err != nil {
					return err
				}
			}
			if i == 0 {
				for u := 0; u < 2000; u++ {
					user, err := tx.CreateUser(orgtree.User{Name: fmt.Sprintf("user %d", u)})
					if err != nil {
						return err
					}
					if err := tx.AddMembers(d.ID, user.ID); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	return tree, err
})

// hostileServer serves the hostile tree (a fork: cases may write) with cfg.
func hostileServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	base, err := hostileTree()
	require.NoError(t, err)
	tree := base.Snapshot().Fork(orgtree.WithIDGenerator(NewObjectID))
	cfg.UserPoolID, cfg.Secret = NewObjectID(), "secret-"+NewObjectID()
	cfg.PasswordKey = testPasswordKey()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := New(tree, cfg)
	require.NoError(t, err)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return &testServer{t: t, tree: tree, srv: s, http: hs, pool: cfg.UserPoolID, secret: cfg.Secret}
}

// heapBytes is the heap's live and not yet swept objects.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// measure runs fn and returns how long it took and how far the heap grew
// above where it was, sampled every millisecond.
func measure(fn func()) (time.Duration, uint64) {
	runtime.GC()
	base := heapBytes()
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if h := heapBytes(); h > peak.Load() {
				peak.Store(h)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	fn()
	elapsed := time.Since(start)
	close(done)
	wg.Wait()
	if h := heapBytes(); h > peak.Load() {
		peak.Store(h)
	}
	return elapsed, max(peak.Load(), base) - base
}

// row logs one line of the hostile-input table.
func row(t *testing.T, input, answer string, d time.Duration, heap uint64) {
	t.Helper()
	t.Logf("| %s | %s | %s | %.1f MiB |", input, answer, d.Round(time.Millisecond), float64(heap)/(1<<20))
}

// nodeFields is what the SDKs select of a Node.
const nodeFields = `id orgId name nameI18n description descriptionI18n order code root depth path codePath namePath createdAt updatedAt children`

// aliases is a query of n aliased copies of field.
func aliases(n int, field string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, " a%d: %s", i, field)
	}
	b.WriteString(" }")
	return b.String()
}

// answer summarises a GraphQL answer: its size and first error.
func answer(status int, body []byte) string {
	var r struct {
		Errors []gqlErrorEntry `json:"errors"`
	}
	_ = json.Unmarshal(body, &r)
	if len(r.Errors) == 0 {
		return fmt.Sprintf("%d, %d bytes, no error", status, len(body))
	}
	msg := r.Errors[0].Message.Message
	if i := strings.Index(msg, ":"); i > 0 {
		msg = msg[:i]
	}
	return fmt.Sprintf("%d, %d bytes, code %d %s: %s", status, len(body), r.Errors[0].Message.Code, r.Errors[0].Extensions.Code, msg)
}

func TestHostileQueries(t *testing.T) {
	ts := hostileServer(t, Config{})
	token := ts.token()
	search := `searchNodes(keyword: "Dept") { ` + nodeFields + ` }`
	deepFragments := func(n int, twice bool) string {
		var b strings.Builder
		b.WriteString(`query { rootNode(orgId: "x") { ...F0 } } `)
		for i := 0; i < n; i++ {
			next := fmt.Sprintf("...F%d", i+1)
			if i == n-1 {
				next = "id"
			}
			if twice {
				// Two spreads under two aliases: 2^n fields once expanded.
				fmt.Fprintf(&b, "fragment F%d on Node { id x%d: users { list { departments { list { department { %s } } } } } y%d: users { list { departments { list { department { %s } } } } } } ", i, i, next, i, next)
			} else {
				fmt.Fprintf(&b, "fragment F%d on Node { users { list { departments { list { department { %s } } } } } } ", i, next)
			}
		}
		return b.String()
	}
	cases := []struct {
		name, query string
		vars        map[string]any
		// code is the service's code of the first error, 0 for none.
		code    int
		msg     string
		maxTime time.Duration
		maxHeap uint64
	}{
		{"issue 14: 10 aliased searchNodes(Dept)", aliases(10, search), nil, 400, "more than the limit of 1000000", time.Second, 256 << 20},
		{"50 aliased searchNodes(Dept)", aliases(50, search), nil, 400, "more than the limit of 1000000", time.Second, 256 << 20},
		{"1000 aliased searchNodes(Dept)", aliases(1000, search), nil, 400, "more than the limit of", time.Second, 64 << 20},
		{"one searchNodes(Dept), 20k hits", `{ ` + search + ` }`, nil, 0, "", 2 * time.Second, 256 << 20},
		{"30 fragments spreading the next twice (2^30 fields)", deepFragments(30, true), nil, 400, "nests", time.Second, 64 << 20},
		{"100 fragments each a level deeper", deepFragments(100, false), nil, 400, "nests", time.Second, 64 << 20},
		{"users(limit: 2^31-1)", `query q($o: String!) { rootNode(orgId: $o) { users(limit: 2147483647) { totalCount list { id } } } }`, nil, 400, "limit", time.Second, 64 << 20},
		{"orgs(limit: 2^31-1)", `{ orgs(limit: 2147483647) { totalCount list { id } } }`, nil, 0, "", time.Second, 64 << 20},
		{"2000 aliased isRootNode", aliases(2000, `isRootNode(orgId: "x", nodeId: "y")`), nil, 404, "not found", 2 * time.Second, 128 << 20},
		{"query over 128 KiB", "{" + strings.Repeat(" __typename", 14000) + " }", nil, 400, "more than the limit of 131072", time.Second, 64 << 20},
		{"20 MB keyword variable", `query q($k: String!) { searchNodes(keyword: $k) { id } }`, map[string]any{"k": strings.Repeat("D", 20<<20)}, 400, "keyword", 5 * time.Second, 256 << 20}, // decoding the 20 MB body is most of it
	}
	org := ts.tree.Snapshot().Orgs()[0]
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vars := c.vars
			if strings.Contains(c.query, "$o") {
				vars = map[string]any{"o": org.ID}
			}
			body, err := json.Marshal(map[string]any{"query": c.query, "variables": vars})
			require.NoError(t, err)
			var status int
			var out []byte
			d, heap := measure(func() { status, out = ts.do(http.MethodPost, "/graphql/v2", token, body) })
			row(t, c.name, answer(status, out), d, heap)
			assert.LessOrEqual(t, d, c.maxTime*timeFactor)
			assert.LessOrEqual(t, heap, c.maxHeap)
			assert.LessOrEqual(t, len(out), ts.srv.cfg.MaxAnswerBytes+4096, "never an answer over the cap")
			var r gqlResponse
			require.NoError(t, json.Unmarshal(out, &r), "%.300s", out)
			if c.code == 0 {
				require.Empty(t, r.Errors, "%.300s", out)
				return
			}
			require.NotEmpty(t, r.Errors, "%.300s", out)
			assert.Equal(t, c.code, r.Errors[0].Message.Code, r.Errors[0].Message.Message)
			assert.Contains(t, r.Errors[0].Message.Message, c.msg)
		})
	}
}

// TestHostileREST: huge limit and depth arguments, a deep children
// listing, an export, all bounded.
func TestHostileREST(t *testing.T) {
	ts := hostileServer(t, Config{})
	token := ts.token()
	root := ts.tree.Snapshot().Orgs()[0].RootID
	cases := []struct {
		name, path string
		code       int
	}{
		{"pagination limit=10^12", "/api/v2/orgs/pagination?limit=1000000000000", 200},
		{"orgs limit=2^31", "/api/v2/orgs?limit=2147483648", 200},
		{"children depth=10^18", "/api/v2/orgs/children?nodeId=" + root + "&depth=1000000000000000000", 200},
		{"children depth=10^30", "/api/v2/orgs/children?nodeId=" + root + "&depth=1000000000000000000000000000000", 400},
		{"export of 20k nodes", "/api/v2/orgs/export", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var status int
			var out []byte
			d, heap := measure(func() { status, out = ts.do(http.MethodGet, c.path, token, nil) })
			r := decodeREST(t, out)
			row(t, c.name, fmt.Sprintf("%d, %d bytes, code %v", status, len(out), r.Code), d, heap)
			assert.Equal(t, fmt.Sprint(c.code), mustJSON(t, r.Code), r.Message)
			assert.LessOrEqual(t, d, 2*time.Second*timeFactor)
			assert.LessOrEqual(t, heap, uint64(256<<20))
		})
	}
}

// TestRequestsStop: a request past its deadline answers 503 at once, and
// one whose client leaves stops working.
func TestRequestsStop(t *testing.T) {
	query := aliases(50, `searchNodes(keyword: "Dept") { `+nodeFields+` }`)
	body, err := json.Marshal(map[string]any{"query": query})
	require.NoError(t, err)

	t.Run("deadline", func(t *testing.T) {
		ts := hostileServer(t, Config{RequestTimeout: 50 * time.Millisecond, MaxAnswerBytes: 1 << 30, MaxCost: 1 << 40})
		token := ts.token()
		var status int
		var out []byte
		d, heap := measure(func() { status, out = ts.do(http.MethodPost, "/graphql/v2", token, body) })
		row(t, "50 aliased searchNodes, 50 ms deadline", answer(status, out), d, heap)
		var r gqlResponse
		require.NoError(t, json.Unmarshal(out, &r))
		require.NotEmpty(t, r.Errors)
		assert.Equal(t, 503, r.Errors[0].Message.Code)
		assert.Contains(t, r.Errors[0].Message.Message, "ran longer than the server's limit of 50ms")
		assert.Less(t, d, time.Second*timeFactor)
	})

	t.Run("client gone", func(t *testing.T) {
		ts := hostileServer(t, Config{MaxAnswerBytes: 1 << 30, MaxCost: 1 << 40})
		token := ts.token()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.http.URL+"/graphql/v2", strings.NewReader(string(body)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-authing-userpool-id", ts.pool)
		req.Header.Set("Authorization", "Bearer "+token)
		start := time.Now()
		_, err = http.DefaultClient.Do(req)
		require.Error(t, err)
		// The server notices and gives its slot back.
		require.Eventually(t, func() bool { return len(ts.srv.inFlight) == 0 }, 2*time.Second*timeFactor, time.Millisecond)
		row(t, "50 aliased searchNodes, client leaves after 100 ms", "client error; server stopped", time.Since(start), 0)
	})
}

// TestManyConnections: many clients at once, each with a heavy query:
// every one is answered — served (cut off at the answer cap: 413), or told
// the server is busy (HTTP 503 with Retry-After, after MaxQueueWait) — and
// the heap stays bounded by MaxInFlight answers. The first MaxInFlight are
// served whatever the machine's speed: their deadline is stretched under
// the race detector, which runs them ten times slower. (With a deadline
// that a heavy query under -race outlives, every answer was a 503 — the
// admitted ones stopped at their deadline, the others waited for it — and
// the test showed nothing; TestBusy pins the limiter down exactly.)
func TestManyConnections(t *testing.T) {
	const slots = 4
	ts := hostileServer(t, Config{MaxInFlight: slots, MaxAnswerBytes: 1 << 20, RequestTimeout: 5 * time.Second * timeFactor, MaxCost: 1 << 40})
	token := ts.token()
	body, err := json.Marshal(map[string]any{"query": aliases(3, `searchNodes(keyword: "Dept") { `+nodeFields+` }`)})
	require.NoError(t, err)
	const clients = 200
	answers := make([]busyAnswer, clients)
	d, heap := measure(func() {
		var wg sync.WaitGroup
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i] = ts.ask(http.MethodPost, "/graphql/v2", token, body)
			}()
		}
		wg.Wait()
	})
	count := map[string]int{}
	served := 0
	for _, a := range answers {
		switch {
		case a.status == http.StatusServiceUnavailable:
			assert.Equal(t, 503, a.code, a.msg)
			assert.Equal(t, "1", a.retryAfter)
			assert.Contains(t, a.msg, "server busy")
			count["503 busy"]++
		case a.status == http.StatusOK && (a.code == 200 || a.code == 413):
			served++
			count[fmt.Sprint(a.code)]++
		default:
			t.Errorf("unexpected answer %+v", a)
		}
	}
	row(t, fmt.Sprintf("%d clients at once, 3 aliased searches each, MaxInFlight %d", clients, slots), fmt.Sprintf("answers %v", count), d, heap)
	assert.GreaterOrEqual(t, served, slots, "the requests admitted first are served")
	assert.LessOrEqual(t, heap, uint64(512<<20))
}

// TestSlowClients: slowloris headers and bodies are cut off by the HTTP
// server's timeouts; a normal client is served meanwhile.
func TestSlowClients(t *testing.T) {
	base, err := hostileTree()
	require.NoError(t, err)
	s, err := New(base.Snapshot().Fork(), Config{UserPoolID: "pool", Secret: "secret", PasswordKey: testPasswordKey(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := NewHTTPServer(s.Handler(), Timeouts{ReadHeader: 200 * time.Millisecond, Read: 500 * time.Millisecond, Write: time.Second, Idle: time.Second})
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	addr := ln.Addr().String()

	// closedWithin reports how long the server took to close a connection
	// fed by feed (which writes until it fails).
	closedWithin := func(feed func(c net.Conn)) time.Duration {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		start := time.Now()
		feed(c)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.Copy(io.Discard, c) // until the server closes
		return time.Since(start)
	}
	trickle := func(c net.Conn, head string, rest string) {
		if _, err := io.WriteString(c, head); err != nil {
			return
		}
		for i := 0; i < len(rest); i++ {
			if _, err := c.Write([]byte{rest[i]}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var slow sync.WaitGroup
	var headersCut, bodyCut time.Duration
	var heap uint64
	d, heap := measure(func() {
		slow.Add(2)
		go func() {
			defer slow.Done()
			headersCut = closedWithin(func(c net.Conn) {
				trickle(c, "POST /graphql/v2 HTTP/1.1\r\n", strings.Repeat("X-Slow: 1\r\n", 100))
			})
		}()
		go func() {
			defer slow.Done()
			bodyCut = closedWithin(func(c net.Conn) {
				trickle(c, "POST /graphql/v2 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", strings.Repeat(" ", 1000))
			})
		}()
		// Meanwhile a normal request is served.
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_, err = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		slow.Wait()
	})
	row(t, "slowloris headers (1 line / 50 ms), ReadHeader 200 ms", fmt.Sprintf("closed after %s", headersCut.Round(time.Millisecond)), d, heap)
	row(t, "slowloris body (1 byte / 50 ms), Read 500 ms", fmt.Sprintf("closed after %s", bodyCut.Round(time.Millisecond)), d, heap)
	assert.Less(t, headersCut, 2*time.Second*timeFactor)
	assert.Less(t, bodyCut, 2*time.Second*timeFactor)
}

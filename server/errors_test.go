package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

// Issue 14 item 12 and 13 (server side): every error says what was wrong,
// where and what to do, once, with the code and extensions.code of its
// kind; 501 is no server error in the log; negative order refused.

// gqlErrors runs a document and returns its errors as sent.
func (ts *testServer) gqlErrors(query string, vars map[string]any) []gqlErrorEntry {
	ts.t.Helper()
	_, body := ts.post("/graphql/v2", ts.token(), map[string]any{"query": query, "variables": vars})
	var r struct {
		Errors []gqlErrorEntry `json:"errors"`
	}
	require.NoError(ts.t, json.Unmarshal(body, &r), string(body))
	require.NotEmpty(ts.t, r.Errors, string(body))
	return r.Errors
}

type gqlErrorEntry struct {
	Message struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"message"`
	Extensions struct {
		Code string `json:"code"`
	} `json:"extensions"`
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestErrorCodesAndMessages(t *testing.T) {
	ts := startServer(t)
	var logs syncBuffer
	ts.srv.cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	org, err := ts.tree.CreateOrg(orgtree.OrgInput{Name: "Acme", Code: "acme"})
	require.NoError(t, err)
	dev, err := ts.tree.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "Dev", Code: "dev"})
	require.NoError(t, err)
	web, err := ts.tree.AddNode(orgtree.NodeInput{ParentID: dev.ID, Name: "Web", Code: "web"})
	require.NoError(t, err)

	cases := []struct {
		name, query string
		vars        map[string]any
		code        int
		ext, msg    string
	}{
		{"not found", `query q($id: String!) { nodeById(id: $id) { id } }`, map[string]any{"id": "ghost"}, 404, "NOT_FOUND", `node "ghost": not found`},
		{"cycle", `mutation m($o: String!, $n: String!, $p: String!) { moveNode(orgId: $o, nodeId: $n, targetParentId: $p) { id } }`,
			map[string]any{"o": org.ID, "n": dev.ID, "p": web.ID}, 403, "FORBIDDEN",
			`cannot move node "` + dev.ID + `" under "` + web.ID + `", which is the node itself or one of its descendants`},
		{"duplicate code", `mutation m($o: String!) { addNodeV2(orgId: $o, name: "X", code: "dev") { id } }`, map[string]any{"o": org.ID}, 409, "CONFLICT", `code "dev"`},
		{"bad name", `mutation m($o: String!) { addNodeV2(orgId: $o, name: " ") { id } }`, map[string]any{"o": org.ID}, 400, "BAD_USER_INPUT", "name"},
		{"negative order", `mutation m($o: String!) { addNodeV2(orgId: $o, name: "X", order: -1) { id } }`, map[string]any{"o": org.ID}, 400, "BAD_USER_INPUT", "order -1 is negative"},
		{"not served", `{ qiniuUptoken }`, nil, 501, "NOT_IMPLEMENTED", "not served by orgtree"},
	}
	for _, c := range cases {
		errs := ts.gqlErrors(c.query, c.vars)
		e := errs[0]
		assert.Equal(t, c.code, e.Message.Code, c.name)
		assert.Equal(t, c.ext, e.Extensions.Code, c.name)
		assert.Contains(t, e.Message.Message, c.msg, c.name)
		assert.NotContains(t, e.Message.Message, "orgtree:", "%s: the prefix is said nowhere: %s", c.name, e.Message.Message)
	}
	// The refused order left nothing behind, and 501 is not an error of
	// the server's.
	kids, err := ts.tree.Snapshot().Children(org.RootID, 1)
	require.NoError(t, err)
	assert.Len(t, kids, 1)
	assert.NotContains(t, logs.String(), "level=ERROR", logs.String())
	assert.Contains(t, logs.String(), "level=INFO", "a 501 is logged, at INFO")

	// REST: children without nodeId is a bad request, not an unknown node.
	token := ts.token()
	code, _, _ := ts.restData(http.MethodGet, "/api/v2/orgs/children", token, nil)
	assert.Equal(t, 400, code)
	status, body := ts.do(http.MethodGet, "/api/v2/orgs/children", token, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, decodeREST(t, body).Message, "nodeId is required")
	_, body = ts.do(http.MethodGet, "/api/v2/orgs/children?nodeId=ghost", token, nil)
	r := decodeREST(t, body)
	assert.Equal(t, "404", mustJSON(t, r.Code))
	assert.Equal(t, 1, strings.Count(r.Message, "not found"), r.Message)
	assert.NotContains(t, r.Message, "orgtree:")
}

func TestImportReportsEveryProblem(t *testing.T) {
	ts := startServer(t)
	token := ts.token()
	post := func(doc string) restResponse {
		t.Helper()
		status, body := ts.post("/api/v2/orgs/import", token, map[string]any{"filetype": "json", "file": doc})
		require.Equal(t, http.StatusOK, status)
		return decodeREST(t, body)
	}
	// One node with two problems: both named, with the node's path.
	r := post(`{"name":"Acme","children":[{"name":" ","code":"sys:x"}]}`)
	assert.Equal(t, "400", mustJSON(t, r.Code))
	assert.Contains(t, r.Message, "$.children[0]: name")
	assert.Contains(t, r.Message, "$.children[0]: code", r.Message)
	assert.NotContains(t, r.Message, "orgtree:")

	// A duplicate code (409 alone) with a bad name (400): the request was
	// bad input, 400.
	r = post(`{"name":"Acme","children":[{"name":"A","code":"c"},{"name":"B","code":"c"},{"name":""}]}`)
	assert.Equal(t, "400", mustJSON(t, r.Code), r.Message)
	assert.Contains(t, r.Message, "duplicate code")
	assert.Contains(t, r.Message, "name is empty")
	// Only duplicates: 409.
	r = post(`{"name":"Acme","children":[{"name":"A","code":"c"},{"name":"B","code":"c"}]}`)
	assert.Equal(t, "409", mustJSON(t, r.Code), r.Message)
	assert.Zero(t, ts.tree.Snapshot().Stats().Orgs)
}

package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/orgtree/orgtree"
)

// benchServer serves an org of 1,000 nodes and returns a request maker.
func benchServer(b *testing.B) (*testServer, []string, func(body []byte) *http.Request) {
	ts := startServer(b)
	org, err := ts.tree.CreateOrg(orgtree.OrgInput{Name: "Bench"})
	if err != nil {
		b.Fatal(err)
	}
	ids := []string{org.RootID}
	for i := 1; i < 1000; i++ {
		n, err := ts.tree.AddNode(orgtree.NodeInput{ParentID: ids[(i-1)/10], Name: fmt.Sprintf("node %d", i)})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, n.ID)
	}
	token, _, _, err := ts.srv.IssueToken(ts.pool, ts.secret)
	if err != nil {
		b.Fatal(err)
	}
	mk := func(body []byte) *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/graphql/v2", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("x-authing-userpool-id", ts.pool)
		return req
	}
	return ts, ids, mk
}

func gqlBody(b *testing.B, query string, vars map[string]any) []byte {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// BenchmarkGraphQLNodeByID is the SDK's GetOrgNodeById document through the
// handler (auth, parse, validate, execute, encode), without the network.
func BenchmarkGraphQLNodeByID(b *testing.B) {
	ts, ids, mk := benchServer(b)
	h := ts.srv.Handler()
	body := gqlBody(b, `query nodeById($id: String!) { nodeById(id: $id) { id orgId name nameI18n description descriptionI18n order code root depth path createdAt updatedAt children } }`,
		map[string]any{"id": ids[555]})
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, mk(body))
		if w.Code != http.StatusOK {
			b.Fatal(w.Body.String())
		}
	}
}

// BenchmarkGraphQLAddNodeV2 is a write through the handler.
func BenchmarkGraphQLAddNodeV2(b *testing.B) {
	ts, ids, mk := benchServer(b)
	h := ts.srv.Handler()
	org, _ := ts.tree.Node(ids[0])
	body := gqlBody(b, `mutation addNodeV2($orgId: String!, $parentNodeId: String, $name: String!) { addNodeV2(orgId: $orgId, parentNodeId: $parentNodeId, name: $name) { id } }`,
		map[string]any{"orgId": org.OrgID, "parentNodeId": ids[999], "name": "added"})
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, mk(body))
		if w.Code != http.StatusOK {
			b.Fatal(w.Body.String())
		}
	}
}

// BenchmarkRESTExport exports the 1,000-node org over REST.
func BenchmarkRESTExport(b *testing.B) {
	ts, ids, _ := benchServer(b)
	root, _ := ts.tree.Node(ids[0])
	token, _, _, _ := ts.srv.IssueToken(ts.pool, ts.secret)
	h := ts.srv.Handler()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/api/v2/orgs/export?org_id="+root.OrgID, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("x-authing-userpool-id", ts.pool)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Body.String())
		}
		b.SetBytes(int64(w.Body.Len()))
		_, _ = io.Copy(io.Discard, w.Body)
	}
}

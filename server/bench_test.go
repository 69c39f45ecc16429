package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/99designs/gqlgen/graphql/introspection"

	"github.com/orgtree/orgtree"
)

// benchServer is a server over an org of 1,000 nodes (ids[0] is the root)
// with a token for its requests.
type benchServer struct {
	*testServer
	ids   []string
	orgID string
	token string
}

func newBenchServer(b *testing.B) *benchServer {
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
	return &benchServer{testServer: ts, ids: ids, orgID: org.ID, token: token}
}

// run sends the same request through the handler (auth, parse or cache,
// validate, execute, encode; no network) once per iteration.
func (bs *benchServer) run(b *testing.B, method, target string, body []byte) {
	h := bs.srv.Handler()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(method, target, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+bs.token)
		req.Header.Set("x-authing-userpool-id", bs.pool)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if out := w.Body.Bytes(); w.Code != http.StatusOK || bytes.Contains(out, []byte(`"errors":[`)) {
			b.Fatal(string(out[:min(len(out), 1000)]))
		}
		b.SetBytes(int64(w.Body.Len()))
	}
}

func (bs *benchServer) graphQL(b *testing.B, query string, vars map[string]any) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		b.Fatal(err)
	}
	bs.run(b, http.MethodPost, "/graphql/v2", body)
}

// BenchmarkGraphQLNodeByID is the SDK's GetOrgNodeById document.
func BenchmarkGraphQLNodeByID(b *testing.B) {
	bs := newBenchServer(b)
	bs.graphQL(b, `query nodeById($id: String!) { nodeById(id: $id) { id orgId name nameI18n description descriptionI18n order code root depth path createdAt updatedAt children } }`,
		map[string]any{"id": bs.ids[555]})
}

// BenchmarkGraphQLAddNodeV2 is a write.
func BenchmarkGraphQLAddNodeV2(b *testing.B) {
	bs := newBenchServer(b)
	bs.graphQL(b, `mutation addNodeV2($orgId: String!, $parentNodeId: String, $name: String!) { addNodeV2(orgId: $orgId, parentNodeId: $parentNodeId, name: $name) { id } }`,
		map[string]any{"orgId": bs.orgID, "parentNodeId": bs.ids[999], "name": "added"})
}

// BenchmarkGraphQLIntrospection is the full introspection query GraphQL
// tools start with (graphql-js's getIntrospectionQuery, as gqlgen ships it).
func BenchmarkGraphQLIntrospection(b *testing.B) {
	bs := newBenchServer(b)
	bs.graphQL(b, introspection.Query, nil)
}

// BenchmarkRESTExport exports the 1,000-node org over REST.
func BenchmarkRESTExport(b *testing.B) {
	bs := newBenchServer(b)
	bs.run(b, http.MethodGet, "/api/v2/orgs/export?org_id="+bs.orgID, nil)
}

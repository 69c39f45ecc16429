package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/orgtree/orgtree"
)

// FuzzGraphQL posts a document and variables to the GraphQL endpoint of a
// small tree: never a panic (the handler's recover would answer 500),
// never an answer over the cap, and every answer is JSON with data or
// errors: a 4xx for a request that is not well-formed, 200 otherwise.
func FuzzGraphQL(f *testing.F) {
	for _, seed := range [][2]string{
		{`{ orgs { totalCount list { id nodes { id name users { totalCount } } } } }`, `{}`},
		{`query q($id: String!) { nodeById(id: $id) { id namePath } }`, `{"id": 5}`},
		{`query q($k: String!) { a: searchNodes(keyword: $k) { id } b: searchNodes(keyword: $k) { id } }`, `{"k":"Dept"}`},
		{`query { rootNode(orgId: "x") { ...F } } fragment F on Node { id users { list { id } } }`, `null`},
		{`mutation m($o: String!) { addNodeV2(orgId: $o, name: "X", order: -1) { id } }`, `{"o":"x"}`},
		{`{ __schema { types { name } } }`, `[]`},
	} {
		f.Add(seed[0], seed[1])
	}
	tree := orgtree.New(orgtree.WithIDGenerator(NewObjectID))
	org, err := tree.CreateOrg(orgtree.OrgInput{Name: "Dept root"})
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, err := tree.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "Dept"}); err != nil {
			f.Fatal(err)
		}
	}
	const maxAnswer = 64 << 10
	s, err := New(tree, Config{UserPoolID: "pool", Secret: "secret", PasswordKey: testPasswordKey(), MaxAnswerBytes: maxAnswer,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	token, _, _, err := s.IssueToken("pool", "secret")
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, query, vars string) {
		body := []byte(`{"query":` + mustJSONString(query) + `,"variables":` + vars + `}`)
		req := httptest.NewRequest(http.MethodPost, "/graphql/v2", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-authing-userpool-id", "pool")
		req.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		out := w.Body.Bytes()
		if w.Code >= 500 {
			t.Fatalf("status %d: %s", w.Code, out)
		}
		if len(out) > maxAnswer+4096 {
			t.Fatalf("answer of %d bytes over the cap of %d", len(out), maxAnswer)
		}
		var r struct {
			Data   json.RawMessage `json:"data"`
			Errors []any           `json:"errors"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("answer is not JSON: %v: %s", err, out)
		}
		if w.Code != http.StatusOK && len(r.Errors) == 0 {
			t.Fatalf("status %d without an error: %s", w.Code, out)
		}
		if w.Code == http.StatusOK && r.Data == nil && len(r.Errors) == 0 {
			t.Fatalf("200 with neither data nor errors: %s", out)
		}
		for _, e := range r.Errors {
			if m, _ := e.(map[string]any)["message"].(map[string]any); m != nil {
				if c, _ := m["code"].(float64); c == 500 {
					t.Fatalf("internal error: %s", out)
				}
			}
		}
	})
}

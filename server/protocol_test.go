package server

import (
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

	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

// Protocol-level tests: envelopes, authentication, limits and the GraphQL
// features the SDK documents do not exercise (aliases, fragments, skip).

func TestAuthentication(t *testing.T) {
	ts := startServer(t)
	query := map[string]any{"query": `{ orgs { totalCount } }`}

	// No token, a forged token, a token for another pool: 401 in the
	// service's envelope, for GraphQL and REST alike.
	for name, token := range map[string]string{
		"none":   "",
		"junk":   "not.a.jwt",
		"forged": forgeToken(t, ts.pool, "another secret"),
	} {
		status, body := ts.post("/graphql/v2", token, query)
		require.Equal(t, http.StatusOK, status, name)
		var r gqlResponse
		require.NoError(t, json.Unmarshal(body, &r))
		require.Len(t, r.Errors, 1, name)
		require.Equal(t, 401, r.Errors[0].Message.Code, name)
		require.Nil(t, r.Data, name)

		status, body = ts.do(http.MethodGet, "/api/v2/orgs/export", token, nil)
		require.Equal(t, http.StatusOK, status, name)
		require.JSONEq(t, `401`, mustJSON(t, decodeREST(t, body).Code), name)
	}

	// A valid token with the wrong user pool header.
	token := ts.token()
	req, _ := http.NewRequest(http.MethodPost, ts.http.URL+"/graphql/v2", strings.NewReader(`{"query":"{ orgs { totalCount } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("x-authing-userpool-id", "someone-else")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var r gqlResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	require.Equal(t, 401, r.Errors[0].Message.Code)

	// Expiry: a token stops working after TokenTTL.
	now := time.Now()
	clock := now
	s, err := New(ts.tree, Config{UserPoolID: ts.pool, Secret: ts.secret, TokenTTL: time.Hour, Now: func() time.Time { return clock },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	tok, iat, exp, err := s.IssueToken(ts.pool, ts.secret)
	require.NoError(t, err)
	require.Equal(t, time.Hour, exp.Sub(iat))
	authed := func() error {
		r := httptest.NewRequest(http.MethodPost, "/graphql/v2", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("x-authing-userpool-id", ts.pool)
		return s.authenticate(r)
	}
	require.NoError(t, authed())
	clock = now.Add(2 * time.Hour)
	require.ErrorIs(t, authed(), ErrUnauthorized)

	// The default lifetime outlives the Go SDK's three-day cache margin.
	_, iat, exp, err = ts.srv.IssueToken(ts.pool, ts.secret)
	require.NoError(t, err)
	require.Equal(t, 15*24*time.Hour, exp.Sub(iat))
}

func forgeToken(t *testing.T, pool, secret string) string {
	t.Helper()
	s, err := New(orgtree.New(), Config{UserPoolID: pool, Secret: secret})
	require.NoError(t, err)
	tok, _, _, err := s.IssueToken(pool, secret)
	require.NoError(t, err)
	return tok
}

type restResponse struct {
	Code    any             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

func decodeREST(t *testing.T, body []byte) restResponse {
	t.Helper()
	var r restResponse
	require.NoError(t, json.Unmarshal(body, &r), string(body))
	return r
}

func TestGraphQLErrorsAndValidation(t *testing.T) {
	ts := startServer(t)
	token := ts.token()
	cases := []struct {
		name   string
		body   string
		status int
		code   int
		msg    string
	}{
		// Requests that are not well-formed answer 400 (the SDKs never
		// send them); well-formed ones that fail keep HTTP 200 envelopes.
		{"not JSON", `{"query": `, 400, 400, "not valid JSON"},
		{"trailing data", `{"query":"{ orgs { totalCount } }"} {}`, 400, 400, "after its JSON value"},
		{"no query", `{"variables":{}}`, 400, 400, "no query"},
		{"query not a string", `{"query":7}`, 400, 400, "member query must be a string"},
		{"variables not an object", `{"query":"{ orgs { totalCount } }","variables":[1]}`, 400, 400, "member variables must be a JSON object"},
		// Issue 14 item 11: a batch answered with a Go type name before.
		{"batch", `[{"query":"{ orgs { totalCount } }"},{"query":"{ orgs { totalCount } }"}]`, 400, 400, "batched requests"},
		{"not an object", `"{ orgs { totalCount } }"`, 400, 400, "must be a JSON object"},
		// Issue 14 item 9: a number for a String was taken, a string for an Int too.
		{"number for String", `{"query":"query q($id: String!) { nodeById(id: $id) { id } }","variables":{"id":5}}`, 200, 400, "variable $id (String!) must be a String, not the number 5"},
		{"number for String in a list", `{"query":"mutation m($ids: [String!]!) { addMember(nodeId: \"x\", userIds: $ids) { id } }","variables":{"ids":["a",7]}}`, 200, 400, "variable $ids ([String!]!) at $ids[1] must be a String, not the number 7"},
		{"string for Int", `{"query":"query q($p: Int) { orgs(page: $p) { totalCount } }","variables":{"p":"5"}}`, 200, 400, `variable $p (Int) must be an Int, not the string "5"`},
		{"Int out of range", `{"query":"query q($p: Int) { orgs(page: $p) { totalCount } }","variables":{"p":4294967296}}`, 200, 400, "not the number 4294967296"},
		{"bool for String", `{"query":"query q($id: String!) { nodeById(id: $id) { id } }","variables":{"id":true}}`, 200, 400, "not the boolean true"},
		{"syntax", `{"query":"{ orgs { totalCount "}`, 200, 400, "Expected"},
		{"unknown field", `{"query":"{ orgs { totalCount colour } }"}`, 200, 400, `Cannot query field "colour"`},
		{"missing variable", `{"query":"query q($id: String!) { nodeById(id: $id) { id } }"}`, 200, 400, "id"},
		{"wrong variable type", `{"query":"query q($p: Int) { orgs(page: $p) { totalCount } }","variables":{"p":"one"}}`, 200, 400, "p"},
		{"unknown operation", `{"query":"query a { orgs { totalCount } }","operationName":"b"}`, 200, 400, `no operation "b"`},
		{"too deep", `{"query":"` + strings.Repeat("{ a ", 40) + strings.Repeat("}", 40) + `"}`, 200, 400, "nests deeper"},
	}
	for _, c := range cases {
		status, body := ts.do(http.MethodPost, "/graphql/v2", token, []byte(c.body))
		require.Equal(t, c.status, status, "%s: %s", c.name, body)
		var r gqlResponse
		require.NoError(t, json.Unmarshal(body, &r), c.name)
		require.NotEmpty(t, r.Errors, c.name)
		require.Equal(t, c.code, r.Errors[0].Message.Code, "%s: %s", c.name, body)
		require.Contains(t, r.Errors[0].Message.Message, c.msg, c.name)
	}

	// A GET without a query is not well-formed either.
	status, body := ts.do(http.MethodGet, "/graphql/v2", token, nil)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, string(body), `"code":400`)

	// A field error nulls the field and, through non-null fields, its
	// parents; the error carries the path and the location.
	r := ts.gql(`query { rootNode(orgId: "nope") { id } }`, nil)
	require.Nil(t, r.Data)
	require.Len(t, r.Errors, 1)
	require.Equal(t, 404, r.Errors[0].Message.Code)
	require.Equal(t, []any{"rootNode"}, r.Errors[0].Path)
	// A nullable root field fails alone.
	r = ts.gql(`query { isRootNode(orgId: "nope", nodeId: "nope") orgs { totalCount } }`, nil)
	require.Equal(t, map[string]any{"isRootNode": nil, "orgs": map[string]any{"totalCount": float64(0)}}, r.Data, r.raw)

	// Fields of the schema orgtree does not serve validate, then answer 501.
	r = ts.gql(`query { whitelist(type: USERNAME) { value } }`, nil)
	require.Len(t, r.Errors, 1, r.raw)
	require.Equal(t, 501, r.Errors[0].Message.Code)
}

func TestGraphQLSelectionFeatures(t *testing.T) {
	ts := startServer(t)
	org, err := ts.tree.CreateOrg(orgtree.OrgInput{Name: "Acme", Code: "acme"})
	require.NoError(t, err)
	_, err = ts.tree.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "Eng", Code: "eng"})
	require.NoError(t, err)

	r := ts.gql(`
query q($id: String!, $withCode: Boolean!) {
  first: nodeById(id: $id) { ...basic code @include(if: $withCode) }
  second: nodeById(id: $id) { __typename name ... on Node { depth } code @skip(if: true) }
  __typename
}
fragment basic on Node { id name }`, map[string]any{"id": org.RootID, "withCode": true})
	require.Empty(t, r.Errors, r.raw)
	// Keys come back in selection order.
	require.Equal(t, `{"data":{"first":{"id":"`+org.RootID+`","name":"Acme","code":"acme"},"second":{"__typename":"Node","name":"Acme","depth":0},"__typename":"Query"}}`,
		strings.TrimSpace(r.raw))

	// Lists of objects, nested arguments with defaults (users: page 1, limit
	// 10, includeChildrenNodes true).
	r = ts.gql(`{ org(id: "`+org.ID+`") { nodes { name children users { totalCount } } } }`, nil)
	require.Empty(t, r.Errors, r.raw)
	require.JSONEq(t, `{"org":{"nodes":[{"name":"Acme","children":["`+mustChild(t, ts.tree, org.RootID)+`"],"users":{"totalCount":0}},{"name":"Eng","children":[],"users":{"totalCount":0}}]}}`,
		mustJSON(t, r.Data))
}

func mustChild(t *testing.T, tree *orgtree.Tree, id string) string {
	t.Helper()
	kids, err := tree.ChildIDs(id)
	require.NoError(t, err)
	require.Len(t, kids, 1)
	return kids[0]
}

func TestRESTEnvelopes(t *testing.T) {
	ts := startServer(t)
	token := ts.token()

	// Errors travel in the envelope with status 200, as the service's do.
	status, body := ts.do(http.MethodGet, "/api/v2/orgs/children?nodeId=nope", token, nil)
	require.Equal(t, http.StatusOK, status)
	r := decodeREST(t, body)
	require.EqualValues(t, 404, r.Code)
	require.Contains(t, r.Message, "not found")
	require.Equal(t, "null", string(r.Data))

	_, body = ts.do(http.MethodGet, "/api/v2/orgs/children?nodeId=x&depth=-1", token, nil)
	require.EqualValues(t, 400, decodeREST(t, body).Code)

	_, body = ts.do(http.MethodPost, "/api/v2/orgs/import", token, []byte(`{"filetype":"csv","file":"a,b"}`))
	require.EqualValues(t, 400, decodeREST(t, body).Code)
	status, body = ts.do(http.MethodPost, "/api/v2/orgs/import", token, []byte(`{"filetype":"json","file":{"name":"Inline","children":[{"name":"A"}]}}`))
	require.Equal(t, http.StatusOK, status, string(body))
	require.EqualValues(t, 200, decodeREST(t, body).Code)
	require.Equal(t, 2, ts.tree.Snapshot().Stats().Nodes)

	status, body = ts.do(http.MethodGet, "/api/v2/no/such/endpoint", token, nil)
	require.Equal(t, http.StatusNotFound, status)
	require.EqualValues(t, 404, decodeREST(t, body).Code)

	status, _ = ts.do(http.MethodGet, "/healthz", "", nil)
	require.Equal(t, http.StatusOK, status)
}

func TestRequestSizeLimit(t *testing.T) {
	tree := orgtree.New()
	s, err := New(tree, Config{UserPoolID: "p", Secret: "s", MaxBodyBytes: 1024})
	require.NoError(t, err)
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	big := `{"query":"{ orgs { totalCount } }","variables":{"pad":"` + strings.Repeat("x", 4096) + `"}}`
	resp, err := http.Post(hs.URL+"/graphql/v2", "application/json", strings.NewReader(big))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Contains(t, string(body), `"code":400`)
	require.Contains(t, string(body), "larger than 1024 bytes")
}

func TestExportIsIterativeOnDeepTrees(t *testing.T) {
	ts := startServer(t)
	org, err := ts.tree.CreateOrg(orgtree.OrgInput{Name: "Deep"})
	require.NoError(t, err)
	const depth = 999 // the default MaxDepth allows 1000 levels
	require.NoError(t, ts.tree.Update(func(tx *orgtree.Tx) error {
		parent := org.RootID
		for i := 0; i < depth; i++ {
			n, err := tx.AddNode(orgtree.NodeInput{ParentID: parent, Name: "n"})
			if err != nil {
				return err
			}
			parent = n.ID
		}
		return nil
	}))
	status, body := ts.do(http.MethodGet, "/api/v2/orgs/export?org_id="+org.ID, ts.token(), nil)
	require.Equal(t, http.StatusOK, status)
	r := decodeREST(t, body)
	// Count the nesting of the document without a recursive decoder.
	require.Equal(t, depth+1, strings.Count(string(r.Data), `"name":`))
	require.True(t, json.Valid(r.Data))
}

// TestConcurrentClients runs readers and writers against one server at
// once (under -race in CI): the document cache and the tree are shared.
func TestConcurrentClients(t *testing.T) {
	ts := startServer(t)
	org, err := ts.tree.CreateOrg(orgtree.OrgInput{Name: "Busy"})
	require.NoError(t, err)
	token := ts.token()
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				var body map[string]any
				if w%2 == 0 {
					body = map[string]any{"query": `mutation a($o: String!, $n: String!) { addNodeV2(orgId: $o, name: $n) { id depth } }`,
						"variables": map[string]any{"o": org.ID, "n": fmt.Sprintf("w%d-%d", w, i)}}
				} else {
					body = map[string]any{"query": `query o($id: String!) { org(id: $id) { nodes { id path } } }`,
						"variables": map[string]any{"id": org.ID}}
				}
				b, _ := json.Marshal(body)
				_, out := ts.do(http.MethodPost, "/graphql/v2", token, b)
				if strings.Contains(string(out), `"errors"`) {
					errs <- string(out)
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	ts.check()
	require.Equal(t, 1+4*25, ts.tree.Snapshot().Stats().Nodes)
}

package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// send makes a request to the GraphQL endpoint with the given headers (the
// pool header and a token are added) and returns status, content type and
// decoded body.
func (ts *testServer) send(method, rawQuery, contentType, accept, body string) (int, string, map[string]any) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.http.URL+"/graphql/v2?"+rawQuery, strings.NewReader(body))
	require.NoError(ts.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	req.Header.Set("x-authing-userpool-id", ts.pool)
	req.Header.Set("Authorization", "Bearer "+ts.token())
	resp, err := http.DefaultClient.Do(req)
	require.NoError(ts.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(ts.t, err)
	var out map[string]any
	require.NoError(ts.t, json.Unmarshal(raw, &out), string(raw))
	return resp.StatusCode, resp.Header.Get("Content-Type"), out
}

func TestNegotiate(t *testing.T) {
	for _, c := range []struct {
		accept []string
		want   mediaType
		ok     bool
	}{
		{nil, mediaJSON, true},
		{[]string{"application/json, text/plain, */*"}, mediaJSON, true}, // axios: the JS SDK
		{[]string{"*/*"}, mediaJSON, true},
		{[]string{"application/*"}, mediaJSON, true},
		{[]string{"application/graphql-response+json"}, mediaGraphQLResponse, true},
		{[]string{"application/graphql-response+json, application/json"}, mediaGraphQLResponse, true},
		{[]string{"application/json, application/graphql-response+json"}, mediaGraphQLResponse, true},
		{[]string{"application/graphql-response+json;q=0.9, application/json"}, mediaJSON, true},
		{[]string{"application/graphql-response+json, */*"}, mediaGraphQLResponse, true},
		{[]string{"application/json;q=0.5", "application/graphql-response+json;q=0.8"}, mediaGraphQLResponse, true},
		{[]string{"text/html,application/xhtml+xml,*/*;q=0.8"}, mediaJSON, true}, // a browser
		{[]string{"text/html"}, "", false},
		{[]string{"application/json;q=0, */*"}, mediaGraphQLResponse, true},
		{[]string{"application/json;q=0"}, "", false},
		{[]string{"application/json;q=x"}, "", false},
	} {
		got, ok := negotiate(c.accept)
		assert.Equal(t, c.ok, ok, "%q", c.accept)
		assert.Equal(t, c.want, got, "%q", c.accept)
	}
}

func TestGraphQLOverHTTP(t *testing.T) {
	ts := startServer(t)
	const gr, js = "application/graphql-response+json", "application/json"

	// A query answers 200 in the accepted media type.
	status, ct, out := ts.send(http.MethodPost, "", js, gr, `{"query":"{ __typename }"}`)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, gr+"; charset=utf-8", ct)
	assert.Equal(t, map[string]any{"data": map[string]any{"__typename": "Query"}}, out)
	status, ct, _ = ts.send(http.MethodPost, "", js, "", `{"query":"{ __typename }"}`)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, js+"; charset=utf-8", ct)

	// Request errors: 400 and no data for graphql-response+json (string
	// messages), HTTP 200 envelopes with data null for application/json.
	for name, body := range map[string]string{
		"parse":      `{"query":"{"}`,
		"validation": `{"query":"{ nope }"}`,
		"operation":  `{"query":"query a { __typename }","operationName":"b"}`,
		"variables":  `{"query":"query q($p: Int) { orgs(page: $p) { totalCount } }","variables":{"p":"x"}}`,
	} {
		status, _, out := ts.send(http.MethodPost, "", js, gr, body)
		assert.Equal(t, http.StatusBadRequest, status, name)
		assert.NotContains(t, out, "data", name)
		errs := out["errors"].([]any)
		assert.IsType(t, "", errs[0].(map[string]any)["message"], name)

		status, _, out = ts.send(http.MethodPost, "", js, js, body)
		assert.Equal(t, http.StatusOK, status, name)
		assert.Contains(t, out, "data", name)
		assert.Nil(t, out["data"], name)
		msg := out["errors"].([]any)[0].(map[string]any)["message"].(map[string]any)
		assert.Equal(t, float64(400), msg["code"], name)
	}

	// A field error after execution started: 200 for both, with data.
	for _, accept := range []string{gr, js} {
		status, _, out := ts.send(http.MethodPost, "", js, accept, `{"query":"{ isRootNode(orgId: \"x\", nodeId: \"y\") }"}`)
		assert.Equal(t, http.StatusOK, status, accept)
		assert.Equal(t, map[string]any{"isRootNode": nil}, out["data"], accept)
		require.Len(t, out["errors"], 1, accept)
	}

	// Authentication: 401 for graphql-response+json, the envelope for json.
	req, _ := http.NewRequest(http.MethodPost, ts.http.URL+"/graphql/v2", strings.NewReader(`{"query":"{ orgs { totalCount } }"}`))
	req.Header.Set("Content-Type", js)
	req.Header.Set("Accept", gr)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	status, _ = ts.do(http.MethodPost, "/graphql/v2", "", []byte(`{"query":"{ orgs { totalCount } }"}`))
	assert.Equal(t, http.StatusOK, status)

	// GET: queries run, with variables as a JSON parameter; mutations 405.
	q := url.Values{"query": {`query q($id: String!) { __type(name: $id) { name } }`}, "variables": {`{"id":"Org"}`}}
	status, _, out = ts.send(http.MethodGet, q.Encode(), "", gr, "")
	assert.Equal(t, http.StatusOK, status, out)
	assert.Equal(t, map[string]any{"__type": map[string]any{"name": "Org"}}, out["data"])
	q = url.Values{"query": {`mutation { deleteOrg(id: "x") { code } }`}}
	for _, accept := range []string{gr, js} {
		req, _ := http.NewRequest(http.MethodGet, ts.http.URL+"/graphql/v2?"+q.Encode(), nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, accept)
		assert.Equal(t, "POST", resp.Header.Get("Allow"))
	}
	status, _, _ = ts.send(http.MethodGet, url.Values{"query": {"{ __typename }"}, "variables": {"[1]"}}.Encode(), "", gr, "")
	assert.Equal(t, http.StatusBadRequest, status)

	// Not well-formed, for both media types: no or another content type,
	// wrong member types, other methods, an Accept that rules both out.
	for _, accept := range []string{gr, js} {
		for _, ct := range []string{"", "text/plain", "application/graphql", "application/x-www-form-urlencoded"} {
			status, _, _ := ts.send(http.MethodPost, "", ct, accept, `{"query":"{ __typename }"}`)
			assert.Equal(t, http.StatusUnsupportedMediaType, status, "%s %q", accept, ct)
		}
		for _, body := range []string{`{"query":"{ __typename }","variables":[]}`, `{"query":"{ __typename }","extensions":"x"}`, `{"query":"{ __typename }","operationName":1}`, `[]`} {
			status, _, _ := ts.send(http.MethodPost, "", js, accept, body)
			assert.Equal(t, http.StatusBadRequest, status, "%s %s", accept, body)
		}
		status, _, _ := ts.send(http.MethodPut, "", js, accept, `{"query":"{ __typename }"}`)
		assert.Equal(t, http.StatusMethodNotAllowed, status, accept)
	}
	status, ct, _ = ts.send(http.MethodPost, "", "application/json; charset=utf-8", "text/html", `{"query":"{ __typename }"}`)
	assert.Equal(t, http.StatusNotAcceptable, status)
	assert.Equal(t, js+"; charset=utf-8", ct)
	status, _, _ = ts.send(http.MethodPost, "", "application/json; charset=utf-8", gr, `{"query":"{ __typename }"}`)
	assert.Equal(t, http.StatusOK, status, "a charset parameter is fine")
}

// Introspection needs no token (the token exchange does not either), so
// tools can load the schema first; anything else still does.
func TestIntrospectionWithoutToken(t *testing.T) {
	ts := startServer(t)
	post := func(query string) map[string]any {
		req, _ := http.NewRequest(http.MethodPost, ts.http.URL+"/graphql/v2", bytes.NewReader([]byte(`{"query":`+mustJSONString(query)+`}`)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out
	}
	out := post(`{ __schema { queryType { name } } __type(name: "Node") { name } __typename }`)
	assert.Nil(t, out["errors"])
	assert.Equal(t, map[string]any{"__schema": map[string]any{"queryType": map[string]any{"name": "Query"}}, "__type": map[string]any{"name": "Node"}, "__typename": "Query"}, out["data"])
	out = post(`{ __schema { queryType { name } } orgs { totalCount } }`)
	require.NotNil(t, out["errors"])
	assert.Contains(t, mustJSONString(out["errors"]), "401")
}

func mustJSONString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

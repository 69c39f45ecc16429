package server

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

// testServer is a server on a random loopback port over a fresh tree.
type testServer struct {
	t      testing.TB
	tree   *orgtree.Tree
	srv    *Server
	http   *httptest.Server
	pool   string
	secret string
}

func startServer(t testing.TB) *testServer {
	t.Helper()
	tree := orgtree.New(orgtree.WithIDGenerator(NewObjectID))
	// The Go SDK caches tokens per user pool id for the whole process, so
	// every test server gets a pool of its own.
	pool := NewObjectID()
	secret := "secret-" + NewObjectID()
	s, err := New(tree, Config{UserPoolID: pool, Secret: secret, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PasswordKey: testPasswordKey()})
	require.NoError(t, err)
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return &testServer{t: t, tree: tree, srv: s, http: hs, pool: pool, secret: secret}
}

// testPasswordKey is one RSA key for every test server: generating one per
// server would cost more than most tests.
var testPasswordKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// token exchanges the credentials for a token through the protocol.
func (ts *testServer) token() string {
	ts.t.Helper()
	var resp struct {
		Data struct {
			AccessToken struct {
				AccessToken string `json:"accessToken"`
			} `json:"accessToken"`
		} `json:"data"`
	}
	status, body := ts.post("/graphql/v2", "", map[string]any{
		"query":     `query accessToken($userPoolId: String!, $secret: String!) { accessToken(userPoolId: $userPoolId, secret: $secret) { accessToken exp iat } }`,
		"variables": map[string]any{"userPoolId": ts.pool, "secret": ts.secret},
	})
	require.Equal(ts.t, http.StatusOK, status, string(body))
	require.NoError(ts.t, json.Unmarshal(body, &resp))
	require.NotEmpty(ts.t, resp.Data.AccessToken.AccessToken, string(body))
	return resp.Data.AccessToken.AccessToken
}

// post sends a JSON body with the SDK's headers; token "" sends none.
func (ts *testServer) post(path, token string, body any) (int, []byte) {
	ts.t.Helper()
	b, err := json.Marshal(body)
	require.NoError(ts.t, err)
	return ts.do(http.MethodPost, path, token, b)
}

func (ts *testServer) do(method, path, token string, body []byte) (int, []byte) {
	ts.t.Helper()
	req, err := http.NewRequest(method, ts.http.URL+path, bytes.NewReader(body))
	require.NoError(ts.t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-authing-userpool-id", ts.pool)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(ts.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(ts.t, err)
	return resp.StatusCode, out
}

// gql runs a GraphQL document with a valid token and decodes the response.
func (ts *testServer) gql(query string, vars map[string]any) gqlResponse {
	ts.t.Helper()
	_, body := ts.post("/graphql/v2", ts.token(), map[string]any{"query": query, "variables": vars})
	var r gqlResponse
	require.NoError(ts.t, json.Unmarshal(body, &r), string(body))
	r.raw = string(body)
	return r
}

type gqlResponse struct {
	Data   map[string]any `json:"data"`
	Errors []struct {
		Message struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"message"`
		Path []any `json:"path"`
	} `json:"errors"`
	raw string
}

// check runs the engine's invariant checker.
func (ts *testServer) check() {
	ts.t.Helper()
	require.NoError(ts.t, ts.tree.Check())
}

package orgtreetest

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/server"
)

// The fixed credentials of every NewServer. They are the same for every
// server on purpose: the Authing Go SDK caches one access token per user
// pool id for the whole process, and a token is valid on any server with
// the same credentials, so servers of consecutive or parallel tests never
// trip over each other's cached tokens.
const (
	UserPoolID = "000000000000000000000001"
	Secret     = "orgtreetest-secret"
)

// Server is an httptest.Server answering the Authing management API (the
// protocol the Authing Go and JS SDKs speak) over a tree.
type Server struct {
	*httptest.Server
	// UserPoolID and Secret are the credentials to configure an SDK with:
	// management.NewClient(s.UserPoolID, s.Secret, s.URL) in Go,
	// new ManagementClient({userPoolId, secret, host: s.URL}) in JS.
	UserPoolID, Secret string
	// Tree is the tree the server reads and writes: check the effect of a
	// service's calls on it directly.
	Tree *orgtree.Tree
}

// NewServer starts a server over tree on a loopback port with the fixed
// credentials UserPoolID and Secret, and closes it when the test ends.
// Requests the server refuses are logged with t.Log.
func NewServer(t testing.TB, tree *orgtree.Tree) *Server {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	s, err := server.New(tree, server.Config{UserPoolID: UserPoolID, Secret: Secret, Logger: logger})
	if err != nil {
		t.Fatalf("orgtreetest: %v", err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return &Server{Server: hs, UserPoolID: UserPoolID, Secret: Secret, Tree: tree}
}

// testWriter sends the server's log lines to the test log. Close waits for
// the requests in flight, so no line arrives after the test is over.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree/persist"
)

// Issue 14 item 13: serve on a port in use fails before it touches the
// store; --seed seeds only a store that never held an org.

func TestServePortInUseCreatesNoStore(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	db := filepath.Join(t.TempDir(), "busy.db")
	o := &options{db: db, lockWait: 100 * time.Millisecond}
	so := &serveOptions{addr: ln.Addr().String(), poolID: "p", secret: "s", shutdown: time.Second}
	err = runServe(context.Background(), o, so, &bytes.Buffer{}, serveHooks{})
	require.Error(t, err)
	_, statErr := os.Stat(db)
	require.ErrorIs(t, statErr, os.ErrNotExist, "the failed serve created %s", db)
}

func TestServeSeedsOnlyANewStore(t *testing.T) {
	db := filepath.Join(t.TempDir(), "seeded.db")
	serveOnce := func() string {
		o := &options{db: db, lockWait: 100 * time.Millisecond}
		so := &serveOptions{addr: "127.0.0.1:0", seed: "testdata/org.json", poolID: "p", secret: "s", shutdown: 5 * time.Second}
		ctx, cancel := context.WithCancel(context.Background())
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() { done <- runServe(ctx, o, so, &out, serveHooks{ready: func(string) { cancel() }}) }()
		require.NoError(t, <-done)
		return out.String()
	}
	require.Contains(t, serveOnce(), "seeded 1 org(s)")
	store, err := persist.Open(db)
	require.NoError(t, err)
	for _, org := range store.Tree().Snapshot().Orgs() {
		require.NoError(t, store.Tree().DeleteOrg(org.ID))
	}
	require.NoError(t, store.Close())

	require.NotContains(t, serveOnce(), "seeded 1 org", "every org was deleted: the store is not new")
	store, err = persist.Open(db)
	require.NoError(t, err)
	defer store.Close()
	require.Zero(t, store.Tree().Snapshot().Stats().Orgs)
}

// TestServeMaxAnswerBytes: --max-answer-bytes reaches the server: an
// export larger than it is refused with code 413 telling the client to ask
// for less.
func TestServeMaxAnswerBytes(t *testing.T) {
	cmd := newServeCommand(&options{})
	require.NoError(t, cmd.ParseFlags([]string{"--max-answer-bytes", "512", "--queue-wait", "2s"}))
	v, err := cmd.Flags().GetInt("max-answer-bytes")
	require.NoError(t, err)
	require.Equal(t, 512, v)

	o := &options{db: filepath.Join(t.TempDir(), "cap.db"), lockWait: time.Second}
	so := &serveOptions{addr: "127.0.0.1:0", seed: "testdata/org.json", poolID: "p", secret: "s", shutdown: 5 * time.Second, maxAnswerBytes: v}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, o, so, io.Discard, serveHooks{ready: func(addr string) { ready <- addr }})
	}()
	base := "http://" + <-ready
	resp, err := http.Post(base+"/graphql/v2", "application/json",
		strings.NewReader(`{"query":"{ accessToken(userPoolId: \"p\", secret: \"s\") { accessToken } }"}`))
	require.NoError(t, err)
	var tok struct {
		Data struct {
			AccessToken struct{ AccessToken string } `json:"accessToken"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	resp.Body.Close()
	req, err := http.NewRequest(http.MethodGet, base+"/api/v2/orgs/export", nil)
	require.NoError(t, err)
	req.Header.Set("x-authing-userpool-id", "p")
	req.Header.Set("Authorization", "Bearer "+tok.Data.AccessToken.AccessToken)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	var env struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
	resp.Body.Close()
	require.Equal(t, 413, env.Code, env.Message)
	require.Contains(t, env.Message, "larger than the server's limit of 512 bytes")
	cancel()
	require.NoError(t, <-done)
}

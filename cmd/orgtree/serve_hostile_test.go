package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
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

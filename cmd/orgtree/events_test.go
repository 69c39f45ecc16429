package main

import (
	"bufio"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sseLines connects to serve's event stream and returns its "id:" and
// "event:" lines as they come, and a stop function.
func sseLines(t *testing.T, url, pool, token, lastID string) (<-chan string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/api/v2/events", nil)
	require.NoError(t, err)
	req.Header.Set("x-authing-userpool-id", pool)
	req.Header.Set("Authorization", token)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "id: ") || strings.HasPrefix(l, "event: ") || strings.HasPrefix(l, "data: ") {
				lines <- l
			}
		}
	}()
	return lines, func() {
		cancel()
		for range lines {
		}
	}
}

func nextLine(t *testing.T, lines <-chan string, prefix string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "stream ended")
			if strings.HasPrefix(l, prefix) {
				return strings.TrimPrefix(l, prefix)
			}
		case <-timeout:
			t.Fatalf("no %q line", prefix)
		}
	}
}

// TestEventStreamResumesAcrossRestart: serve's event stream reads the
// store's history, so a client that reconnects to a restarted server with
// Last-Event-ID gets what it missed, actor and reason included.
func TestEventStreamResumesAcrossRestart(t *testing.T) {
	bin, work := binary(t), t.TempDir()
	orgJSON, err := filepath.Abs("testdata/org.json")
	require.NoError(t, err)
	srv := startServe(t, bin, work, "serve", "--addr", "127.0.0.1:0")
	lines, stop := sseLines(t, srv.url, srv.pool, bearer(t, srv.url, srv.pool, srv.secret), "")
	mustCLI(t, bin, work, "import", orgJSON)
	require.Equal(t, "org.created", nextLine(t, lines, "event: "))
	lastID := nextLine(t, lines, "id: ")
	stop()
	srv.stop(t)

	// While no server runs, a local command writes.
	mustCLI(t, bin, work, "move", "--reason", "reorg", "frontend", "bj/ops")
	srv = startServe(t, bin, work, "serve", "--addr", "127.0.0.1:0")
	defer srv.stop(t)
	lines, stop = sseLines(t, srv.url, srv.pool, bearer(t, srv.url, srv.pool, srv.secret), "move-test-placeholder")
	require.Equal(t, "stream.reset", nextLine(t, lines, "event: "), "an id that is none of ours")
	stop()
	lines, stop = sseLines(t, srv.url, srv.pool, bearer(t, srv.url, srv.pool, srv.secret), lastID)
	defer stop()
	// The rest of the import, then the move with its reason.
	for {
		if typ := nextLine(t, lines, "event: "); typ == "department.moved" {
			break
		}
	}
	data := nextLine(t, lines, "data: ")
	require.Contains(t, data, `"reason":"reorg"`)
	require.Contains(t, data, `"actor":"cli`)
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/persist"
	"github.com/orgtree/orgtree/server"
)

// hookReceiver is a webhook receiver that fails while told to.
type hookReceiver struct {
	secret   string
	mu       sync.Mutex
	fail     bool
	attempts int
	got      []server.Event
}

func (rc *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.attempts++
	if r.Header.Get("X-Orgtree-Signature") != server.Sign(rc.secret, body) {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	if rc.fail {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	var batch []server.Event
	if json.Unmarshal(body, &batch) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.got = append(rc.got, batch...)
}

func (rc *hookReceiver) setFail(f bool) { rc.mu.Lock(); rc.fail = f; rc.mu.Unlock() }

func (rc *hookReceiver) tries() int { rc.mu.Lock(); defer rc.mu.Unlock(); return rc.attempts }

// TestWebhookResumesAcrossRestart: serve's webhooks keep the receiver's
// position in the store, so a server that stops (cleanly, or crashes: the
// store file as it is on disk while the server runs, nothing closed or
// flushed) with events the receiver has not taken delivers all of them
// after a restart on the same store: every event at least once, in order
// (so in order per org), none skipped; the log shows the retries.
func TestWebhookResumesAcrossRestart(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(map[bool]string{false: "stop", true: "crash"}[crash], func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "store.db")
			rc := &hookReceiver{secret: "hook-key"}
			hs := httptest.NewServer(rc)
			defer hs.Close()
			so := &serveOptions{webhooks: []string{hs.URL}, webhookSecret: rc.secret,
				webhookBackoff: [2]time.Duration{2 * time.Millisecond, 20 * time.Millisecond}}
			var logs bytes.Buffer
			var logMu sync.Mutex
			logger := slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil))
			open := func(path string) *persist.DB {
				db, err := persist.Open(path, persist.WithDefaultHistory(cliHistory), persist.WithTreeOptions(treeOptions...))
				require.NoError(t, err)
				return db
			}
			start := func(db *persist.DB) func() {
				stop, err := startWebhooks(context.Background(), db.Tree(), storeHistory{db.History()}, db, so, "pool-secret", io.Discard, logger)
				require.NoError(t, err)
				return stop
			}
			position := func(db *persist.DB) uint64 {
				seq, ok, err := storePositions{db}.WebhookPosition(hs.URL)
				require.NoError(t, err)
				require.True(t, ok)
				return seq
			}
			db := open(path)
			stop := start(db)
			tree := db.Tree()
			var orgs []orgtree.Org
			for _, name := range []string{"a", "b"} {
				require.NoError(t, tree.UpdateAs("test", "org "+name, func(tx *orgtree.Tx) error {
					org, err := tx.CreateOrg(orgtree.OrgInput{Name: name})
					orgs = append(orgs, org)
					return err
				}))
			}
			write := func(tree *orgtree.Tree, n int, tag string) {
				for i := range n {
					_, err := tree.AddNode(orgtree.NodeInput{ParentID: orgs[i%2].RootID, Name: tag + strconv.Itoa(i)})
					require.NoError(t, err)
				}
			}
			write(tree, 4, "delivered")
			waitUntil(t, func() bool { return position(db) == tree.Snapshot().Seq() })

			rc.setFail(true)
			failing := rc.tries()
			write(tree, 10, "pending")
			waitUntil(t, func() bool { return rc.tries() >= failing+3 })
			if crash {
				// The file as a crash would leave it: bbolt fsyncs every
				// commit, and nothing writes at this moment.
				data, err := os.ReadFile(path)
				require.NoError(t, err)
				path = filepath.Join(dir, "crashed.db")
				require.NoError(t, os.WriteFile(path, data, 0o600))
			}
			stop()
			require.NoError(t, db.Close())

			db = open(path)
			defer db.Close()
			require.Less(t, position(db), db.Tree().Snapshot().Seq(), "stopped with events undelivered")
			write(db.Tree(), 3, "offline") // written before the server is back
			rc.setFail(false)
			stop = start(db)
			defer stop()
			waitUntil(t, func() bool { return position(db) == db.Tree().Snapshot().Seq() })
			stop()

			entries, err := db.History().Since(0, 0)
			require.NoError(t, err)
			want := historyEventIDs(entries)
			rc.mu.Lock()
			defer rc.mu.Unlock()
			seen := map[string]bool{}
			var got []string
			for _, e := range rc.got {
				if !seen[e.ID] {
					seen[e.ID] = true
					got = append(got, e.ID)
				}
			}
			assert.Equal(t, want, got, "every event at least once, in order, none skipped")
			logMu.Lock()
			defer logMu.Unlock()
			assert.Contains(t, logs.String(), "webhook delivery failed")
			assert.Contains(t, logs.String(), "attempt=3", "the retries are logged")
			assert.Contains(t, logs.String(), "webhook resumes")
		})
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// historyEventIDs are the ids of the events of entries, in order: what a
// receiver of the whole history gets.
func historyEventIDs(entries []persist.HistoryEntry) []string {
	var ids []string
	for _, e := range entries {
		for i := range server.Events(e.Changes) {
			ids = append(ids, fmt.Sprintf("%d-%d", e.Seq, i))
		}
	}
	return ids
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWebhookSurvivesKill: the real crash. serve is killed with SIGKILL
// while its receiver fails; the next serve on the store delivers every
// event of the history, in order, the ones written through the first
// server included.
func TestWebhookSurvivesKill(t *testing.T) {
	bin, work := binary(t), t.TempDir()
	orgJSON, err := filepath.Abs("testdata/org.json")
	require.NoError(t, err)
	rc := &hookReceiver{secret: "hook-key", fail: true}
	hs := httptest.NewServer(rc)
	defer hs.Close()
	args := []string{"serve", "--addr", "127.0.0.1:0", "--webhook", hs.URL, "--webhook-secret", rc.secret}
	srv := startServe(t, bin, work, args...)
	mustCLI(t, bin, work, "import", orgJSON) // inside the server
	mustCLI(t, bin, work, "move", "frontend", "bj/ops")
	waitUntil(t, func() bool { return rc.tries() >= 2 })
	require.NoError(t, srv.cmd.Process.Kill())
	_ = srv.cmd.Wait()

	rc.setFail(false)
	srv = startServe(t, bin, work, args...)
	defer srv.stop(t)
	var entries []persist.HistoryEntry
	require.NoError(t, json.Unmarshal([]byte(mustCLI(t, bin, work, "--json", "log")), &entries))
	require.Len(t, entries, 2)
	want := historyEventIDs(entries)
	waitUntil(t, func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.got) >= len(want)
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var got []string
	for _, e := range rc.got {
		got = append(got, e.ID)
	}
	assert.Equal(t, want, got, "all of it, once, in order: nothing was acknowledged before the kill")
}

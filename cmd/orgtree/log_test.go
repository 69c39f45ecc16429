package main

import (
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/persist"
)

func TestLog(t *testing.T) {
	t.Setenv("USER", "tester")
	db := filepath.Join(t.TempDir(), "store.db")
	mustRun(t, "--db", db, "import", "testdata/org.json")
	var tree []*treeEntry
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, "--db", db, "--json", "tree")), &tree))
	dev, ops := tree[0].Children[0], tree[0].Children[1]
	frontend := dev.Children[1]
	mustRun(t, "--db", db, "move", "--reason", "frontend joins ops", frontend.ID, ops.ID)

	out := mustRun(t, "--db", db, "log")
	assert.Contains(t, out, "version 1 ")
	assert.Contains(t, out, "org.created")
	assert.Contains(t, out, "department.created")
	assert.Contains(t, out, "member.added")
	assert.Contains(t, out, `by cli:tester  "frontend joins ops"`)
	assert.Contains(t, out, "department.moved")
	assert.Contains(t, out, "parent "+dev.ID+" → "+ops.ID)

	out = mustRun(t, "--db", db, "log", "--since", "1")
	assert.NotContains(t, out, "version 1 ")
	assert.Contains(t, out, "department.moved")
	assert.Equal(t, 1, strings.Count(out, "version "), "one transaction after version 1:\n%s", out)

	out = mustRun(t, "--db", db, "log", "--since", "1h")
	assert.Contains(t, out, "version 1 ", "a duration ago")
	out = mustRun(t, "--db", db, "log", "--since", time.Now().Add(time.Hour).Format(time.RFC3339))
	assert.Equal(t, "no changes\n", out)

	// --node, by path; the entries of that department only.
	var entries []persist.HistoryEntry
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, "--db", db, "--json", "log", "--node", frontend.ID)), &entries))
	require.Len(t, entries, 2, "created, moved")
	assert.Equal(t, "cli:tester", entries[1].Actor)
	require.Len(t, entries[1].Changes.Nodes, 1)
	assert.Equal(t, orgtree.Updated, entries[1].Changes.Nodes[0].Kind)
	assert.True(t, entries[1].Changes.Nodes[0].Moved)
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, "--db", db, "--json", "log", "--node", frontend.ID, "--since", "1")), &entries))
	require.Len(t, entries, 1)
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, "--db", db, "--json", "log", "--since", "2")), &entries))
	assert.Empty(t, entries)

	_, err := run(t, "--db", db, "log", "--since", "yesterday-ish")
	assert.ErrorContains(t, err, "want a version number")
	_, err = run(t, "--db", db, "log", "--since", "99")
	assert.ErrorIs(t, err, persist.ErrInvalidQuery)
	out = mustRun(t, "--db", db, "log", "--since", "2000-01-01")
	assert.Contains(t, out, "version 1 ", "the history begun with the store")
	_, err = run(t, "--db", filepath.Join(t.TempDir(), "none.db"), "log")
	assert.ErrorContains(t, err, "no store")
}

// TestWritingCommandsAttributed: import, sync and move run with an actor
// and a reason, so that orgtree log says who wrote and why: by default the
// login name and the command line, else --actor/$ORGTREE_ACTOR and
// --reason; a command run inside a server is the client's, not the
// server's user.
func TestWritingCommandsAttributed(t *testing.T) {
	t.Setenv("USER", "tester")
	t.Setenv("ORGTREE_ACTOR", "")
	dir := t.TempDir()
	db := filepath.Join(dir, "store.db")
	last := func() persist.HistoryEntry {
		t.Helper()
		var entries []persist.HistoryEntry
		require.NoError(t, json.Unmarshal([]byte(mustRun(t, "--db", db, "--json", "log")), &entries))
		require.NotEmpty(t, entries)
		return entries[len(entries)-1]
	}
	mustRun(t, "--db", db, "import", "--quiet", "testdata/org.json")
	e := last()
	assert.Equal(t, "cli:tester", e.Actor)
	assert.Equal(t, "orgtree import testdata/org.json --quiet", e.Reason, "the command line, flags after the arguments")

	sync := []string{"--db", db, "sync", "--provider", "wecom",
		"--departments", "../../reconcile/testdata/wecom_departments.json",
		"--users", "../../reconcile/testdata/wecom_users.json"}
	mustRun(t, append(sync, "--actor", "hr-sync", "--reason", "nightly WeCom sync")...)
	e = last()
	assert.Equal(t, "hr-sync", e.Actor)
	assert.Equal(t, "nightly WeCom sync", e.Reason)
	seq := e.Seq
	mustRun(t, sync...) // nothing to do: no entry
	assert.Equal(t, seq, last().Seq, "a sync that changes nothing writes no entry")

	t.Setenv("ORGTREE_ACTOR", "deploy-bot")
	mustRun(t, "--db", db, "move", "frontend", "bj/ops")
	e = last()
	assert.Equal(t, "deploy-bot", e.Actor, "$ORGTREE_ACTOR")
	assert.Equal(t, "orgtree move frontend bj/ops", e.Reason)
	_, err := run(t, "--db", db, "move", "--actor", "bad\x01actor", "frontend", "bj/dev")
	assert.ErrorIs(t, err, orgtree.ErrInvalidArgument, "a label SetActor refuses")

	out := mustRun(t, "--db", db, "log", "--since", strconv.FormatUint(seq-1, 10))
	assert.Contains(t, out, `by hr-sync  "nightly WeCom sync"`)
	assert.Contains(t, out, `by deploy-bot  "orgtree move frontend bj/ops"`)

	// Inside a server: the client's actor travels with the command line.
	t.Setenv("ORGTREE_ACTOR", "")
	store, err := persist.Open(filepath.Join(dir, "served.db"), persist.WithDefaultHistory(cliHistory), persist.WithTreeOptions(treeOptions...))
	require.NoError(t, err)
	defer store.Close()
	hs := httptest.NewServer(cliHandler(store.Tree(), store, "tok"))
	defer hs.Close()
	t.Setenv("USER", "alice")
	mustRun(t, "--server", hs.URL, "--token", "tok", "import", "testdata/org.json")
	entries, err := store.History().Since(0, 0)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	assert.Equal(t, "cli:alice", entries[0].Actor, "the client's user")
	assert.Equal(t, "orgtree import testdata/org.json", entries[0].Reason)
}

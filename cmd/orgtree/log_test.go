package main

import (
	"encoding/json"
	"path/filepath"
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

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/orgtree/orgtree/persist"
)

// TestCheckReportsFormat: check names the store's format version, and says
// that a version 1 store (testdata/v1.db, written by the build before format
// version 2) is upgraded by the first command that writes.
func TestCheckReportsFormat(t *testing.T) {
	v1, err := os.ReadFile("testdata/v1.db")
	require.NoError(t, err)
	db := filepath.Join(t.TempDir(), "old.db")
	require.NoError(t, os.WriteFile(db, v1, 0o600))
	require.Equal(t, "ok: 1 orgs, 6 nodes, 4 users, 5 memberships; store format 1 (the next command that writes upgrades it to 2)\n",
		mustRun(t, "--db", db, "check"))
	var res checkResult
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, "--db", db, "--json", "check")), &res))
	require.Equal(t, checkResult{OK: true, Orgs: 1, Nodes: 6, Users: 4, Memberships: 5, Format: 1}, res)

	mustRun(t, "--db", db, "move", "frontend", "ops")
	require.Equal(t, "ok: 1 orgs, 6 nodes, 4 users, 5 memberships; store format 2\n", mustRun(t, "--db", db, "check"))
}

func TestBackupAndRestore(t *testing.T) {
	dir := t.TempDir()
	db, bak := filepath.Join(dir, "store.db"), filepath.Join(dir, "backup.db")
	mustRun(t, "--db", db, "import", "testdata/org.json")
	tree := mustRun(t, "--db", db, "tree")

	out := mustRun(t, "--db", db, "backup", bak)
	require.Regexp(t, `^backed up .*store.db to .*backup.db: \d+ bytes, format 2, version 1: 1 orgs, 6 nodes, 4 users, 5 memberships\n$`, out)
	require.Equal(t, tree, mustRun(t, "--db", bak, "tree"), "a backup is a store")
	_, err := run(t, "--db", db, "backup", db)
	require.ErrorContains(t, err, "is the store itself")

	mustRun(t, "--db", db, "move", "frontend", "ops")
	require.NotEqual(t, tree, mustRun(t, "--db", db, "tree"))
	_, err = run(t, "--db", db, "restore", bak)
	require.ErrorContains(t, err, "pass --force")
	out = mustRun(t, "--db", db, "restore", "--force", bak)
	require.Regexp(t, `^restored .*backup.db to .*store.db: \d+ bytes, format 2, version 1: 1 orgs`, out)
	require.Equal(t, tree, mustRun(t, "--db", db, "tree"))
	fresh := filepath.Join(dir, "fresh.db")
	var res backupResult
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, "--db", fresh, "--json", "restore", bak)), &res), "no store yet: no --force needed")
	assert.Equal(t, backupResult{File: bak, Store: fresh, Bytes: res.Bytes, Format: 2, Version: 1, Orgs: 1, Nodes: 6, Users: 4, Memberships: 5}, res)
	assert.Positive(t, res.Bytes)

	// Damaged and foreign files are refused, and the store stays as it was.
	good, err := os.ReadFile(bak)
	require.NoError(t, err)
	before, err := os.ReadFile(db)
	require.NoError(t, err)
	bad := func(name string, data []byte, want string) {
		t.Helper()
		p := filepath.Join(t.TempDir(), name)
		require.NoError(t, os.WriteFile(p, data, 0o600))
		_, err := run(t, "--db", db, "restore", "--force", p)
		require.ErrorContains(t, err, p+" is not a sound orgtree store", name)
		require.ErrorContains(t, err, want, name)
		require.ErrorContains(t, err, "is unchanged", name)
		after, err := os.ReadFile(db)
		require.NoError(t, err)
		require.True(t, bytes.Equal(before, after), "%s: the store was touched", name)
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		for _, e := range entries {
			require.NotContains(t, e.Name(), ".tmp-", "%s: a temporary file was left", name)
		}
	}
	org, err := os.ReadFile("testdata/org.json")
	require.NoError(t, err)
	bad("org.json", org, "store is corrupt")
	bad("empty.db", nil, "empty file")
	bad("damaged.db", damageLog(t, good), "checksum mismatch")
	foreign := filepath.Join(t.TempDir(), "foreign.db")
	b, err := bbolt.Open(foreign, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, b.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("sessions")); return err }))
	require.NoError(t, b.Close())
	foreignData, err := os.ReadFile(foreign)
	require.NoError(t, err)
	bad("foreign.db", foreignData, "unknown store format")

	_, err = run(t, "--db", db, "restore", "--force", filepath.Join(dir, "absent.db"))
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Equal(t, "ok: 1 orgs, 6 nodes, 4 users, 5 memberships; store format 2\n", mustRun(t, "--db", db, "check"))
}

// damageLog returns a copy of a store file with one byte of its first log
// record flipped: the record's checksum no longer matches.
func damageLog(t *testing.T, store []byte) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "damage.db")
	require.NoError(t, os.WriteFile(p, store, 0o600))
	b, err := bbolt.Open(p, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, b.Update(func(tx *bbolt.Tx) error {
		log := tx.Bucket([]byte("log"))
		k, v := log.Cursor().First()
		v = bytes.Clone(v)
		v[len(v)-1] ^= 0x10
		return log.Put(bytes.Clone(k), v)
	}))
	require.NoError(t, b.Close())
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	_, err = persist.Verify(p)
	require.ErrorIs(t, err, persist.ErrCorrupt)
	return data
}

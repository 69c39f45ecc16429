package persist

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/orgtree/orgtree"
)

// TestBackupWhileWriting takes backups while several writers commit, in
// both commit modes and with compactions running, and checks that every
// copy opens, passes Check, holds at least what was acknowledged before the
// call, and is one version: writer w's transaction i sets the names of its
// two nodes to i together, so a copy that mixed versions would show two
// names that differ, and the names must add up to the number of
// transactions the copy's version counts.
func TestBackupWhileWriting(t *testing.T) {
	const writers = 4
	for name, opts := range map[string][]Option{"durable": nil, "group": {WithGroupCommit(time.Millisecond)}} {
		t.Run(name, func(t *testing.T) {
			opts := append(opts, withCompactMin(2<<10))
			db := mustOpen(t, tempPath(t), opts...)
			org, err := db.Tree().CreateOrg(orgtree.OrgInput{Name: "Acme"})
			require.NoError(t, err)
			var pairs [writers][2]string
			for w := range pairs {
				for k := range pairs[w] {
					n, err := db.Tree().AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "0", Code: fmt.Sprintf("w%d-%d", w, k)})
					require.NoError(t, err)
					pairs[w][k] = n.ID
				}
			}
			require.NoError(t, db.Sync())
			start := db.Tree().Snapshot().Seq()

			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := 1; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						err := db.Tree().Update(func(tx *orgtree.Tx) error {
							for _, id := range pairs[w] {
								if _, err := tx.UpdateNode(id, orgtree.NodeUpdate{Name: orgtree.Ptr(strconv.Itoa(i))}); err != nil {
									return err
								}
							}
							return nil
						})
						if !assert.NoError(t, err) {
							return
						}
						// Group commit acknowledges without waiting for the
						// disk: syncing now and then, as a service would,
						// keeps the log from growing by the hundred thousand.
						if i%8 == 0 && !assert.NoError(t, db.Sync()) {
							return
						}
					}
				})
			}
			check := func(path string, atCall uint64) {
				t.Helper()
				cp := mustOpen(t, path, WithReadOnly())
				defer cp.Close()
				snap := cp.Tree().Snapshot()
				require.NoError(t, snap.Check())
				require.GreaterOrEqual(t, snap.Seq(), atCall, "the copy holds what was acknowledged before the call")
				sum := 0
				for w, pair := range pairs {
					a, err := snap.Node(pair[0])
					require.NoError(t, err)
					b, err := snap.Node(pair[1])
					require.NoError(t, err)
					require.Equal(t, a.Name, b.Name, "writer %d: the copy mixes versions", w)
					i, err := strconv.Atoi(a.Name)
					require.NoError(t, err)
					sum += i
				}
				require.Equal(t, snap.Seq()-start, uint64(sum), "the copy's version counts every transaction it holds")
			}
			for i := range 4 {
				time.Sleep(40 * time.Millisecond)
				atCall := db.Tree().Snapshot().Seq()
				path := tempPath(t)
				if i%2 == 0 {
					var buf bytes.Buffer
					n, err := db.Backup(&buf)
					require.NoError(t, err)
					require.Equal(t, int64(buf.Len()), n)
					require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
				} else {
					info, err := db.BackupFile(path)
					require.NoError(t, err)
					require.GreaterOrEqual(t, info.Seq, atCall)
					assert.Equal(t, FormatVersion, info.Format)
				}
				check(path, atCall)
			}
			close(stop)
			wg.Wait()
			require.NoError(t, db.Close())
			t.Logf("%d transactions by %d writers", db.Tree().Snapshot().Seq()-start, writers)
		})
	}
}

// noTempFiles fails if a restore or backup left a temporary file in dir.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.NotContains(t, e.Name(), ".tmp-", "left behind in %s", dir)
	}
}

func TestRestore(t *testing.T) {
	dir := t.TempDir()
	src := mustOpen(t, filepath.Join(dir, "src.db"))
	sample(t, src.Tree())
	want := src.Tree().Snapshot().Dump()
	bak := filepath.Join(dir, "backup.db")
	info, err := src.BackupFile(bak)
	require.NoError(t, err)
	assert.Equal(t, Info{Format: FormatVersion, Seq: want.Seq, Stats: src.Tree().Snapshot().Stats(), Bytes: info.Bytes}, info)
	_, err = src.BackupFile(src.Path())
	require.ErrorIs(t, err, os.ErrInvalid, "a backup never replaces its own store")
	require.NoError(t, src.Close())
	good, err := os.ReadFile(bak)
	require.NoError(t, err)

	// dst is a store with other content, restored over and over.
	dst := filepath.Join(dir, "dst.db")
	other := mustOpen(t, dst)
	_, err = other.Tree().CreateOrg(orgtree.OrgInput{Name: "Other"})
	require.NoError(t, err)
	require.NoError(t, other.Close())
	before, err := os.ReadFile(dst)
	require.NoError(t, err)

	refused := func(t *testing.T, data []byte, sentinel error) {
		t.Helper()
		_, err := Restore(dst, bytes.NewReader(data))
		require.ErrorIs(t, err, sentinel)
		assert.Contains(t, err.Error(), "dst.db is unchanged")
		assert.NotContains(t, err.Error(), ".tmp-", "the message names no temporary file")
		after, err := os.ReadFile(dst)
		require.NoError(t, err)
		require.Equal(t, before, after, "the store was touched")
		noTempFiles(t, dir)
	}
	t.Run("empty file", func(t *testing.T) { refused(t, nil, ErrCorrupt) })
	t.Run("not a bbolt file", func(t *testing.T) { refused(t, []byte(strings.Repeat(`{"name":"acme"}`, 1000)), ErrCorrupt) })
	t.Run("bbolt file of another program", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "foreign.db")
		b, err := bbolt.Open(p, 0o600, nil)
		require.NoError(t, err)
		require.NoError(t, b.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("sessions")); return err }))
		require.NoError(t, b.Close())
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		refused(t, data, ErrFormat)
	})
	t.Run("damaged record", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "damaged.db")
		require.NoError(t, os.WriteFile(p, good, 0o600))
		b, err := bbolt.Open(p, 0o600, nil)
		require.NoError(t, err)
		require.NoError(t, b.Update(func(tx *bbolt.Tx) error {
			k, v := tx.Bucket(bucketLog).Cursor().First()
			v = bytes.Clone(v)
			v[len(v)/2] ^= 0x40
			return tx.Bucket(bucketLog).Put(k, v)
		}))
		require.NoError(t, b.Close())
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		refused(t, data, ErrCorrupt)
	})
	t.Run("truncated", func(t *testing.T) {
		if raceEnabled {
			t.Skip("a truncated mapping can fault, which -race cannot unwind (see TestDamagedFiles)")
		}
		refused(t, good[:len(good)/2], ErrCorrupt)
	})
	t.Run("store in use", func(t *testing.T) {
		held := mustOpen(t, dst, WithReadOnly())
		defer held.Close()
		_, err := Restore(dst, bytes.NewReader(good), WithOpenTimeout(50*time.Millisecond))
		require.ErrorIs(t, err, ErrLocked)
		after, err := os.ReadFile(dst)
		require.NoError(t, err)
		require.Equal(t, before, after)
		noTempFiles(t, dir)
	})
	t.Run("good copy", func(t *testing.T) {
		info, err := Restore(dst, bytes.NewReader(good))
		require.NoError(t, err)
		assert.Equal(t, want.Seq, info.Seq)
		db := mustOpen(t, dst)
		defer db.Close()
		assert.Equal(t, want, db.Tree().Snapshot().Dump())
		noTempFiles(t, dir)
	})
	t.Run("version 1 copy", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "v1.db")
		writeV1(t, p, want)
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		target := filepath.Join(t.TempDir(), "new.db") // absent: created
		info, err := Restore(target, bytes.NewReader(data))
		require.NoError(t, err)
		assert.Equal(t, 1, info.Format, "restored as it is")
		db := mustOpen(t, target)
		defer db.Close()
		assert.Equal(t, FormatVersion, db.Format(), "upgraded by the read-write Open")
		assert.Equal(t, want, db.Tree().Snapshot().Dump())
	})
}

// TestOpenWaitingDuringRestore: an Open that waits for the lock while
// Restore renames a new file over the store opens the new file, not the
// replaced one (whose writes would be lost).
func TestOpenWaitingDuringRestore(t *testing.T) {
	dir := t.TempDir()
	path, next := filepath.Join(dir, "org.db"), filepath.Join(dir, "next.db")
	require.NoError(t, mustOpen(t, path).Close())
	db := mustOpen(t, next)
	sample(t, db.Tree())
	want := db.Tree().Snapshot().Dump()
	require.NoError(t, db.Close())

	unlock, err := lockFile(path, time.Second)
	require.NoError(t, err)
	opened := make(chan *DB, 1)
	go func() {
		db, err := Open(path, WithOpenTimeout(10*time.Second))
		assert.NoError(t, err)
		opened <- db
	}()
	time.Sleep(150 * time.Millisecond) // the Open waits for the lock
	require.NoError(t, os.Rename(next, path))
	unlock()
	db = <-opened
	require.NotNil(t, db)
	defer db.Close()
	assert.Equal(t, want, db.Tree().Snapshot().Dump())
}

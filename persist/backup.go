package persist

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"

	"github.com/orgtree/orgtree"
)

// Info describes a store file that passed Verify.
type Info struct {
	// Format is the file's format version (1 or 2).
	Format int
	// Seq is the version of the tree the file holds.
	Seq uint64
	// Stats counts what it holds.
	Stats orgtree.Stats
	// Bytes is the size of the file.
	Bytes int64
}

// Backup writes a consistent copy of the store file to w while writes go on,
// and returns the number of bytes written. The copy is one bbolt read
// transaction: it holds exactly one version of the tree, at least every
// change acknowledged before the call (in group-commit mode Backup syncs
// first), and writers are not held up while it is written. Open reads the
// copy like the original; BackupFile and Restore put it in a file safely.
func (db *DB) Backup(w io.Writer) (int64, error) {
	if err := db.Sync(); err != nil {
		return 0, err
	}
	var n int64
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if errors.Is(err, bolterr.ErrDatabaseNotOpen) {
		err = ErrClosed
	}
	if err != nil {
		return n, fmt.Errorf("persist: backup %s: %w", db.path, err)
	}
	return n, nil
}

// BackupFile writes a backup of the store to path the way Restore installs
// one: into a temporary file beside path, synced and verified (Verify), then
// renamed over path. path is never left half written, and a store another
// process has open at path is not replaced (ErrLocked).
func (db *DB) BackupFile(path string) (Info, error) {
	if same(path, db.path) {
		return Info{}, fmt.Errorf("persist: backup %s: %w: %s is the store itself", db.path, os.ErrInvalid, path)
	}
	info, err := install(path, db.cfg.openTimeout, func(w io.Writer) error {
		_, err := db.Backup(w)
		return err
	})
	if err != nil {
		return Info{}, fmt.Errorf("persist: backup %s to %s: %w", db.path, path, err)
	}
	return info, nil
}

// Restore makes the store file at path a copy of the store file read from
// r (a backup). It writes r to a temporary file beside path, syncs it and
// verifies it completely (Verify: every checksum, every record, the tree's
// invariants), and only then renames it over path, so path is always either
// the old store or the whole new one. A damaged or truncated copy is refused
// with ErrCorrupt, a file that is no orgtree store with ErrFormat, and a
// store another process (or a DB of this one) has open at path with
// ErrLocked: its owner would go on writing to the replaced file. A version
// 1 copy is restored as it is; the next read-write Open upgrades it.
//
// Only WithOpenTimeout of opts is used: how long to wait for the lock.
func Restore(path string, r io.Reader, opts ...Option) (Info, error) {
	cfg := config{openTimeout: time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	info, err := install(path, cfg.openTimeout, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
	if err != nil {
		return Info{}, fmt.Errorf("persist: restore %s: %w", path, err)
	}
	return info, nil
}

// Verify opens the store file at path read-only, checks everything Open
// checks and runs the tree's invariant checker, and describes what it holds.
func Verify(path string) (Info, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Info{}, fmt.Errorf("persist: verify %s: %w", path, err)
	}
	if fi.Size() == 0 {
		// Open would make an empty file a new store; a copy it is not.
		return Info{}, fmt.Errorf("persist: verify %s: %w: empty file", path, ErrCorrupt)
	}
	db, err := Open(path, WithReadOnly())
	if err != nil {
		return Info{}, err
	}
	defer db.Close()
	snap := db.Tree().Snapshot()
	if err := snap.Check(); err != nil {
		return Info{}, fmt.Errorf("persist: verify %s: %w: %w", path, ErrCorrupt, err)
	}
	return Info{Format: db.Format(), Seq: snap.Seq(), Stats: snap.Stats(), Bytes: fi.Size()}, nil
}

// install writes a store file through write into a temporary file beside
// path, verifies it and renames it over path while it holds the lock of the
// file at path, if there is one.
func install(path string, timeout time.Duration, write func(io.Writer) error) (info Info, err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*") // mode 0600, like a store
	if err != nil {
		return Info{}, err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Info{}, err
	}
	if info, err = Verify(tmp); err != nil {
		// The temporary file's name would only puzzle the reader.
		err = renamedError{err, strings.ReplaceAll(err.Error(), tmp, "the copy")}
		return Info{}, fmt.Errorf("the copy was refused, %s is unchanged: %w", path, err)
	}
	unlock, err := lockFile(path, timeout)
	if err != nil {
		return Info{}, err
	}
	defer unlock()
	if err := os.Rename(tmp, path); err != nil {
		return Info{}, err
	}
	// The rename is durable once the directory is synced; a crash before
	// leaves the old file or the new one at path, both whole.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return info, nil
}

// renamedError is err with another text; errors.Is and As still see err.
type renamedError struct {
	err error
	msg string
}

func (e renamedError) Error() string { return e.msg }
func (e renamedError) Unwrap() error { return e.err }

// same tells whether two paths name the same existing file.
func same(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

package persist

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"

	"github.com/orgtree/orgtree"
)

var (
	// ErrLocked means another process (or another DB in this one) has the
	// file open for writing and did not let go within the open timeout.
	ErrLocked = errors.New("persist: store is locked by another process")
	// ErrFormat means the file is a bbolt file but not an orgtree store of a
	// format version this build reads.
	ErrFormat = errors.New("persist: unknown store format")
	// ErrCorrupt means the file is damaged or truncated; nothing was loaded.
	ErrCorrupt = errors.New("persist: store is corrupt")
	// ErrWrite wraps every failure of bbolt to store a change (disk full,
	// I/O error, read-only file): the change was not applied, in memory
	// either.
	ErrWrite = errors.New("persist: write failed")
	// ErrClosed is returned by writes to a tree whose DB was closed.
	ErrClosed = errors.New("persist: store is closed")
	// ErrFailed is returned by every write after a group-commit flush failed;
	// the tree was rolled back to what is on disk. Reopen the store.
	ErrFailed = errors.New("persist: an earlier delayed write failed")
)

// Option configures Open.
type Option func(*config)

type config struct {
	treeOpts    []orgtree.Option
	openTimeout time.Duration
	window      time.Duration // > 0: group commit
	readOnly    bool
	// fault, when set, runs inside every bbolt write transaction just before
	// it commits; an error aborts the write. Tests inject disk faults with it.
	fault func() error
	// compactMin is the fewest bytes of delta records that make the store
	// write a new full record (see compact); tests make it small.
	compactMin uint64
	// beforeUpgrade, when set, runs just before a version 1 store is
	// rewritten; the upgrade crash test times its kill from it.
	beforeUpgrade func()
	// history and noHistory: WithHistory and WithoutHistory (history.go).
	history        *HistoryOptions
	historyDefault bool
	noHistory      bool
}

// defaultCompactMin: below a megabyte of deltas the log is never compacted;
// above it, once the deltas outweigh half the full record.
const defaultCompactMin = 1 << 20

// WithTreeOptions passes options to the orgtree.New call that makes the tree
// (limits, clock, id generator). The commit hook is taken by the store: a
// WithCommitHook given here is replaced.
func WithTreeOptions(opts ...orgtree.Option) Option {
	return func(c *config) { c.treeOpts = append(c.treeOpts, opts...) }
}

// WithOpenTimeout sets how long Open waits for the file lock held by another
// process before it fails with ErrLocked: at least d, and at most about 50 ms
// more (the lock is polled). The default is one second; zero or less means
// one second too, so Open never hangs.
func WithOpenTimeout(d time.Duration) Option {
	return func(c *config) { c.openTimeout = d }
}

// boltLockPoll is how often bbolt retries the file lock. bbolt gives up as
// soon as less than one poll is left of its timeout, so it is given one poll
// more than asked, and waits at least the time asked.
const boltLockPoll = 50 * time.Millisecond

// WithGroupCommit turns on group commit with the given window: writes return
// once queued and reach the disk at most window later, many of them per
// fsync. See the package documentation for the exact guarantee. A window of
// zero or less keeps the default durable-on-return mode.
func WithGroupCommit(window time.Duration) Option {
	return func(c *config) { c.window = window }
}

// WithReadOnly opens the file read-only, with a shared lock: several readers
// may open it at once, none while a writer holds it. Every write to the tree
// fails and changes nothing.
func WithReadOnly() Option {
	return func(c *config) { c.readOnly = true }
}

// DB is an open store: a tree and the bbolt file behind it.
type DB struct {
	path string
	cfg  config
	bolt *bbolt.DB
	tree *orgtree.Tree
	g    *group     // nil unless group commit is on
	c    *compactor // nil on a read-only store
	rec  *recorder  // nil unless the store records a change history
	// format is the format version of the file: 1 only for a version 1
	// store opened read-only, which is upgraded by the next read-write Open.
	format int

	mu     sync.Mutex
	closed bool
}

// Open opens the store at path, creating it when absent, and loads it into a
// new tree. See the package documentation for the errors it can return.
func Open(path string, opts ...Option) (*DB, error) {
	db := &DB{path: path, cfg: config{openTimeout: time.Second, compactMin: defaultCompactMin}}
	for _, o := range opts {
		o(&db.cfg)
	}
	if db.cfg.openTimeout <= 0 {
		db.cfg.openTimeout = time.Second
	}
	b, dump, version, err := openFile(path, &bbolt.Options{
		Timeout:      db.cfg.openTimeout + boltLockPoll,
		ReadOnly:     db.cfg.readOnly,
		FreelistType: bbolt.FreelistMapType,
		// The free list is rebuilt from the pages at open instead of
		// written with every commit: one page less per commit, as etcd
		// runs bbolt. A crash loses nothing: the list is derived.
		NoFreelistSync: true,
	})
	if err != nil {
		return nil, err
	}
	db.bolt, db.format = b, version
	db.tree = orgtree.New(append(db.cfg.treeOpts, orgtree.WithCommitHook(db.commit))...)
	if err := db.tree.Load(dump); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("persist: open %s: %w: %w", path, ErrCorrupt, err)
	}
	if version == 1 && !db.cfg.readOnly {
		// The records passed Load, so they are sound: rewrite them in the
		// current format, in one bbolt transaction.
		if db.cfg.beforeUpgrade != nil {
			db.cfg.beforeUpgrade()
		}
		if err := db.update(func(tx *bbolt.Tx) error { return upgrade(tx, dump) }); err != nil {
			_ = b.Close()
			return nil, fmt.Errorf("persist: open %s: upgrade to format version %d: %w: %w", path, FormatVersion, ErrWrite, err)
		}
		db.format = FormatVersion
	}
	if db.rec, err = db.setupHistory(dump.Seq); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("persist: open %s: %w", path, err)
	}
	if !db.cfg.readOnly {
		db.c = startCompactor(db)
		if db.cfg.window > 0 {
			db.g = startGroup(db)
		}
	}
	return db, nil
}

// Format returns the format version of the store file: 2 (this build's)
// unless a version 1 store was opened read-only; a read-write Open upgrades
// a version 1 store in place.
func (db *DB) Format() int { return db.format }

// openFile opens the bbolt file and reads every record. bbolt trusts the
// pages it reads: a damaged file can make it panic or touch memory past the
// end of a truncated mapping, so both are turned into ErrCorrupt here, on the
// goroutine that reads.
func openFile(path string, opts *bbolt.Options) (b *bbolt.DB, d *orgtree.Dump, version int, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if b != nil {
				closeAfterPanic(b)
			}
			b, d, version = nil, nil, 0
			err = fmt.Errorf("persist: open %s: %w: %v", path, ErrCorrupt, r)
		}
	}()
	b, err = openCurrent(path, opts)
	switch {
	case errors.Is(err, bolterr.ErrTimeout):
		return nil, nil, 0, fmt.Errorf("persist: open %s: %w", path, ErrLocked)
	case errors.Is(err, bolterr.ErrVersionMismatch):
		return nil, nil, 0, fmt.Errorf("persist: open %s: %w: %w", path, ErrFormat, err)
	case isOSError(err):
		return nil, nil, 0, fmt.Errorf("persist: open %s: %w", path, err)
	case err != nil:
		// bbolt's other refusals (bad meta pages, "file size too small", …)
		// all mean the file is not a sound bbolt file.
		return nil, nil, 0, fmt.Errorf("persist: open %s: %w: %w", path, ErrCorrupt, err)
	}
	fresh := false
	err = b.View(func(tx *bbolt.Tx) error {
		// bbolt reads pages past the end of a truncated file as zeros or
		// faults; the size its meta page claims tells truncation apart.
		if fi, err := os.Stat(path); err == nil && fi.Size() < tx.Size() {
			return fmt.Errorf("%w: file is %d bytes, its meta page says %d: truncated", ErrCorrupt, fi.Size(), tx.Size())
		}
		var rerr error
		d, version, fresh, rerr = readAll(tx)
		return rerr
	})
	if err == nil && fresh && !opts.ReadOnly {
		err = b.Update(initialize)
	}
	if err != nil {
		_ = b.Close()
		return nil, nil, 0, fmt.Errorf("persist: open %s: %w", path, err)
	}
	return b, d, version, nil
}

// openCurrent is bbolt.Open, made safe against Restore (and BackupFile),
// which rename a new file over path while they hold its lock: an Open that
// waited for that lock holds the replaced file once it gets it, so it
// checks that path still names the file it opened, and opens the new one if
// not.
func openCurrent(path string, opts *bbolt.Options) (*bbolt.DB, error) {
	before, _ := os.Stat(path)
	for range 3 {
		b, err := bbolt.Open(path, 0o600, opts)
		if err != nil || before == nil {
			return b, err
		}
		after, err := os.Stat(path)
		if err == nil && os.SameFile(before, after) {
			return b, nil
		}
		_ = b.Close()
		before = after
	}
	return nil, fmt.Errorf("%w: %s was replaced again and again while it was opened", bolterr.ErrTimeout, path)
}

func isOSError(err error) bool {
	var pathErr *fs.PathError
	var errno syscall.Errno
	return errors.As(err, &pathErr) || errors.As(err, &errno)
}

func closeAfterPanic(b *bbolt.DB) {
	defer func() { _ = recover() }()
	_ = b.Close()
}

// Tree returns the tree. Reads are served from memory; every write goes
// through the store before it is visible.
func (db *DB) Tree() *orgtree.Tree { return db.tree }

// Path returns the file the store lives in.
func (db *DB) Path() string { return db.path }

// commit is the tree's commit hook.
func (db *DB) commit(cs *orgtree.ChangeSet) error {
	if db.cfg.readOnly {
		return fmt.Errorf("persist: %s: %w: %w", db.path, ErrWrite, bolterr.ErrDatabaseReadOnly)
	}
	if db.rec != nil {
		// The entry is made here, where the version before the change
		// is at hand, and written with the change.
		if err := db.rec.record(cs); err != nil {
			return fmt.Errorf("persist: %s: history entry of version %d: %w", db.path, cs.Seq, err)
		}
	}
	var err error
	if db.g != nil {
		err = db.g.enqueue(cs)
	} else {
		db.mu.Lock()
		closed := db.closed
		db.mu.Unlock()
		if closed {
			err = ErrClosed
		} else {
			err = db.write([]*orgtree.ChangeSet{cs})
		}
	}
	if err != nil && db.rec != nil {
		db.rec.drop(cs.Seq)
	}
	return err
}

// write stores change sets in one bbolt transaction, one log record each.
func (db *DB) write(batch []*orgtree.ChangeSet) error {
	var st logState
	err := db.update(func(tx *bbolt.Tx) error {
		w, err := newLogWriter(tx)
		if err != nil {
			return err
		}
		for _, cs := range batch {
			if err := w.apply(cs); err != nil {
				return err
			}
		}
		st = w.st
		if err := w.finish(); err != nil {
			return err
		}
		if db.rec != nil {
			// In the same bbolt transaction: a change is never on disk
			// without its history entry, nor an entry without its change.
			return db.rec.append(tx, batch)
		}
		return nil
	})
	if db.rec != nil {
		for _, cs := range batch {
			db.rec.drop(cs.Seq)
		}
	}
	if err == nil && db.c != nil && st.logBytes >= max(db.cfg.compactMin, st.baseBytes/2) {
		db.c.kick()
	}
	return db.writeErr(err)
}

// update runs fn in a bbolt write transaction, then the injected fault.
func (db *DB) update(fn func(tx *bbolt.Tx) error) error {
	return db.bolt.Update(func(tx *bbolt.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if db.cfg.fault != nil {
			return db.cfg.fault()
		}
		return nil
	})
}

func (db *DB) writeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, bolterr.ErrDatabaseNotOpen):
		return fmt.Errorf("persist: write %s: %w", db.path, ErrClosed)
	}
	return fmt.Errorf("persist: write %s: %w: %w", db.path, ErrWrite, err)
}

// Sync waits until every change the tree has acknowledged so far is on
// disk. In the default mode that is already true and Sync returns at once.
func (db *DB) Sync() error {
	if db.g == nil {
		return nil
	}
	return db.g.sync(db.tree.Snapshot().Seq())
}

// Close writes what group commit still holds, then closes the file and
// releases its lock. The tree stays readable; writes to it fail with
// ErrClosed. Close is idempotent.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	db.mu.Unlock()
	var err error
	if db.g != nil {
		err = db.g.close()
	}
	if db.c != nil {
		db.c.close()
	}
	return errors.Join(err, db.bolt.Close())
}

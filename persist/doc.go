// Package persist makes an orgtree.Tree durable in a bbolt file.
//
// Open returns a DB whose Tree is an ordinary in-memory orgtree.Tree: reads
// never touch the disk. Every committed transaction is written to bbolt by
// the tree's commit hook, inside the tree's writer lock, before the new
// version becomes visible. In the default mode the bbolt transaction (and its
// fsync) completes before the hook returns, so a mutation that returned
// success is on disk, and a mutation whose write failed is rolled back in
// memory too, and the caller gets an error wrapping ErrWrite (disk full,
// I/O error, read-only store): memory and disk never diverge.
//
// # Group commit
//
// WithGroupCommit(window) trades a bounded loss window for throughput: the
// hook only queues the change, and a background flusher writes everything
// queued in one bbolt transaction (one fsync) at most window after the first
// queued change. The guarantees:
//
//   - a change acknowledged by the tree is on disk at most window (plus the
//     time of one fsync) later; DB.Sync waits until everything acknowledged so
//     far is on disk, so "Update then Sync" is durable-on-return with many
//     writers sharing each fsync;
//   - a crash loses at most the changes queued since the last flush, always a
//     suffix of whole transactions: never part of one, never a later one
//     without the earlier ones;
//   - if a flush fails, the tree is rolled back to the last version on disk
//     (orgtree.Tree.Rollback), the error is returned by Sync, and the DB
//     refuses every later write with ErrFailed: reopen it to go on.
//
// # Change history
//
// WithHistory turns on an append-only history of the committed
// transactions (History: Since a version, SinceTime, Node). Each entry holds
// the version, a time, the transaction's actor and reason and its
// orgtree.Changes (old and new records of what it changed); it is written
// in the bbolt transaction of the change itself, so a crash never keeps one
// without the other. The history is bounded by age, size and count
// (HistoryOptions) and trimmed from the oldest end at every write and at
// Open; a query reaching past the trimmed end fails with
// ErrHistoryTrimmed. The store remembers that it keeps a history and its
// bounds, so an Open without WithHistory does not leave a hole in it;
// WithoutHistory drops it. Its layout is in history.go, in a bucket of its
// own that the tree's format does not depend on.
//
// # On-disk format (version 1)
//
// One bbolt file with four top-level buckets, and a fifth once a setting is
// stored:
//
//	meta   "format" → uint32 big-endian format version (1)
//	       "seq"    → uint64 big-endian sequence number of the stored version
//	       "count"  → three uint64 big-endian: number of orgs, nodes, users
//	orgs   org id  → record
//	nodes  node id → record
//	users  user id → record
//	settings  key → record (DB.SetSetting: any bytes; not part of the tree)
//
// A record is a 4-byte big-endian CRC-32C of the key followed by the value
// bytes, then the value: the JSON of orgtree.OrgRecord, orgtree.NodeRecord or
// orgtree.UserRecord (a user record carries the user's memberships). The meta
// values carry the same checksum prefix. Children order, depth, paths, member
// rollups and search indexes are derived and rebuilt on load. A setting
// record seals its raw bytes the same way; settings are read (and their
// checksums checked) when asked for, not at Open, and a build that does not
// know the settings bucket ignores it.
//
// Open refuses, with a typed error and without loading anything: a file held
// by another process (ErrLocked, after the open timeout), a file of another
// format version or of another program (ErrFormat), and a truncated or
// damaged file (ErrCorrupt: a checksum, a count, a record or the tree's
// invariant checker disagrees, or bbolt cannot read a page).
package persist

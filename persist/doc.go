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
// own that the tree's format does not depend on. Entries are encoded with
// the log's record codec (historycodec.go: about 40 bytes per node of a
// bulk import, 90-270 for a single change); the JSON entries of older
// builds stay readable. A damaged entry reads as ErrCorrupt.
//
// # On-disk format (version 2)
//
// The store is a log: one full record (a snapshot of the whole content at
// one version) followed by one delta record per transaction committed since,
// in a bbolt file with two buckets, and a third once a setting is stored:
//
//	meta      "format" → uint32 big-endian format version (2)
//	          "log"    → six uint64 big-endian: base, head, records, parts,
//	                     base bytes, log bytes (see below)
//	log       seq ‖ part → one part of the record of version seq
//	settings  key → value (DB.SetSetting: any bytes; not part of the tree)
//
// Every value in meta, log and settings is sealed: a 4-byte big-endian
// CRC-32C (Castagnoli) of the key followed by the value bytes, then the
// value. A damaged key, a damaged value and a value stored under another key
// are all caught; settings are read (and their checksums checked) when asked
// for, not at Open.
//
// meta/log says where the log stands: base is the version of the full
// record (0 while the store is empty: then the log is empty too), head the
// version of the newest record, records and parts how many records and bbolt
// values the log bucket holds, base bytes the payload size of the full
// record and log bytes that of the deltas after it (what compaction weighs).
// Open checks the log bucket against it, so a lost or an extra record is
// caught even when every checksum matches.
//
// A log key is 12 bytes: the record's version (uint64 big-endian) and the
// part's index (uint32 big-endian), so bbolt keeps the log in version order.
// A record is split into parts of about 256 KiB at chunk boundaries (a chunk
// is never split); part 0 begins with the record header:
//
//	kind         byte: 1 full, 2 delta
//	nodes users  uvarint: entities in the record's chunks
//	chunks       uvarint: node chunks, then user chunks
//	orgs         uvarint count, then per org: id, root id, tenant id
//	             (strings), created (varint, delta from the previous org's),
//	             updated (varint, delta from created)
//	five lists   extra nodes, extra users, deleted orgs, deleted nodes,
//	             deleted users: uvarint count, then front-coded ids
//
// and the rest of part 0 and every later part are chunks: a kind byte ('n'
// nodes, 'u' users), the uvarint entity count, the uvarint body length, the
// body. A chunk holds up to 1024 entities, sorted by id as the engine's
// ChangeSet and Dump give them, each encoded against its predecessor in the
// chunk:
//
//   - strings are a uvarint length and the bytes; front-coded strings (ids,
//     names, codes, external ids, email addresses…) are the uvarint length
//     of the prefix shared with the predecessor's value, then the rest as a
//     string. Maps (nameI18n, descriptionI18n) are a count and sorted
//     key/value strings.
//   - a node: id, a uvarint of flags saying which optional fields follow
//     (parent, nameI18n, description, descriptionI18n, code, external id,
//     leader, resources, order), org id, parent reference, name, the
//     optional fields, created (varint delta from the predecessor's) and
//     updated (varint delta from created), then its resources (namespace,
//     code, type, actions).
//   - a user: id, flags (name, username, email, phone, external id, main
//     department), the present fields, main department reference, created
//     and updated as for nodes, then its memberships in join order: a count
//     and per membership the node reference and the join time, both as
//     varint deltas from the previous membership's (the first node from 0,
//     the first time from the user's creation).
//
// References (parent, leader, main department, membership) are numbers,
// not ids: n < N (the record's nodes, or users for a leader) is the record's
// n-th entity, and N+k the k-th id of the record's extra list, which names
// the entities it refers to but does not hold (a delta's untouched parent,
// for instance). A membership thus takes a few bytes (BenchmarkLoad
// measured 5.2 B per membership, 18 B per node at 100k nodes and 1M
// memberships). Times are Unix nanoseconds, 0 for the zero time, and come
// back in UTC.
//
// The engine derives everything else: children order, depth, paths, member
// rollups, search indexes. A delta record holds the full records of the
// entities its transaction changed (orgtree.ChangeSet) and the ids it
// deleted; the actor and reason of a change are not stored.
//
// # Open
//
// Open reads the whole log in one bbolt read transaction, on all cores:
// every part's checksum, then the record headers (in order), then the chunks
// and their references in parallel. It folds the deltas into the full record
// (the newest record of an id wins, a deletion drops it) and hands the result
// to the engine's bulk path, orgtree.Tree.Load, which checks each record on
// all cores, builds every index at once and checks the structure the
// records form (links, reachability, both sides of every membership).
// Decoding checks every length,
// count and reference against the bytes it has, so a record that passes its
// checksum but is malformed is refused, never a panic or a huge allocation.
//
// Open refuses, with a typed error and without loading anything: a file held
// by another process (ErrLocked, after the open timeout), a file of another
// format version or of another program (ErrFormat), and a truncated or
// damaged file (ErrCorrupt: a checksum, meta/log, a record or the tree's
// invariant checker disagrees, or bbolt cannot read a page).
//
// # Writes and compaction
//
// A commit appends the delta record of its ChangeSet and rewrites meta/log,
// in one bbolt transaction; a group-commit flush does the same for every
// queued ChangeSet, one record each, in one transaction. The first record of
// an empty store is written as its full record.
//
// Once the deltas after the full record outweigh both a megabyte and half
// the full record, a background compactor encodes the newest version known
// to be on disk (an immutable snapshot, so no lock is held while it
// encodes) and, in one bbolt transaction, writes it as the new full record
// and deletes every record up to its version; deltas committed meanwhile
// stay after it. Open thus reads at most about one and a half times the
// content, and writers wait only for that one transaction.
//
// # Crash guarantees
//
// Every change to the file is one bbolt transaction: a commit, a group
// flush, a compaction, an upgrade. bbolt makes each atomic (pages are
// copied on write and the new root is published by a meta page written
// after an fsync of the data), so a crash at any moment (kill -9, power
// loss) leaves the file as it was before or after the transaction, never in
// between. bbolt's free-page list is not written with each commit: bbolt
// rebuilds it from the pages at open (NoFreelistSync, as etcd runs it), so
// a commit writes one page less and a crash has no list to lose. In the
// default mode a change is on disk when the mutation returns; with group
// commit when Sync returns. TestCrashRecovery checks
// this with kill -9 at random moments, with compaction running too.
//
// # Format version 1
//
// Version 1 (one JSON record per org, node and user, in buckets orgs, nodes
// and users, with meta/seq and meta/count) is still read. A read-write Open
// upgrades it in place: the records are loaded and checked as usual, then
// one bbolt transaction deletes the old buckets and writes the content as a
// version 2 full record. A crash during the upgrade leaves the version 1
// store or the version 2 one, never neither (TestUpgradeCrash). A read-only
// Open leaves the file alone; DB.Format tells which version the file is.
//
// # Backup and restore
//
// DB.Backup writes a consistent copy of the file (one bbolt read
// transaction: one version, whatever writers do meanwhile) to any writer
// while the store stays open for writes. Restore puts such a copy in place
// of a store: it verifies the whole copy in a temporary file beside the
// store first and then renames it over the store, so the store is either
// the old one or the complete new one.
package persist

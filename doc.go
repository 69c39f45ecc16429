// Package orgtree is an embeddable, in-memory engine for organization trees:
// orgs, their departments (nodes) and the users who are members of them, with
// the operations of the organization module of Authing's management SDKs
// (create orgs, add, update, move and delete nodes, list children and
// members, paths, search, authorized resources, JSON import and export).
//
// # Model
//
// A Tree holds any number of orgs. Each org is a tree of nodes under one
// root node, created with the org (CreateOrg) and deleted with it
// (DeleteOrg). A node has an id, a name (1–64 runes, trimmed, no control
// characters), optional i18n names, description, a code unique within its
// org (never starting with "sys:"), an order, an external id (a provider's
// department id, unique within the org) and a leader user id (an existing
// user, not necessarily a member; DeleteUser clears it). Siblings are
// ordered by larger Order first, then creation time, then id.
//
// Codes are compared exactly, byte for byte: "Ops" and "ops" are two codes
// and may both exist in one org, as in the reference service, whose codes
// are case-sensitive keys. The reserved prefix is the exception: "sys:",
// "SYS:" and every other spelling are refused (ErrInvalidCode), because the
// prefix marks system nodes whatever the case a client happens to send.
//
// A list of users given to one call (AddMembers, RemoveMembers, MoveMembers)
// or one node's members list in an import names each user once: a user
// listed twice is refused with ErrInvalidArgument and nothing changes,
// rather than merged, since it usually means a mistake upstream.
//
// Users are light records (id, name, username, email, phone, external id)
// kept outside orgs. A user may be a member of any number of nodes in any
// number of orgs, and may have one main department among them. Grants of
// resources (namespace, code, DATA/API/MENU/BUTTON, actions) hang off nodes.
//
// Paths are derived by walking parent links, so they are O(depth) and never
// stored. Each node's depth is kept (beside the records, see below), so
// AddNode checks MaxDepth in O(1) and a chain of any depth is built in
// O(1) per node; a move shifts the depths of the moved subtree, one small
// entry per node. Name paths are returned as slices; FormatPath and
// ParsePath join and split them reversibly even when names contain "/".
// Every walk over the tree is iterative: chains a million nodes deep work.
//
// # Indexes and rollups
//
// Nodes are indexed by id, by code and external id per org, and by name
// n-grams (trigrams, plus one- and two-rune grams with non-ASCII runes, so
// short CJK queries use the index too, and anchor grams for the start and
// end of each name); search re-checks every candidate, so its results
// equal a brute-force scan. Name changes reach the n-gram index in batches
// of up to 256, folded at commit; until then a search re-checks them too.
// A search with a Limit works rank by rank and stops when it has enough
// hits: it re-checks a rank's candidates shallowest first and stops after
// the depth that fills the limit, and walks the tree level by level when
// the index cannot narrow the candidates to a few thousand.
//
// Each node keeps the number of distinct users with a membership in its
// subtree, so MemberCount is O(1); a membership change updates only the
// ancestors it affects (O(k·depth) for a user in k departments). A move
// costs O(depth) for the links, O(subtree) for the depths, and, for the
// users with memberships in the moved subtree, O(their memberships·depth)
// for the counts of the two root paths. Measured by the bench program at
// 100k nodes and 1M memberships on two cores: a leaf with its ~10 members
// moves in about 20 µs, a subtree holding most of the org and its ~300k
// users in a few milliseconds. A transaction that adds more than a quarter of the
// tree's memberships (a bulk load) stops keeping the counts one by one and
// commit recomputes them once. Users are kept ordered by createdAt and
// updatedAt in copy-on-write B-trees, so the first pages of a large member
// listing are found without sorting the whole subtree.
//
// # Concurrency
//
// Any number of readers and one writer at a time, like bbolt. Every
// committed state is an immutable version built from persistent
// (structurally shared) maps and vectors. Reads on a Tree load the newest
// version with one atomic operation and take no lock; Snapshot returns a
// version to keep for a long read (an export, a full listing, a search),
// which then sees one consistent state and never blocks writers.
//
// The reads whose cost grows with the tree have variants that take a
// context.Context — SearchContext, ListMembersContext, ChildrenContext,
// ExportOrgContext, ExportAllContext, ExportJSONContext, DiffContext — and
// stop when it ends: they look at it before they start and every 256 steps
// of their loops (nodes re-checked, members keyed, nodes copied or written,
// sort comparisons), then return an error wrapping ctx.Err() and no partial
// result. A server passes its request's context, so a client that leaves
// or times out stops the work it asked for. The variants without a context
// are unchanged: a context that can never end is not looked at.
//
// Writes go through Update(func(tx *Tx) error): the transaction copies only
// what it touches, sees its own changes, and becomes visible atomically
// when the function returns nil. If the function returns an error or panics
// nothing is kept. Each Tx method also either applies completely or returns
// an error and changes nothing, so a transaction can handle an error and
// go on. The write methods on Tree are one-operation transactions.
//
// Every transaction that changes something publishes a new version, so it
// costs a few microseconds however small it is (the bench program's "the
// smallest write", one field of one node, is 2–5 µs at 100k nodes, where
// a map assignment under a mutex is a tenth of a microsecond). Many
// changes in one Update pay that once: a bulk load or an import goes
// through one transaction, and AddMembers takes any number of users.
//
// Fork (on a Tree, a Snapshot or a Tx) returns an independent, writable
// tree that starts from that version and shares all of its structure: O(1)
// whatever the size, so a loaded fixture can be copied for every test.
//
// A CommitHook (WithCommitHook) sees the ChangeSet of every transaction
// before it is published and can refuse it; package persist uses it to write
// each transaction to bbolt so memory and disk never diverge. Dump and Load
// move a whole version to and from flat records.
//
// Snapshot.Seq numbers versions: a number names one state of a tree and is
// never handed out twice. Rollback (for stores that acknowledge before
// writing, such as persist's group commit) goes back only to an ancestor
// of the current version; the next commit gets a number above every
// earlier one.
//
// # Errors
//
// Errors wrap exported sentinels (ErrNotFound, ErrCycle, ErrDuplicateCode,
// ErrInvalidName, ErrInvalidCode, ErrLimitExceeded, ErrCrossOrg, ErrNotEmpty,
// ErrRootNode, ErrNotMember, ErrExists, ErrInvalidArgument, ErrInvalidJSON,
// ErrTxClosed, ErrCorrupt) with context naming the operation and ids; test
// them with errors.Is. No input makes the package panic. Import errors name
// the JSON path of each bad element and list up to 100 of them. Import
// documents are UTF-8 (RFC 8259): invalid bytes and lone surrogate escapes
// are refused with their JSON path and byte offset, never replaced; a
// leading byte order mark is skipped.
//
// # Determinism
//
// WithClock and WithIDGenerator make fixtures reproducible; timestamps are
// strictly increasing within a tree even when the clock stands still, so
// creation order (and hence sibling order) survives export and import.
// Check walks every structure and reports each broken invariant; tests run
// it after every mutation.
//
// # Changes: diff, watch, actor
//
// Diff(older, newer) lists what changed between two versions (nodes added,
// removed, moved, renamed or updated; memberships; main departments; users;
// orgs). It walks the persistent vectors side by side and skips what the
// versions share, so it costs what changed, not the tree (4.5 µs for three
// changes in a 100k-node tree). Tree.WatchCh and Tree.Watch return channels
// in go-memdb's WatchSet style, closed when a newer version touches what a
// read looked at (WatchNode, WatchChildren, WatchMembers, WatchUser,
// WatchOrg, WatchSearch, WatchAll); the writer closes them as it publishes,
// and the engine starts no goroutine. Tx.SetActor (or Tree.UpdateAs)
// records who made a transaction and why; both travel in its ChangeSet.
package orgtree

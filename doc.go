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
// department id, unique within the org) and a leader user id. Siblings are
// ordered by larger Order first, then creation time, then id.
//
// Users are light records (id, name, username, email, phone, external id)
// kept outside orgs. A user may be a member of any number of nodes in any
// number of orgs, and may have one main department among them. Grants of
// resources (namespace, code, DATA/API/MENU/BUTTON, actions) hang off nodes.
//
// Depths and paths are derived by walking parent links, never stored, so a
// move never rewrites the moved subtree, and paths are O(depth). Name paths
// are returned as slices; FormatPath and ParsePath join and split them
// reversibly even when names contain "/". Every walk over the tree is
// iterative: chains a million nodes deep work.
//
// # Indexes and rollups
//
// Nodes are indexed by id, by code and external id per org, and by name
// n-grams (trigrams, plus one- and two-rune grams with non-ASCII runes, so
// short CJK queries use the index too); search re-checks every candidate,
// so its results equal a brute-force scan. Each node keeps the size of its
// subtree and the number of distinct users with a membership in it, so
// MemberCount is O(1); a membership change updates only the ancestors it
// affects (O(k·depth) for a user in k departments), and a move updates
// them for the users with memberships in the moved subtree (the structural
// part of a move stays O(depth)). Users are kept ordered by createdAt and
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
// Writes go through Update(func(tx *Tx) error): the transaction copies only
// what it touches, sees its own changes, and becomes visible atomically
// when the function returns nil. If the function returns an error or panics
// nothing is kept. Each Tx method also either applies completely or returns
// an error and changes nothing, so a transaction can handle an error and
// go on. The write methods on Tree are one-operation transactions.
//
// A CommitHook (WithCommitHook) sees the ChangeSet of every transaction
// before it is published and can refuse it; package persist uses it to write
// each transaction to bbolt so memory and disk never diverge. Dump and Load
// move a whole version to and from flat records.
//
// # Errors
//
// Errors wrap exported sentinels (ErrNotFound, ErrCycle, ErrDuplicateCode,
// ErrInvalidName, ErrInvalidCode, ErrLimitExceeded, ErrCrossOrg, ErrNotEmpty,
// ErrRootNode, ErrNotMember, ErrExists, ErrInvalidArgument, ErrInvalidJSON,
// ErrTxClosed, ErrCorrupt) with context naming the operation and ids; test
// them with errors.Is. No input makes the package panic. Import errors name
// the JSON path of each bad element and list up to 100 of them.
//
// # Determinism
//
// WithClock and WithIDGenerator make fixtures reproducible; timestamps are
// strictly increasing within a tree even when the clock stands still, so
// creation order (and hence sibling order) survives export and import.
// Check walks every structure and reports each broken invariant; tests run
// it after every mutation.
package orgtree

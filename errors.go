package orgtree

import "errors"

// Sentinel errors. Every error returned by this package wraps one of these with
// context (the operation and the ids involved); compare with errors.Is. The
// wrapping message starts with "orgtree: " and the sentinel's text ends it,
// so the package is named once: "orgtree: move: node "x": not found".
var (
	// ErrNotFound means an org, node, user, membership or resource does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists means an entity with the given id or external id already exists.
	ErrExists = errors.New("already exists")
	// ErrDuplicateCode means another node of the same org already has the code.
	ErrDuplicateCode = errors.New("duplicate code")
	// ErrInvalidCode means a code is empty, too long, contains spaces or control
	// characters, or starts with the reserved prefix "sys:" in any case
	// ("SYS:" too; codes themselves are case-sensitive).
	ErrInvalidCode = errors.New("invalid code")
	// ErrInvalidName means a name is empty after trimming, too long, not valid
	// UTF-8 or contains control characters.
	ErrInvalidName = errors.New("invalid name")
	// ErrInvalidArgument means any other malformed argument: bad ids, page or
	// limit out of range, bad cursor, unknown enum value, bad i18n key.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrLimitExceeded means a configured limit (depth, children per node, page
	// size, import size) would be exceeded.
	ErrLimitExceeded = errors.New("limit exceeded")
	// ErrCycle means a move would put a node under itself or one of its descendants.
	ErrCycle = errors.New("cycle")
	// ErrCrossOrg means an operation would connect nodes of two different orgs.
	ErrCrossOrg = errors.New("cross-org operation")
	// ErrNotEmpty means a node still has children or members and the caller asked
	// not to cascade.
	ErrNotEmpty = errors.New("node not empty")
	// ErrRootNode means the operation is not allowed on an org's root node
	// (delete it with DeleteOrg; it cannot be moved).
	ErrRootNode = errors.New("root node")
	// ErrNotMember means a user is not a member of the node named.
	ErrNotMember = errors.New("not a member")
	// ErrInvalidJSON means an import document is not well-formed or does not have
	// the expected shape; the message names the JSON path of the bad element.
	ErrInvalidJSON = errors.New("invalid JSON")
	// ErrTxClosed means a Tx was used after its Update function returned.
	ErrTxClosed = errors.New("transaction closed")
	// ErrCorrupt is wrapped by every invariant violation that Check reports.
	ErrCorrupt = errors.New("invariant violated")
	// ErrBadChangeSet means Tree.Apply refused a ChangeSet: it does not
	// apply cleanly to the tree's newest version (a record it names is
	// missing, a node it adds exists, the result would break an invariant,
	// or the result differs from what the ChangeSet says). The error also
	// wraps the specific reason (ErrNotFound, ErrCycle, ...).
	ErrBadChangeSet = errors.New("change set does not apply")
	// ErrUnavailable means the store a tree's writes go through (the etcd
	// cluster of package replicate) could not be reached: the write was not
	// made and may be retried. The engine itself never returns it; stores
	// wrap it (replicate.ErrUnavailable does) so that code knowing only this
	// package, such as package server, tells an outage from a failure.
	ErrUnavailable = errors.New("unavailable")
)

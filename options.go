package orgtree

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
	"time"
)

// Limits bound what one tree accepts. A zero field takes the default; a
// negative field means "no limit".
type Limits struct {
	// MaxDepth is the deepest level a node may sit at (the root is depth 0).
	// Default 1000.
	MaxDepth int
	// MaxChildren is the most direct children one node may have. Default 100000.
	MaxChildren int
	// MaxNameLength is the longest name, in runes, after trimming. Default 64.
	MaxNameLength int
	// MaxDescriptionLength is the longest description, in runes. Default 4096.
	MaxDescriptionLength int
	// MaxPageSize is the largest page (limit) a listing accepts. Default 1000.
	MaxPageSize int
	// MaxImportNodes is the most nodes one import may create. Default 1000000.
	MaxImportNodes int
}

// DefaultLimits are the limits of a tree made without WithLimits.
var DefaultLimits = Limits{
	MaxDepth:             1000,
	MaxChildren:          100000,
	MaxNameLength:        64,
	MaxDescriptionLength: 4096,
	MaxPageSize:          1000,
	MaxImportNodes:       1000000,
}

// Fixed bounds that are not configurable: they protect the engine, not policy.
const (
	maxCodeLength   = 128 // runes
	maxIDLength     = 128 // bytes
	maxFieldLength  = 512 // runes, for user fields, external ids and i18n keys
	maxI18nEntries  = 64
	maxKeywordRunes = 256
	defaultPageSize = 10

	maxInt = int(^uint(0) >> 1)
)

func (l Limits) withDefaults() Limits {
	pick := func(v, def int) int {
		switch {
		case v == 0:
			return def
		case v < 0:
			return maxInt
		}
		return v
	}
	return Limits{
		MaxDepth:             pick(l.MaxDepth, DefaultLimits.MaxDepth),
		MaxChildren:          pick(l.MaxChildren, DefaultLimits.MaxChildren),
		MaxNameLength:        pick(l.MaxNameLength, DefaultLimits.MaxNameLength),
		MaxDescriptionLength: pick(l.MaxDescriptionLength, DefaultLimits.MaxDescriptionLength),
		MaxPageSize:          pick(l.MaxPageSize, DefaultLimits.MaxPageSize),
		MaxImportNodes:       pick(l.MaxImportNodes, DefaultLimits.MaxImportNodes),
	}
}

// CommitHook receives the changes of every transaction before it becomes
// visible. If it returns an error the transaction is rolled back and Update
// returns that error, so an external store (see package persist) never
// diverges from memory. It runs while the writer lock is held.
type CommitHook func(*ChangeSet) error

// Option configures a Tree made by New.
type Option func(*config)

type config struct {
	clock  func() time.Time
	newID  func() string
	limits Limits
	hook   CommitHook
}

// WithClock sets the clock used for createdAt and updatedAt. The tree makes
// timestamps strictly increasing even if the clock stands still or goes back,
// so creation order is always recoverable from createdAt.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.clock = now }
}

// WithIDGenerator sets the generator of org, node and user ids. It must return
// a non-empty string of at most 128 bytes; a duplicate makes the operation fail
// with ErrExists.
func WithIDGenerator(next func() string) Option {
	return func(c *config) { c.newID = next }
}

// WithLimits replaces the default limits (zero fields keep their defaults).
func WithLimits(l Limits) Option {
	return func(c *config) { c.limits = l }
}

// WithCommitHook installs a hook that sees every committed ChangeSet.
func WithCommitHook(h CommitHook) Option {
	return func(c *config) { c.hook = h }
}

// SequentialIDs returns an id generator that yields prefix1, prefix2, … —
// handy for deterministic fixtures and tests.
func SequentialIDs(prefix string) func() string {
	var n atomic.Uint64
	return func() string {
		return prefix + formatUint(n.Add(1))
	}
}

func formatUint(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// objectIDs generates 24-hex-digit ids shaped like the reference service's:
// 4 bytes of seconds, 5 random bytes per process, a 3-byte counter.
func objectIDs() func() string {
	var process [5]byte
	_, _ = rand.Read(process[:])
	var counter atomic.Uint32
	var seed [4]byte
	_, _ = rand.Read(seed[:])
	counter.Store(binary.BigEndian.Uint32(seed[:]))
	return func() string {
		var b [12]byte
		binary.BigEndian.PutUint32(b[0:4], uint32(time.Now().Unix()))
		copy(b[4:9], process[:])
		c := counter.Add(1)
		b[9], b[10], b[11] = byte(c>>16), byte(c>>8), byte(c)
		return hex.EncodeToString(b[:])
	}
}

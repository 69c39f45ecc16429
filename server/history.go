package server

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orgtree/orgtree"
)

// Commit is one committed transaction as a History gives it.
type Commit struct {
	Seq           uint64
	Time          time.Time
	Actor, Reason string
	Changes       *orgtree.Changes
}

// History is a record of the tree's commits, one by one, that the event
// stream reads instead of diffing versions: each event then carries the
// actor and reason of its transaction, event ids name one commit each,
// and a client that reconnects with Last-Event-ID resumes where it stopped,
// across server restarts when the history is durable. cmd/orgtree serve
// passes the store's change history (package persist), or a
// MemoryHistory with --memory.
type History interface {
	// Since returns the commits after version seq, oldest first, at most
	// limit of them. An error wrapping ErrHistoryGone means seq is older
	// than the history reaches.
	Since(seq uint64, limit int) ([]Commit, error)
}

// ErrHistoryGone is what a History's Since wraps when asked for commits it
// no longer holds.
var ErrHistoryGone = errors.New("server: the change history does not reach that far back")

// MemoryHistory is a History in memory: the last commits of one tree,
// recorded by its commit hook. Install Hook with orgtree.WithCommitHook
// when making the tree; it is the only hook the tree can have, so a store
// (package persist) keeps its own durable history instead.
type MemoryHistory struct {
	size int
	now  func() time.Time

	mu    sync.Mutex
	ring  []Commit // oldest first, at most size
	start uint64   // the history is complete after this version
	begun bool
}

// NewMemoryHistory keeps the last size commits (at least 1; a commit that
// imports a large tree holds its records, so size is what bounds memory).
func NewMemoryHistory(size int) *MemoryHistory {
	return &MemoryHistory{size: max(1, size), now: time.Now}
}

// Hook is the tree's commit hook: it records the commit's changes. It runs
// inside the commit, where orgtree.ChangeSet.Changes answers.
func (h *MemoryHistory) Hook(cs *orgtree.ChangeSet) error {
	c, err := cs.Changes()
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.begun {
		// Commits before the first one recorded are not known.
		h.start, h.begun = cs.Seq-1, true
	}
	if len(h.ring) == h.size {
		h.start = h.ring[0].Seq
		copy(h.ring, h.ring[1:])
		h.ring = h.ring[:len(h.ring)-1]
	}
	h.ring = append(h.ring, Commit{Seq: cs.Seq, Time: h.now(), Actor: cs.Actor, Reason: cs.Reason, Changes: c})
	return nil
}

// Since returns the commits after seq; see History.
func (h *MemoryHistory) Since(seq uint64, limit int) ([]Commit, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.begun && seq < h.start {
		return nil, fmt.Errorf("%w: since version %d: the last %d commits start after version %d", ErrHistoryGone, seq, h.size, h.start)
	}
	var out []Commit
	for _, c := range h.ring {
		if c.Seq > seq && (limit <= 0 || len(out) < limit) {
			out = append(out, c)
		}
	}
	return out, nil
}

// eventID is a parsed SSE event id: "<seq>-<n>", the nth event of version
// seq's changes, or "<seq>", everything up to version seq.
type eventID struct {
	seq uint64
	n   int // -1: all of version seq
}

// String is the id as the stream sends it (what parseEventID reads).
func (id eventID) String() string {
	if id.n < 0 {
		return strconv.FormatUint(id.seq, 10)
	}
	return strconv.FormatUint(id.seq, 10) + "-" + strconv.Itoa(id.n)
}

func parseEventID(s string) (eventID, bool) {
	if s == "" || len(s) > 64 {
		return eventID{}, false
	}
	seqPart, nPart, hasN := strings.Cut(s, "-")
	seq, err := strconv.ParseUint(seqPart, 10, 64)
	if err != nil {
		return eventID{}, false
	}
	if !hasN {
		return eventID{seq: seq, n: -1}, true
	}
	n, err := strconv.Atoi(nPart)
	if err != nil || n < 0 {
		return eventID{}, false
	}
	return eventID{seq: seq, n: n}, true
}

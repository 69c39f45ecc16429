package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/orgtree/orgtree"
)

// eventsPath is the event stream's endpoint.
const eventsPath = "/api/v2/events"

// keepAlive is how often an idle stream sends a comment line, so that
// proxies keep the connection. (A variable for the tests.)
var keepAlive = 15 * time.Second

// historyPage is how many commits the stream reads from a History at once.
const historyPage = 256

// resetType is the event that tells a client its Last-Event-ID cannot be
// resumed from: it must reload what it shows, then go on with the events
// that follow.
const resetType = "stream.reset"

// ResetData is the data of a stream.reset event.
type ResetData struct {
	// LastEventID is the id the client sent.
	LastEventID string `json:"lastEventId"`
	// Reason says why it cannot be resumed from.
	Reason string `json:"reason"`
}

// feed produces the stream's events after its cursor: each is one SSE
// message, whose id is the event's ID.
type feed interface {
	// resume positions the feed after the event a client last saw and
	// returns the messages it missed from that version; ok false means it
	// cannot (the feed then stays at the newest version).
	resume(id eventID) (msgs []Event, ok bool, why string)
	// next waits for changes after the cursor and returns their messages.
	next(ctx context.Context) ([]Event, error)
	// seq is the version the cursor is at.
	seq() uint64
}

// serveEvents answers GET /api/v2/events: an endless Server-Sent Events
// stream of the changes committed after the request (or after the event a
// reconnecting client names in Last-Event-ID), authenticated like every
// endpoint. Each SSE message has the event type as its event name,
// "<seq>-<n>" as its id (the nth event of version seq) and the Event as
// JSON data. A comment line is sent every 15 s so that proxies keep the
// connection.
func (s *Server) serveEvents(w http.ResponseWriter, req *http.Request) {
	if err := s.authenticate(req); err != nil {
		writeREST(w, http.StatusUnauthorized, 401, err.Error(), nil)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeREST(w, http.StatusInternalServerError, 500, "streaming unsupported", nil)
		return
	}
	// The stream outlives the server's write timeout, which is for
	// ordinary answers.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The cursor is taken before the opening line: a client that writes
	// after reading it sees its change.
	var f feed
	if s.cfg.History != nil {
		f = &historyFeed{tree: s.tree, hist: s.cfg.History, cursor: s.tree.Snapshot().Seq()}
	} else {
		f = &diffFeed{s: s, cursor: s.batches.align(s.tree)}
	}
	var first []Event
	if last := req.Header.Get("Last-Event-ID"); last != "" {
		id, valid := parseEventID(last)
		msgs, ok, why := []Event(nil), false, "not an event id of this server"
		if valid {
			msgs, ok, why = f.resume(id)
		}
		if ok {
			first = msgs
		} else {
			first = []Event{resetMessage(f.seq(), last, why)}
		}
	}
	fmt.Fprintf(w, ": orgtree events from version %d\n\n", f.seq())
	if len(first) > 0 && !s.writeMessages(w, first) {
		return
	}
	fl.Flush()
	ctx := req.Context()
	for {
		wait, cancel := context.WithTimeout(ctx, keepAlive)
		msgs, err := f.next(wait)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			// The history failed (the store closing, a damaged entry):
			// end the stream; the client reconnects with its last id.
			s.cfg.Logger.Error("event stream: reading the change history", "err", err)
			return
		}
		if err != nil {
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
			continue
		}
		if !s.writeMessages(w, msgs) {
			return
		}
		fl.Flush()
	}
}

// writeMessages writes msgs in one write; false when the client is gone.
func (s *Server) writeMessages(w http.ResponseWriter, msgs []Event) bool {
	var buf bytes.Buffer
	for _, m := range msgs {
		data, err := json.Marshal(m)
		if err != nil {
			s.cfg.Logger.Error("event stream: encoding an event", "err", err)
			return false
		}
		fmt.Fprintf(&buf, "id: %s\nevent: %s\ndata: %s\n\n", m.ID, m.Type, data)
	}
	_, err := w.Write(buf.Bytes())
	return err == nil
}

// resetMessage is the stream.reset event that goes on at version seq,
// for a client whose last event id (or a webhook's position) was last.
func resetMessage(seq uint64, last, why string) Event {
	return Event{ID: eventID{seq: seq, n: -1}.String(), Type: resetType, Seq: seq, Data: ResetData{LastEventID: last, Reason: why}}
}

// commitMessages are the events of one commit, from the nth on.
func commitMessages(c Commit, from int) []Event {
	var out []Event
	for i, e := range Events(c.Changes) {
		if i < from {
			continue
		}
		e.ID = eventID{seq: c.Seq, n: i}.String()
		e.Seq, e.Actor, e.Reason = c.Seq, c.Actor, c.Reason
		out = append(out, e)
	}
	return out
}

// historyFeed reads commits one by one from a History.
type historyFeed struct {
	tree   *orgtree.Tree
	hist   History
	cursor uint64
}

func (f *historyFeed) seq() uint64 { return f.cursor }

func (f *historyFeed) resume(id eventID) ([]Event, bool, string) {
	if id.seq > f.cursor {
		return nil, false, fmt.Sprintf("version %d is newer than this server's %d", id.seq, f.cursor)
	}
	if id.n < 0 {
		// Everything up to id.seq was seen.
		if _, err := f.hist.Since(id.seq, 1); err != nil {
			return nil, false, err.Error()
		}
		f.cursor = id.seq
		return nil, true, ""
	}
	if id.seq == 0 {
		return nil, false, "version 0 has no events"
	}
	// The rest of version id.seq, then what follows (next reads it).
	cs, err := f.hist.Since(id.seq-1, 1)
	if err != nil {
		return nil, false, err.Error()
	}
	f.cursor = id.seq
	if len(cs) == 1 && cs[0].Seq == id.seq {
		return commitMessages(cs[0], id.n+1), true, ""
	}
	return nil, true, ""
}

func (f *historyFeed) next(ctx context.Context) ([]Event, error) {
	for {
		snap := f.tree.Snapshot()
		cs, err := f.hist.Since(f.cursor, historyPage)
		if errors.Is(err, ErrHistoryGone) {
			// Trimmed while this client lagged: it must start over.
			from := f.cursor
			f.cursor = snap.Seq()
			return []Event{resetMessage(f.cursor, strconv.FormatUint(from, 10), err.Error())}, nil
		}
		if err != nil {
			return nil, err
		}
		if len(cs) > 0 {
			var out []Event
			for _, c := range cs {
				out = append(out, commitMessages(c, 0)...)
				f.cursor = c.Seq
			}
			if len(out) > 0 {
				return out, nil
			}
			continue
		}
		if snap.Seq() > f.cursor {
			// The tree is ahead of the history (a store that writes
			// later, in group commit): look again shortly.
			t := time.NewTimer(20 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			continue
		}
		if err := f.tree.Watch(snap, orgtree.WatchAll()).Watch(ctx); err != nil {
			return nil, err
		}
	}
}

// diffFeed reports Diff(cursor, newest) without a History. Its batches are
// shared by every stream of the server (batchRing), so that an event id
// names the same event on every connection and a client reconnecting to
// this process resumes from the ring.
type diffFeed struct {
	s      *Server
	cursor orgtree.Snapshot
}

func (f *diffFeed) seq() uint64 { return f.cursor.Seq() }

func (f *diffFeed) resume(id eventID) ([]Event, bool, string) {
	if id.seq == f.cursor.Seq() && id.n < 0 {
		return nil, true, ""
	}
	b, ok := f.s.batches.find(id.seq)
	if !ok {
		return nil, false, fmt.Sprintf("version %d is not among the last %d this server sent (it keeps no change history)", id.seq, recentBatches)
	}
	f.cursor = b.to
	if id.n < 0 {
		return nil, true, ""
	}
	var out []Event
	for _, m := range b.messages() {
		if n := m.index; n > id.n {
			out = append(out, m.ev)
		}
	}
	return out, true, ""
}

func (f *diffFeed) next(ctx context.Context) ([]Event, error) {
	for {
		b, ok, err := f.s.batches.after(f.s.tree, f.cursor)
		if err != nil {
			return nil, err
		}
		if ok {
			f.cursor = b.to
			var out []Event
			for _, m := range b.messages() {
				out = append(out, m.ev)
			}
			if len(out) > 0 {
				return out, nil
			}
			continue
		}
		if err := f.s.tree.Watch(f.cursor, orgtree.WatchAll()).Watch(ctx); err != nil {
			return nil, err
		}
	}
}

// batch is the events of Diff(from, to), computed once.
type batch struct {
	from, to orgtree.Snapshot
	once     sync.Once
	msgs     []indexedMessage
}

type indexedMessage struct {
	ev    Event
	index int
}

func (b *batch) messages() []indexedMessage {
	b.once.Do(func() {
		c, err := orgtree.Diff(b.from, b.to)
		if err != nil {
			return // two snapshots of one tree: Diff does not fail
		}
		for i, e := range Events(c) {
			e.ID = eventID{seq: b.to.Seq(), n: i}.String()
			b.msgs = append(b.msgs, indexedMessage{e, i})
		}
	})
	return b.msgs
}

// recentBatches is how many batches the server keeps for streams without
// a History: each holds a version alive (sharing most of it with the
// newest), so few.
const recentBatches = 64

// batchRing is the chain of the last batches: each starts where the one
// before ends.
type batchRing struct {
	mu   sync.Mutex
	ring []*batch
}

// after returns the batch that starts at cursor: the ring's, or a new one
// up to the newest version when cursor is where the ring ends (ok false:
// nothing newer yet). A cursor the ring has left behind gets a batch of its
// own, not kept.
func (r *batchRing) after(tree *orgtree.Tree, cursor orgtree.Snapshot) (*batch, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.ring {
		if b.from.Seq() == cursor.Seq() {
			return b, true, nil
		}
	}
	cur := tree.Snapshot()
	if cur.Seq() == cursor.Seq() {
		return nil, false, nil
	}
	b := &batch{from: cursor, to: cur}
	if len(r.ring) == 0 || r.ring[len(r.ring)-1].to.Seq() == cursor.Seq() {
		r.push(b)
	}
	return b, true, nil
}

// align extends the chain to the newest version, which it returns: a
// stream starting there has its first batch in the ring.
func (r *batchRing) align(tree *orgtree.Tree) orgtree.Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := tree.Snapshot()
	if n := len(r.ring); n > 0 && r.ring[n-1].to.Seq() != cur.Seq() {
		r.push(&batch{from: r.ring[n-1].to, to: cur})
	}
	return cur
}

func (r *batchRing) push(b *batch) {
	if len(r.ring) == recentBatches {
		copy(r.ring, r.ring[1:])
		r.ring[len(r.ring)-1] = nil
		r.ring = r.ring[:len(r.ring)-1]
	}
	r.ring = append(r.ring, b)
}

func (r *batchRing) find(to uint64) (*batch, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.ring {
		if b.to.Seq() == to {
			return b, true
		}
	}
	return nil, false
}

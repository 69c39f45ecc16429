package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/orgtree/orgtree"
)

// Change events. Both the event stream (GET /api/v2/events, Server-Sent
// Events) and webhooks are fed the same way: a cursor holds the last
// version it reported, waits for the tree's next commit (orgtree.WatchAll),
// and reports orgtree.Diff(cursor, newest) as events. Nothing is queued per
// commit: a consumer that falls behind holds one old version and gets the
// changes since then in one go when it catches up, so a slow or dead
// receiver never blocks a write and costs at most the memory of the
// version it last saw. Several commits in between are reported together
// (the events say From and To versions).
//
// Event types (the reference service does not publish its organization
// event shapes, so these are ours):
//
//	org.created org.updated org.deleted
//	department.created department.updated department.deleted
//	department.moved department.renamed (an update that also moved or renamed)
//	member.added member.removed
//	user.main_department.changed
//	user.created user.updated user.deleted
//
// Each event is {"id", "type", "orgId" (when it has one), "seq", "data",
// "actor", "reason"}, id being "<seq>-<n>" (the SSE id) and data the
// record (the new one, or the old one for a deletion), or for members
// {"nodeId", "userId", "joined", "joinedAt"}, for main departments
// {"userId", "oldNodeId", "newNodeId"}.
//
// With a History (Config.History; orgtree serve always has one) the
// stream reads commits one by one from it instead of diffing: every event
// carries its transaction's actor and reason, and the SSE id
// "<seq>-<n>" (the nth event of version seq) is the same on every
// connection and across restarts of a durable history. A client that
// reconnects with the Last-Event-ID header (EventSource does so by itself)
// gets the events after that one. Without a History the stream resumes
// from the last 64 batches this process sent. When it cannot resume (the
// id is older than the history reaches, or unknown) it sends one event
//
//	stream.reset  {"lastEventId": "<the id sent>", "reason": "..."}
//
// with id "<seq>" and then the changes after version seq: the client must
// reload what it shows. The same event comes when a History is trimmed
// past a client that lags that far.

// Event is one change, as the stream and the webhooks send it.
type Event struct {
	// ID names the event: "<seq>-<n>", the nth event of version seq's
	// changes (or, without a History, of the changes up to version seq
	// that one batch reports). With a History it is the same on every
	// connection, in every webhook POST and across restarts, so a receiver
	// that gets an event again (delivery is at least once) drops it by id.
	ID    string `json:"id,omitempty"`
	Type  string `json:"type"`
	OrgID string `json:"orgId,omitempty"`
	// Seq is the version that has the change.
	Seq  uint64 `json:"seq"`
	Data any    `json:"data"`
	// Actor and Reason are those of the transaction that made the change
	// (orgtree.Tx.SetActor), when the server has a History to tell.
	Actor  string `json:"actor,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Events turns the changes between two versions into events: orgs first,
// then departments (parents before children is not promised), members,
// main departments and users, each group sorted by id.
func Events(c *orgtree.Changes) []Event {
	var out []Event
	kind := func(k orgtree.ChangeKind) string {
		switch k {
		case orgtree.Added:
			return "created"
		case orgtree.Removed:
			return "deleted"
		}
		return "updated"
	}
	for _, o := range c.Orgs {
		data := o.New
		if data == nil {
			data = o.Old
		}
		out = append(out, Event{Type: "org." + kind(o.Kind), OrgID: o.ID, Seq: c.To, Data: data})
	}
	for _, n := range c.Nodes {
		data, typ := n.New, "department."+kind(n.Kind)
		if data == nil {
			data = n.Old
		}
		switch {
		case n.Moved:
			typ = "department.moved"
		case n.Renamed:
			typ = "department.renamed"
		}
		out = append(out, Event{Type: typ, OrgID: n.OrgID, Seq: c.To, Data: data})
	}
	for _, m := range c.Members {
		typ := "member.removed"
		if m.Joined {
			typ = "member.added"
		}
		out = append(out, Event{Type: typ, Seq: c.To, Data: m})
	}
	for _, m := range c.MainDepartments {
		out = append(out, Event{Type: "user.main_department.changed", Seq: c.To, Data: m})
	}
	for _, u := range c.Users {
		data := u.New
		if data == nil {
			data = u.Old
		}
		out = append(out, Event{Type: "user." + kind(u.Kind), Seq: c.To, Data: data})
	}
	return out
}

// next waits for a version newer than from and returns it with the
// changes since from. It fails only when ctx is done.
func next(ctx context.Context, tree *orgtree.Tree, from orgtree.Snapshot) (orgtree.Snapshot, *orgtree.Changes, error) {
	for {
		if err := tree.Watch(from, orgtree.WatchAll()).Watch(ctx); err != nil {
			return from, nil, err
		}
		to := tree.Snapshot()
		c, err := orgtree.DiffContext(ctx, from, to)
		if err != nil {
			return from, nil, err
		}
		if !c.Empty() || to.Seq() != from.Seq() {
			return to, c, nil
		}
	}
}

// WebhookConfig configures one webhook receiver.
type WebhookConfig struct {
	URL string
	// Secret keys the HMAC-SHA256 signature of every body, sent as
	// "X-Orgtree-Signature: sha256=<hex>" (required).
	Secret string
	// MaxBatch bounds the events in one POST (default 500); more are sent
	// in several POSTs, in order.
	MaxBatch int
	// MinBackoff and MaxBackoff bound the wait between retries of a
	// failed delivery, doubled after each failure (default 500 ms, 5 min).
	MinBackoff, MaxBackoff time.Duration
	// Timeout bounds one POST (default 10 s).
	Timeout time.Duration
	// LogSize is how many deliveries Deliveries keeps (default 1000).
	LogSize int
	// Client sends the POSTs (default: a client with Timeout).
	Client *http.Client
	// History, when set, feeds the webhook commit by commit, as it feeds
	// the event stream (Config.History): each event carries its actor and
	// reason, and a POST holds whole commits. A receiver down for longer
	// than the History reaches gets a stream.reset event, then the
	// changes after the newest version.
	History History
	// Positions, with a History, keeps how far the receiver has
	// acknowledged the history, so that a webhook made again on the same
	// store (a restarted server) resumes after the last version
	// acknowledged instead of at the newest: nothing committed while the
	// receiver was down or no server ran is skipped. Without Positions,
	// or without a History, Run starts at the newest version.
	Positions WebhookPositions
	// Logger, when set, gets every failed attempt (Warn) and every
	// resumption (Info), so the delivery log outlives the process (nil:
	// nothing is logged).
	Logger *slog.Logger
}

// WebhookPositions is a durable record of webhook positions: per receiver
// URL, the version up to which it acknowledged every event (cmd/orgtree
// keeps them in the store's settings).
type WebhookPositions interface {
	// WebhookPosition returns the version stored for url; ok is false when
	// none is.
	WebhookPosition(url string) (seq uint64, ok bool, err error)
	// SetWebhookPosition stores seq for url; it is durable when it
	// returns. The webhook calls it after every acknowledged POST.
	SetWebhookPosition(url string, seq uint64) error
}

// Delivery is one attempt to deliver a batch, as the delivery log keeps it.
type Delivery struct {
	ID       string        `json:"id"` // "<from>-<to>-<part>": the same for every retry of a batch
	Attempt  int           `json:"attempt"`
	At       time.Time     `json:"at"`
	Events   int           `json:"events"`
	Status   int           `json:"status,omitempty"` // the receiver's HTTP status
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"`
}

// Webhook delivers the tree's changes to one receiver: every batch of
// events is POSTed as a JSON array, in version order, and retried with
// exponential backoff until the receiver answers 2xx (at least once; a
// receiver drops an event it already has by its ID, and a POST it already
// took by the X-Orgtree-Delivery header). The one goroutine is Run's.
//
// Guarantees. With a History and Positions (orgtree serve on a store):
// every event is delivered at least once, in version order (so in order
// per org), across restarts and crashes of the server, unless the receiver
// stays down longer than the history reaches; then it gets a stream.reset
// event and the changes after the newest version. Memory is bounded: the
// webhook reads the history page by page (at most 256 commits at a time)
// from where the receiver stands, never queues commits, and a write never
// waits for it. With a History but no Positions the same holds while the
// process runs, from the version NewWebhook took. Without a History (serve
// --etcd) the webhook holds one old version and reports the diff from it
// to the newest: at least once and in order while the process runs, but a
// restart starts at the newest version, so changes made while no server
// ran, or not yet delivered when it stopped, are never sent, and events
// carry no actor.
type Webhook struct {
	tree *orgtree.Tree
	cfg  WebhookConfig

	mu  sync.Mutex
	log []Delivery // ring of the last cfg.LogSize attempts
	pos int
	// delivered is the newest version delivered completely.
	delivered uint64

	// saved is the position last stored in cfg.Positions. Only NewWebhook
	// and then Run's goroutine use it: mu does not guard it.
	saved uint64
	// Where Run starts, taken by NewWebhook: a version of the tree
	// (without a History), or a version of the History with, when the
	// stored position could not be used, the stream.reset to send first.
	startSnap orgtree.Snapshot
	start     uint64
	reset     *Event
}

// NewWebhook returns a webhook for tree; call Run (once) to deliver. The
// webhook starts at the tree's version now, or with a History and
// Positions after the receiver's stored position; a receiver with none
// gets the version now stored before NewWebhook returns, so that a change
// committed after it survives a crash before the first delivery.
func NewWebhook(tree *orgtree.Tree, cfg WebhookConfig) (*Webhook, error) {
	if cfg.URL == "" || cfg.Secret == "" {
		return nil, fmt.Errorf("server: webhook: URL and Secret are required")
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 500
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(5*time.Minute, cfg.MinBackoff)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.LogSize <= 0 {
		cfg.LogSize = 1000
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	wh := &Webhook{tree: tree, cfg: cfg}
	if cfg.History == nil {
		wh.startSnap = tree.Snapshot()
		return wh, nil
	}
	wh.start, wh.reset = wh.startPosition()
	wh.delivered = wh.start
	if wh.reset == nil {
		// (With a reset, the position moves once the reset is delivered.)
		wh.savePosition(wh.start)
	}
	return wh, nil
}

// Sign returns the signature header value of body under secret, for
// receivers to compare (with hmac.Equal) against X-Orgtree-Signature.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Run delivers the changes after the webhook's start (see NewWebhook)
// until ctx is done; it returns ctx's error.
func (wh *Webhook) Run(ctx context.Context) error {
	if wh.cfg.History != nil {
		return wh.runHistory(ctx)
	}
	cursor := wh.startSnap
	for {
		to, c, err := next(ctx, wh.tree, cursor)
		if err != nil {
			return err
		}
		events := Events(c)
		for i := range events {
			events[i].ID = eventID{seq: to.Seq(), n: i}.String()
		}
		for part := 0; part*wh.cfg.MaxBatch < len(events); part++ {
			batch := events[part*wh.cfg.MaxBatch : min(len(events), (part+1)*wh.cfg.MaxBatch)]
			id := fmt.Sprintf("%d-%d-%d", cursor.Seq(), to.Seq(), part)
			if err := wh.deliver(ctx, id, batch); err != nil {
				return err
			}
		}
		cursor = to
		wh.mu.Lock()
		wh.delivered = to.Seq()
		wh.mu.Unlock()
	}
}

// deliver POSTs one batch until the receiver takes it or ctx is done.
func (wh *Webhook) deliver(ctx context.Context, id string, batch []Event) error {
	body, err := json.Marshal(batch)
	if err != nil {
		return fmt.Errorf("server: webhook: encoding events: %w", err)
	}
	sig := Sign(wh.cfg.Secret, body)
	backoff := wh.cfg.MinBackoff
	for attempt := 1; ; attempt++ {
		d := Delivery{ID: id, Attempt: attempt, At: time.Now(), Events: len(batch)}
		status, err := wh.post(ctx, id, sig, body)
		d.Status, d.Duration = status, time.Since(d.At)
		if err != nil {
			d.Error = err.Error()
		} else if status < 200 || status > 299 {
			d.Error = "status " + strconv.Itoa(status)
		}
		wh.record(d)
		if d.Error == "" {
			return nil
		}
		wh.cfg.Logger.Warn("webhook delivery failed", "url", wh.cfg.URL, "delivery", id, "attempt", attempt,
			"events", len(batch), "status", status, "err", d.Error, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, wh.cfg.MaxBackoff)
	}
}

func (wh *Webhook) post(ctx context.Context, id, sig string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Orgtree-Signature", sig)
	req.Header.Set("X-Orgtree-Delivery", id)
	resp, err := wh.cfg.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

func (wh *Webhook) record(d Delivery) {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	if len(wh.log) < wh.cfg.LogSize {
		wh.log = append(wh.log, d)
		return
	}
	wh.log[wh.pos] = d
	wh.pos = (wh.pos + 1) % wh.cfg.LogSize
}

// Deliveries returns the delivery log, oldest first.
func (wh *Webhook) Deliveries() []Delivery {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	out := append([]Delivery(nil), wh.log[wh.pos:]...)
	return append(out, wh.log[:wh.pos]...)
}

// Delivered returns the newest version whose changes were all delivered.
func (wh *Webhook) Delivered() uint64 {
	wh.mu.Lock()
	defer wh.mu.Unlock()
	return wh.delivered
}

// runHistory is Run with a History: commit by commit, from the stored
// position when there is one.
func (wh *Webhook) runHistory(ctx context.Context) error {
	f := &historyFeed{tree: wh.tree, hist: wh.cfg.History, cursor: wh.start}
	if wh.reset != nil {
		if err := wh.deliver(ctx, fmt.Sprintf("%d-reset", wh.start), []Event{*wh.reset}); err != nil {
			return err
		}
		wh.savePosition(wh.start)
	}
	backoff := wh.cfg.MinBackoff
	for {
		from := f.cursor
		events, err := f.next(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			// The history failed to read: retry it like a delivery.
			wh.record(Delivery{ID: fmt.Sprintf("%d-history", from), At: time.Now(), Error: err.Error()})
			wh.cfg.Logger.Warn("webhook: reading the change history failed", "url", wh.cfg.URL, "after", from, "err", err, "retry_in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			backoff = min(2*backoff, wh.cfg.MaxBackoff)
			continue
		}
		backoff = wh.cfg.MinBackoff
		for part := 0; part*wh.cfg.MaxBatch < len(events); part++ {
			end := min(len(events), (part+1)*wh.cfg.MaxBatch)
			id := fmt.Sprintf("%d-%d-%d", from, f.cursor, part)
			if err := wh.deliver(ctx, id, events[part*wh.cfg.MaxBatch:end]); err != nil {
				return err
			}
			// Every version before the first event not yet sent is
			// acknowledged; the whole page is after the last part.
			done := f.cursor
			if end < len(events) {
				done = events[end].Seq - 1
			}
			wh.savePosition(done)
		}
		wh.mu.Lock()
		wh.delivered = f.cursor
		wh.mu.Unlock()
	}
}

// startPosition is where runHistory begins: after the stored position, or
// at the newest version for a receiver that has none. A position that cannot
// be used (unreadable, or newer than the tree: a store put back from an
// older backup) starts at the newest version with a stream.reset event,
// returned to be delivered first.
func (wh *Webhook) startPosition() (uint64, *Event) {
	cur := wh.tree.Snapshot().Seq()
	if wh.cfg.Positions == nil {
		return cur, nil
	}
	seq, ok, err := wh.cfg.Positions.WebhookPosition(wh.cfg.URL)
	why := ""
	switch {
	case err != nil:
		why = "the stored delivery position cannot be read: " + err.Error()
	case !ok:
		return cur, nil
	case seq > cur:
		why = fmt.Sprintf("the stored delivery position, version %d, is newer than the tree's %d", seq, cur)
	default:
		wh.cfg.Logger.Info("webhook resumes", "url", wh.cfg.URL, "after", seq, "newest", cur)
		wh.saved = seq
		return seq, nil
	}
	wh.record(Delivery{ID: fmt.Sprintf("%d-position", cur), At: time.Now(), Error: why})
	wh.cfg.Logger.Warn("webhook: starting at the newest version", "url", wh.cfg.URL, "version", cur, "why", why)
	m := resetMessage(cur, strconv.FormatUint(seq, 10), why)
	return cur, &m
}

// savePosition stores seq as the receiver's position when it moved. A
// failure is logged and delivery goes on: the stored position lags, which
// costs events sent again after a restart, never events lost.
func (wh *Webhook) savePosition(seq uint64) {
	if wh.cfg.Positions == nil {
		return
	}
	if wh.saved == seq && seq != 0 {
		return // (0 is also "none stored yet": a new receiver's start is written)
	}
	if err := wh.cfg.Positions.SetWebhookPosition(wh.cfg.URL, seq); err != nil {
		wh.record(Delivery{ID: fmt.Sprintf("%d-position", seq), At: time.Now(), Error: "storing the delivery position: " + err.Error()})
		wh.cfg.Logger.Warn("webhook: storing the delivery position failed", "url", wh.cfg.URL, "version", seq, "err", err)
		return
	}
	wh.saved = seq
}

package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/orgtree/orgtree"
)

// Limits that keep one client from taking the server: what a document may
// cost, how large an answer may grow, how long a request may run and how
// many run at once. Each refusal says which limit it met and what to ask
// for instead.
//
// Cost is counted on the document before it runs (see documentCost): every
// field selected counts 1, times the size of every list above it; a list's
// size is its field's limit argument (default 10, at most the tree's
// MaxPageSize), the tree's node count for searchNodes and Org.nodes (each
// may list every node), or listEstimate for other lists without a limit
// (childrenNodes, departments, authorized resources); aliases
// and fragments count each time they are used. Introspection counts 0: the
// schema is small and fixed. While a document runs, its answer is written
// as JSON as it is completed, so the cap on the answer's size is checked
// on every value, and the request's context (cancelled when the client
// goes away, or at the request's deadline) is checked before every resolver
// and every few values; the resolvers whose work grows with the tree
// (searchNodes, childrenNodes, Node.users) pass it to the engine, which
// looks at it every few hundred nodes: work stops within microseconds of
// either.
//
// A REST answer is capped alike (MaxAnswerBytes). The endpoints that can
// answer a whole tree (export, by-tenant, children with a depth) first
// count what they would list, stopping as soon as the count alone proves
// the answer too large, and then write their answer as JSON while checking
// its size, so a refused answer is never built in memory; every answer is
// checked once more as a whole. The refusal is code 413, naming the cap
// and how to ask for less.
//
// Requests beyond MaxInFlight wait for room at most MaxQueueWait (and never
// past their deadline), then are answered HTTP 503 with Retry-After: a
// burst is absorbed, an overload is told to come back rather than piling
// up connections.

var (
	// errTooComplex: a document over the cost or depth limit, refused
	// before it runs.
	errTooComplex = errors.New("query too complex")
	// errTooLarge: an answer that outgrew the cap while it was written.
	errTooLarge = errors.New("answer too large")
	// errTimeout: the request ran past its deadline, or its client left.
	errTimeout = errors.New("request stopped")
	// errBusy: no room for the request within MaxQueueWait.
	errBusy = errors.New("server busy")
)

const (
	defaultMaxCost        = 1_000_000
	defaultMaxAnswerBytes = 32 << 20
	defaultMaxQueryBytes  = 128 << 10
	defaultRequestTimeout = 30 * time.Second
	defaultMaxQueueWait   = time.Second
	// listEstimate is the size assumed for a list without a limit
	// argument when a document's cost is counted.
	listEstimate = 100
	// defaultPage is the limit of a paged field that is not given one.
	defaultPage = 10
)

func defaultMaxInFlight() int { return max(8, 4*runtime.GOMAXPROCS(0)) }

// withLimitDefaults fills the limits left zero.
func (c *Config) withLimitDefaults() {
	if c.MaxCost <= 0 {
		c.MaxCost = defaultMaxCost
	}
	if c.MaxAnswerBytes <= 0 {
		c.MaxAnswerBytes = defaultMaxAnswerBytes
	}
	if c.MaxQueryBytes <= 0 {
		c.MaxQueryBytes = defaultMaxQueryBytes
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = defaultRequestTimeout
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = defaultMaxInFlight()
	}
	if c.MaxQueueWait <= 0 {
		c.MaxQueueWait = defaultMaxQueueWait
	}
}

// contextError says why a request's context ended.
func contextError(ctx context.Context, timeout time.Duration) error {
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
		return fmt.Errorf("%w: it ran longer than the server's limit of %s: ask for less (smaller limits, fewer fields or aliases)", errTimeout, timeout)
	}
	return fmt.Errorf("%w: the client closed the request", errTimeout)
}

// admit waits for room among the requests in flight (Config.MaxInFlight)
// for at most Config.MaxQueueWait, and not after ctx ends. Every request
// costs CPU and memory in proportion to what it asks; bounding how many
// run bounds the server's heap at about MaxInFlight answers of
// MaxAnswerBytes, and bounding the wait keeps a queue from growing behind
// them: the excess is told to retry (errBusy, answered HTTP 503 with
// Retry-After by writeBusy).
func (s *Server) admit(ctx context.Context) (release func(), err error) {
	select {
	case s.inFlight <- struct{}{}:
		return func() { <-s.inFlight }, nil
	default:
	}
	wait := time.NewTimer(s.cfg.MaxQueueWait)
	defer wait.Stop()
	select {
	case s.inFlight <- struct{}{}:
		return func() { <-s.inFlight }, nil
	case <-wait.C:
	case <-ctx.Done():
	}
	return nil, fmt.Errorf("%w: %d requests were running and none finished within %s: retry in %d s", errBusy,
		s.cfg.MaxInFlight, s.cfg.MaxQueueWait, s.retryAfter())
}

// retryAfter is the Retry-After of a busy answer, in whole seconds: the
// queue's wait, at least 1.
func (s *Server) retryAfter() int {
	return max(1, int((s.cfg.MaxQueueWait+time.Second-1)/time.Second))
}

// writeBusy answers a request refused by admit: HTTP 503 with Retry-After,
// whatever the endpoint's usual convention of errors in an HTTP 200
// envelope, so that proxies, load balancers and HTTP clients' retry logic
// see the overload and back off; the body is still the envelope
// (errorBody) naming the limit.
func (s *Server) writeBusy(w http.ResponseWriter, media mediaType, body any) {
	w.Header().Set("Retry-After", strconv.Itoa(s.retryAfter()))
	writeJSONAs(w, media, http.StatusServiceUnavailable, body)
}

// unavailableRetryAfter is the Retry-After, in seconds, of a write refused
// because the tree's store (etcd, for a replica) could not be reached: the
// store already waited its own timeout (replicate's default 5 s) before
// giving up, so retrying sooner mostly meets the same outage.
const unavailableRetryAfter = 5

// writeUnavailable answers a request whose write found the store out of
// reach (orgtree.ErrUnavailable) and that wrote nothing: HTTP 503 with
// Retry-After, like writeBusy, so that load balancers and retrying clients
// see the outage; the body is the usual envelope, code 503.
func writeUnavailable(w http.ResponseWriter, media mediaType, body any) {
	w.Header().Set("Retry-After", strconv.Itoa(unavailableRetryAfter))
	writeJSONAs(w, media, http.StatusServiceUnavailable, body)
}

// tooLarge is the error of an answer over the cap; ask says how to ask
// for less.
func (s *Server) tooLarge(ask string) error {
	return fmt.Errorf("%w: the answer would be larger than the server's limit of %d bytes: %s", errTooLarge, s.cfg.MaxAnswerBytes, ask)
}

// answerBuffer is a REST answer being written as JSON, its size checked
// against MaxAnswerBytes as it grows.
type answerBuffer struct {
	bytes.Buffer
	max int
	ask string // how to ask for less, when over
}

func (s *Server) newAnswerBuffer(ask string) *answerBuffer {
	return &answerBuffer{max: s.cfg.MaxAnswerBytes, ask: ask}
}

// over reports whether the answer has outgrown its cap.
func (b *answerBuffer) over() bool { return b.Len() > b.max }

// appendJSON writes v, and fails once the answer outgrows its cap.
func (s *Server) appendJSON(b *answerBuffer, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b.Write(raw)
	if b.over() {
		return s.tooLarge(b.ask)
	}
	return nil
}

// Lower bounds of the size of one node in an answer, for the counts that
// refuse an answer before it is built: the JSON of an empty node, less a
// byte for each field (a one-letter string is a byte shorter than null).
var (
	minExportNode = sync.OnceValue(func() int {
		b, _ := json.Marshal(exportNode{})
		return len(b) + len(`,"children":[]`) - reflect.TypeFor[exportNode]().NumField()
	})
	minRESTNode = sync.OnceValue(func() int {
		b, _ := json.Marshal(obj{"id": "", "orgId": "", "name": "", "nameI18n": nil, "description": nil, "descriptionI18n": nil,
			"order": 0, "code": nil, "root": false, "isVirtualNode": false, "createdAt": nil, "updatedAt": nil, "depth": 0})
		return len(b) - 13
	})
)

// countNodes counts the nodes below id down to depth levels (id itself
// included when withTop), in breadth-first order, stopping once the count
// passes limit: whether a listing would pass its cap is known after
// reading at most limit+1 node ids.
func countNodes(snap orgtree.Snapshot, id string, depth int, withTop bool, limit int) (int, error) {
	n := 0
	if withTop {
		n = 1
	}
	level := []string{id}
	for d := 0; d < depth && len(level) > 0 && n <= limit; d++ {
		var next []string
		for _, p := range level {
			kids, err := snap.ChildIDs(p)
			if err != nil {
				return 0, err
			}
			n += len(kids)
			if n > limit {
				return n, nil
			}
			next = append(next, kids...)
		}
		level = next
	}
	return n, nil
}

// documentCost counts what op may cost to answer (see the top of this
// file) and how deep its selections nest once fragments are expanded.
// Fragment costs are counted once each, in an order where every fragment
// comes after those it spreads (the document is validated: no cycles), so
// a chain of fragments that spread each other twice costs its real,
// exponential amount to the limit but only linear time to count. Both
// numbers saturate at costCeiling.
func (s *Server) documentCost(doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any, maxPage int) (cost, depth int) {
	c := &coster{vars: vars, maxPage: maxPage, nodes: s.tree.Snapshot().Stats().Nodes, frags: map[string]costDepth{}}
	for _, name := range fragmentOrder(doc) {
		if f := doc.Fragments.ForName(name); f != nil {
			c.frags[name] = c.set(f.SelectionSet, 0)
		}
	}
	cd := c.set(op.SelectionSet, 0)
	return cd.cost, cd.depth
}

// costCeiling is where counting stops: far above any limit, far below
// overflow.
const costCeiling = 1 << 50

type costDepth struct{ cost, depth int }

type coster struct {
	vars    map[string]any
	maxPage int
	nodes   int // nodes in the tree: what searchNodes and Org.nodes may list
	frags   map[string]costDepth
}

func satMul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > costCeiling/b {
		return costCeiling
	}
	return a * b
}

func satAdd(a, b int) int { return min(a+b, costCeiling) }

// set counts one selection set. It recurses only into the braces of the
// document itself, whose nesting maxQueryDepth bounds before parsing;
// fragments are looked up, already counted.
func (c *coster) set(set ast.SelectionSet, level int) costDepth {
	var out costDepth
	if level > maxQueryDepth {
		return costDepth{costCeiling, costCeiling}
	}
	for _, sel := range set {
		var cd costDepth
		switch x := sel.(type) {
		case *ast.Field:
			if x.Name == "__schema" || x.Name == "__type" {
				cd = costDepth{1, 1}
				break
			}
			sub := c.set(x.SelectionSet, level+1)
			cd = costDepth{satMul(c.listSize(x), satAdd(1, sub.cost)), sub.depth + 1}
		case *ast.InlineFragment:
			cd = c.set(x.SelectionSet, level+1)
		case *ast.FragmentSpread:
			cd = c.frags[x.Name]
		}
		out.cost = satAdd(out.cost, cd.cost)
		out.depth = max(out.depth, cd.depth)
	}
	return out
}

// listSize is how many times a field's selection is answered: its limit
// argument for a paged field, listEstimate for another list of objects, 1
// for the rest (a paged type's list field counts 1: its parent counted it).
func (c *coster) listSize(f *ast.Field) int {
	if f.Definition == nil {
		return 1
	}
	for _, a := range f.Definition.Arguments {
		if a.Name == "limit" {
			n := defaultPage
			switch v := f.ArgumentMap(c.vars)["limit"].(type) {
			case int64:
				n = int(max(0, min(v, int64(c.maxPage))))
			case int:
				n = v
			}
			return max(0, min(n, c.maxPage))
		}
	}
	t := f.Definition.Type
	named := t.Name()
	if t.Elem == nil {
		if strings.HasPrefix(named, "Paginated") {
			return listEstimate
		}
		return 1
	}
	if f.Name == "searchNodes" || f.Name == "nodes" {
		// Either can list every node of the tree.
		return max(listEstimate, c.nodes)
	}
	if len(f.SelectionSet) == 0 || (f.Name == "list" && f.ObjectDefinition != nil && strings.HasPrefix(f.ObjectDefinition.Name, "Paginated")) {
		return 1
	}
	return listEstimate
}

// fragmentOrder lists the document's fragments so that each comes after
// every fragment it spreads (an iterative depth-first walk).
func fragmentOrder(doc *ast.QueryDocument) []string {
	const (
		unseen = iota
		open
		done
	)
	state := map[string]int{}
	var order []string
	for _, f := range doc.Fragments {
		if state[f.Name] != unseen {
			continue
		}
		type frame struct {
			name   string
			spread []string
			next   int
		}
		stack := []frame{{name: f.Name, spread: spreadsOf(doc, f.Name)}}
		state[f.Name] = open
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next == len(top.spread) {
				state[top.name] = done
				order = append(order, top.name)
				stack = stack[:len(stack)-1]
				continue
			}
			name := top.spread[top.next]
			top.next++
			if state[name] == unseen && doc.Fragments.ForName(name) != nil {
				state[name] = open
				stack = append(stack, frame{name: name, spread: spreadsOf(doc, name)})
			}
		}
	}
	return order
}

// spreadsOf names the fragments a fragment spreads directly (inline
// fragments included, iteratively).
func spreadsOf(doc *ast.QueryDocument, name string) []string {
	f := doc.Fragments.ForName(name)
	if f == nil {
		return nil
	}
	var out []string
	stack := []ast.SelectionSet{f.SelectionSet}
	for len(stack) > 0 {
		set := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, sel := range set {
			switch x := sel.(type) {
			case *ast.Field:
				stack = append(stack, x.SelectionSet)
			case *ast.InlineFragment:
				stack = append(stack, x.SelectionSet)
			case *ast.FragmentSpread:
				out = append(out, x.Name)
			}
		}
	}
	return out
}

// Timeouts are the HTTP server's limits on slow clients: a client that
// sends its headers or body a byte at a time (slowloris) or never reads
// the answer holds a connection only this long.
type Timeouts struct {
	// ReadHeader bounds reading a request's headers (default 10 s).
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included (default 2 min:
	// a 32 MiB import over a slow link).
	Read time.Duration
	// Write bounds writing the answer, from the end of the headers read
	// (default 5 min).
	Write time.Duration
	// Idle bounds a kept-alive connection between requests (default 2 min).
	Idle time.Duration
}

// NewHTTPServer returns an http.Server for h with the timeouts t (zero
// fields take their defaults) and 64 KiB of headers at most: what
// `orgtree serve` runs, and what to run a Server's Handler with anywhere
// clients cannot be trusted.
func NewHTTPServer(h http.Handler, t Timeouts) *http.Server {
	or := func(d, def time.Duration) time.Duration {
		if d <= 0 {
			return def
		}
		return d
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: or(t.ReadHeader, 10*time.Second),
		ReadTimeout:       or(t.Read, 2*time.Minute),
		WriteTimeout:      or(t.Write, 5*time.Minute),
		IdleTimeout:       or(t.Idle, 2*time.Minute),
		MaxHeaderBytes:    64 << 10,
	}
}

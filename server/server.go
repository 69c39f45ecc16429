package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/orgtree/orgtree"
)

//go:embed schema.graphql
var schemaSource string

// Errors of the protocol layer. Engine errors (orgtree.ErrNotFound, …) pass
// through and are mapped to codes by codeOf.
var (
	// ErrUnauthorized: a missing, malformed, expired or foreign token, or a
	// wrong user pool id or secret in the token exchange.
	ErrUnauthorized = errors.New("server: unauthorized")
	errBadRequest   = errors.New("bad request")
	errUnsupported  = errors.New("not supported")
	errInternal     = errors.New("internal error")
)

// Config configures a Server.
type Config struct {
	// UserPoolID and Secret are the credentials the SDKs are configured
	// with; both are required.
	UserPoolID string
	Secret     string
	// TokenTTL is the lifetime of an issued access token (default 15 days:
	// the Go SDK caches a token until three days before it expires).
	TokenTTL time.Duration
	// MaxBodyBytes bounds a request body (default 32 MiB, enough for a JSON
	// import of ~100k nodes).
	MaxBodyBytes int64
	// Logger receives one line per failed request and per recovered panic
	// (default: slog.Default()).
	Logger *slog.Logger
	// Now is the clock of token issue and expiry (default time.Now).
	Now func() time.Time
	// PasswordKey is the RSA key (at least 2048 bits) whose public half GET
	// /api/v2/.well-known publishes and with which the SDKs encrypt the
	// passwords they send (see password.go for what is done with them).
	// nil: New generates a key, so clients must fetch it again after a
	// restart; keep the key with the store to keep it stable.
	PasswordKey *rsa.PrivateKey
	// Update runs every write of the API as one transaction. nil: the
	// tree's own Update. A replica of a tree kept in etcd sets it to the
	// replica's Update (package replicate), so that writes go through the
	// cluster's log instead of the local tree.
	Update func(fn func(*orgtree.Tx) error) error

	// History, when set, feeds the event stream commit by commit: events
	// carry actor and reason, and Last-Event-ID resumes across restarts
	// of a durable one (see History). Without it the stream diffs
	// versions and resumes only from its last few batches in memory.
	History History

	// Limits on what one request may take (see limits.go); zero takes
	// the default.
	//
	// MaxCost bounds a GraphQL document's cost, counted before it runs:
	// fields × list sizes, aliases and fragments counted each time they
	// are used (default 1,000,000).
	MaxCost int
	// MaxAnswerBytes caps an answer, GraphQL or REST (default 32 MiB). A
	// GraphQL answer that grows past it is cut off; a REST answer that
	// would is refused, before it is built where a count of what it lists
	// tells (an export, children to a depth). Either way the answer is
	// error code 413 (in the service's envelope, HTTP 200) saying how to
	// ask for less: one org, fewer levels, pages.
	MaxAnswerBytes int
	// MaxQueryBytes bounds a GraphQL document's text (default 128 KiB; the
	// SDKs' largest is under 4 KiB).
	MaxQueryBytes int
	// RequestTimeout is the deadline of every request, from its headers
	// read to its answer (default 30 s).
	RequestTimeout time.Duration
	// MaxInFlight is how many requests run at once (default 4 per CPU, at
	// least 8); the others wait for room, at most MaxQueueWait.
	MaxInFlight int
	// MaxQueueWait bounds how long a request waits for room among
	// MaxInFlight (default 1 s; never past its deadline). A request that
	// finds none is answered HTTP 503 with Retry-After (the wait in whole
	// seconds, at least 1) and code 503 in the envelope.
	MaxQueueWait time.Duration
}

// Server answers the management API of the organization module over HTTP
// from an orgtree.Tree. Make one with New and mount Handler.
type Server struct {
	tree   *orgtree.Tree
	cfg    Config
	schema *ast.Schema
	key    []byte
	// queryRoot and mutationRoot are the root objects every operation
	// starts from (see rootObject).
	queryRoot, mutationRoot obj
	mux                     *http.ServeMux
	documents               documentCache
	passwords               passwordKeys
	// inFlight holds a token per request running (see admit).
	inFlight chan struct{}
	// batches are the event stream's last batches without a History
	// (stream.go).
	batches batchRing
}

// documentCache keeps parsed and validated documents by their text: the
// SDKs send the same few dozen documents over and over, and parsing and
// validating one against the service schema costs far more than running
// it. Validated documents are only read during execution, so they are
// shared between requests.
type documentCache struct {
	mu   sync.Mutex
	docs map[string]*ast.QueryDocument
}

// maxCachedDocuments bounds the cache; when full it starts over, which is
// cheap and keeps a client that sends ever-new documents from growing it.
const maxCachedDocuments = 512

func (c *documentCache) load(schema *ast.Schema, query string) (*ast.QueryDocument, error) {
	c.mu.Lock()
	doc, ok := c.docs[query]
	c.mu.Unlock()
	if ok {
		return doc, nil
	}
	doc, gerrs := gqlparser.LoadQueryWithRules(schema, query, nil) // nil: the default rules
	if len(gerrs) > 0 {
		msgs := make([]string, len(gerrs))
		for i, e := range gerrs {
			msgs[i] = e.Error()
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	c.mu.Lock()
	if c.docs == nil || len(c.docs) >= maxCachedDocuments {
		c.docs = map[string]*ast.QueryDocument{}
	}
	c.docs[query] = doc
	c.mu.Unlock()
	return doc, nil
}

const (
	defaultTokenTTL = 15 * 24 * time.Hour
	defaultMaxBody  = 32 << 20
	// maxQueryDepth bounds selection nesting before the document is parsed,
	// so a hostile query cannot make the parser or the executor recurse
	// deeply. The SDK documents nest four levels.
	maxQueryDepth = 32
)

// update runs one write of the API (see Config.Update). A store out of
// reach (orgtree.ErrUnavailable) is said plainly, with when to retry: the
// answer is HTTP 503 with Retry-After (writeUnavailable).
func (s *Server) update(fn func(*orgtree.Tx) error) error {
	if s.cfg.Update == nil {
		return s.tree.Update(fn)
	}
	err := s.cfg.Update(fn)
	if errors.Is(err, orgtree.ErrUnavailable) {
		return fmt.Errorf("service unavailable: the tree's store cannot be reached, the write was not made: retry in %d s (%w)", unavailableRetryAfter, err)
	}
	return err
}

// updateAs is update with the transaction's actor and reason set first.
func (s *Server) updateAs(actor, reason string, fn func(*orgtree.Tx) error) error {
	return s.update(orgtree.As(actor, reason, fn))
}

// New returns a server over tree.
func New(tree *orgtree.Tree, cfg Config) (*Server, error) {
	if cfg.UserPoolID == "" || cfg.Secret == "" {
		return nil, fmt.Errorf("server: UserPoolID and Secret are required")
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = defaultTokenTTL
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = defaultMaxBody
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.withLimitDefaults()
	schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: schemaSource, BuiltIn: false})
	if gerr != nil {
		return nil, fmt.Errorf("server: service schema: %w", gerr)
	}
	passwords, err := newPasswordKeys(cfg.PasswordKey)
	if err != nil {
		return nil, err
	}
	cfg.PasswordKey = passwords.key
	s := &Server{tree: tree, cfg: cfg, schema: schema, key: signingKey(cfg.UserPoolID, cfg.Secret), passwords: passwords,
		inFlight: make(chan struct{}, cfg.MaxInFlight)}
	queries, mutations := s.rootResolvers()
	s.queryRoot, s.mutationRoot = rootObject(schema.Query, queries), rootObject(schema.Mutation, mutations)
	s.mux = http.NewServeMux()
	s.routes()
	return s, nil
}

// Handler returns the HTTP handler of every endpoint.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				s.cfg.Logger.Error("panic serving request", "path", req.URL.Path, "panic", p, "stack", string(debug.Stack()))
				writeREST(w, http.StatusInternalServerError, 500, "internal error", nil)
			}
		}()
		req.Body = http.MaxBytesReader(w, req.Body, s.cfg.MaxBodyBytes)
		req = withActor(req)
		if req.URL.Path == eventsPath {
			s.mux.ServeHTTP(w, req) // a stream: no deadline, it ends when the client goes
			return
		}
		// Every request has a deadline; its context also ends when the
		// client goes away, and execution watches it.
		ctx, cancel := context.WithTimeout(req.Context(), s.cfg.RequestTimeout)
		defer cancel()
		s.mux.ServeHTTP(w, req.WithContext(ctx))
	})
}

// NewObjectID returns a random 24-hex-digit id, the shape of the reference
// service's ids. Use it as the tree's id generator so that ids look like
// the ones clients already store.
func NewObjectID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// selectionDepth returns the deepest brace nesting of a GraphQL document,
// skipping strings and comments.
func selectionDepth(q string) int {
	depth, deepest := 0, 0
	for i := 0; i < len(q); i++ {
		switch q[i] {
		case '#':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case '"':
			if strings.HasPrefix(q[i:], `"""`) {
				end := strings.Index(q[i+3:], `"""`)
				if end < 0 {
					return depth
				}
				i += end + 5
				continue
			}
			for i++; i < len(q) && q[i] != '"' && q[i] != '\n'; i++ {
				if q[i] == '\\' {
					i++
				}
			}
		case '{', '(', '[':
			depth++
			deepest = max(deepest, depth)
		case '}', ')', ']':
			depth--
		}
	}
	return deepest
}

// decodeJSON reads one JSON value and refuses trailing data.
func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fmt.Errorf("request body larger than %d bytes", tooBig.Limit)
		}
		return fmt.Errorf("request body is not valid JSON: %v", err)
	}
	if dec.More() {
		return errors.New("request body has data after its JSON value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONAs(w, mediaJSON, status, v)
}

// writeJSONAs writes v with the content type of media.
func writeJSONAs(w http.ResponseWriter, media mediaType, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"code":500,"message":"internal error: response not encodable","data":null}`)
	}
	w.Header().Set("Content-Type", string(media)+"; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeREST answers a REST endpoint in the service's envelope.
func writeREST(w http.ResponseWriter, status, code int, msg string, data any) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg, "data": data})
}

// codeOf maps an error to the code and message of the service's envelopes.
// Codes follow HTTP's meaning (the hosted service's own numbering is not
// part of its published contract): 400 bad input, 401 auth, 403 refused
// move or delete, 404 unknown id, 409 conflict, 413 answer over the cap,
// 500 internal, 501 not served, 503 stopped (deadline, busy). An error that joins several
// problems (an import's) takes their common code, or 400 when they differ:
// the request as a whole was bad input.
func codeOf(err error) (int, string) {
	return codeOfOne(err), message(err)
}

func codeOfOne(err error) int {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		code := 0
		for _, e := range j.Unwrap() {
			switch c := codeOfOne(e); {
			case code == 0:
				code = c
			case c != code:
				return 400
			}
		}
		if code != 0 {
			return code
		}
	}
	switch {
	case errors.Is(err, ErrUnauthorized):
		return 401
	case errors.Is(err, orgtree.ErrNotFound):
		return 404
	case errors.Is(err, orgtree.ErrExists), errors.Is(err, orgtree.ErrDuplicateCode):
		return 409
	case errors.Is(err, orgtree.ErrCycle), errors.Is(err, orgtree.ErrRootNode),
		errors.Is(err, orgtree.ErrNotEmpty), errors.Is(err, orgtree.ErrCrossOrg):
		return 403
	case errors.Is(err, errUnsupported):
		return 501
	case errors.Is(err, errTimeout), errors.Is(err, errBusy), errors.Is(err, orgtree.ErrUnavailable):
		return 503
	case errors.Is(err, errTooLarge):
		return 413
	case errors.Is(err, errInternal), errors.Is(err, orgtree.ErrCorrupt):
		return 500
	case errors.Is(err, errBadRequest), errors.Is(err, orgtree.ErrInvalidArgument),
		errors.Is(err, orgtree.ErrInvalidName), errors.Is(err, orgtree.ErrInvalidCode),
		errors.Is(err, orgtree.ErrInvalidJSON), errors.Is(err, orgtree.ErrLimitExceeded),
		errors.Is(err, orgtree.ErrNotMember), errors.Is(err, errTooComplex):
		return 400
	}
	return 500
}

// message is an error's text for a client: the package prefix the engine
// puts on its messages ("orgtree: ") said once at most, nowhere: the
// client knows whom it asked. Each line (an import lists one problem a
// line) is cleaned alike.
func message(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		l = strings.TrimPrefix(l, "orgtree: ")
		lines[i] = strings.ReplaceAll(l, ": orgtree: ", ": ")
	}
	return strings.Join(lines, "\n")
}

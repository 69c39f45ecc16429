package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/persist"
	"github.com/orgtree/orgtree/server"
)

type serveOptions struct {
	addr     string
	memory   bool
	seed     string
	poolID   string
	secret   string
	shutdown time.Duration
	// webhooks receive the change events (see server.Webhook).
	webhooks      []string
	webhookSecret string
	// webhookBackoff bounds the retry waits (zero: server.WebhookConfig's
	// defaults; tests shorten them).
	webhookBackoff [2]time.Duration
	// etcd, when set, makes serve one replica of a tree kept in etcd
	// (package replicate) instead of a store: comma-separated endpoints.
	etcd       string
	etcdPrefix string
	// limits on one request (server.Config; zero: the server's defaults).
	maxAnswerBytes int
	maxInFlight    int
	queueWait      time.Duration
	requestTimeout time.Duration
}

// Settings keys under which serve keeps what it generates in the store.
const (
	settingPoolID      = "server/user-pool-id"
	settingSecret      = "server/secret"
	settingPasswordKey = "server/password-key" // PKCS #8 DER of an RSA key
)

func newServeCommand(o *options) *cobra.Command {
	so := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the organization module's GraphQL and REST API to the Authing SDKs",
		Long: `serve answers the management API of the organization module (GraphQL on
/graphql/v2, REST on /api/v2/orgs/...) from the store, so that code written
against the official SDKs runs offline against orgtree. Point the SDK's host
at the printed address and give it the printed user pool id and secret.

Credentials: on the first start on a store, serve generates a user pool id
and a secret and keeps them in the store, so every later start (and every
token issued before) uses the same ones; each start prints them.
--user-pool-id/--secret or ORGTREE_USER_POOL_ID/ORGTREE_SECRET override them
for one run (nothing is stored). The RSA key the SDKs encrypt passwords with
(GET /api/v2/.well-known) is kept in the store the same way. With --memory
all of them are generated each run. With --etcd, serve holds no store: it is
one replica of the tree kept in etcd under --etcd-prefix (see package
replicate), and the credentials are kept in etcd beside it, so several serve
processes behind a load balancer answer alike.

The port is open at once: while a large store loads, /healthz answers 503
"starting" and the log shows the progress. While serve runs, the other
commands given the same --db run inside it (see orgtree --help). On SIGINT or
SIGTERM the server stops taking requests, finishes the ones in flight and
closes the store: every acknowledged write is on disk.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServe(ctx, o, so, cmd.OutOrStdout(), serveHooks{})
		},
	}
	cmd.Flags().StringVar(&so.addr, "addr", "127.0.0.1:8080", "listen address")
	cmd.Flags().BoolVar(&so.memory, "memory", false, "keep everything in memory (nothing is written; --db is ignored)")
	cmd.Flags().StringVar(&so.seed, "seed", "", "nested JSON file to import at start into a store never written (not one whose orgs were deleted)")
	cmd.Flags().StringVar(&so.poolID, "user-pool-id", os.Getenv("ORGTREE_USER_POOL_ID"), "user pool id the SDKs send (default: the one kept in the store)")
	cmd.Flags().StringVar(&so.secret, "secret", os.Getenv("ORGTREE_SECRET"), "user pool secret the SDKs exchange for a token (default: the one kept in the store)")
	cmd.Flags().DurationVar(&so.shutdown, "shutdown-timeout", 30*time.Second, "how long to wait for requests in flight on shutdown")
	cmd.Flags().StringArrayVar(&so.webhooks, "webhook", nil, "POST change events to this URL (repeatable; signed with HMAC-SHA256, see GET /api/v2/events for the events; each receiver's position is kept in the store, so a restart resumes where it stopped acknowledging)")
	cmd.Flags().StringVar(&so.etcd, "etcd", "", "serve as one replica of a tree kept in etcd at these endpoints (comma-separated; no local store, --db is ignored)")
	cmd.Flags().StringVar(&so.etcdPrefix, "etcd-prefix", "/orgtree/default", "etcd key prefix of the tree (with --etcd)")
	cmd.Flags().IntVar(&so.maxAnswerBytes, "max-answer-bytes", 32<<20, "refuse (code 413) an answer larger than this, telling the client to ask for less or page")
	cmd.Flags().IntVar(&so.maxInFlight, "max-in-flight", 0, "requests run at once (0: 4 per CPU, at least 8)")
	cmd.Flags().DurationVar(&so.queueWait, "queue-wait", time.Second, "how long a request beyond --max-in-flight waits before it is answered 503 with Retry-After")
	cmd.Flags().DurationVar(&so.requestTimeout, "request-timeout", 30*time.Second, "deadline of every request; its work stops there (code 503)")
	cmd.Flags().StringVar(&so.webhookSecret, "webhook-secret", os.Getenv("ORGTREE_WEBHOOK_SECRET"), "key of the webhook signatures (default: the user pool secret)")
	return cmd
}

// serveHooks let tests watch serve's start.
type serveHooks struct {
	listening func(addr string) // the port is open, the store not yet loaded
	ready     func(addr string) // everything is served
}

// starting answers every request while the store loads.
var starting http.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, `{"code":503,"message":"starting","data":null}`+"\n")
})

// runServe serves until ctx ends.
func runServe(ctx context.Context, o *options, so *serveOptions, out io.Writer, hooks serveHooks) error {
	ln, err := net.Listen("tcp", so.addr)
	if err != nil {
		return err
	}
	var handler atomic.Pointer[http.Handler]
	handler.Store(&starting)
	// The server package's timeouts cut slow clients (slowloris headers
	// and bodies, answers never read) off.
	hs := server.NewHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }), server.Timeouts{})
	addr := ln.Addr().String()
	// served is closed when Serve returns, with its error in serveErr.
	served := make(chan struct{})
	var serveErr error
	go func() { serveErr = hs.Serve(ln); close(served) }()
	if hooks.listening != nil {
		hooks.listening(addr)
	}

	// stop shuts the listener down and waits for the requests in flight;
	// serveLoaded calls it before it closes the store.
	var stopped bool
	var stopErr error
	stop := func() error {
		if stopped {
			return stopErr
		}
		stopped = true
		sctx, cancel := context.WithTimeout(context.Background(), so.shutdown)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			stopErr = fmt.Errorf("shutdown: %w", err)
		} else if <-served; !errors.Is(serveErr, http.ErrServerClosed) {
			stopErr = serveErr
		}
		return stopErr
	}
	err = serveLoaded(ctx, o, so, out, addr, &handler, hooks, served, stop)
	if serr := stop(); err == nil {
		err = serr
	}
	return err
}

// serveLoaded opens the store, installs the real handler, waits for ctx to
// end and then stops the server before it closes the store.
func serveLoaded(ctx context.Context, o *options, so *serveOptions, out io.Writer, addr string,
	handler *atomic.Pointer[http.Handler], hooks serveHooks, served <-chan struct{}, stop func() error) (err error) {
	var tree *orgtree.Tree
	var db *persist.DB
	var settings settingStore
	var update func(fn func(*orgtree.Tx) error) error
	where := o.db
	var events server.History
	if so.etcd != "" {
		rep, es, err := openReplica(ctx, so)
		if err != nil {
			return err
		}
		defer rep.Close()
		defer es.cli.Close()
		tree, settings, where = rep.Tree(), es, "etcd "+so.etcd+" "+so.etcdPrefix
		update = func(fn func(*orgtree.Tx) error) error { return rep.Update(context.Background(), fn) }
	} else if so.memory {
		mh := server.NewMemoryHistory(memoryHistory)
		tree, where = orgtree.New(append(treeOptions, orgtree.WithCommitHook(mh.Hook))...), "memory"
		events = mh
	} else {
		start := time.Now()
		if fi, err := os.Stat(o.db); err == nil && fi.Size() >= largeStore {
			fmt.Fprintf(out, "opening %s (%d MB) … /healthz answers \"starting\" until it is loaded\n", o.db, fi.Size()>>20)
		}
		o.progress = nil // announced above, on serve's own output
		if db, err = o.openStore(false); err != nil {
			return err
		}
		defer func() {
			if cerr := db.Close(); err == nil {
				err = cerr
			}
		}()
		tree, settings = db.Tree(), db
		if _, err := db.History().Info(); err == nil {
			events = storeHistory{db.History()}
		}
		if d := time.Since(start); d >= time.Second {
			st := tree.Snapshot().Stats()
			fmt.Fprintf(out, "opened %s in %s: %d orgs, %d nodes, %d users\n", o.db, d.Round(10*time.Millisecond), st.Orgs, st.Nodes, st.Users)
		}
	}
	if update == nil {
		update = tree.Update
	}
	// Seed only a store that never held an org: one whose orgs were all
	// deleted through the API was written (its version is past 0) and
	// must stay empty.
	if snap := tree.Snapshot(); so.seed != "" && snap.Stats().Orgs == 0 && snap.Seq() == 0 {
		f, err := os.Open(so.seed)
		if err != nil {
			return err
		}
		var orgs []orgtree.Org
		err = update(func(tx *orgtree.Tx) (err error) {
			if tx.Stats().Orgs > 0 { // another replica seeded first
				return nil
			}
			if err := tx.SetActor("serve", "seed "+so.seed); err != nil {
				return err
			}
			orgs, err = tx.ImportJSON(f, orgtree.ImportOptions{})
			return err
		})
		f.Close()
		if err != nil {
			return fmt.Errorf("seed %s: %w", so.seed, err)
		}
		fmt.Fprintf(out, "seeded %d org(s) from %s\n", len(orgs), so.seed)
	}
	poolID, poolFrom, err := credential(settings, settingPoolID, so.poolID, server.NewObjectID)
	if err != nil {
		return err
	}
	secret, secretFrom, err := credential(settings, settingSecret, so.secret, newSecret)
	if err != nil {
		return err
	}
	key, err := passwordKey(settings, where)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	srv, err := server.New(tree, server.Config{UserPoolID: poolID, Secret: secret, PasswordKey: key, History: events, Update: update,
		Logger:         logger,
		MaxAnswerBytes: so.maxAnswerBytes, MaxInFlight: so.maxInFlight, MaxQueueWait: so.queueWait, RequestTimeout: so.requestTimeout})
	if err != nil {
		return err
	}
	stopHooks, err := startWebhooks(ctx, tree, events, db, so, secret, out, logger)
	if err != nil {
		return err
	}
	defer stopHooks()
	token := newToken()
	mux := http.NewServeMux()
	mux.Handle(cliPath, cliHandler(tree, db, token, secret))
	mux.Handle("/", srv.Handler())
	var h http.Handler = mux
	handler.Store(&h)

	url := clientURL(addr)
	if db != nil {
		if err := writeSidecar(o.db, sidecar{URL: url, Token: token, PID: os.Getpid()}); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		defer os.Remove(sidecarPath(o.db))
	}
	fmt.Fprintf(out, "orgtree serving %s (store: %s)\n", url, where)
	fmt.Fprintf(out, "  user pool id: %s  %s\n  secret:       %s  %s\n", poolID, poolFrom(where), secret, secretFrom(where))
	fmt.Fprintf(out, "  Go SDK:       management.NewClient(%q, %q, %q)\n", poolID, secret, url)
	fmt.Fprintf(out, "  web UI:       %s/ui/ (sign in with the user pool id and secret)\n", url)
	if db != nil {
		fmt.Fprintf(out, "  CLI:          other orgtree commands on --db %s run in this server (%s)\n", o.db, sidecarPath(o.db))
	}
	if hooks.ready != nil {
		hooks.ready(addr)
	}
	select {
	case <-served:
		return stop()
	case <-ctx.Done():
	}
	fmt.Fprintln(out, "shutting down: finishing requests in flight")
	return stop()
}

// passwordKey returns the RSA key the SDKs encrypt passwords with: the one
// kept in the store (made on the first start), so that clients holding its
// public half keep working across restarts; nil for a memory tree (the
// server then makes one per run).
func passwordKey(db settingStore, where string) (*rsa.PrivateKey, error) {
	if db == nil {
		return nil, nil
	}
	der, _, err := db.SettingOrCreate(settingPasswordKey, func() ([]byte, error) {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		return x509.MarshalPKCS8PrivateKey(k)
	})
	if err != nil {
		return nil, fmt.Errorf("serve: password key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("serve: password key in %s: %w", where, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("serve: password key in %s is a %T, not an RSA key", where, k)
	}
	return rk, nil
}

// newSecret makes a user pool secret: 128 random bits in hex, shaped like
// the service's (an object id has too few random bits for a secret).
func newSecret() string { return newToken()[:32] }

// credential returns the value given on the command line, or the one kept
// in the store under key (made by gen now if the store has none), or a new
// one for a memory tree; from says where it came from.
func credential(db settingStore, key, given string, gen func() string) (value string, from func(where string) string, err error) {
	switch {
	case given != "":
		return given, func(string) string { return "(from the command line or environment; not stored)" }, nil
	case db == nil:
		return gen(), func(string) string { return "(generated; --memory keeps nothing)" }, nil
	}
	v, created, err := db.SettingOrCreate(key, func() ([]byte, error) { return []byte(gen()), nil })
	if err != nil {
		return "", nil, fmt.Errorf("serve: credentials: %w", err)
	}
	if created {
		return string(v), func(where string) string { return "(generated, kept in " + where + ")" }, nil
	}
	return string(v), func(where string) string { return "(kept in " + where + ")" }, nil
}

// memoryHistory is how many commits serve --memory keeps for the event
// stream's Last-Event-ID.
const memoryHistory = 4096

// storeHistory gives the store's change history to the server's event
// stream.
type storeHistory struct{ h *persist.History }

func (s storeHistory) Since(seq uint64, limit int) ([]server.Commit, error) {
	entries, err := s.h.Since(seq, limit)
	if errors.Is(err, persist.ErrHistoryTrimmed) {
		return nil, fmt.Errorf("%w: %w", server.ErrHistoryGone, err)
	}
	if err != nil {
		return nil, err
	}
	out := make([]server.Commit, len(entries))
	for i, e := range entries {
		out[i] = server.Commit{Seq: e.Seq, Time: e.Time, Actor: e.Actor, Reason: e.Reason, Changes: e.Changes}
	}
	return out, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/server"
)

type serveOptions struct {
	addr     string
	memory   bool
	seed     string
	poolID   string
	secret   string
	shutdown time.Duration
}

func newServeCommand(o *options) *cobra.Command {
	so := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the organization module's GraphQL and REST API to the Authing SDKs",
		Long: `serve answers the management API of the organization module (GraphQL on
/graphql/v2, REST on /api/v2/orgs/...) from the store, so that code written
against the official SDKs runs offline against orgtree. Point the SDK's host
at the printed address and give it the printed user pool id and secret.

Credentials come from --user-pool-id/--secret or ORGTREE_USER_POOL_ID and
ORGTREE_SECRET; when absent they are generated and printed. On SIGINT or
SIGTERM the server stops taking requests, finishes the ones in flight and
closes the store: every acknowledged write is on disk.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServe(ctx, o, so, cmd.OutOrStdout(), nil)
		},
	}
	cmd.Flags().StringVar(&so.addr, "addr", "127.0.0.1:8080", "listen address")
	cmd.Flags().BoolVar(&so.memory, "memory", false, "keep everything in memory (nothing is written; --db is ignored)")
	cmd.Flags().StringVar(&so.seed, "seed", "", "nested JSON file to import at start when the store has no org")
	cmd.Flags().StringVar(&so.poolID, "user-pool-id", os.Getenv("ORGTREE_USER_POOL_ID"), "user pool id the SDKs send")
	cmd.Flags().StringVar(&so.secret, "secret", os.Getenv("ORGTREE_SECRET"), "user pool secret the SDKs exchange for a token")
	cmd.Flags().DurationVar(&so.shutdown, "shutdown-timeout", 30*time.Second, "how long to wait for requests in flight on shutdown")
	return cmd
}

// runServe serves until ctx ends. ready, when set, receives the address
// once the listener is open.
func runServe(ctx context.Context, o *options, so *serveOptions, out io.Writer, ready func(addr string)) error {
	if so.memory {
		return serveTree(ctx, orgtree.New(treeOptions...), "memory", so, out, ready)
	}
	return o.withStore(false, func(t *orgtree.Tree) error { return serveTree(ctx, t, o.db, so, out, ready) })
}

// serveTree serves tree (stored in where) until ctx ends.
func serveTree(ctx context.Context, tree *orgtree.Tree, where string, so *serveOptions, out io.Writer, ready func(addr string)) error {
	if so.seed != "" && tree.Snapshot().Stats().Orgs == 0 {
		f, err := os.Open(so.seed)
		if err != nil {
			return err
		}
		orgs, err := tree.ImportJSON(f, orgtree.ImportOptions{})
		f.Close()
		if err != nil {
			return fmt.Errorf("seed %s: %w", so.seed, err)
		}
		fmt.Fprintf(out, "seeded %d org(s) from %s\n", len(orgs), so.seed)
	}
	generated := ""
	if so.poolID == "" {
		so.poolID, generated = server.NewObjectID(), " (generated)"
	}
	if so.secret == "" {
		so.secret, generated = server.NewObjectID(), " (generated)"
	}
	srv, err := server.New(tree, server.Config{UserPoolID: so.poolID, Secret: so.secret,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", so.addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	addr := ln.Addr().String()
	fmt.Fprintf(out, "orgtree serving http://%s (store: %s)\n", addr, where)
	fmt.Fprintf(out, "  user pool id: %s\n  secret:       %s%s\n", so.poolID, so.secret, generated)
	fmt.Fprintf(out, "  Go SDK:       management.NewClient(%q, %q, \"http://%s\")\n", so.poolID, so.secret, addr)
	if ready != nil {
		ready(addr)
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(out, "shutting down: finishing requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), so.shutdown)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

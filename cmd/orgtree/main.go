// Command orgtree runs the orgtree server and works on orgtree stores from
// the command line.
//
//	orgtree serve                      # SDK-compatible server on ./orgtree.db
//	orgtree import org.json            # nested JSON, the ImportNodeByJSON format
//	orgtree tree --ids                 # every org as an indented tree
//	orgtree chart acme --format mermaid # an org chart to render elsewhere
//	orgtree sync --provider wecom --departments d.json --users u.json
//
// Every command works on the store named by --db (default ./orgtree.db); run
// "orgtree help COMMAND" for its flags. While "orgtree serve" holds the
// store, the other commands run inside that server over HTTP: serve writes
// its address and a token to a file beside the store (STORE.serve, mode
// 0600) and removes it when it stops. --server URL (with ORGTREE_CLI_TOKEN
// or the user pool secret in ORGTREE_SECRET) reaches a server elsewhere.
//
// Wherever a command takes a department it accepts an org id, a node id, or
// a path of codes or names from the org's root ("acme/dev/web"), or a code
// that only one org has.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/persist"
	"github.com/orgtree/orgtree/server"
)

func main() {
	if err := runCLI(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		os.Exit(1)
	}
}

// options are the flags every command shares, and how the commands reach
// the tree and files.
type options struct {
	db       string
	jsonOut  bool
	lockWait time.Duration
	server   string // --server: run store commands on this server
	token    string // for --server

	// tree, when set, is the tree every command works on instead of the
	// store (commands the server runs for a remote CLI).
	tree *orgtree.Tree
	// store is the server's store behind tree; nil when the server keeps
	// its tree in memory (serve --memory).
	store *persist.DB
	// files, when set, stands in for the file system (the remote CLI's
	// uploaded inputs and the outputs to send back).
	files *memFiles
	// progress receives the "opening a large store" line (standard error).
	progress io.Writer
	// actor, when set, is the default --actor of the writing commands: the
	// remote CLI's (see attribution), so that a command run inside a
	// server is attributed to the client's user, not the server's.
	actor string
}

// largeStore is the store size from which opening it is announced: above
// it, loading takes a noticeable time. (A variable for the tests.)
var largeStore int64 = 32 << 20

// runCLI runs one command line. Store commands go to the running server
// when one holds the store (or --server names one).
func runCLI(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o := &options{progress: stderr}
	root := newRootCommand(o)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if handled, err := o.tryRemote(ctx, root, args, stdin, stdout, stderr); handled {
		if err != nil {
			fmt.Fprintln(stderr, "Error:", err)
		}
		return err
	}
	return root.ExecuteContext(ctx)
}

func newRootCommand(o *options) *cobra.Command {
	root := &cobra.Command{
		Use:   "orgtree",
		Short: "Organization trees: an SDK-compatible server and tools over an orgtree store",
		Long: `orgtree keeps organization trees (orgs, departments, members) in a store
file and serves them over the HTTP protocol of the organization module of the
Authing management SDKs.

Wherever a command takes a department (NODE) or an org (ORG), give an org id,
a node id, a path of codes or names from the org's root ("acme/dev/web"), or a
code only one org has. "orgtree tree --ids" shows the ids.

While "orgtree serve" runs on the store, the other commands run inside it
over HTTP (the address and a token are in the file STORE.serve beside the
store), so they work beside the server.`,
		SilenceUsage: true,
	}
	root.PersistentFlags().StringVar(&o.db, "db", "orgtree.db", "store file (bbolt); created when absent")
	root.PersistentFlags().BoolVar(&o.jsonOut, "json", false, "print JSON instead of text")
	root.PersistentFlags().DurationVar(&o.lockWait, "lock-wait", time.Second, "how long to wait for a store another process holds")
	root.PersistentFlags().StringVar(&o.server, "server", "", "run the command on this orgtree server (http://HOST:PORT) instead of a local store")
	root.PersistentFlags().StringVar(&o.token, "token", "", "token for --server: its CLI token or user pool secret (default $ORGTREE_CLI_TOKEN, then $ORGTREE_SECRET)")
	root.AddCommand(
		newServeCommand(o),
		newImportCommand(o),
		newExportCommand(o),
		newTreeCommand(o),
		newSearchCommand(o),
		newMembersCommand(o),
		newMoveCommand(o),
		newCheckCommand(o),
		newBackupCommand(o),
		newRestoreCommand(o),
		newChartCommand(o),
		newSyncCommand(o),
		newLogCommand(o),
	)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nusage: %s", err, c.UseLine())
	})
	return root
}

// args checks a command's positional arguments and names the usage on error.
func args(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, a []string) error {
		if err := check(c, a); err != nil {
			return fmt.Errorf("%w\nusage: %s (see %s --help)", err, c.UseLine(), c.CommandPath())
		}
		return nil
	}
}

// treeOptions make every tree the commands use: ids shaped like the
// reference service's.
var treeOptions = []orgtree.Option{orgtree.WithIDGenerator(server.NewObjectID)}

// openStore opens the --db store; readOnly takes a shared lock.
func (o *options) openStore(readOnly bool) (*persist.DB, error) {
	opts := []persist.Option{persist.WithOpenTimeout(o.lockWait), persist.WithTreeOptions(treeOptions...)}
	if !readOnly {
		opts = append(opts, persist.WithDefaultHistory(cliHistory))
	}
	if readOnly {
		if _, err := os.Stat(o.db); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no store at %s (import a file or run serve first, or pass --db)", o.db)
		}
		opts = append(opts, persist.WithReadOnly())
	}
	start := time.Now()
	announced := false
	if fi, err := os.Stat(o.db); err == nil && fi.Size() >= largeStore && o.progress != nil {
		fmt.Fprintf(o.progress, "opening %s (%d MB) …", o.db, fi.Size()>>20)
		announced = true
	}
	db, err := persist.Open(o.db, opts...)
	if announced {
		fmt.Fprintf(o.progress, " %.1fs\n", time.Since(start).Seconds())
	}
	if errors.Is(err, persist.ErrLocked) {
		return nil, fmt.Errorf("%w (is \"orgtree serve\" running on it? it answers the other commands while it runs; its file %s is missing)", err, sidecarPath(o.db))
	}
	return db, err
}

// withStore runs fn on the store (or the tree the server gave) and closes
// it, keeping the first error.
func (o *options) withStore(readOnly bool, fn func(*orgtree.Tree) error) error {
	return o.withDB(readOnly, func(_ *persist.DB, t *orgtree.Tree) error { return fn(t) })
}

// withDB is withStore for the commands that need the store itself (its
// format, a backup): db is nil on a server that keeps its tree in memory.
func (o *options) withDB(readOnly bool, fn func(db *persist.DB, t *orgtree.Tree) error) (err error) {
	if o.tree != nil {
		return fn(o.store, o.tree)
	}
	db, err := o.openStore(readOnly)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}()
	return fn(db, db.Tree())
}

// where names the store for messages.
func (o *options) where() string {
	if o.tree != nil {
		return "the server's store"
	}
	return o.db
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

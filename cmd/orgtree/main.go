// Command orgtree runs the orgtree server and works on orgtree stores from
// the command line.
//
//	orgtree serve                      # SDK-compatible server on ./orgtree.db
//	orgtree import org.json            # nested JSON, as the seeds document it
//	orgtree tree                       # every org as an indented tree
//	orgtree chart ORG --format mermaid # an org chart to render elsewhere
//
// Every command works on the store named by --db (default ./orgtree.db); run
// "orgtree help COMMAND" for its flags.
package main

import (
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
	if err := newRootCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

// options are the flags every command shares.
type options struct {
	db       string
	jsonOut  bool
	lockWait time.Duration
}

func newRootCommand() *cobra.Command {
	o := &options{}
	root := &cobra.Command{
		Use:   "orgtree",
		Short: "Organization trees: an SDK-compatible server and tools over an orgtree store",
		Long: `orgtree keeps organization trees (orgs, departments, members) in a store
file and serves them over the HTTP protocol of the organization module of the
Authing management SDKs.`,
		SilenceUsage: true,
	}
	root.PersistentFlags().StringVar(&o.db, "db", "orgtree.db", "store file (bbolt); created when absent")
	root.PersistentFlags().BoolVar(&o.jsonOut, "json", false, "print JSON instead of text")
	root.PersistentFlags().DurationVar(&o.lockWait, "lock-wait", time.Second, "how long to wait for a store another process holds")
	root.AddCommand(
		newServeCommand(o),
		newImportCommand(o),
		newExportCommand(o),
		newTreeCommand(o),
		newSearchCommand(o),
		newMembersCommand(o),
		newMoveCommand(o),
		newCheckCommand(o),
		newChartCommand(o),
	)
	return root
}

// treeOptions make every tree the commands use: ids shaped like the
// reference service's.
var treeOptions = []orgtree.Option{orgtree.WithIDGenerator(server.NewObjectID)}

// openStore opens the --db store; readOnly takes a shared lock.
func (o *options) openStore(readOnly bool) (*persist.DB, error) {
	opts := []persist.Option{persist.WithOpenTimeout(o.lockWait), persist.WithTreeOptions(treeOptions...)}
	if readOnly {
		if _, err := os.Stat(o.db); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no store at %s (import a file or run serve first, or pass --db)", o.db)
		}
		opts = append(opts, persist.WithReadOnly())
	}
	db, err := persist.Open(o.db, opts...)
	if errors.Is(err, persist.ErrLocked) {
		return nil, fmt.Errorf("%w (is \"orgtree serve\" running on it?)", err)
	}
	return db, err
}

// withStore runs fn on the store and closes it, keeping the first error.
func (o *options) withStore(readOnly bool, fn func(*orgtree.Tree) error) (err error) {
	db, err := o.openStore(readOnly)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}()
	return fn(db.Tree())
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/persist"
)

// backupResult is the JSON output of backup and restore.
type backupResult struct {
	File        string `json:"file"`
	Store       string `json:"store"`
	Bytes       int64  `json:"bytes"`
	Format      int    `json:"format"`
	Version     uint64 `json:"version"`
	Orgs        int    `json:"orgs"`
	Nodes       int    `json:"nodes"`
	Users       int    `json:"users"`
	Memberships int    `json:"memberships"`
}

// reportCopy prints what backup or restore copied from one file (or
// server) to another.
func (o *options) reportCopy(w io.Writer, verb, from, to string, info persist.Info) error {
	if o.jsonOut {
		file, store := to, from
		if verb == "restored" {
			file, store = from, to
		}
		return printJSON(w, backupResult{file, store, info.Bytes, info.Format, info.Seq,
			info.Stats.Orgs, info.Stats.Nodes, info.Stats.Users, info.Stats.Memberships})
	}
	_, err := fmt.Fprintf(w, "%s %s to %s: %d bytes, format %d, version %d: %d orgs, %d nodes, %d users, %d memberships\n",
		verb, from, to, info.Bytes, info.Format, info.Seq, info.Stats.Orgs, info.Stats.Nodes, info.Stats.Users, info.Stats.Memberships)
	return err
}

func newBackupCommand(o *options) *cobra.Command {
	return storeCommand(&cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent copy of the store to FILE, also while the store is in use",
		Long: `backup copies the store (--db) to FILE: one consistent version of it,
holding every change acknowledged before the command started, while writers go
on. Beside a running server the server makes the copy and sends it back. The
copy goes to a temporary file beside FILE, is verified like "orgtree check"
verifies a store, and only then replaces FILE, so FILE is never half written.
"orgtree restore FILE" puts it back; "orgtree --db FILE ..." reads it directly.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return o.withDB(true, func(db *persist.DB, _ *orgtree.Tree) error {
				if db == nil {
					return errors.New("backup: the server keeps its tree in memory (serve --memory), there is no store to copy: use export")
				}
				if o.files != nil {
					// Run by a server for a remote CLI: the copy travels to
					// the client, which verifies and installs it (tryRemote).
					w, err := o.createOutput(a[0])
					if err != nil {
						return err
					}
					_, err = db.Backup(w)
					return err
				}
				info, err := db.BackupFile(a[0])
				if err != nil {
					return err
				}
				return o.reportCopy(cmd.OutOrStdout(), "backed up", o.db, a[0], info)
			})
		},
	}, annOutputStore, "1")
}

func newRestoreCommand(o *options) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the store with a backup, verified first (never half replaced)",
		Long: `restore makes the store (--db) a copy of FILE, a file "orgtree backup" wrote
(or any store file; - reads standard input). FILE is copied to a temporary
file beside the store and verified completely: checksums, records, every
invariant of the tree. A damaged, truncated or foreign file is refused and the
store is left as it was. Only then the copy is renamed over the store, so the
store is the old one or the whole new one, whatever happens.

A store that exists is replaced only with --force. A store some process holds
(a running "orgtree serve") is not replaced: stop that process first.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if o.server != "" || o.tree != nil {
				return errors.New("restore replaces a store file on this machine: run it where the store is, with the server stopped")
			}
			if _, err := os.Stat(o.db); err == nil && !force {
				return fmt.Errorf("%s exists: restore replaces it with %s; pass --force (and keep a copy: orgtree backup)", o.db, a[0])
			}
			in, _, err := o.openInput(cmd, a[0])
			if err != nil {
				return err
			}
			defer in.Close()
			info, err := persist.Restore(o.db, in, persist.WithOpenTimeout(o.lockWait))
			switch {
			case errors.Is(err, persist.ErrLocked):
				return fmt.Errorf("%w (is \"orgtree serve\" running on it? stop it first: restore replaces the file)", err)
			case errors.Is(err, persist.ErrCorrupt) || errors.Is(err, persist.ErrFormat):
				return fmt.Errorf("%s is not a sound orgtree store: %w", a[0], err)
			}
			if err != nil {
				return err
			}
			return o.reportCopy(cmd.OutOrStdout(), "restored", a[0], o.db, info)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace a store that exists")
	return cmd
}

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/persist"
	"github.com/orgtree/orgtree/server"
)

// cliHistory is the change history every store the commands write keeps
// (unless it has one with other bounds already): three months, at most
// 64 MiB of entries.
var cliHistory = persist.HistoryOptions{MaxAge: 90 * 24 * time.Hour, MaxBytes: 64 << 20}

func newLogCommand(o *options) *cobra.Command {
	var since, node string
	cmd := &cobra.Command{
		Use:   "log [--since VERSION|TIME] [--node NODE]",
		Short: "Print the store's change history: who changed what, and why",
		Long: `log prints the change history the store keeps, oldest first: one block per
committed transaction with its version, time, actor and reason, then one line
per change, named like the server's change events (department.moved,
member.added, ...).

--since takes a version number (the changes after it), a time (RFC 3339, or a
date such as 2026-12-01) or a duration back from now ("24h"). --node takes a
department (id, code or path; a deleted department by its id) and keeps the
changes that concern it: the department itself, its members, main
departments moved to or from it. --json prints the entries as a JSON array.

The writing commands (import, sync, move) record who and why: --actor
(default $ORGTREE_ACTOR, else "cli:$USER"; a command run inside a server is
its client's) and --reason (default: the command line). serve --seed records
"serve". The actor is what the command says, not an authenticated identity.

Every store the commands write keeps a history of the last 90 days (at most
64 MiB of entries; the oldest are dropped first). A --since that reaches past
the oldest entry kept is an error that says where the history starts.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.withHistory(func(h *persist.History, snap orgtree.Snapshot) error {
				entries, err := queryLog(h, snap, since, node, time.Now())
				if err != nil {
					return err
				}
				if o.jsonOut {
					if entries == nil {
						entries = []persist.HistoryEntry{}
					}
					return printJSON(cmd.OutOrStdout(), entries)
				}
				return printLog(cmd.OutOrStdout(), entries)
			})
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "only changes after this version, or since this time or duration ago")
	cmd.Flags().StringVar(&node, "node", "", "only changes that concern this department")
	return storeCommand(cmd)
}

// withHistory runs fn on the store's history (or the server's).
func (o *options) withHistory(fn func(*persist.History, orgtree.Snapshot) error) (err error) {
	if o.tree != nil {
		if o.store == nil {
			return fmt.Errorf("%s keeps no change history (serve --memory): %w", o.where(), persist.ErrNoHistory)
		}
		return fn(o.store.History(), o.tree.Snapshot())
	}
	db, err := o.openStore(true)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}()
	return fn(db.History(), db.Tree().Snapshot())
}

// parseSince reads --since: a version, a time or a duration ago.
func parseSince(s string, now time.Time) (version uint64, at time.Time, err error) {
	if v, err := strconv.ParseUint(s, 10, 64); err == nil {
		return v, time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return 0, t, nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return 0, now.Add(-d), nil
	}
	return 0, time.Time{}, fmt.Errorf("--since %q: want a version number, a time (2026-12-01, 2026-12-01T09:00:00Z) or a duration ago (24h): %w", s, persist.ErrInvalidQuery)
}

func queryLog(h *persist.History, snap orgtree.Snapshot, since, node string, now time.Time) ([]persist.HistoryEntry, error) {
	var version uint64
	var at time.Time
	if since != "" {
		var err error
		if version, at, err = parseSince(since, now); err != nil {
			return nil, err
		}
	}
	if node != "" {
		id := node
		if n, err := resolveNode(snap, node); err == nil {
			id = n.ID
		}
		entries, err := h.Node(id, 0)
		if err != nil {
			return nil, err
		}
		if since == "" {
			return entries, nil
		}
		// Check the bound as the unfiltered query would.
		if at.IsZero() {
			_, err = h.Since(version, 1)
		} else {
			_, err = h.SinceTime(at, 1)
		}
		if err != nil {
			return nil, err
		}
		return slices.DeleteFunc(entries, func(e persist.HistoryEntry) bool {
			return e.Seq <= version || (!at.IsZero() && e.Time.Before(at))
		}), nil
	}
	switch {
	case since == "":
		info, err := h.Info()
		if err != nil {
			return nil, err
		}
		return h.Since(info.Start, 0)
	case at.IsZero():
		return h.Since(version, 0)
	default:
		return h.SinceTime(at, 0)
	}
}

// printLog prints entries as text: a header line per transaction, an
// indented line per change.
func printLog(w io.Writer, entries []persist.HistoryEntry) error {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "version %d  %s", e.Seq, e.Time.Local().Format("2006-01-02 15:04:05 MST"))
		if e.Actor != "" {
			fmt.Fprintf(&b, "  by %s", e.Actor)
		}
		if e.Reason != "" {
			fmt.Fprintf(&b, "  %q", e.Reason)
		}
		b.WriteByte('\n')
		for _, l := range logLines(e.Changes) {
			fmt.Fprintf(&b, "  %-28s %s\n", l[0], l[1])
		}
		if _, err := io.WriteString(w, b.String()); err != nil {
			return err
		}
		b.Reset()
	}
	if len(entries) == 0 {
		_, err := io.WriteString(w, "no changes\n")
		return err
	}
	return nil
}

// logLines returns a (type, description) pair per change. The types are
// those of the server's change events (server.Events), which list the
// changes in the same order, one event each.
func logLines(c *orgtree.Changes) [][2]string {
	if c == nil {
		return nil
	}
	var descs []string
	for _, o := range c.Orgs {
		descs = append(descs, o.ID)
	}
	for _, n := range c.Nodes {
		descs = append(descs, describeNode(n))
	}
	for _, m := range c.Members {
		if m.Joined {
			descs = append(descs, fmt.Sprintf("user %s to %s", m.UserID, m.NodeID))
		} else {
			descs = append(descs, fmt.Sprintf("user %s from %s", m.UserID, m.NodeID))
		}
	}
	for _, m := range c.MainDepartments {
		descs = append(descs, fmt.Sprintf("user %s: %s → %s", m.UserID, orNone(m.OldNodeID), orNone(m.NewNodeID)))
	}
	for _, u := range c.Users {
		r := u.New
		if r == nil {
			r = u.Old
		}
		name := ""
		if r != nil {
			name = fmt.Sprintf("%q ", r.Name)
		}
		descs = append(descs, name+"("+u.ID+")")
	}
	out := make([][2]string, len(descs))
	for i, ev := range server.Events(c) {
		out[i] = [2]string{ev.Type, descs[i]}
	}
	return out
}

func describeNode(c orgtree.NodeChange) string {
	switch {
	case c.Old == nil && c.New != nil:
		return fmt.Sprintf("%q (%s) under %s", c.New.Name, c.ID, orNone(c.New.ParentID))
	case c.New == nil && c.Old != nil:
		return fmt.Sprintf("%q (%s)", c.Old.Name, c.ID)
	case c.Old == nil:
		return c.ID
	}
	var parts []string
	if c.Renamed {
		parts = append(parts, fmt.Sprintf("%q → %q", c.Old.Name, c.New.Name))
	} else {
		parts = append(parts, fmt.Sprintf("%q", c.New.Name))
	}
	parts = append(parts, "("+c.ID+")")
	if c.Moved {
		parts = append(parts, fmt.Sprintf("parent %s → %s", orNone(c.Old.ParentID), orNone(c.New.ParentID)))
	}
	if f := changedFields(c.Old, c.New); len(f) > 0 {
		parts = append(parts, "changed: "+strings.Join(f, ", "))
	}
	return strings.Join(parts, " ")
}

// changedFields names the JSON fields (other than name, parent and the
// update time, which the line shows or implies) that differ.
func changedFields(old, new *orgtree.NodeRecord) []string {
	var a, b map[string]any
	ja, errA := json.Marshal(old)
	jb, errB := json.Marshal(new)
	if errors.Join(errA, errB, json.Unmarshal(ja, &a), json.Unmarshal(jb, &b)) != nil {
		return nil
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(mergeKeys(a, b))) {
		switch k {
		case "name", "nameI18n", "parentId", "updatedAt":
			if k != "nameI18n" || reflect.DeepEqual(a[k], b[k]) {
				continue
			}
		}
		if !reflect.DeepEqual(a[k], b[k]) {
			out = append(out, k)
		}
	}
	return out
}

func mergeKeys(a, b map[string]any) map[string]struct{} {
	out := map[string]struct{}{}
	for k := range a {
		out[k] = struct{}{}
	}
	for k := range b {
		out[k] = struct{}{}
	}
	return out
}

func orNone(id string) string {
	if id == "" {
		return "(none)"
	}
	return id
}

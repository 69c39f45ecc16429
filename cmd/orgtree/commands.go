package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/orgtree/orgtree"
)

// progressThreshold is the file size from which import shows a progress bar.
const progressThreshold = 1 << 20

func newImportCommand(o *options) *cobra.Command {
	var parent string
	var keepIDs, quiet bool
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import orgs from a nested JSON file (one org object or an array of them)",
		Long: `import reads the nested JSON format of the organization module's
ImportNodeByJSON ({"name", "code", "children": [...]}, one org or an array) and
adds each top-level node as a new org, or under --parent. The whole file is
one transaction: on any error nothing is imported. Use - for standard input.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, size, err := openInput(args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			var r io.Reader = in
			if size >= progressThreshold && !quiet {
				bar := progressbar.NewOptions64(size,
					progressbar.OptionSetWriter(cmd.ErrOrStderr()),
					progressbar.OptionSetDescription("importing"),
					progressbar.OptionShowBytes(true),
					progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionClearOnFinish(),
				)
				defer bar.Finish()
				pr := progressbar.NewReader(in, bar)
				r = &pr
			}
			return o.withStore(false, func(t *orgtree.Tree) error {
				start := time.Now()
				orgs, err := t.ImportJSON(bufio.NewReaderSize(r, 1<<20), orgtree.ImportOptions{ParentID: parent, KeepIDs: keepIDs})
				if err != nil {
					return err
				}
				if o.jsonOut {
					return printJSON(cmd.OutOrStdout(), orgs)
				}
				st := t.Snapshot().Stats()
				for _, org := range orgs {
					root, _ := t.Node(org.RootID)
					fmt.Fprintf(cmd.OutOrStdout(), "imported %s  %s\n", org.ID, root.Name)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%d org(s) in %s; the store now holds %d orgs, %d nodes, %d users\n",
					len(orgs), time.Since(start).Round(time.Millisecond), st.Orgs, st.Nodes, st.Users)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&parent, "parent", "", "import under this node instead of as new orgs")
	cmd.Flags().BoolVar(&keepIDs, "keep-ids", false, "keep the document's ids (they must be free)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

// openInput opens a file, or standard input for "-", with its size (0 when
// unknown).
func openInput(name string) (io.ReadCloser, int64, error) {
	if name == "-" {
		return io.NopCloser(os.Stdin), 0, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

func newExportCommand(o *options) *cobra.Command {
	var out string
	var noMembers bool
	cmd := &cobra.Command{
		Use:   "export [ORG]",
		Short: "Export one org, or every org, as nested JSON (the import format)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			orgID := ""
			if len(args) == 1 {
				orgID = args[0]
			}
			return o.withStore(true, func(t *orgtree.Tree) error {
				w := cmd.OutOrStdout()
				var f *os.File
				if out != "" && out != "-" {
					var err error
					if f, err = os.Create(out); err != nil {
						return err
					}
					w = f
				}
				bw := bufio.NewWriterSize(w, 1<<20)
				err := t.ExportJSON(bw, orgID, orgtree.ExportOptions{OmitMembers: noMembers})
				if err == nil {
					err = bw.Flush()
				}
				if f != nil {
					if cerr := f.Close(); err == nil {
						err = cerr
					}
				}
				return err
			})
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "write to this file instead of standard output")
	cmd.Flags().BoolVar(&noMembers, "no-members", false, "leave out the members lists")
	return cmd
}

// treeEntry is a node of the tree command's JSON output.
type treeEntry struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Code     string       `json:"code,omitempty"`
	Members  int          `json:"members"`
	Children []*treeEntry `json:"children"`
}

func newTreeCommand(o *options) *cobra.Command {
	var showIDs bool
	cmd := &cobra.Command{
		Use:   "tree [NODE]",
		Short: "Print an org (or the subtree of NODE, or every org) as an indented tree with member counts",
		Long: `tree prints the subtree of NODE (a node id), or every org, like tree(1):
each line is a department with its code and the number of distinct members of
its whole subtree.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.withStore(true, func(t *orgtree.Tree) error {
				snap := t.Snapshot()
				roots, err := startNodes(snap, args)
				if err != nil {
					return err
				}
				entries, err := buildTrees(snap, roots)
				if err != nil {
					return err
				}
				if o.jsonOut {
					return printJSON(cmd.OutOrStdout(), entries)
				}
				w := bufio.NewWriter(cmd.OutOrStdout())
				for _, e := range entries {
					writeTree(w, e, showIDs)
				}
				return w.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&showIDs, "ids", false, "show node ids")
	return cmd
}

// startNodes returns the node named by args, or the root of every org.
func startNodes(snap orgtree.Snapshot, args []string) ([]string, error) {
	if len(args) == 1 {
		n, err := snap.Node(args[0])
		if err != nil {
			return nil, err
		}
		return []string{n.ID}, nil
	}
	var roots []string
	for _, org := range snap.Orgs() {
		roots = append(roots, org.RootID)
	}
	return roots, nil
}

// buildTrees collects the subtrees of roots.
func buildTrees(snap orgtree.Snapshot, roots []string) ([]*treeEntry, error) {
	out := make([]*treeEntry, 0, len(roots))
	for _, id := range roots {
		e, err := buildTree(snap, id)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// buildTree collects the subtree of id with member counts, iteratively.
func buildTree(snap orgtree.Snapshot, id string) (*treeEntry, error) {
	entry := func(id string) (*treeEntry, error) {
		n, err := snap.Node(id)
		if err != nil {
			return nil, err
		}
		count, err := snap.MemberCount(id, true)
		if err != nil {
			return nil, err
		}
		return &treeEntry{ID: n.ID, Name: n.Name, Code: n.Code, Members: count, Children: []*treeEntry{}}, nil
	}
	root, err := entry(id)
	if err != nil {
		return nil, err
	}
	stack := []*treeEntry{root}
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		kids, err := snap.ChildIDs(e.ID)
		if err != nil {
			return nil, err
		}
		for _, k := range kids {
			c, err := entry(k)
			if err != nil {
				return nil, err
			}
			e.Children = append(e.Children, c)
			stack = append(stack, c)
		}
	}
	return root, nil
}

// writeTree prints an entry tree with tree(1)'s connectors, iteratively.
func writeTree(w io.Writer, root *treeEntry, showIDs bool) {
	label := func(e *treeEntry) string {
		var b strings.Builder
		b.WriteString(e.Name)
		if e.Code != "" {
			fmt.Fprintf(&b, " [%s]", e.Code)
		}
		if showIDs {
			fmt.Fprintf(&b, " {%s}", e.ID)
		}
		if e.Members == 1 {
			b.WriteString(" (1 member)")
		} else {
			fmt.Fprintf(&b, " (%d members)", e.Members)
		}
		return b.String()
	}
	fmt.Fprintln(w, label(root))
	type frame struct {
		e      *treeEntry
		next   int
		prefix string
	}
	stack := []frame{{e: root}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next == len(top.e.Children) {
			stack = stack[:len(stack)-1]
			continue
		}
		c := top.e.Children[top.next]
		top.next++
		last := top.next == len(top.e.Children)
		connector, indent := "├── ", "│   "
		if last {
			connector, indent = "└── ", "    "
		}
		fmt.Fprintln(w, top.prefix+connector+label(c))
		stack = append(stack, frame{e: c, prefix: top.prefix + indent})
	}
}

func newSearchCommand(o *options) *cobra.Command {
	var orgID string
	var limit int
	cmd := &cobra.Command{
		Use:   "search KEYWORD",
		Short: "Find departments whose name (or a translated name) contains KEYWORD",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.withStore(true, func(t *orgtree.Tree) error {
				hits, err := t.Search(args[0], orgtree.SearchOptions{OrgID: orgID, Limit: limit})
				if err != nil {
					return err
				}
				if o.jsonOut {
					return printJSON(cmd.OutOrStdout(), hits)
				}
				for _, h := range hits {
					fmt.Fprintf(cmd.OutOrStdout(), "%s  %s\n", h.Node.ID, strings.Join(h.NamePath, " / "))
				}
				if len(hits) == 0 {
					fmt.Fprintln(cmd.ErrOrStderr(), "no match")
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&orgID, "org", "", "search this org only")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many hits (0: all)")
	return cmd
}

func newMembersCommand(o *options) *cobra.Command {
	var descendants bool
	var page, limit int
	var sortBy string
	cmd := &cobra.Command{
		Use:   "members NODE",
		Short: "List the members of a department, or with --descendants of its whole subtree",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			order, err := orgtree.ParseSortBy(sortBy)
			if err != nil {
				return err
			}
			return o.withStore(true, func(t *orgtree.Tree) error {
				mp, err := t.ListMembers(args[0], orgtree.ListMembersOptions{
					IncludeDescendants: descendants, Page: page, Limit: limit, SortBy: order,
				})
				if err != nil {
					return err
				}
				if o.jsonOut {
					return printJSON(cmd.OutOrStdout(), mp)
				}
				w := cmd.OutOrStdout()
				for _, u := range mp.List {
					fmt.Fprintf(w, "%s  %s\n", u.ID, displayName(u))
				}
				fmt.Fprintf(w, "%d of %d member(s)\n", len(mp.List), mp.TotalCount)
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&descendants, "descendants", "d", false, "include the members of every department below")
	cmd.Flags().IntVar(&page, "page", 1, "page number, from 1")
	cmd.Flags().IntVar(&limit, "limit", 50, "page size")
	cmd.Flags().StringVar(&sortBy, "sort", "CREATEDAT_DESC", "CREATEDAT_DESC, CREATEDAT_ASC, UPDATEDAT_DESC or UPDATEDAT_ASC")
	return cmd
}

func displayName(u orgtree.User) string {
	parts := []string{}
	for _, s := range []string{u.Name, u.Username, u.Email, u.Phone} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "  ")
}

func newMoveCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "move NODE PARENT",
		Short: "Give a department a new parent (refused if PARENT is inside NODE)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.withStore(false, func(t *orgtree.Tree) error {
				n, err := t.MoveNode(args[0], args[1])
				if err != nil {
					return err
				}
				if o.jsonOut {
					return printJSON(cmd.OutOrStdout(), n)
				}
				path, err := t.NamePath(n.ID)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "moved: %s\n", strings.Join(path, " / "))
				return nil
			})
		},
	}
}

func newCheckCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Verify the store: checksums, counts and every invariant of the tree",
		Long: `check opens the store read-only (which verifies every record's checksum and
the record counts) and runs the engine's invariant checker over the loaded
tree: links, indexes, paths, member rollups. It exits non-zero on any fault.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.withStore(true, func(t *orgtree.Tree) error {
				snap := t.Snapshot()
				if err := snap.Check(); err != nil {
					return err
				}
				st := snap.Stats()
				if o.jsonOut {
					return printJSON(cmd.OutOrStdout(), map[string]any{"ok": true, "stats": st})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "ok: %d orgs, %d nodes, %d users, %d memberships\n", st.Orgs, st.Nodes, st.Users, st.Memberships)
				return nil
			})
		},
	}
}

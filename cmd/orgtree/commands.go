package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/persist"
)

// storeCommand marks cmd as one that works on the store (and so runs inside
// a server that holds it), with the annotations given as key, value pairs.
func storeCommand(cmd *cobra.Command, kv ...string) *cobra.Command {
	cmd.Annotations = map[string]string{annStore: "1"}
	for i := 0; i+1 < len(kv); i += 2 {
		cmd.Annotations[kv[i]] = kv[i+1]
	}
	return cmd
}

func newExportCommand(o *options) *cobra.Command {
	var out string
	var noMembers bool
	cmd := &cobra.Command{
		Use:   "export [ORG]",
		Short: "Export one org, or every org, as nested JSON (the import format)",
		Args:  args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return o.withStore(true, func(t *orgtree.Tree) error {
				snap := t.Snapshot()
				orgID := ""
				if len(a) == 1 {
					n, err := resolveNode(snap, a[0])
					if err != nil {
						return err
					}
					if !n.IsRoot() {
						return fmt.Errorf("%q is a department of an org, export takes an org (its root is %s)", a[0], n.OrgID)
					}
					orgID = n.OrgID
				}
				var w io.Writer = cmd.OutOrStdout()
				var f io.WriteCloser
				if out != "" && out != "-" {
					var err error
					if f, err = o.createOutput(out); err != nil {
						return err
					}
					w = f
				}
				bw := bufio.NewWriterSize(w, 1<<20)
				err := snap.ExportJSON(bw, orgID, orgtree.ExportOptions{OmitMembers: noMembers})
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
	return storeCommand(cmd, annOutputFlag, "out")
}

// treeEntry is a node of the tree command's JSON output.
type treeEntry struct {
	ID      string `json:"id"`
	OrgID   string `json:"orgId"`
	Name    string `json:"name"`
	Code    string `json:"code,omitempty"`
	Members int    `json:"members"`
	// More counts the children not listed (beyond --limit or --depth).
	More     int          `json:"more,omitempty"`
	Children []*treeEntry `json:"children"`
	isRoot   bool
}

// shape limits how much of a tree is collected.
type shape struct {
	depth int // levels below the start node; 0: all
	limit int // children listed per department; 0: all
}

func (s *shape) flags(cmd *cobra.Command) {
	cmd.Flags().IntVar(&s.depth, "depth", 0, "show this many levels below the start (0: all)")
	cmd.Flags().IntVar(&s.limit, "limit", 0, `show at most this many children per department, then "… N more" (0: all)`)
}

func (s shape) check() error {
	if s.depth < 0 || s.limit < 0 {
		return fmt.Errorf("--depth and --limit take a number ≥ 0 (0: no limit)")
	}
	return nil
}

func newTreeCommand(o *options) *cobra.Command {
	var showIDs bool
	var sh shape
	cmd := &cobra.Command{
		Use:   "tree [NODE]",
		Short: "Print every org, or the subtree of NODE, as an indented tree with member counts",
		Long: `tree prints the subtree of NODE (org id, node id, or code path such as
acme/dev), or every org, like tree(1): each line is a department with its code
and the number of distinct members of its whole subtree. --ids adds each
department's node id and, on each org's root, the org id. --depth and --limit
keep large trees readable; what they leave out is counted ("… 12 more").`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := sh.check(); err != nil {
				return err
			}
			return o.withStore(true, func(t *orgtree.Tree) error {
				snap := t.Snapshot()
				roots, err := startNodes(snap, a)
				if err != nil {
					return err
				}
				entries, err := buildTrees(snap, roots, sh)
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
	cmd.Flags().BoolVar(&showIDs, "ids", false, "show org and node ids")
	sh.flags(cmd)
	return storeCommand(cmd)
}

// startNodes returns the node named by args, or the root of every org.
func startNodes(snap orgtree.Snapshot, args []string) ([]string, error) {
	if len(args) == 1 {
		n, err := resolveNode(snap, args[0])
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
func buildTrees(snap orgtree.Snapshot, roots []string, sh shape) ([]*treeEntry, error) {
	out := make([]*treeEntry, 0, len(roots))
	for _, id := range roots {
		e, err := buildTree(snap, id, sh)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// buildTree collects the subtree of id with member counts, iteratively,
// within the shape's depth and limit.
func buildTree(snap orgtree.Snapshot, id string, sh shape) (*treeEntry, error) {
	entry := func(id string) (*treeEntry, error) {
		n, err := snap.Node(id)
		if err != nil {
			return nil, err
		}
		count, err := snap.MemberCount(id, true)
		if err != nil {
			return nil, err
		}
		return &treeEntry{ID: n.ID, OrgID: n.OrgID, Name: n.Name, Code: n.Code, Members: count, Children: []*treeEntry{}, isRoot: n.IsRoot()}, nil
	}
	root, err := entry(id)
	if err != nil {
		return nil, err
	}
	type item struct {
		e     *treeEntry
		depth int
	}
	stack := []item{{root, 0}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		kids, err := snap.ChildIDs(it.e.ID)
		if err != nil {
			return nil, err
		}
		if sh.depth > 0 && it.depth == sh.depth {
			it.e.More = len(kids)
			continue
		}
		if sh.limit > 0 && len(kids) > sh.limit {
			it.e.More = len(kids) - sh.limit
			kids = kids[:sh.limit]
		}
		for _, k := range kids {
			c, err := entry(k)
			if err != nil {
				return nil, err
			}
			it.e.Children = append(it.e.Children, c)
			stack = append(stack, item{c, it.depth + 1})
		}
	}
	return root, nil
}

// moreLine is the line that stands for n children left out.
func moreLine(n int) string {
	if n == 1 {
		return "… 1 more department"
	}
	return fmt.Sprintf("… %d more departments", n)
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
			if e.isRoot {
				fmt.Fprintf(&b, " {org %s, node %s}", e.OrgID, e.ID)
			} else {
				fmt.Fprintf(&b, " {%s}", e.ID)
			}
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
		lines := len(top.e.Children)
		if top.e.More > 0 {
			lines++
		}
		if top.next == lines {
			stack = stack[:len(stack)-1]
			continue
		}
		i := top.next
		top.next++
		connector, indent := "├── ", "│   "
		if top.next == lines {
			connector, indent = "└── ", "    "
		}
		if i == len(top.e.Children) {
			fmt.Fprintln(w, top.prefix+connector+moreLine(top.e.More))
			continue
		}
		c := top.e.Children[i]
		fmt.Fprintln(w, top.prefix+connector+label(c))
		stack = append(stack, frame{e: c, prefix: top.prefix + indent})
	}
}

func newSearchCommand(o *options) *cobra.Command {
	var orgRef string
	var limit int
	cmd := &cobra.Command{
		Use:   "search KEYWORD",
		Short: "Find departments whose name (or a translated name) contains KEYWORD",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return o.withStore(true, func(t *orgtree.Tree) error {
				snap := t.Snapshot()
				orgID := ""
				if orgRef != "" {
					n, err := resolveNode(snap, orgRef)
					if err != nil {
						return err
					}
					orgID = n.OrgID
				}
				hits, err := snap.Search(a[0], orgtree.SearchOptions{OrgID: orgID, Limit: limit})
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
	cmd.Flags().StringVar(&orgRef, "org", "", "search this org only (org id, or anything naming one of its departments)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many hits (0: all)")
	return storeCommand(cmd)
}

// sortNames are the values members --sort takes.
const sortNames = "CREATEDAT_DESC, CREATEDAT_ASC, UPDATEDAT_DESC or UPDATEDAT_ASC"

func newMembersCommand(o *options) *cobra.Command {
	var descendants bool
	var page, limit int
	var sortBy string
	cmd := &cobra.Command{
		Use:   "members NODE",
		Short: "List the members of a department, or with --descendants of its whole subtree",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			order, err := orgtree.ParseSortBy(sortBy)
			if err != nil {
				return fmt.Errorf("--sort %q: %w; valid: %s (any case)", sortBy, err, sortNames)
			}
			return o.withStore(true, func(t *orgtree.Tree) error {
				snap := t.Snapshot()
				n, err := resolveNode(snap, a[0])
				if err != nil {
					return err
				}
				mp, err := snap.ListMembers(n.ID, orgtree.ListMembersOptions{
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
	cmd.Flags().StringVar(&sortBy, "sort", "CREATEDAT_DESC", "order: "+sortNames)
	return storeCommand(cmd)
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
	var who *attribution
	cmd := &cobra.Command{
		Use:   "move NODE PARENT",
		Short: "Give a department a new parent (refused if PARENT is inside NODE)",
		Args:  args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return o.withStore(false, func(t *orgtree.Tree) error {
				var moved orgtree.Node
				err := who.update(cmd, a, t, func(tx *orgtree.Tx) error {
					n, err := resolveNode(tx.Snapshot, a[0])
					if err != nil {
						return err
					}
					p, err := resolveNode(tx.Snapshot, a[1])
					if err != nil {
						return err
					}
					moved, err = tx.MoveNode(n.ID, p.ID)
					return err
				})
				if err != nil {
					return err
				}
				if o.jsonOut {
					return printJSON(cmd.OutOrStdout(), moved)
				}
				path, err := t.NamePath(moved.ID)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "moved: %s\n", strings.Join(path, " / "))
				return nil
			})
		},
	}
	who = attribute(o, cmd)
	return storeCommand(cmd)
}

// checkResult is check's JSON output.
type checkResult struct {
	OK          bool `json:"ok"`
	Orgs        int  `json:"orgs"`
	Nodes       int  `json:"nodes"`
	Users       int  `json:"users"`
	Memberships int  `json:"memberships"`
	// Format is the store's format version; absent for a server that keeps
	// its tree in memory.
	Format int `json:"format,omitempty"`
}

func newCheckCommand(o *options) *cobra.Command {
	return storeCommand(&cobra.Command{
		Use:   "check",
		Short: "Verify the store: checksums, counts and every invariant of the tree",
		Long: `check opens the store read-only (which verifies every record's checksum and
the record counts) and runs the engine's invariant checker over the loaded
tree: links, indexes, paths, member rollups. It exits non-zero on any fault,
and reports the store's format version (a version 1 store is upgraded to 2
by the first command that writes to it). Beside a running server it checks
the server's tree.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.withDB(true, func(db *persist.DB, t *orgtree.Tree) error {
				snap := t.Snapshot()
				if err := snap.Check(); err != nil {
					return err
				}
				st := snap.Stats()
				res := checkResult{true, st.Orgs, st.Nodes, st.Users, st.Memberships, 0}
				if db != nil {
					res.Format = db.Format()
				}
				if o.jsonOut {
					return printJSON(cmd.OutOrStdout(), res)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "ok: %d orgs, %d nodes, %d users, %d memberships; %s\n",
					st.Orgs, st.Nodes, st.Users, st.Memberships, formatNote(res.Format))
				return nil
			})
		},
	})
}

// formatNote says which format the store is in, and what happens to an old
// one.
func formatNote(format int) string {
	switch {
	case format == 0:
		return "in memory, no store"
	case format < persist.FormatVersion:
		return fmt.Sprintf("store format %d (the next command that writes upgrades it to %d)", format, persist.FormatVersion)
	}
	return fmt.Sprintf("store format %d", format)
}

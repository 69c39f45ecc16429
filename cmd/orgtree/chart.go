package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/orgtree/orgtree"
)

func newChartCommand(o *options) *cobra.Command {
	var format string
	var sh shape
	cmd := &cobra.Command{
		Use:   "chart [NODE]",
		Short: "Write an org chart (Mermaid or Graphviz dot) of every org, or of one org or department",
		Long: `chart writes the departments below NODE (an org, a department: any
reference tree takes), or of every org, as a chart others can render:
--format mermaid (a flowchart for Markdown renderers) or --format dot
(Graphviz: dot -Tsvg). Each box shows the department's name, its code and the
distinct members of its subtree. --depth and --limit keep large charts
readable; a box "… N more" stands for what they leave out. For JSON, use
tree --json.`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			write, ok := chartWriters[format]
			if !ok {
				return fmt.Errorf("unknown --format %q: mermaid or dot", format)
			}
			if o.jsonOut {
				return fmt.Errorf("chart writes mermaid or dot, not JSON: use tree --json for the same data")
			}
			if err := sh.check(); err != nil {
				return err
			}
			return o.withStore(true, func(t *orgtree.Tree) error {
				snap := t.Snapshot()
				roots, err := startNodes(snap, a)
				if err != nil {
					return err
				}
				trees, err := buildTrees(snap, roots, sh)
				if err != nil {
					return err
				}
				w := bufio.NewWriter(cmd.OutOrStdout())
				write(w, trees)
				return w.Flush()
			})
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "mermaid", "mermaid or dot")
	sh.flags(cmd)
	return storeCommand(cmd)
}

var chartWriters = map[string]func(io.Writer, []*treeEntry){
	"mermaid": writeMermaid,
	"dot":     writeDot,
}

// chartNode is one box of a chart: a short stable name (n0, n1, … in
// pre-order) so the chart does not depend on ids, and its parent's.
type chartNode struct {
	name, parent string
	e            *treeEntry
}

// chartNodes lists the boxes of the trees in pre-order, iteratively.
func chartNodes(trees []*treeEntry) []chartNode {
	var out []chartNode
	type item struct {
		e      *treeEntry
		parent string
	}
	stack := make([]item, 0, len(trees))
	for i := len(trees) - 1; i >= 0; i-- {
		stack = append(stack, item{e: trees[i]})
	}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		name := fmt.Sprintf("n%d", len(out))
		out = append(out, chartNode{name: name, parent: it.parent, e: it.e})
		if it.e.More > 0 {
			stack = append(stack, item{e: &treeEntry{Name: moreLine(it.e.More), Members: -1}, parent: name})
		}
		for i := len(it.e.Children) - 1; i >= 0; i-- {
			stack = append(stack, item{e: it.e.Children[i], parent: name})
		}
	}
	return out
}

// chartLines are the lines of a box; a "… N more" box (Members -1) has one.
func chartLines(e *treeEntry) []string {
	lines := []string{e.Name}
	if e.Members < 0 {
		return lines
	}
	detail := fmt.Sprintf("%d members", e.Members)
	if e.Members == 1 {
		detail = "1 member"
	}
	if e.Code != "" {
		detail = e.Code + " · " + detail
	}
	return append(lines, detail)
}

func writeMermaid(w io.Writer, trees []*treeEntry) {
	// Mermaid labels are quoted; quotes and angle brackets become entities.
	esc := strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;")
	fmt.Fprintln(w, "flowchart TD")
	for _, n := range chartNodes(trees) {
		lines := chartLines(n.e)
		for i := range lines {
			lines[i] = esc.Replace(lines[i])
		}
		fmt.Fprintf(w, "  %s[\"%s\"]\n", n.name, strings.Join(lines, "<br/>"))
		if n.parent != "" {
			fmt.Fprintf(w, "  %s --> %s\n", n.parent, n.name)
		}
	}
}

func writeDot(w io.Writer, trees []*treeEntry) {
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	fmt.Fprintln(w, "digraph org {")
	fmt.Fprintln(w, "  rankdir=TB;")
	fmt.Fprintln(w, `  node [shape=box, style=rounded, fontname="Helvetica"];`)
	for _, n := range chartNodes(trees) {
		lines := chartLines(n.e)
		for i := range lines {
			lines[i] = esc.Replace(lines[i])
		}
		fmt.Fprintf(w, "  %s [label=\"%s\"];\n", n.name, strings.Join(lines, `\n`))
		if n.parent != "" {
			fmt.Fprintf(w, "  %s -> %s;\n", n.parent, n.name)
		}
	}
	fmt.Fprintln(w, "}")
}

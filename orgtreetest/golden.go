package orgtreetest

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/orgtree/orgtree"
)

// update is the -update flag of a test binary that imports this package.
var update = flag.Bool("update", false, "orgtreetest: rewrite golden files with the current output")

// Updating reports whether the test binary runs with -update, so that a
// package's own golden files can follow the same flag (this package defines
// it: a test package importing orgtreetest must not define its own).
func Updating() bool { return *update }

// AssertTree compares the Text of every org of tree with the golden file
// (a path relative to the test's directory, usually under testdata/). With
// -update it writes the file instead. On a mismatch the test fails with a
// line diff of the golden file against the tree.
func AssertTree(t testing.TB, tree *orgtree.Tree, golden string) {
	t.Helper()
	got, err := Text(tree.Snapshot(), "")
	if err != nil {
		t.Fatalf("orgtreetest: %v", err)
	}
	AssertGolden(t, got, golden)
}

// AssertGolden compares got with the golden file as AssertTree does.
func AssertGolden(t testing.TB, got, golden string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatalf("orgtreetest: %v", err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatalf("orgtreetest: %v", err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("orgtreetest: golden file %s does not exist: run the test with -update to create it", golden)
	}
	if err != nil {
		t.Fatalf("orgtreetest: %v", err)
	}
	if string(want) != got {
		t.Errorf("tree differs from golden file %s (-golden +got; rerun with -update after a deliberate change):\n%s", golden, Diff(string(want), got))
	}
}

// Diff returns a unified-style line diff of a against b: lines only in a
// start with "-", lines only in b with "+", and up to three unchanged lines
// of context surround each change. Equal texts give "".
func Diff(a, b string) string {
	if a == b {
		return ""
	}
	x, y := splitLines(a), splitLines(b)
	ops := diffLines(x, y)
	const context = 3
	// Show every change and the equal lines within context of one; a gap
	// in what is shown starts a new hunk.
	show := make([]bool, len(ops))
	for i, o := range ops {
		if o.kind != ' ' {
			for j := max(i-context, 0); j <= min(i+context, len(ops)-1); j++ {
				show[j] = true
			}
		}
	}
	var out strings.Builder
	for i, o := range ops {
		if !show[i] {
			continue
		}
		if i == 0 || !show[i-1] {
			fmt.Fprintf(&out, "@@ line %d @@\n", o.line+1)
		}
		out.WriteString(o.String())
	}
	return out.String()
}

func splitLines(s string) []string {
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

type diffOp struct {
	kind byte // ' ', '-', '+'
	text string
	line int // line number in a for ' ' and '-', in b for '+'
}

func (o diffOp) String() string {
	if strings.HasSuffix(o.text, "\n") {
		return string(o.kind) + " " + o.text
	}
	return string(o.kind) + " " + o.text + "\n\\ no newline at end\n"
}

// maxDiffCells bounds the LCS table; beyond it the differing middle is
// shown as all removed, then all added, which is still correct.
const maxDiffCells = 4 << 20

// diffLines returns an edit script from x to y: a longest common
// subsequence after trimming the common prefix and suffix.
func diffLines(x, y []string) []diffOp {
	var ops []diffOp
	p := 0
	for p < len(x) && p < len(y) && x[p] == y[p] {
		ops = append(ops, diffOp{' ', x[p], p})
		p++
	}
	s := 0
	for s < len(x)-p && s < len(y)-p && x[len(x)-1-s] == y[len(y)-1-s] {
		s++
	}
	mx, my := x[p:len(x)-s], y[p:len(y)-s]
	if len(mx)*len(my) > maxDiffCells {
		for i, l := range mx {
			ops = append(ops, diffOp{'-', l, p + i})
		}
		for i, l := range my {
			ops = append(ops, diffOp{'+', l, p + i})
		}
	} else {
		// lcs[i][j] is the LCS length of mx[i:] and my[j:].
		w := len(my) + 1
		lcs := make([]int32, (len(mx)+1)*w)
		for i := len(mx) - 1; i >= 0; i-- {
			for j := len(my) - 1; j >= 0; j-- {
				if mx[i] == my[j] {
					lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
				} else {
					lcs[i*w+j] = max(lcs[(i+1)*w+j], lcs[i*w+j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(mx) || j < len(my) {
			switch {
			case i < len(mx) && j < len(my) && mx[i] == my[j]:
				ops = append(ops, diffOp{' ', mx[i], p + i})
				i, j = i+1, j+1
			case i < len(mx) && (j == len(my) || lcs[(i+1)*w+j] >= lcs[i*w+j+1]):
				ops = append(ops, diffOp{'-', mx[i], p + i}) // removals first
				i++
			default:
				ops = append(ops, diffOp{'+', my[j], p + j})
				j++
			}
		}
	}
	for k := len(x) - s; k < len(x); k++ {
		ops = append(ops, diffOp{' ', x[k], k})
	}
	return ops
}

package orgtreetest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

const seedPath = "../testdata/seed_import_export.json"

func TestLoadForksOneBuild(t *testing.T) {
	a, b := Load(t, seedPath), Load(t, seedPath)
	require.NotSame(t, a, b)
	f1, err := LoadFile(seedPath)
	require.NoError(t, err)
	abs, _ := filepath.Abs(seedPath)
	f2, err := LoadFile(abs)
	require.NoError(t, err)
	assert.Same(t, f1, f2, "one build per path and content")

	want, err := Text(f1.Snapshot(), "")
	require.NoError(t, err)
	org := a.Orgs()[0]
	// Each fork writes on its own; ids and timestamps continue the same
	// deterministic sequence in both.
	na, err := a.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "only in a"})
	require.NoError(t, err)
	nb, err := b.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "only in b"})
	require.NoError(t, err)
	assert.Equal(t, na.ID, nb.ID)
	assert.Equal(t, na.CreatedAt, nb.CreatedAt)
	assert.True(t, na.CreatedAt.After(Epoch))
	_, err = b.Node(na.ID)
	require.NoError(t, err)
	nodeB, _ := b.Node(na.ID)
	assert.Equal(t, "only in b", nodeB.Name)
	got, err := Text(f1.Snapshot(), "")
	require.NoError(t, err)
	assert.Equal(t, want, got, "forks never change the fixture")
	require.NoError(t, a.Check())
	require.NoError(t, b.Check())
}

func TestLoadFollowsContent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "org.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"name":"One"}`), 0o644))
	one := Load(t, path)
	require.NoError(t, os.WriteFile(path, []byte(`{"name":"Two"}`), 0o644))
	two := Load(t, path)
	r1, _ := one.RootNode(one.Orgs()[0].ID)
	r2, _ := two.RootNode(two.Orgs()[0].ID)
	assert.Equal(t, "One", r1.Name)
	assert.Equal(t, "Two", r2.Name, "an edited file is loaded again")

	require.NoError(t, os.WriteFile(path, []byte(`{"name":`), 0o644))
	_, err := LoadFile(path)
	assert.ErrorIs(t, err, orgtree.ErrInvalidJSON)
	_, err = LoadFile(filepath.Join(t.TempDir(), "absent.json"))
	assert.ErrorIs(t, err, fs.ErrNotExist)

	j1 := LoadJSON(t, strings.NewReader(`{"name":"J","code":"j"}`))
	j2 := LoadJSON(t, strings.NewReader(`{"name":"J","code":"j"}`))
	require.NotSame(t, j1, j2)
	assert.Equal(t, j1.Orgs(), j2.Orgs(), "deterministic ids and clock")
}

// fakeT records what a helper reports instead of failing the real test.
type fakeT struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.failed, f.msg = true, fmt.Sprintf(format, args...)
}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	panic(f)
}
func (f *fakeT) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

func capture(fn func(*fakeT)) (f *fakeT) {
	f = &fakeT{}
	defer func() {
		if r := recover(); r != nil && r != f {
			panic(r)
		}
	}()
	fn(f)
	return f
}

func TestHelpersFailTheTest(t *testing.T) {
	f := capture(func(f *fakeT) { Load(f, "absent.json") })
	assert.True(t, f.failed)
	assert.Contains(t, f.msg, "absent.json")
	f = capture(func(f *fakeT) { LoadSpec(f, Spec{Nodes: -1}) })
	assert.Contains(t, f.msg, ErrInvalidSpec.Error())
	f = capture(func(f *fakeT) { AssertGolden(f, "x\n", filepath.Join(t.TempDir(), "none.txt")) })
	assert.Contains(t, f.msg, "-update")
}

func TestAssertTreeMismatchShowsDiff(t *testing.T) {
	golden := filepath.Join(t.TempDir(), "tree.txt")
	tree := LoadSpec(t, Spec{Nodes: 30, Users: 10, Memberships: 20, Seed: 1})
	text, err := Text(tree.Snapshot(), "")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(golden, []byte(text), 0o644))
	f := capture(func(f *fakeT) { AssertTree(f, tree, golden) })
	assert.False(t, f.failed, f.msg)

	kids, _ := tree.ChildIDs("n0")
	_, err = tree.UpdateNode(kids[0], orgtree.NodeUpdate{Name: orgtree.Ptr("Renamed")})
	require.NoError(t, err)
	f = capture(func(f *fakeT) { AssertTree(f, tree, golden) })
	require.True(t, f.failed)
	assert.Contains(t, f.msg, "+ ├── Renamed [")
	assert.Contains(t, f.msg, "- ├── ")
	assert.Contains(t, f.msg, golden)
}

func TestDiff(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n"
	b := "1\n2\n3\n4\n5\nsix\n7\n8\n9\n10\n11"
	c := "0\n" + a[:len(a)-3] // a line added at the top, the last removed
	assert.Equal(t, "", Diff(a, a))
	assert.Equal(t, `@@ line 3 @@
  3
  4
  5
- 6
+ six
  7
  8
  9
  10
+ 11
\ no newline at end
`, Diff(a, b))
	assert.Equal(t, "@@ line 1 @@\n+ 0\n  1\n  2\n  3\n@@ line 7 @@\n  7\n  8\n  9\n- 10\n", Diff(a, c))
	assert.Equal(t, "@@ line 1 @@\n- a\n+ b\n", Diff("a\n", "b\n"))
	assert.Equal(t, "@@ line 1 @@\n+ a\n", Diff("", "a\n"))
}

func TestTextMatchesTheCLI(t *testing.T) {
	// The CLI's golden output of its own fixture: Text must print the same.
	tree := Load(t, "../cmd/orgtree/testdata/org.json")
	want, err := os.ReadFile("../cmd/orgtree/testdata/tree.txt")
	require.NoError(t, err)
	got, err := Text(tree.Snapshot(), "")
	require.NoError(t, err)
	assert.Equal(t, string(want), got)
	one, err := Text(tree.Snapshot(), tree.Orgs()[0].ID)
	require.NoError(t, err)
	assert.Equal(t, got, one)
	_, err = Text(tree.Snapshot(), "no-such-org")
	assert.True(t, errors.Is(err, orgtree.ErrNotFound), err)
}

func TestGoldenTrees(t *testing.T) {
	for name, spec := range map[string]Spec{
		"flat":    Flat(6),
		"chain":   DeepChain(5),
		"small":   {Nodes: 25, MinFanOut: 2, MaxFanOut: 4, Users: 12, Memberships: 30, Seed: 7},
		"latin":   {Nodes: 12, MinFanOut: 2, MaxFanOut: 3, Names: LatinNames, Users: 4, Memberships: 6, Seed: 2},
		"chinese": {Nodes: 12, MinFanOut: 2, MaxFanOut: 3, Names: CJKNames, Users: 4, Memberships: 6, Seed: 2},
	} {
		t.Run(name, func(t *testing.T) {
			AssertTree(t, LoadSpec(t, spec), filepath.Join("testdata", name+".txt"))
		})
	}
}

func TestUpdateWritesGolden(t *testing.T) {
	golden := filepath.Join(t.TempDir(), "sub", "tree.txt")
	tree := New()
	_, err := tree.CreateOrg(orgtree.OrgInput{Name: "A"})
	require.NoError(t, err)
	_, err = tree.CreateOrg(orgtree.OrgInput{Name: "B", Code: "b"})
	require.NoError(t, err)
	*update = true
	defer func() { *update = false }()
	require.True(t, Updating())
	AssertTree(t, tree, golden)
	got, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, "A (0 members)\nB [b] (0 members)\n", string(got), "every org, oldest first")
}

func TestConcurrentFirstLoadsBuildOnce(t *testing.T) {
	spec := Spec{Nodes: 2000, Users: 100, Memberships: 500, Seed: 77}
	fixes := make([]*Fixture, 8)
	done := make(chan struct{})
	for i := range fixes {
		go func() {
			defer func() { done <- struct{}{} }()
			fixes[i], _ = GenerateFixture(spec)
		}()
	}
	for range fixes {
		<-done
	}
	require.NotNil(t, fixes[0])
	for _, f := range fixes[1:] {
		require.Same(t, fixes[0], f)
	}
}

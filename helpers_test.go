package orgtree

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// long runs the randomised and size tests at full size (go test -long .);
// the default run keeps the whole suite within its time budget under -race
// on two cores. The fuzz targets explore further (see fuzz/README.md).
var long = flag.Bool("long", false, "run the long randomised tests at full size")

// size is n by default and full with -long.
func size(n, full int) int {
	if *long {
		return full
	}
	return n
}

// fixedClock returns a clock that starts at a fixed instant and advances a
// millisecond per call, for reproducible fixtures.
func fixedClock() func() time.Time {
	t0 := time.Date(2021, 9, 16, 4, 6, 28, 0, time.UTC)
	var n time.Duration
	return func() time.Time {
		n += time.Millisecond
		return t0.Add(n)
	}
}

// newTestTree returns a deterministic tree.
func newTestTree(t testing.TB, opts ...Option) *Tree {
	t.Helper()
	base := []Option{WithClock(fixedClock()), WithIDGenerator(SequentialIDs("id"))}
	return New(append(base, opts...)...)
}

// checked fails the test if the tree breaks an invariant.
func checked(t testing.TB, tr *Tree) {
	t.Helper()
	require.NoError(t, tr.Check())
}

// sample builds:
//
//	root (code root)
//	├── dev (code dev)
//	│   ├── backend (code backend)
//	│   └── frontend
//	└── ops (code ops)
type sample struct {
	tr                                *Tree
	org                               Org
	other                             Org // a second org, when a test makes one
	root, dev, backend, frontend, ops string
	alice, bob, carol                 string
}

func newSample(t testing.TB, opts ...Option) *sample {
	t.Helper()
	tr := newTestTree(t, opts...)
	s := &sample{tr: tr}
	var err error
	s.org, err = tr.CreateOrg(OrgInput{Name: "Acme", Code: "root"})
	require.NoError(t, err)
	s.root = s.org.RootID
	add := func(parent, name, code string) string {
		n, err := tr.AddNode(NodeInput{ParentID: parent, Name: name, Code: code})
		require.NoError(t, err)
		return n.ID
	}
	s.dev = add(s.root, "dev", "dev")
	s.backend = add(s.dev, "backend", "backend")
	s.frontend = add(s.dev, "frontend", "")
	s.ops = add(s.root, "ops", "ops")
	user := func(name string) string {
		u, err := tr.CreateUser(User{Name: name, Email: name + "@example.com"})
		require.NoError(t, err)
		return u.ID
	}
	s.alice, s.bob, s.carol = user("alice"), user("bob"), user("carol")
	require.NoError(t, tr.AddMembers(s.backend, s.alice, s.bob))
	require.NoError(t, tr.AddMembers(s.ops, s.bob))
	require.NoError(t, tr.AddMembers(s.root, s.carol))
	checked(t, tr)
	return s
}

// unchanged asserts that fn fails with want and leaves the tree as it was.
func unchanged(t *testing.T, tr *Tree, want error, fn func() error) {
	t.Helper()
	before := tr.Snapshot()
	err := fn()
	require.Error(t, err)
	require.Truef(t, errors.Is(err, want), "got %v, want %v", err, want)
	after := tr.Snapshot()
	require.Equal(t, before.Seq(), after.Seq(), "a failed operation committed")
	require.Equal(t, before.Dump(), after.Dump())
	checked(t, tr)
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

package orgtreetest

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgtree/orgtree"
)

// Epoch is the instant the deterministic clock stands at. The engine makes
// timestamps strictly increasing, so the n-th write of a fresh tree is
// stamped Epoch plus n nanoseconds, on every run and every machine.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// IDPrefix starts every id the deterministic generator makes: id1, id2, …
const IDPrefix = "id"

// Options returns the options of a deterministic tree: a clock frozen at
// Epoch and ids id1, id2, …, followed by opts, which override them.
func Options(opts ...orgtree.Option) []orgtree.Option { return deterministic(newSeq(0), opts) }

// deterministic is the frozen clock and ids from s, then opts.
func deterministic(s *seq, opts []orgtree.Option) []orgtree.Option {
	return append([]orgtree.Option{clockOption, orgtree.WithIDGenerator(s.next)}, opts...)
}

var clockOption = orgtree.WithClock(clock)

// New returns an empty tree with the deterministic clock and ids of Options.
func New(opts ...orgtree.Option) *orgtree.Tree { return orgtree.New(Options(opts...)...) }

func clock() time.Time { return Epoch }

// seq is the id generator of one tree: IDPrefix followed by a counter. A
// fixture remembers how many ids it used so that each fork continues the
// sequence on its own, whatever other forks do in parallel.
type seq struct{ n atomic.Uint64 }

func newSeq(start uint64) *seq {
	s := &seq{}
	s.n.Store(start)
	return s
}

func (s *seq) next() string { return fmt.Sprintf("%s%d", IDPrefix, s.n.Add(1)) }

// Fixture is a built tree that hands out forks. Each fork is an
// independent, writable tree made in O(1) (see orgtree.Snapshot.Fork) with
// the deterministic clock and an id sequence of its own that continues after
// the ids the fixture used, so ids in a test do not depend on the order in
// which parallel tests run.
type Fixture struct {
	snap orgtree.Snapshot
	ids  uint64 // ids the fixture's generator gave while it was built
}

// Snapshot returns the fixture's (immutable) version.
func (f *Fixture) Snapshot() orgtree.Snapshot { return f.snap }

// Fork returns a new independent tree holding the fixture; opts override
// its clock, ids and limits.
func (f *Fixture) Fork(opts ...orgtree.Option) *orgtree.Tree {
	return f.snap.Fork(deterministic(newSeq(f.ids), opts)...)
}

// build runs fn on a fresh deterministic tree and freezes the result.
func build(fn func(*orgtree.Tree) error, opts ...orgtree.Option) (*Fixture, error) {
	ids := newSeq(0)
	tree := orgtree.New(deterministic(ids, opts)...)
	if err := fn(tree); err != nil {
		return nil, err
	}
	return &Fixture{snap: tree.Snapshot(), ids: ids.n.Load()}, nil
}

// cache holds the fixtures of one test binary. Each key is built once:
// concurrent callers of the same key wait for the first one's result.
var cache sync.Map // key → *cacheEntry

type cacheEntry struct {
	once sync.Once
	fix  *Fixture
	err  error
}

func cached(key any, make func() (*Fixture, error)) (*Fixture, error) {
	v, _ := cache.LoadOrStore(key, &cacheEntry{})
	e := v.(*cacheEntry)
	e.once.Do(func() { e.fix, e.err = make() })
	return e.fix, e.err
}

type jsonKey struct {
	path string // absolute; "" for LoadJSON
	size int64
	sum  uint64 // maphash of the content
}

// contentSeed seeds the content hashes. The cache lives as long as the
// process, so a per-process seed is all it needs; maphash reads several
// GB/s, which keeps a cache hit on a large fixture cheap.
var contentSeed = maphash.MakeSeed()

// hashFile streams path through the content hash without holding it.
func hashFile(path string) (jsonKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return jsonKey{}, err
	}
	defer f.Close()
	var h maphash.Hash
	h.SetSeed(contentSeed)
	n, err := io.Copy(&h, f)
	if err != nil {
		return jsonKey{}, err
	}
	return jsonKey{path: path, size: n, sum: h.Sum64()}, nil
}

func bytesKey(path string, data []byte) jsonKey {
	return jsonKey{path: path, size: int64(len(data)), sum: maphash.Bytes(contentSeed, data)}
}

// LoadFile parses the nested-JSON export at path (the format of
// orgtree.Snapshot.ExportJSON and of `orgtree export`) and imports it into a
// deterministic tree, once per test binary for each path and content: a
// file edited while the binary runs is loaded again. Node and org ids in the
// document are kept; nodes without one get id1, id2, … in document order.
func LoadFile(path string) (*Fixture, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("orgtreetest: %w", err)
	}
	key, err := hashFile(abs)
	if err != nil {
		return nil, fmt.Errorf("orgtreetest: %w", err)
	}
	return cached(key, func() (*Fixture, error) {
		data, err := os.ReadFile(abs)
		if err != nil {
			return nil, fmt.Errorf("orgtreetest: %w", err)
		}
		if bytesKey(abs, data) != key {
			return nil, fmt.Errorf("orgtreetest: load %s: the file changed while it was read", path)
		}
		return buildJSON(path, data)
	})
}

func loadBytes(data []byte) (*Fixture, error) {
	return cached(bytesKey("", data), func() (*Fixture, error) { return buildJSON("JSON fixture", data) })
}

func buildJSON(name string, data []byte) (*Fixture, error) {
	f, err := build(func(t *orgtree.Tree) error {
		_, err := t.ImportJSON(bytes.NewReader(data), orgtree.ImportOptions{KeepIDs: true})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("orgtreetest: load %s: %w", name, err)
	}
	return f, nil
}

// Load returns a fork of the fixture at path (see LoadFile): the fixture is
// parsed and built once per test binary, and every caller gets its own
// independent, writable tree, so parallel tests may mutate theirs freely.
// A missing or invalid file fails the test.
func Load(t testing.TB, path string) *orgtree.Tree {
	t.Helper()
	f, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return f.Fork()
}

// LoadJSON is Load for a document read from r, cached by its content.
func LoadJSON(t testing.TB, r io.Reader) *orgtree.Tree {
	t.Helper()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("orgtreetest: read JSON fixture: %v", err)
	}
	f, err := loadBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	return f.Fork()
}

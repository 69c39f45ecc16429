package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgtree/orgtree"
	"github.com/stretchr/testify/require"
)

// The PostgreSQL server of the tests: ORGTREE_BENCH_POSTGRES names one
// ("off": none), or else one throwaway server is started for the whole
// package when initdb and pg_ctl can be found, and stopped by TestMain.
var testPG struct {
	once   sync.Once
	url    string
	reason string // why there is none
	stop   func()
}

func testPostgres() (url, reason string) {
	testPG.once.Do(func() {
		switch u := os.Getenv("ORGTREE_BENCH_POSTGRES"); u {
		case "off":
			testPG.reason = "ORGTREE_BENCH_POSTGRES=off"
			return
		case "":
		default:
			testPG.url = u
			return
		}
		srv, err := startPostgres()
		if err != nil {
			testPG.reason = err.Error()
			return
		}
		testPG.url, testPG.stop = srv.url, srv.stop
	})
	return testPG.url, testPG.reason
}

func TestMain(m *testing.M) {
	code := m.Run()
	if testPG.stop != nil {
		testPG.stop()
	}
	os.Exit(code)
}

// agreeBackends makes every backend the tests can have, postgres when a
// server can be had (a skipped subtest says why not).
func agreeBackends(t *testing.T) ([]string, env) {
	e := env{dir: t.TempDir()}
	names := []string{"orgtree", "naive", "memdb", "sqlite-mem", "sqlite-file"}
	url, reason := testPostgres()
	if url == "" {
		t.Run("postgres", func(t *testing.T) { t.Skipf("no PostgreSQL server: %s", reason) })
	} else {
		e.postgresURL = url
		names = append(names, "postgres")
	}
	return names, e
}

// comparable strips what legitimately differs between backends from a
// looked-up node: the timestamps each store stamps itself.
func comparableNode(n orgtree.Node, ok bool) []any {
	n.CreatedAt, n.UpdatedAt = time.Time{}, time.Time{}
	return []any{n, ok}
}

// TestBackendsAgree checks that the backends answer every workload
// question alike on a small org, before and after the same moves, renames
// and member changes, and after an export/import round trip: a comparison
// of timings is worthless if the baselines compute something else.
func TestBackendsAgree(t *testing.T) {
	o := generate(600, 800, 2500, 3)
	w := newWorkload(o, 3)
	names, e := agreeBackends(t)
	var bs []backend
	for _, name := range names {
		b, err := newBackend(name, e)
		require.NoError(t, err)
		require.NoError(t, b.load(o), name)
		t.Cleanup(func() { b.close() })
		bs = append(bs, b)
	}
	// comparableHits drops the timestamps from hits and, for an unordered
	// search, sorts them by id.
	comparableHits := func(hits []orgtree.SearchHit, sort bool) []orgtree.SearchHit {
		out := make([]orgtree.SearchHit, len(hits))
		for i, h := range hits {
			h.Node.CreatedAt, h.Node.UpdatedAt = time.Time{}, time.Time{}
			out[i] = h
		}
		if sort {
			slices.SortFunc(out, func(a, b orgtree.SearchHit) int { return strings.Compare(a.Node.ID, b.Node.ID) })
		}
		return out
	}
	norm := func(v any) any {
		if s, ok := v.([]string); ok && s == nil {
			return []string{}
		}
		return v
	}
	same := func(what string, f func(b backend) any) {
		t.Helper()
		want := norm(f(bs[0]))
		for _, b := range bs[1:] {
			require.Equal(t, want, norm(f(b)), "%s: %s differs from %s", what, b.name(), bs[0].name())
		}
	}
	// Words with and without a number, 1- and 2-rune Chinese, the query
	// every node matches, an exact name.
	queries := append(append(slices.Clone(w.ascii[:6]), w.cjk[:4]...), w.everyNode, "platform-1", "acme-0", "研")
	compareAll := func(stage string) {
		for i := range 40 {
			id, code := w.ids[i], w.codes[i]
			same(stage+" lookup id", func(b backend) any { return comparableNode(b.lookupID(id)) })
			same(stage+" lookup code", func(b backend) any { return comparableNode(b.lookupCode(code)) })
			same(stage+" path", func(b backend) any { return b.path(id) })
			same(stage+" children", func(b backend) any { return b.children(id) })
			same(stage+" subtree count", func(b backend) any { return b.subtreeCount(id) })
			same(stage+" first page", func(b backend) any { return b.firstPage(id, 10) })
		}
		root := o.nodes[0].id
		same(stage+" root count", func(b backend) any { return b.subtreeCount(root) })
		same(stage+" root page", func(b backend) any { return b.firstPage(root, 25) })
		for _, q := range queries {
			same(stage+" search "+q, func(b backend) any { return comparableHits(b.search(q), true) })
			same(fmt.Sprintf("%s search %q limit 10", stage, q), func(b backend) any { return comparableHits(b.searchTop(q, 10), false) })
		}
		for _, q := range []string{w.everyNode, "acme-0", "platform-1"} {
			same(fmt.Sprintf("%s search %q limit 1", stage, q), func(b backend) any { return comparableHits(b.searchTop(q, 1), false) })
		}
		for _, b := range bs {
			_, found := b.lookupID("nope")
			require.False(t, found, b.name())
			_, found = b.lookupCode("nope")
			require.False(t, found, b.name())
		}
	}
	compareAll("loaded")
	require.NotEmpty(t, bs[0].search(w.ascii[0]), "the queries find something")
	require.Len(t, bs[0].search(w.everyNode), len(o.nodes), "the every-node query matches every node")
	require.Len(t, bs[0].searchTop(w.everyNode, 10), 10)
	require.Equal(t, []string{"n0"}, hitIDs(bs[0].searchTop("acme-0", 1)), "an exact match ranks first")
	deep := bs[0].searchTop(o.nodes[indexOf(o, w.deep[0])].name, 1)
	require.Len(t, deep, 1)
	require.Len(t, deep[0].NamePath, w.depthOfDeep+1, "hits carry their name paths")
	require.Positive(t, bs[0].subtreeCount(o.nodes[0].id))

	for i := range 40 {
		leaf, target := w.leaves[i], w.internal[i]
		same("move", func(b backend) any { return b.move(leaf, target) })
		same("cycle", func(b backend) any { return b.move(w.bigSubtree, w.insideBig) })
		node, user := w.ids[i], w.users[i]
		same("add member", func(b backend) any { return b.addMember(node, user) })
		if i%2 == 0 {
			same("remove member", func(b backend) any { return b.removeMember(node, user) })
		}
		if i%4 == 0 { // renames change search results and ranks: "platform-1" becomes an exact hit
			name := []string{"Platform-1", "研发", "renamed-x"}[i%3]
			same("rename", func(b backend) any { return b.rename(w.ids[i+100], name) })
		}
	}
	require.Equal(t, errCycle, bs[0].move(w.bigSubtree, w.insideBig))
	same("move big", func(b backend) any { return b.move(w.bigSubtree, w.other) })
	compareAll("after moves")

	// Export, import into a fresh instance: the structure survives.
	for _, b := range bs {
		var doc bytes.Buffer
		require.NoError(t, b.exportJSON(&doc))
		fresh, err := newBackend(b.name(), e)
		require.NoError(t, err)
		require.NoError(t, fresh.importJSON(bytes.NewReader(doc.Bytes())), b.name())
		for i := range 40 {
			require.Equal(t, b.path(w.ids[i]), fresh.path(w.ids[i]), "%s: path after round trip", b.name())
			require.Equal(t, b.children(w.ids[i]), fresh.children(w.ids[i]), "%s: children after round trip", b.name())
		}
		require.NoError(t, fresh.close())
	}
}

// TestTopK checks the bounded buffer of the hand-written limited searches
// against sorting every hit.
func TestTopK(t *testing.T) {
	var all []searchHit
	for i := range 200 {
		all = append(all, searchHit{id: fmt.Sprintf("n%d", (i*37)%200), name: fmt.Sprintf("x%d", i%7), rank: i % 3, depth: (i * 13) % 5})
	}
	for _, k := range []int{1, 5, 10, 199, 200, 300} {
		top := topK{k: k}
		for _, h := range all {
			if top.wants(h.rank) {
				top.add(h)
			}
		}
		want := slices.Clone(all)
		slices.SortFunc(want, compareHits)
		want = want[:min(k, len(want))]
		require.Equal(t, want, top.hits, "k=%d", k)
	}
}

func TestChain(t *testing.T) {
	run, err := buildChain(1500, time.Minute)
	require.NoError(t, err)
	require.Equal(t, 1500, run.nodes)
	est, _ := run.extrapolate()
	require.Equal(t, run.elapsed, est, "a finished chain is measured, not extrapolated")

	// Halving the chain doubles a constant cost per node and quadruples a
	// cost linear in depth.
	linear := chainRun{target: 1_000_000, nodes: 10_000, elapsed: 4 * time.Second, halfNodes: 5000, half: time.Second}
	est, k := linear.extrapolate()
	require.InDelta(t, 2, k, 1e-9)
	require.Equal(t, 40000*time.Second, est)
	constant := chainRun{target: 1_000_000, nodes: 10_000, elapsed: 2 * time.Second, halfNodes: 5000, half: time.Second}
	est, k = constant.extrapolate()
	require.InDelta(t, 1, k, 1e-9)
	require.Equal(t, 200*time.Second, est)
}

func TestFlags(t *testing.T) {
	cfg, _, err := parseFlags([]string{"-quick"})
	require.NoError(t, err)
	require.NotEqual(t, "bench/results", cfg.out, "a quick run never writes the committed results")
	require.DirExists(t, cfg.out)
	require.True(t, strings.HasPrefix(cfg.out, os.TempDir()))
	require.NoError(t, os.Remove(cfg.out))

	cfg, _, err = parseFlags([]string{"-quick", "-out", "somewhere", "-scale", "500", "-budget", "1s"})
	require.NoError(t, err)
	require.Equal(t, "somewhere", cfg.out)
	require.Equal(t, []int{500}, cfg.scale, "flags given beside -quick win")
	require.Equal(t, time.Second, cfg.budget)
	require.Equal(t, 10_000, cfg.nodes)

	cfg, prof, err := parseFlags([]string{"-cpuprofile", "c.out", "-memprofile", "m.out"})
	require.NoError(t, err)
	require.Equal(t, "bench/results", cfg.out, "a full run writes the committed results")
	require.Equal(t, profiles{"c.out", "m.out"}, prof)
	require.Equal(t, strings.Split(allBackends, ","), cfg.backends)

	_, _, err = parseFlags([]string{"-backends", "naive,orgtree"})
	require.Error(t, err)
}

func TestQuickRunWritesReport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole program at a tiny size")
	}
	backends := []string{"orgtree", "naive", "memdb", "sqlite-mem", "sqlite-file", "postgres"}
	url, reason := testPostgres()
	cfg := config{nodes: 300, users: 400, memberships: 1000, seed: 1, scale: []int{100, 300}, scaleBaselinesUpTo: 100,
		out: t.TempDir(), backends: backends, budget: 2e6, postgresURL: url, chainTarget: 5000, chainBudget: 50 * time.Millisecond}
	if url == "" {
		cfg.backends = backends[:len(backends)-1]
		t.Logf("postgres left out: %s", reason)
	}
	rep, err := run(cfg)
	require.NoError(t, err)
	md := rep.markdown()
	for _, want := range []string{"| subtree member count, root |", "## Targets", "## orgtree alone", "| search Limit 10, a query matching every node |", "memdb ÷ orgtree", "| `Check()` of the whole tree |", "## Where orgtree is not the fastest"} {
		require.Contains(t, md, want)
	}
	require.Regexp(t, `\| open a store \+ first query \(path of a deepest node\) \| [0-9][^|]+ MB file\) \| – \| – \| – \| [0-9][^|]+ MB file\) \|`, md, "orgtree and sqlite-file open a file")
	require.Regexp(t, `\| search ASCII, 3\+ runes, all hits \| memdb \| [0-9][^|]+ \| [0-9][^|]+ \|`, md, "memdb runs the curve beyond the other baselines")
	require.Regexp(t, `\| search ASCII, 3\+ runes, all hits \| naive \| [0-9][^|]+ \| not run \|`, md)
	require.NoError(t, rep.write(cfg.out, md))
	require.FileExists(t, filepath.Join(cfg.out, "scaling.svg"))
}

func TestPostgresNotRun(t *testing.T) {
	rep := &report{cfg: config{backends: []string{"orgtree", "postgres"}}, results: []*result{
		{backend: "orgtree", perOp: map[string]time.Duration{}}, {backend: "postgres", notRun: "initdb is neither on PATH nor …"}}}
	md := rep.markdown()
	require.Contains(t, md, "**postgres: not run**: initdb is neither on PATH nor …")
	require.Contains(t, md, "| lookup by id (whole Node) | – | not run | – |")
}

func TestNotFastest(t *testing.T) {
	const op = "refuse a cyclic move"
	rep := &report{results: []*result{
		{backend: "orgtree", perOp: map[string]time.Duration{op: 300, "children of a node": 100}},
		{backend: "naive", perOp: map[string]time.Duration{op: 100, "children of a node": 200}},
		{backend: "memdb", perOp: map[string]time.Duration{op: 150, "children of a node": 0}},
		{backend: "postgres", notRun: "no server"}}}
	var b strings.Builder
	rows := []tableRow{}
	for _, name := range []string{op, "children of a node"} {
		rows = append(rows, tableRow{name, func(res *result) time.Duration { return res.perOp[name] }})
	}
	rep.notFastest(&b, rows)
	require.Contains(t, b.String(), "| refuse a cyclic move | naive 100 ns | 300 ns | 3.0× |")
	require.NotContains(t, b.String(), "children of a node", "orgtree is the fastest there; a zero is no measurement")
}

func TestPgBin(t *testing.T) {
	_, err := pgBin("no-such-postgres-program")
	require.ErrorContains(t, err, "neither on PATH nor in /usr/lib/postgresql/*/bin")
	if p, err := pgBin("initdb"); err == nil {
		require.True(t, isExecutable(p), p)
	}
}

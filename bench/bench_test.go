package main

import (
	"bytes"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestBackendsAgree checks that the three backends answer every workload
// question alike on a small org, before and after the same moves and member
// changes, and after an export/import round trip: a comparison of timings
// is worthless if the baselines compute something else.
func TestBackendsAgree(t *testing.T) {
	o := generate(600, 800, 2500, 3)
	w := newWorkload(o, 3)
	var bs []backend
	for _, name := range []string{"orgtree", "naive", "sqlite-mem", "sqlite-file"} {
		b, err := newBackend(name, t.TempDir())
		require.NoError(t, err)
		require.NoError(t, b.load(o))
		t.Cleanup(func() { b.close() })
		bs = append(bs, b)
	}
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
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
	compareAll := func(stage string) {
		for i := range 60 {
			id, code := w.ids[i], w.codes[i]
			same(stage+" lookup id", func(b backend) any { n, ok := b.lookupID(id); return []any{n, ok} })
			same(stage+" lookup code", func(b backend) any { n, ok := b.lookupCode(code); return []any{n, ok} })
			same(stage+" path", func(b backend) any { return b.path(id) })
			same(stage+" children", func(b backend) any { return b.children(id) })
			same(stage+" subtree count", func(b backend) any { return b.subtreeCount(id) })
			same(stage+" first page", func(b backend) any { return b.firstPage(id, 10) })
		}
		root := o.nodes[0].id
		same(stage+" root count", func(b backend) any { return b.subtreeCount(root) })
		same(stage+" root page", func(b backend) any { return b.firstPage(root, 25) })
		for _, q := range append(slices.Clone(w.ascii), w.cjk...) {
			same(stage+" search "+q, func(b backend) any { return sorted(b.search(q)) })
		}
		_, missing := bs[0].lookupID("nope")
		require.False(t, missing)
	}
	compareAll("loaded")
	require.NotEmpty(t, bs[0].search(w.ascii[0]), "the queries find something")
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
	}
	require.Equal(t, errCycle, bs[0].move(w.bigSubtree, w.insideBig))
	same("move big", func(b backend) any { return b.move(w.bigSubtree, w.other) })
	compareAll("after moves")

	// Export, import into a fresh instance: the structure survives.
	for _, b := range bs {
		var doc bytes.Buffer
		require.NoError(t, b.exportJSON(&doc))
		fresh, err := newBackend(b.name(), t.TempDir())
		require.NoError(t, err)
		require.NoError(t, fresh.importJSON(bytes.NewReader(doc.Bytes())))
		for i := range 60 {
			require.Equal(t, b.path(w.ids[i]), fresh.path(w.ids[i]), "%s: path after round trip", b.name())
			require.Equal(t, b.children(w.ids[i]), fresh.children(w.ids[i]), "%s: children after round trip", b.name())
		}
		require.NoError(t, fresh.close())
	}
}

func TestQuickRunWritesReport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole program at a tiny size")
	}
	cfg := config{nodes: 300, users: 400, memberships: 1000, seed: 1, scale: []int{100, 300}, scaleBaselinesUpTo: 300,
		out: t.TempDir(), backends: []string{"orgtree", "naive", "sqlite-mem"}, budget: 2e6}
	rep, err := run(cfg)
	require.NoError(t, err)
	md := rep.markdown()
	require.Contains(t, md, "| subtree member count, root |")
	require.Contains(t, md, "## DESIGN.md targets")
	require.NoError(t, rep.write(cfg.out, md))
}

package pmap

import (
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"testing"
)

// withHash installs h as the map hash function for the duration of the test.
// Tests using it must not run in parallel.
func withHash(t testing.TB, h func(string) uint64) {
	t.Helper()
	prev := hashOverride
	hashOverride = h
	t.Cleanup(func() { hashOverride = prev })
}

// fnv64 is FNV-1a, used to derive deterministic forced-collision hashes.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// checkMap verifies the structural invariants of m (canonical CHAMP form,
// bitmap/slice agreement, hash placement, collision nodes) and that Len
// matches the number of stored entries.
func checkMap[V any](t testing.TB, m Map[V]) {
	t.Helper()
	if m.root == nil {
		if m.len != 0 {
			t.Fatalf("nil root with len %d", m.len)
		}
		return
	}
	n := checkMNode(t, m.root, 0, 0, true)
	if n != m.len {
		t.Fatalf("Len()=%d but trie holds %d entries", m.len, n)
	}
}

func checkMNode[V any](t testing.TB, n *mnode[V], shift uint, prefix uint64, isRoot bool) int {
	t.Helper()
	if shift >= 64 {
		if n.datamap != 0 || n.nodemap != 0 || len(n.children) != 0 {
			t.Fatalf("collision node with bitmaps/children")
		}
		if len(n.entries) < 2 {
			t.Fatalf("collision node with %d entries", len(n.entries))
		}
		seen := map[string]bool{}
		for _, e := range n.entries {
			if e.hash != prefix || e.hash != hashOf(e.key) {
				t.Fatalf("collision entry %q hash %x, want %x", e.key, e.hash, prefix)
			}
			if seen[e.key] {
				t.Fatalf("duplicate key %q in collision node", e.key)
			}
			seen[e.key] = true
		}
		return len(n.entries)
	}
	if n.datamap&n.nodemap != 0 {
		t.Fatalf("datamap and nodemap overlap")
	}
	if bits.OnesCount64(n.datamap) != len(n.entries) || bits.OnesCount64(n.nodemap) != len(n.children) {
		t.Fatalf("bitmap/slice mismatch: %d/%d entries, %d/%d children",
			bits.OnesCount64(n.datamap), len(n.entries), bits.OnesCount64(n.nodemap), len(n.children))
	}
	mask := uint64(1)<<shift - 1
	dm := n.datamap
	for _, e := range n.entries {
		frag := uint64(bits.TrailingZeros64(dm))
		dm &= dm - 1
		if e.hash != hashOf(e.key) {
			t.Fatalf("stale hash for %q", e.key)
		}
		if (e.hash>>shift)&mapMask != frag || e.hash&mask != prefix {
			t.Fatalf("entry %q misplaced at shift %d", e.key, shift)
		}
	}
	total := len(n.entries)
	nm := n.nodemap
	for _, c := range n.children {
		frag := uint64(bits.TrailingZeros64(nm))
		nm &= nm - 1
		cnt := checkMNode(t, c, shift+mapBits, prefix|frag<<shift, false)
		if cnt < 2 {
			t.Fatalf("non-canonical child with %d entries at shift %d", cnt, shift+mapBits)
		}
		total += cnt
	}
	if isRoot && total == 0 {
		t.Fatalf("empty root node")
	}
	return total
}

// verifyMap checks that m reads exactly as want: Len, Get of every present
// key and of absent keys from probe, All (no duplicates), and early stop.
func verifyMap(t testing.TB, m Map[int], want map[string]int, probe []string) {
	t.Helper()
	if m.Len() != len(want) {
		t.Fatalf("Len()=%d, want %d", m.Len(), len(want))
	}
	for k, v := range want {
		got, ok := m.Get(k)
		if !ok || got != v {
			t.Fatalf("Get(%q)=%d,%v want %d,true", k, got, ok, v)
		}
	}
	for _, k := range probe {
		if _, in := want[k]; in {
			continue
		}
		if got, ok := m.Get(k); ok {
			t.Fatalf("Get(%q)=%d,true for absent key", k, got)
		}
	}
	seen := make(map[string]int, len(want))
	for k, v := range m.All() {
		if _, dup := seen[k]; dup {
			t.Fatalf("All yielded %q twice", k)
		}
		seen[k] = v
	}
	if !maps.Equal(seen, want) {
		t.Fatalf("All()=%v, want %v", seen, want)
	}
	if len(want) > 1 {
		n := 0
		for range m.All() {
			n++
			if n == 1 {
				break
			}
		}
		if n != 1 {
			t.Fatalf("All did not stop early")
		}
	}
}

// verifyVec checks that v reads exactly as want via Len, Get, All and
// out-of-range Get, and that its height is minimal.
func verifyVec[T comparable](t testing.TB, v Vec[T], want []T) {
	t.Helper()
	if v.Len() != len(want) {
		t.Fatalf("Len()=%d, want %d", v.Len(), len(want))
	}
	for i, x := range want {
		if got := v.Get(i); got != x {
			t.Fatalf("Get(%d)=%v, want %v", i, got, x)
		}
	}
	var zero T
	for _, i := range []int{-1, -32, len(want), len(want) + 1, len(want) + 32, 1 << 40, -1 << 62} {
		if got := v.Get(i); got != zero {
			t.Fatalf("Get(%d)=%v out of range, want zero", i, got)
		}
	}
	var got []T
	next := 0
	for i, x := range v.All() {
		if i != next {
			t.Fatalf("All yielded index %d, want %d", i, next)
		}
		next++
		got = append(got, x)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("All() mismatch: got %d elements, want %d", len(got), len(want))
	}
	// The tail holds the last 1–16 elements and the trie the rest, at the
	// least height that holds them.
	inTrie := max(len(want)-1, 0) &^ leafMask
	wantShift := uint(0)
	for c := leafWidth; c < inTrie; c *= vecWidth {
		wantShift = parentShift(wantShift)
	}
	if v.shift != wantShift {
		t.Fatalf("len %d: shift %d, want %d", len(want), v.shift, wantShift)
	}
	if (v.root == nil) != (inTrie == 0) || (v.tail == nil) != (len(want) == 0) {
		t.Fatalf("len %d: root nil=%v, tail nil=%v", len(want), v.root == nil, v.tail == nil)
	}
}

func keyName(i int) string { return fmt.Sprintf("k%d", i) }

package pmap

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestVecDiff checks Vec.Diff against an element-by-element comparison on
// random histories, including growth across trie levels.
func TestVecDiff(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var versions []Vec[int]
		var v Vec[int]
		for step := range 1 + r.IntN(40) {
			e := NewEdit()
			for range r.IntN(200) {
				if v.Len() == 0 || r.IntN(3) == 0 {
					v = v.Append(e, r.IntN(1000))
				} else {
					v = v.Set(e, r.IntN(v.Len()), r.IntN(1000))
				}
			}
			_ = step
			versions = append(versions, v)
		}
		a, b := versions[r.IntN(len(versions))], versions[r.IntN(len(versions))]
		if round%2 == 0 {
			a, b = b, a
		}
		want := map[int][2]int{}
		for i := range max(a.Len(), b.Len()) {
			x, y := a.Get(i), b.Get(i)
			if i >= a.Len() || i >= b.Len() || x != y {
				want[i] = [2]int{x, y}
			}
		}
		got := map[int][2]int{}
		b.Diff(a, func(x, y int) bool { return x == y }, func(i, x, y int, inOld, inNew bool) bool {
			if inOld != (i < a.Len()) || inNew != (i < b.Len()) {
				t.Fatalf("round %d: index %d flags %v %v", round, i, inOld, inNew)
			}
			if _, dup := got[i]; dup {
				t.Fatalf("round %d: index %d twice", round, i)
			}
			got[i] = [2]int{x, y}
			return true
		})
		if len(got) != len(want) {
			t.Fatalf("round %d: got %d changes, want %d", round, len(got), len(want))
		}
		for i, w := range want {
			if got[i] != w {
				t.Fatalf("round %d: index %d: got %v want %v", round, i, got[i], w)
			}
		}
	}
}

// TestMapDiff checks Map.Diff against a comparison of the full contents,
// with forced hash collisions in half of the rounds.
func TestMapDiff(t *testing.T) {
	for _, collide := range []bool{false, true} {
		if collide {
			hashOverride = func(s string) uint64 { n, _ := strconv.Atoi(s[1:]); return uint64(n % 7) }
		}
		r := rand.New(rand.NewPCG(3, 4))
		for round := range 200 {
			var versions []Map[int]
			var m Map[int]
			for range 1 + r.IntN(30) {
				e := NewEdit()
				for range r.IntN(100) {
					k := "k" + strconv.Itoa(r.IntN(300))
					if r.IntN(3) == 0 {
						m = m.Delete(e, k)
					} else {
						m = m.Set(e, k, r.IntN(5))
					}
				}
				versions = append(versions, m)
			}
			a, b := versions[r.IntN(len(versions))], versions[r.IntN(len(versions))]
			if round%5 == 0 {
				a = Map[int]{}
			}
			type ch struct {
				x, y     int
				inX, inY bool
			}
			want := map[string]ch{}
			for k, x := range a.All() {
				y, ok := b.Get(k)
				if !ok || x != y {
					want[k] = ch{x, y, true, ok}
				}
			}
			for k, y := range b.All() {
				if _, ok := a.Get(k); !ok {
					want[k] = ch{0, y, false, true}
				}
			}
			got := map[string]ch{}
			b.Diff(a, func(x, y int) bool { return x == y }, func(k string, x, y int, inX, inY bool) bool {
				if _, dup := got[k]; dup {
					t.Fatalf("round %d: key %s twice", round, k)
				}
				got[k] = ch{x, y, inX, inY}
				return true
			})
			if len(got) != len(want) {
				t.Fatalf("collide=%v round %d: got %d changes, want %d", collide, round, len(got), len(want))
			}
			for k, w := range want {
				if got[k] != w {
					t.Fatalf("round %d: key %s: got %+v want %+v", round, k, got[k], w)
				}
			}
		}
		hashOverride = nil
	}
}

// BenchmarkVecDiff diffs a 1M-element vector against a version with 10
// changed elements: the cost follows the changes, not the length.
func BenchmarkVecDiff(b *testing.B) {
	var v Vec[int]
	for i := range 1 << 20 {
		v = v.Append(nil, i)
	}
	w := v
	for i := range 10 {
		w = w.Set(nil, i*99991, -1)
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		w.Diff(v, func(x, y int) bool { return x == y }, func(int, int, int, bool, bool) bool { n++; return true })
		if n != 10 {
			b.Fatal(n)
		}
	}
}

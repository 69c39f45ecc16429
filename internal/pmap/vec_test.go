package pmap

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

var vecSizes = []int{0, 1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 511, 512, 513, 1023, 1024, 1025, 16383, 16384, 16385, 32767, 32768, 32769, 100_003, 524_289}

func TestVecEmpty(t *testing.T) {
	var v Vec[int]
	verifyVec(t, v, nil)
	if v.Set(nil, 0, 1) != v || v.Set(NewEdit(), -1, 1) != v {
		t.Fatalf("Set out of range changed an empty Vec")
	}
}

// TestVecSizes builds vectors across level boundaries with each kind of
// Edit, keeps every boundary version and checks them all again at the end.
func TestVecSizes(t *testing.T) {
	maxN := vecSizes[len(vecSizes)-1]
	for _, kind := range []string{"nil", "fresh", "shared"} {
		t.Run(kind, func(t *testing.T) {
			shared := NewEdit()
			edit := func() *Edit {
				switch kind {
				case "fresh":
					return NewEdit()
				case "shared":
					return shared
				}
				return nil
			}
			type version struct {
				v    Vec[int]
				want []int
			}
			var saved []version
			var v Vec[int]
			want := []int{}
			next := 0
			for n := 0; n <= maxN; n++ {
				if n == vecSizes[next] {
					if kind == "shared" {
						// Publish: retire the shared Edit.
						shared = NewEdit()
					}
					verifyVec(t, v, want)
					saved = append(saved, version{v, slices.Clone(want)})
					next++
				}
				if n == maxN {
					break
				}
				v = v.Append(edit(), n*3)
				want = append(want, n*3)
			}
			// Update every saved version at its edges with fresh Edits; the
			// originals must stay as recorded.
			for _, s := range saved {
				if len(s.want) == 0 {
					continue
				}
				e := NewEdit()
				u := s.v
				w := slices.Clone(s.want)
				for _, i := range []int{0, len(w) / 2, len(w) - 1} {
					u = u.Set(e, i, -i-1)
					w[i] = -i - 1
				}
				u = u.Append(e, 42)
				w = append(w, 42)
				if u.Set(e, len(w), 1) != u || u.Set(e, -1, 1) != u {
					t.Fatalf("Set out of range changed the Vec")
				}
				verifyVec(t, u, w)
			}
			for _, s := range saved {
				verifyVec(t, s.v, s.want)
			}
		})
	}
}

type vecVersion struct {
	v    Vec[int]
	want []int
}

// TestVecModel runs random Append/Set/Get sequences against a slice with a
// mix of Edit usages and branching, verifying every published version.
func TestVecModel(t *testing.T) {
	ops := 3000
	if testing.Short() {
		ops = 800
	}
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			runVecModel(t, rand.New(rand.NewPCG(seed, 7)), ops)
		})
	}
}

func runVecModel(t *testing.T, rng *rand.Rand, nops int) {
	var hist []vecVersion
	var cur Vec[int]
	var model []int
	record := func() { hist = append(hist, vecVersion{cur, slices.Clone(model)}) }
	mode, txLeft := 0, 0
	var shared *Edit
	for op := range nops {
		if txLeft == 0 {
			record()
			if rng.IntN(6) == 0 {
				h := hist[rng.IntN(len(hist))]
				cur, model = h.v, slices.Clone(h.want)
			}
			mode = rng.IntN(3)
			shared = NewEdit()
			txLeft = 1 + rng.IntN(80)
		}
		txLeft--
		var e *Edit
		switch mode {
		case 1:
			e = NewEdit()
		case 2:
			e = shared
		}
		switch r := rng.IntN(10); {
		case r < 5 || len(model) == 0:
			// Occasionally append many, to cross level boundaries.
			k := 1
			if rng.IntN(40) == 0 {
				k = rng.IntN(700)
			}
			for range k {
				x := rng.IntN(1 << 20)
				cur = cur.Append(e, x)
				model = append(model, x)
			}
		case r < 9:
			i := rng.IntN(len(model))
			x := rng.IntN(1 << 20)
			cur = cur.Set(e, i, x)
			model[i] = x
		default:
			i := rng.IntN(len(model)+20) - 10
			prev := cur
			cur = cur.Set(e, i, 5)
			if i >= 0 && i < len(model) {
				model[i] = 5
			} else if cur != prev {
				t.Fatalf("op %d: out-of-range Set(%d) changed the Vec", op, i)
			}
		}
		if cur.Len() != len(model) {
			t.Fatalf("op %d: Len=%d want %d", op, cur.Len(), len(model))
		}
		if len(model) > 0 {
			i := rng.IntN(len(model))
			if got := cur.Get(i); got != model[i] {
				t.Fatalf("op %d: Get(%d)=%d want %d", op, i, got, model[i])
			}
		}
		if mode != 2 {
			record()
		}
		if op%100 == 0 {
			verifyVec(t, cur, model)
			for range 5 {
				h := hist[rng.IntN(len(hist))]
				verifyVec(t, h.v, h.want)
			}
		}
	}
	record()
	for _, h := range hist {
		verifyVec(t, h.v, h.want)
	}
}

func TestVecTransientInPlace(t *testing.T) {
	e := NewEdit()
	var v Vec[int]
	for i := range 5000 {
		v = v.Append(e, i)
	}
	root := v.root
	v2 := v.Set(e, 17, -1).Append(e, 5000)
	if v2.root != root {
		t.Fatalf("transient update with owning Edit copied the root")
	}
	want := make([]int, 5001)
	for i := range want {
		want[i] = i
	}
	want[17] = -1
	verifyVec(t, v2, want)
	// Publish v2; a fresh Edit must not disturb it.
	e2 := NewEdit()
	v3 := v2
	for i := range 3000 {
		v3 = v3.Set(e2, i*7%5001, 0).Append(e2, i)
	}
	if v3.root == v2.root {
		t.Fatalf("fresh Edit mutated a foreign root in place")
	}
	verifyVec(t, v2, want)
}

func TestVecGetNoAlloc(t *testing.T) {
	var v Vec[string]
	for range 40000 {
		v = v.Append(nil, "x")
	}
	if a := testing.AllocsPerRun(1000, func() {
		v.Get(39999)
		v.Get(-1)
		v.Get(40000)
	}); a != 0 {
		t.Fatalf("Vec.Get allocates %v times per run", a)
	}
}

func TestVecAllEarlyStop(t *testing.T) {
	var v Vec[int]
	for i := range 2000 {
		v = v.Append(nil, i)
	}
	for stop := 1; stop < 2000; stop += 97 {
		n := 0
		for i, x := range v.All() {
			if i != x {
				t.Fatalf("All yielded (%d,%d)", i, x)
			}
			n++
			if n == stop {
				break
			}
		}
		if n != stop {
			t.Fatalf("stopped after %d, want %d", n, stop)
		}
	}
}

package pmap

import (
	"maps"
	"math/rand/v2"
	"strconv"
	"testing"
)

type layeredVersion struct {
	m    Layered[int]
	want map[string]int
}

func verifyLayered(t *testing.T, op int, m Layered[int], want map[string]int, probe []string) {
	t.Helper()
	if m.Len() != len(want) {
		t.Fatalf("op %d: Len %d, want %d", op, m.Len(), len(want))
	}
	for _, k := range probe {
		got, ok := m.Get(k)
		wv, wok := want[k]
		if ok != wok || got != wv {
			t.Fatalf("op %d: Get(%q) = %d,%v; want %d,%v", op, k, got, ok, wv, wok)
		}
	}
	seen := map[string]int{}
	for k, v := range m.All() {
		if _, dup := seen[k]; dup {
			t.Fatalf("op %d: All yields %q twice", op, k)
		}
		seen[k] = v
	}
	if !maps.Equal(seen, want) {
		t.Fatalf("op %d: All yields %d entries that differ from the %d wanted", op, len(seen), len(want))
	}
}

// TestLayeredModel runs random transactions (nil, single-use and shared
// Edits) against a built-in map, across many folds, and checks that every
// published version keeps its content.
func TestLayeredModel(t *testing.T) {
	ops, keyspace := 20000, 3000
	if testing.Short() {
		ops = 6000
	}
	rng := rand.New(rand.NewPCG(3, 4))
	probe := make([]string, keyspace+10)
	for i := range probe {
		probe[i] = keyName(i)
	}
	var hist []layeredVersion
	var cur Layered[int]
	model := map[string]int{}
	folds, lastBase := 0, cur.base
	txLeft, owned := 0, 0
	var e *Edit
	for op := range ops {
		if txLeft == 0 {
			hist = append(hist, layeredVersion{cur, maps.Clone(model)})
			if rng.IntN(8) == 0 {
				h := hist[rng.IntN(len(hist))]
				cur, model = h.m, maps.Clone(h.want)
			}
			e = []*Edit{nil, NewEdit()}[rng.IntN(2)]
			txLeft = 1 + rng.IntN(200)
			if e != nil && rng.IntN(4) == 0 {
				cur = cur.Own(e) // the rest of this transaction writes the base in place
				owned++
			}
		}
		txLeft--
		key := probe[rng.IntN(keyspace)]
		if rng.IntN(10) < 6 {
			v := rng.IntN(1000)
			cur = cur.Set(e, key, v)
			model[key] = v
		} else {
			cur = cur.Delete(e, key)
			delete(model, key)
		}
		got, ok := cur.Get(key)
		if wv, wok := model[key]; ok != wok || got != wv || cur.Len() != len(model) {
			t.Fatalf("op %d: Get(%q) = %d,%v Len %d", op, key, got, ok, cur.Len())
		}
		if cur.base != lastBase {
			folds++
			lastBase = cur.base
		}
		if op%500 == 0 {
			verifyLayered(t, op, cur, model, probe)
			for range 5 {
				h := hist[rng.IntN(len(hist))]
				verifyLayered(t, op, h.m, h.want, probe)
			}
		}
	}
	for _, h := range hist {
		verifyLayered(t, ops, h.m, h.want, probe)
	}
	if folds < 3 || owned < 3 {
		t.Fatalf("only %d folds and %d owned bases: the test does not reach the base map", folds, owned)
	}
}

func TestLayeredGetNoAlloc(t *testing.T) {
	var m Layered[int]
	for i := range 5000 {
		m = m.Set(nil, keyName(i), i)
	}
	m = m.Set(nil, "extra", 1).Delete(nil, keyName(7))
	k42, k7 := keyName(42), keyName(7)
	if n := testing.AllocsPerRun(100, func() { m.Get(k42); m.Get(k7); m.Get("extra") }); n != 0 {
		t.Fatalf("Get allocates %v times", n)
	}
}

// TestLayeredReserve checks that a reserved map takes writes in place under
// its Edit while the version it came from keeps its content.
func TestLayeredReserve(t *testing.T) {
	var m Layered[int]
	want := map[string]int{}
	for i := range 2000 {
		k := strconv.Itoa(i)
		m = m.Set(nil, k, i)
		want[k] = i
	}
	m = m.Delete(nil, "7")
	delete(want, "7")
	before, beforeWant := m, maps.Clone(want)
	e := NewEdit()
	r := m.Reserve(e, 5000)
	for i := 2000; i < 7000; i++ {
		k := strconv.Itoa(i)
		r = r.Set(e, k, i)
		want[k] = i
	}
	r = r.Delete(e, "3")
	delete(want, "3")
	probe := []string{"3", "7", "1999", "2000", "6999", "7000"}
	verifyLayered(t, 1, r, want, probe)
	verifyLayered(t, 2, before, beforeWant, probe)
	if !r.owned(e) {
		t.Fatal("a reserved map is not owned by its Edit")
	}
}

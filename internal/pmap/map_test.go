package pmap

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

// hashModes lists hash functions the model tests run under: the real one
// and several that force partial or full 64-bit collisions.
var hashModes = []struct {
	name string
	hash func(string) uint64
}{
	{"maphash", nil},
	// Only four distinct hashes, differing in the lowest bits: deep chains of
	// single-child nodes ending in collision nodes at maximum depth.
	{"four-low", func(s string) uint64 { return fnv64(s) % 4 }},
	// Four distinct hashes differing only in the top two bits: they split
	// at the last bitmap level (shift 60).
	{"four-top", func(s string) uint64 { return (fnv64(s)%4)<<62 | 0x0123456789abcdef&^(3<<62) }},
	// Every key collides.
	{"constant", func(string) uint64 { return 0xdeadbeefcafef00d }},
	// Partial collisions: only 10 bits of entropy spread over the hash.
	{"sparse", func(s string) uint64 { return fnv64(s) & 0xf00000000000003f }},
}

func TestMapEmpty(t *testing.T) {
	var m Map[int]
	verifyMap(t, m, map[string]int{}, []string{"", "a"})
	if m2 := m.Delete(nil, "a"); m2 != m {
		t.Fatalf("Delete on empty map changed it")
	}
	m = m.Set(nil, "", 7)
	verifyMap(t, m, map[string]int{"": 7}, []string{"a"})
	m = m.Delete(NewEdit(), "")
	verifyMap(t, m, map[string]int{}, []string{""})
	if m.root != nil {
		t.Fatalf("deleting the last key left a root node")
	}
}

func TestMapBasic(t *testing.T) {
	for _, hm := range hashModes {
		t.Run(hm.name, func(t *testing.T) {
			withHash(t, hm.hash)
			const n = 2000
			var probe []string
			for i := range n + 100 {
				probe = append(probe, keyName(i))
			}
			want := map[string]int{}
			var m Map[int]
			for i := range n {
				m = m.Set(nil, keyName(i), i)
				want[keyName(i)] = i
			}
			checkMap(t, m)
			verifyMap(t, m, want, probe)
			// Overwrite doesn't change Len.
			m2 := m.Set(nil, keyName(5), -5)
			if m2.Len() != n {
				t.Fatalf("overwrite changed Len to %d", m2.Len())
			}
			if v, _ := m.Get(keyName(5)); v != 5 {
				t.Fatalf("old version changed by overwrite")
			}
			// Deleting a missing key returns m itself.
			if m3 := m.Delete(nil, "missing"); m3 != m {
				t.Fatalf("Delete of missing key did not return m unchanged")
			}
			if m3 := m.Delete(NewEdit(), "missing"); m3 != m {
				t.Fatalf("Delete of missing key did not return m unchanged")
			}
			// Delete everything, checking canonical form along the way.
			e := NewEdit()
			d := m
			for i := range n {
				d = d.Delete(e, keyName(i))
				delete(want, keyName(i))
				if i%97 == 0 {
					checkMap(t, d)
					verifyMap(t, d, want, probe[:50])
				}
			}
			if d.Len() != 0 || d.root != nil {
				t.Fatalf("map not empty after deleting all: len %d", d.Len())
			}
			// The original is untouched.
			full := map[string]int{}
			for i := range n {
				full[keyName(i)] = i
			}
			checkMap(t, m)
			verifyMap(t, m, full, probe)
		})
	}
}

// TestMapCollisions exercises full 64-bit collisions explicitly.
func TestMapCollisions(t *testing.T) {
	withHash(t, func(s string) uint64 {
		if s[0] == 'a' {
			return 1 // all "a..." keys collide completely
		}
		return 1 | 1<<63 // differs from the above only in the top bit
	})
	keys := []string{"a1", "a2", "a3", "b1", "b2", "a4"}
	var m Map[int]
	want := map[string]int{}
	for i, k := range keys {
		m = m.Set(nil, k, i)
		want[k] = i
		checkMap(t, m)
		verifyMap(t, m, want, keys)
	}
	// Depth: 11 bitmap levels, then collision nodes.
	depth := 0
	for n := m.root; n.nodemap != 0; n = n.children[0] {
		depth++
		if len(n.children) != 1 && depth < 11 {
			t.Fatalf("expected single-child chain, depth %d", depth)
		}
	}
	if depth != 11 {
		t.Fatalf("collision chain depth %d, want 11", depth)
	}
	m = m.Set(nil, "a2", 20)
	want["a2"] = 20
	verifyMap(t, m, want, keys)
	for _, k := range []string{"a1", "b1", "a3", "a2", "b2", "a4"} {
		old, oldWant := m, maps.Clone(want)
		m = m.Delete(nil, k)
		delete(want, k)
		checkMap(t, m)
		verifyMap(t, m, want, keys)
		verifyMap(t, old, oldWant, keys)
		if m.Delete(nil, k) != m {
			t.Fatalf("second Delete(%q) changed the map", k)
		}
	}
	if m.root != nil {
		t.Fatalf("root not nil after deleting everything")
	}
}

type mapVersion struct {
	m    Map[int]
	want map[string]int
}

// TestMapModel runs random operation sequences against a built-in map,
// with a mix of nil Edits, a fresh Edit per operation and one Edit shared by
// a whole "transaction", occasionally branching from an old version, and
// verifies that every recorded (published) version keeps reading exactly as
// recorded.
func TestMapModel(t *testing.T) {
	ops := 3000
	if testing.Short() {
		ops = 800
	}
	for _, hm := range hashModes {
		for _, keyspace := range []int{40, 400} {
			t.Run(fmt.Sprintf("%s/keys=%d", hm.name, keyspace), func(t *testing.T) {
				withHash(t, hm.hash)
				runMapModel(t, rand.New(rand.NewPCG(uint64(keyspace), 99)), ops, keyspace)
			})
		}
	}
}

func runMapModel(t *testing.T, rng *rand.Rand, nops, keyspace int) {
	probe := make([]string, keyspace+10)
	for i := range probe {
		probe[i] = keyName(i)
	}
	var hist []mapVersion
	var cur Map[int]
	model := map[string]int{}
	record := func() { hist = append(hist, mapVersion{cur, maps.Clone(model)}) }

	mode, txLeft := 0, 0
	var shared *Edit
	for op := range nops {
		if txLeft == 0 {
			// End of transaction: cur is published; its Edit is retired.
			record()
			if rng.IntN(6) == 0 {
				h := hist[rng.IntN(len(hist))]
				cur, model = h.m, maps.Clone(h.want)
			}
			mode = rng.IntN(3)
			shared = NewEdit()
			txLeft = 1 + rng.IntN(60)
		}
		txLeft--
		var e *Edit
		switch mode {
		case 1:
			e = NewEdit()
		case 2:
			e = shared
		}
		key := probe[rng.IntN(keyspace)]
		switch r := rng.IntN(10); {
		case r < 5:
			v := rng.IntN(1000)
			cur = cur.Set(e, key, v)
			model[key] = v
		case r < 9:
			prev := cur
			cur = cur.Delete(e, key)
			if _, ok := model[key]; !ok && cur != prev {
				t.Fatalf("op %d: Delete of missing key %q changed the map", op, key)
			}
			delete(model, key)
		}
		got, ok := cur.Get(key)
		wv, wok := model[key]
		if ok != wok || got != wv || cur.Len() != len(model) {
			t.Fatalf("op %d: Get(%q)=%d,%v Len=%d; want %d,%v Len=%d", op, key, got, ok, cur.Len(), wv, wok, len(model))
		}
		if mode != 2 {
			// Versions made with nil or single-use Edits are immutable at once.
			record()
		}
		if op%50 == 0 {
			checkMap(t, cur)
			verifyMap(t, cur, model, probe)
			for range 10 {
				h := hist[rng.IntN(len(hist))]
				verifyMap(t, h.m, h.want, probe)
			}
		}
	}
	record()
	for _, h := range hist {
		checkMap(t, h.m)
		verifyMap(t, h.m, h.want, probe)
	}
}

// TestMapTransientInPlace checks that a shared Edit really mutates its own
// nodes in place (no copying) and that a new Edit copies them.
func TestMapTransientInPlace(t *testing.T) {
	e := NewEdit()
	var m Map[int]
	for i := range 1000 {
		m = m.Set(e, keyName(i), i)
	}
	root := m.root
	m2 := m.Set(e, keyName(3), 33).Delete(e, keyName(4)).Set(e, "new", 1)
	if m2.root != root {
		t.Fatalf("transient update with owning Edit copied the root")
	}
	want := map[string]int{}
	for i := range 1000 {
		want[keyName(i)] = i
	}
	want[keyName(3)] = 33
	delete(want, keyName(4))
	want["new"] = 1
	verifyMap(t, m2, want, nil)
	checkMap(t, m2)

	// Publish m2 (retire e); a fresh Edit must not disturb it.
	frozen := maps.Clone(want)
	e2 := NewEdit()
	m3 := m2
	for i := range 1000 {
		m3 = m3.Set(e2, keyName(i), -i)
		if i%3 == 0 {
			m3 = m3.Delete(e2, keyName(i))
		}
	}
	if m3.root == m2.root {
		t.Fatalf("fresh Edit mutated a foreign root in place")
	}
	verifyMap(t, m2, frozen, nil)
	checkMap(t, m2)
	checkMap(t, m3)
}

func TestMapGetNoAlloc(t *testing.T) {
	var m Map[int]
	for i := range 10000 {
		m = m.Set(nil, keyName(i), i)
	}
	hit, miss := keyName(1234), "absent"
	if a := testing.AllocsPerRun(1000, func() {
		m.Get(hit)
		m.Get(miss)
	}); a != 0 {
		t.Fatalf("Map.Get allocates %v times per run", a)
	}
	withHash(t, func(string) uint64 { return 7 })
	var c Map[int]
	for i := range 50 {
		c = c.Set(nil, keyName(i), i)
	}
	k10 := keyName(10)
	if a := testing.AllocsPerRun(1000, func() {
		c.Get(hit)
		c.Get(k10)
	}); a != 0 {
		t.Fatalf("Map.Get on collision node allocates %v times per run", a)
	}
}

func TestMapAllEarlyStop(t *testing.T) {
	var m Map[int]
	for i := range 500 {
		m = m.Set(nil, keyName(i), i)
	}
	for stop := 1; stop < 500; stop += 37 {
		n := 0
		for range m.All() {
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

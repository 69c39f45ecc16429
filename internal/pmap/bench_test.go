package pmap

import (
	"encoding/hex"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

const benchKeys = 100_000

var (
	benchKeysOnce sync.Once
	benchKeyList  []string
	benchMissList []string
)

// hexKeys returns benchKeys distinct random 24-character hex keys and as
// many keys that are absent from the first list.
func hexKeys() (hits, misses []string) {
	benchKeysOnce.Do(func() {
		rng := rand.New(rand.NewPCG(1, 2))
		seen := map[string]bool{}
		gen := func() string {
			for {
				var b [12]byte
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				k := hex.EncodeToString(b[:])
				if !seen[k] {
					seen[k] = true
					return k
				}
			}
		}
		for range benchKeys {
			benchKeyList = append(benchKeyList, gen())
		}
		for range benchKeys {
			benchMissList = append(benchMissList, gen())
		}
	})
	return benchKeyList, benchMissList
}

// lookupOrder is a random permutation of key indexes, so consecutive
// lookups touch unrelated parts of both data structures.
func lookupOrder(n int) []int {
	return rand.New(rand.NewPCG(3, 4)).Perm(n)
}

func BenchmarkMapGet(b *testing.B) {
	keys, misses := hexKeys()
	e := NewEdit()
	var m Map[int]
	builtin := make(map[string]int)
	for i, k := range keys {
		m = m.Set(e, k, i)
		builtin[k] = i
	}
	order := lookupOrder(len(keys))
	runtime.GC() // don't let the setup's garbage be collected during timing
	b.Run("pmap", func(b *testing.B) {
		b.ReportAllocs()
		sum := 0
		for i := 0; b.Loop(); i++ {
			v, _ := m.Get(keys[order[i%benchKeys]])
			sum += v
		}
		_ = sum
	})
	b.Run("builtin", func(b *testing.B) {
		b.ReportAllocs()
		sum := 0
		for i := 0; b.Loop(); i++ {
			sum += builtin[keys[order[i%benchKeys]]]
		}
		_ = sum
	})
	b.Run("pmap-miss", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for i := 0; b.Loop(); i++ {
			if _, ok := m.Get(misses[order[i%benchKeys]]); ok {
				n++
			}
		}
		_ = n
	})
	b.Run("builtin-miss", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for i := 0; b.Loop(); i++ {
			if _, ok := builtin[misses[order[i%benchKeys]]]; ok {
				n++
			}
		}
		_ = n
	})
}

func BenchmarkMapSet(b *testing.B) {
	keys, _ := hexKeys()
	e := NewEdit()
	var base Map[int]
	for i, k := range keys {
		base = base.Set(e, k, i)
	}
	order := lookupOrder(len(keys))
	// Update one key of a published 100k map per op, each with a fresh Edit
	// (a one-operation transaction): pure path copying.
	b.Run("update-fresh-edit", func(b *testing.B) {
		b.ReportAllocs()
		var m Map[int]
		for i := 0; b.Loop(); i++ {
			m = base.Set(NewEdit(), keys[order[i%benchKeys]], i)
		}
		_ = m
	})
	b.Run("update-nil-edit", func(b *testing.B) {
		b.ReportAllocs()
		var m Map[int]
		for i := 0; b.Loop(); i++ {
			m = base.Set(nil, keys[order[i%benchKeys]], i)
		}
		_ = m
	})
	// Build a 100k map one key at a time, persistent after every insert.
	b.Run("load-fresh-edit", func(b *testing.B) {
		b.ReportAllocs()
		var m Map[int]
		for i := 0; b.Loop(); i++ {
			j := i % benchKeys
			if j == 0 {
				m = Map[int]{}
			}
			m = m.Set(NewEdit(), keys[j], i)
		}
	})
	// Bulk load with one shared Edit (transient).
	b.Run("load-shared-edit", func(b *testing.B) {
		b.ReportAllocs()
		var m Map[int]
		var e *Edit
		for i := 0; b.Loop(); i++ {
			j := i % benchKeys
			if j == 0 {
				m, e = Map[int]{}, NewEdit()
			}
			m = m.Set(e, keys[j], i)
		}
	})
	b.Run("load-builtin", func(b *testing.B) {
		b.ReportAllocs()
		var m map[string]int
		for i := 0; b.Loop(); i++ {
			j := i % benchKeys
			if j == 0 {
				m = make(map[string]int)
			}
			m[keys[j]] = i
		}
	})
}

func BenchmarkMapDelete(b *testing.B) {
	keys, _ := hexKeys()
	e := NewEdit()
	var base Map[int]
	for i, k := range keys {
		base = base.Set(e, k, i)
	}
	order := lookupOrder(len(keys))
	b.Run("fresh-edit", func(b *testing.B) {
		b.ReportAllocs()
		var m Map[int]
		for i := 0; b.Loop(); i++ {
			m = base.Delete(NewEdit(), keys[order[i%benchKeys]])
		}
		_ = m
	})
}

const vecBenchLen = 1 << 20

func BenchmarkVecGet(b *testing.B) {
	e := NewEdit()
	var v Vec[int]
	s := make([]int, 0, vecBenchLen)
	for i := range vecBenchLen {
		v = v.Append(e, i)
		s = append(s, i)
	}
	idx := rand.New(rand.NewPCG(5, 6)).Perm(vecBenchLen)
	runtime.GC()
	b.Run("pmap", func(b *testing.B) {
		b.ReportAllocs()
		sum := 0
		for i := 0; b.Loop(); i++ {
			sum += v.Get(idx[i&(vecBenchLen-1)])
		}
		_ = sum
	})
	b.Run("slice", func(b *testing.B) {
		b.ReportAllocs()
		sum := 0
		for i := 0; b.Loop(); i++ {
			sum += s[idx[i&(vecBenchLen-1)]]
		}
		_ = sum
	})
}

func BenchmarkVecAppend(b *testing.B) {
	b.Run("shared-edit", func(b *testing.B) {
		b.ReportAllocs()
		var v Vec[int]
		var e *Edit
		for i := 0; b.Loop(); i++ {
			if i%vecBenchLen == 0 {
				v, e = Vec[int]{}, NewEdit()
			}
			v = v.Append(e, i)
		}
	})
	b.Run("nil-edit", func(b *testing.B) {
		b.ReportAllocs()
		var v Vec[int]
		for i := 0; b.Loop(); i++ {
			if i%vecBenchLen == 0 {
				v = Vec[int]{}
			}
			v = v.Append(nil, i)
		}
	})
}

func BenchmarkVecSet(b *testing.B) {
	e := NewEdit()
	var base Vec[int]
	for i := range vecBenchLen {
		base = base.Append(e, i)
	}
	idx := rand.New(rand.NewPCG(7, 8)).Perm(vecBenchLen)
	b.Run("fresh-edit", func(b *testing.B) {
		b.ReportAllocs()
		var v Vec[int]
		for i := 0; b.Loop(); i++ {
			v = base.Set(NewEdit(), idx[i&(vecBenchLen-1)], i)
		}
		_ = v
	})
}

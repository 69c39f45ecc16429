package pmap

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// snapshot is one published version, as an engine would publish it.
type snapshot struct {
	gen int
	m   Map[int]
	v   Vec[int]
}

const raceWindow = 100

// The map of generation g holds "gen"->g and "k<i>"->i for the last
// raceWindow generations i; the vector holds i*2 at index i for i <= g.
func checkSnapshot(s *snapshot, rng *rand.Rand, keys []string) error {
	g := s.gen
	if v, ok := s.m.Get("gen"); !ok || v != g {
		return fmt.Errorf("gen %d: Get(gen)=%d,%v", g, v, ok)
	}
	if want := 1 + min(g+1, raceWindow); s.m.Len() != want {
		return fmt.Errorf("gen %d: Len=%d want %d", g, s.m.Len(), want)
	}
	if s.v.Len() != g+1 {
		return fmt.Errorf("gen %d: vec Len=%d", g, s.v.Len())
	}
	for range 20 {
		i := g - rng.IntN(raceWindow)
		if i >= 0 {
			if v, ok := s.m.Get(keys[i]); !ok || v != i {
				return fmt.Errorf("gen %d: Get(%s)=%d,%v", g, keys[i], v, ok)
			}
		}
		if i := g - raceWindow - rng.IntN(raceWindow); i >= 0 {
			if _, ok := s.m.Get(keys[i]); ok {
				return fmt.Errorf("gen %d: deleted key %s present", g, keys[i])
			}
		}
		if _, ok := s.m.Get(keys[g+1]); ok {
			return fmt.Errorf("gen %d: future key present", g)
		}
		j := rng.IntN(g + 1)
		if x := s.v.Get(j); x != 2*j {
			return fmt.Errorf("gen %d: vec Get(%d)=%d", g, j, x)
		}
	}
	if rng.IntN(50) == 0 {
		n := 0
		for range s.m.All() {
			n++
		}
		for i, x := range s.v.All() {
			if x != 2*i {
				return fmt.Errorf("gen %d: vec All (%d,%d)", g, i, x)
			}
		}
		if n != s.m.Len() {
			return fmt.Errorf("gen %d: All yielded %d entries", g, n)
		}
	}
	return nil
}

// TestConcurrentReaders has one writer derive new versions with a fresh Edit
// per transaction (several in-place updates each) and publish them through
// an atomic pointer, while readers keep reading the latest and pinned older
// versions. Run with -race.
func TestConcurrentReaders(t *testing.T) {
	gens := 3000
	if testing.Short() {
		gens = 500
	}
	keys := make([]string, gens+2)
	for i := range keys {
		keys[i] = keyName(i)
	}
	// Generation 0, built transiently.
	e := NewEdit()
	s0 := &snapshot{gen: 0}
	s0.m = s0.m.Set(e, "gen", 0).Set(e, keys[0], 0)
	s0.v = s0.v.Append(e, 0)
	var cur atomic.Pointer[snapshot]
	cur.Store(s0)

	var done atomic.Bool
	var wg, started sync.WaitGroup
	started.Add(4)
	errs := make(chan error, 8)
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			pinned := []*snapshot{s0}
			first := true
			for !done.Load() {
				if first {
					started.Done()
					first = false
				}
				s := cur.Load()
				if rng.IntN(20) == 0 {
					pinned = append(pinned, s)
				}
				for _, p := range []*snapshot{s, pinned[rng.IntN(len(pinned))]} {
					if err := checkSnapshot(p, rng, keys); err != nil {
						errs <- err
						return
					}
				}
			}
			for _, p := range pinned {
				if err := checkSnapshot(p, rng, keys); err != nil {
					errs <- err
					return
				}
			}
		}()
	}

	started.Wait() // make sure reads overlap with the writes below
	rng := rand.New(rand.NewPCG(42, 42))
	s := s0
	for g := 1; g <= gens; g++ {
		e := NewEdit() // one Edit per transaction, never reused after Store
		m := s.m.Set(e, "gen", -1)
		m = m.Set(e, keys[g], g)
		if old := g - raceWindow; old >= 0 {
			m = m.Delete(e, keys[old])
		}
		// Rewrite a few live keys and vector slots with their same values:
		// this copies shared paths that readers are traversing.
		for range 3 {
			i := max(0, g-rng.IntN(raceWindow))
			m = m.Set(e, keys[i], i)
		}
		m = m.Set(e, "gen", g)
		v := s.v.Append(e, 2*g)
		for range 3 {
			j := rng.IntN(g + 1)
			v = v.Set(e, j, 2*j)
		}
		s = &snapshot{gen: g, m: m, v: v}
		cur.Store(s)
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := checkSnapshot(s0, rand.New(rand.NewPCG(0, 0)), keys); err != nil {
		t.Error(err)
	}
}

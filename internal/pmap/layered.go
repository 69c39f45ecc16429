package pmap

import (
	"iter"
	"maps"
)

// Layered is a persistent string-keyed map tuned for lookups: a plain Go map
// (the base) that is never changed once built, plus a [Map] of the changes
// made since (the delta: new values and tombstones). A lookup first asks
// the delta, which is small and shallow, then the base, a single hashed
// probe, so reads cost about one built-in map lookup instead of a walk down
// a deep trie; a built-in map also takes about a quarter of the memory of
// trie nodes per entry.
//
// Folding the delta into a new base costs O(n); Set does it when the delta
// reaches a quarter of the base and Settle (for versions about to be
// published) at a sixteenth, so the cost is O(1) amortised per change.
// Versions keep whichever base they were built on. The zero Layered is
// empty and ready to use; the Edit rules are those of [Map].
//
// A base built by a fold under Edit e belongs to e until e publishes: later
// changes under e write it in place, so a bulk load pays a built-in map
// insert per entry, not a trie path copy and the folds.
type Layered[V any] struct {
	base  *map[string]V
	owner *Edit // non-nil: the base may be written in place under this Edit
	delta Map[layer[V]]
	len   int
}

// layer is a delta entry: a value, or a tombstone hiding a base key.
type layer[V any] struct {
	val  V
	gone bool
}

// minFold keeps small maps from being rebuilt on every change.
const minFold = 512

// Len returns the number of entries.
func (m Layered[V]) Len() int { return m.len }

// Get returns the value stored under key and true, or the zero V and false.
// It does not allocate.
func (m Layered[V]) Get(key string) (V, bool) {
	if m.delta.len > 0 {
		if l, ok := m.delta.Get(key); ok {
			return l.val, !l.gone
		}
	}
	if m.base == nil {
		var zero V
		return zero, false
	}
	v, ok := (*m.base)[key]
	return v, ok
}

func (m Layered[V]) inBase(key string) bool {
	if m.base == nil {
		return false
	}
	_, ok := (*m.base)[key]
	return ok
}

// Set returns a map that maps key to v and otherwise equals m.
func (m Layered[V]) Set(e *Edit, key string, v V) Layered[V] {
	if m.owned(e) && m.delta.len == 0 {
		// A bulk load's write: one probe, the growth of the base telling
		// whether key is new.
		n := len(*m.base)
		(*m.base)[key] = v
		if len(*m.base) > n {
			m.len++
		}
		return m
	}
	if _, ok := m.Get(key); !ok {
		m.len++
	}
	if m.owned(e) {
		m.delta = m.delta.Delete(e, key)
		(*m.base)[key] = v
		return m
	}
	m.delta = m.delta.Set(e, key, layer[V]{val: v})
	return m.maybeFold(e)
}

// Delete returns a map without key and otherwise equal to m.
func (m Layered[V]) Delete(e *Edit, key string) Layered[V] {
	if _, ok := m.Get(key); !ok {
		return m
	}
	m.len--
	switch {
	case m.owned(e):
		if m.delta.len > 0 {
			m.delta = m.delta.Delete(e, key)
		}
		delete(*m.base, key)
		return m
	case m.inBase(key):
		m.delta = m.delta.Set(e, key, layer[V]{gone: true})
	default:
		m.delta = m.delta.Delete(e, key)
	}
	return m.maybeFold(e)
}

// owned reports whether the base may be written in place under e.
func (m Layered[V]) owned(e *Edit) bool { return e != nil && m.owner == e && m.base != nil }

// Own returns m with its changes folded into a base that e owns, so that
// every later change under e is a built-in map write. It is for the start
// of a bulk load.
func (m Layered[V]) Own(e *Edit) Layered[V] {
	if e == nil || m.owned(e) {
		return m
	}
	return m.fold(e)
}

// Reserve is Own for a bulk load of about n more entries: the base it
// hands e is sized for them, so the load never grows the table.
func (m Layered[V]) Reserve(e *Edit, n int) Layered[V] {
	if e == nil {
		return m
	}
	return m.foldSized(e, n)
}

// maybeFold bounds the delta while a transaction grows it: the first fold
// under e gives e the base, and its changes go there from then on.
func (m Layered[V]) maybeFold(e *Edit) Layered[V] {
	if m.delta.len < max(minFold, m.baseLen()/4) {
		return m
	}
	return m.fold(e)
}

// foldAbove folds the delta once it holds a 1/part share of the base (and
// at least minFold entries).
func (m Layered[V]) foldAbove(part int) Layered[V] {
	if m.delta.len < max(minFold, m.baseLen()/part) {
		return m
	}
	return m.fold(nil)
}

func (m Layered[V]) baseLen() int {
	if m.base == nil {
		return 0
	}
	return len(*m.base)
}

// Settle folds the delta when it exceeds a sixteenth of the base. Call it on
// versions about to be published: it keeps the delta that every miss walks
// shallow, at O(1) amortised cost per change.
func (m Layered[V]) Settle() Layered[V] { return m.foldAbove(16) }

// Compact folds the changes into a new base, so every lookup takes a single
// probe. It is for the end of bulk loads.
func (m Layered[V]) Compact() Layered[V] {
	if m.delta.len == 0 {
		return m
	}
	return m.fold(nil)
}

// fold returns m with the delta applied to a new base, owned by e.
func (m Layered[V]) fold(e *Edit) Layered[V] { return m.foldSized(e, 0) }

// foldSized is fold with room in the new base for extra more entries.
func (m Layered[V]) foldSized(e *Edit, extra int) Layered[V] {
	// Cloning the built-in map copies its tables wholesale, far cheaper
	// than re-inserting every key; only the delta is applied key by key.
	var base map[string]V
	switch {
	case m.base != nil && extra == 0:
		base = maps.Clone(*m.base)
	default:
		base = make(map[string]V, m.len+extra)
		if m.base != nil {
			maps.Copy(base, *m.base)
		}
	}
	for k, l := range m.delta.All() {
		if l.gone {
			delete(base, k)
		} else {
			base[k] = l.val
		}
	}
	return Layered[V]{base: &base, owner: e, len: m.len}
}

// All returns an iterator over the entries, in unspecified order. Stopping
// early is safe.
func (m Layered[V]) All() iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		if m.base != nil {
			for k, v := range *m.base {
				if m.delta.len > 0 {
					if _, changed := m.delta.Get(k); changed {
						continue
					}
				}
				if !yield(k, v) {
					return
				}
			}
		}
		for k, l := range m.delta.All() {
			if !l.gone && !yield(k, l.val) {
				return
			}
		}
	}
}

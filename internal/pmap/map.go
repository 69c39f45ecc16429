package pmap

import (
	"hash/maphash"
	"iter"
	"math/bits"
	"slices"
)

// seed is the single process-wide hash seed used by every Map.
var seed = maphash.MakeSeed()

// hashOverride, when non-nil, replaces the hash function. It exists only so
// tests can force hash collisions; it must not be changed while any Map is
// in use by another goroutine.
var hashOverride func(string) uint64

// hashOf returns the 64-bit hash of key.
func hashOf(key string) uint64 {
	if hashOverride != nil {
		return hashOverride(key)
	}
	return maphash.String(seed, key)
}

const (
	// mapBits is the number of hash bits consumed per trie level.
	mapBits = 6
	// mapMask selects one level's worth of hash bits.
	mapMask = 1<<mapBits - 1
	// Levels use shifts 0, 6, ..., 60 (11 levels, the last one consuming
	// the top 4 bits). A node reached at a shift >= 64 is a collision node
	// holding entries whose full 64-bit hashes are equal.
)

// entry is one key/value pair together with the key's hash.
type entry[V any] struct {
	hash uint64
	key  string
	val  V
}

// mnode is a CHAMP trie node. For a bitmap node (shift < 64), bit i of
// datamap says that hash fragment i is stored inline in entries, bit i of
// nodemap that it lives in a child subtree; entries and children are
// ordered by fragment. A collision node (shift >= 64) has both bitmaps zero
// and holds two or more entries with identical hashes in entries.
//
// Canonical form (maintained by Set and Delete): every non-root node holds
// at least two entries in its subtree, and a child subtree with exactly one
// entry is always inlined into its parent.
//
// Backing arrays of a node owned by a non-nil Edit are never shared with
// any other node, so such a node may grow and shrink them in place. Nodes
// with a nil edit are never mutated and may share arrays with each other.
type mnode[V any] struct {
	datamap  uint64
	nodemap  uint64
	entries  []entry[V]
	children []*mnode[V]
	edit     *Edit
}

// Map is a persistent hash map from string keys to values of type V,
// implemented as a CHAMP trie over a 64-bit maphash hash, with full-hash
// collisions kept in collision nodes at maximum depth.
//
// Map is a small value (root pointer and length); copying it is cheap and
// copies share all structure. The zero Map is empty and ready to use.
// Updates return a new Map; see the package documentation for the rules
// governing the Edit argument.
type Map[V any] struct {
	root *mnode[V]
	len  int
}

// Len returns the number of entries in m.
func (m Map[V]) Len() int { return m.len }

// Get returns the value stored under key and true, or the zero V and false
// if key is absent. It does not allocate.
func (m Map[V]) Get(key string) (V, bool) {
	var zero V
	n := m.root
	if n == nil {
		return zero, false
	}
	h := hashOf(key)
	for shift := uint(0); shift < 64; shift += mapBits {
		bit := uint64(1) << ((h >> shift) & mapMask)
		if n.datamap&bit != 0 {
			e := &n.entries[bits.OnesCount64(n.datamap&(bit-1))]
			if e.hash == h && e.key == key {
				return e.val, true
			}
			return zero, false
		}
		if n.nodemap&bit == 0 {
			return zero, false
		}
		n = n.children[bits.OnesCount64(n.nodemap&(bit-1))]
	}
	// Collision node: all entries share hash h.
	for i := range n.entries {
		if n.entries[i].key == key {
			return n.entries[i].val, true
		}
	}
	return zero, false
}

// Set returns a map that maps key to v and otherwise equals m.
//
// With a nil e this is a pure persistent update and m is unchanged. With a
// non-nil e, nodes of m owned by e are updated in place (so m itself may
// observe the change); all other nodes are copied and the copies become
// owned by e.
func (m Map[V]) Set(e *Edit, key string, v V) Map[V] {
	h := hashOf(key)
	if m.root == nil {
		root := &mnode[V]{
			datamap: 1 << (h & mapMask),
			entries: []entry[V]{{hash: h, key: key, val: v}},
			edit:    e,
		}
		return Map[V]{root: root, len: 1}
	}
	root, added := m.root.set(e, 0, h, key, v)
	n := m.len
	if added {
		n++
	}
	return Map[V]{root: root, len: n}
}

// Delete returns a map without key and otherwise equal to m. If key is
// absent, Delete returns m unchanged. The Edit argument has the same
// meaning as for [Map.Set].
func (m Map[V]) Delete(e *Edit, key string) Map[V] {
	if m.root == nil {
		return m
	}
	root, ok := m.root.del(e, 0, hashOf(key), key)
	if !ok {
		return m
	}
	if len(root.entries) == 0 && len(root.children) == 0 {
		return Map[V]{}
	}
	return Map[V]{root: root, len: m.len - 1}
}

// All returns an iterator over the key/value pairs of m, in unspecified
// order. Stopping early is safe.
func (m Map[V]) All() iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		if m.root != nil {
			m.root.each(yield)
		}
	}
}

func (n *mnode[V]) each(yield func(string, V) bool) bool {
	for i := range n.entries {
		if !yield(n.entries[i].key, n.entries[i].val) {
			return false
		}
	}
	for _, c := range n.children {
		if !c.each(yield) {
			return false
		}
	}
	return true
}

// owned reports whether n may be mutated in place under e.
func (n *mnode[V]) owned(e *Edit) bool { return e != nil && n.edit == e }

// set inserts or replaces key in the subtree rooted at n (at the given
// shift) and reports whether a new entry was added. Recursion depth is
// bounded by the trie height (12 including the collision level).
func (n *mnode[V]) set(e *Edit, shift uint, h uint64, key string, v V) (*mnode[V], bool) {
	if shift >= 64 {
		for i := range n.entries {
			if n.entries[i].key == key {
				return n.setValue(e, i, v), false
			}
		}
		return n.insertEntry(e, 0, len(n.entries), entry[V]{hash: h, key: key, val: v}), true
	}
	bit := uint64(1) << ((h >> shift) & mapMask)
	if n.datamap&bit != 0 {
		idx := bits.OnesCount64(n.datamap & (bit - 1))
		ex := &n.entries[idx]
		if ex.hash == h && ex.key == key {
			return n.setValue(e, idx, v), false
		}
		child := mergeEntries(e, shift+mapBits, *ex, entry[V]{hash: h, key: key, val: v})
		return n.dataToNode(e, bit, idx, child), true
	}
	if n.nodemap&bit != 0 {
		idx := bits.OnesCount64(n.nodemap & (bit - 1))
		old := n.children[idx]
		child, added := old.set(e, shift+mapBits, h, key, v)
		if child == old {
			// The child was updated in place; n already points to it.
			return n, added
		}
		return n.setChild(e, idx, child), added
	}
	idx := bits.OnesCount64(n.datamap & (bit - 1))
	return n.insertEntry(e, bit, idx, entry[V]{hash: h, key: key, val: v}), true
}

// del removes key from the subtree rooted at n and reports whether it was
// present. The result may be a node with a single entry and no children,
// which the caller inlines (unless it is the root).
func (n *mnode[V]) del(e *Edit, shift uint, h uint64, key string) (*mnode[V], bool) {
	if shift >= 64 {
		for i := range n.entries {
			if n.entries[i].key == key {
				return n.removeEntry(e, 0, i), true
			}
		}
		return n, false
	}
	bit := uint64(1) << ((h >> shift) & mapMask)
	if n.datamap&bit != 0 {
		idx := bits.OnesCount64(n.datamap & (bit - 1))
		ex := &n.entries[idx]
		if ex.hash != h || ex.key != key {
			return n, false
		}
		return n.removeEntry(e, bit, idx), true
	}
	if n.nodemap&bit != 0 {
		idx := bits.OnesCount64(n.nodemap & (bit - 1))
		old := n.children[idx]
		child, ok := old.del(e, shift+mapBits, h, key)
		if !ok {
			return n, false
		}
		if child.nodemap == 0 && len(child.entries) == 1 {
			// Canonicalize: a subtree with a single entry is inlined.
			return n.nodeToData(e, bit, idx, child.entries[0]), true
		}
		if child == old {
			return n, true
		}
		return n.setChild(e, idx, child), true
	}
	return n, false
}

// mergeEntries builds the smallest subtree (at shift) holding both a and b,
// whose keys differ.
func mergeEntries[V any](e *Edit, shift uint, a, b entry[V]) *mnode[V] {
	if shift >= 64 {
		return &mnode[V]{entries: []entry[V]{a, b}, edit: e}
	}
	fa := (a.hash >> shift) & mapMask
	fb := (b.hash >> shift) & mapMask
	if fa == fb {
		return &mnode[V]{
			nodemap:  1 << fa,
			children: []*mnode[V]{mergeEntries(e, shift+mapBits, a, b)},
			edit:     e,
		}
	}
	if fa > fb {
		a, b = b, a
	}
	return &mnode[V]{
		datamap: 1<<fa | 1<<fb,
		entries: []entry[V]{a, b},
		edit:    e,
	}
}

// keep returns s for use by a copy of n owned by e that does not modify s:
// shared when neither node can ever be mutated in place, cloned otherwise.
func keep[T any](s []T, e, nEdit *Edit) []T {
	if e == nil && nEdit == nil {
		return s
	}
	return slices.Clone(s)
}

// insertAt returns a fresh slice equal to s with x inserted at i.
func insertAt[T any](s []T, i int, x T) []T {
	r := make([]T, len(s)+1)
	copy(r, s[:i])
	r[i] = x
	copy(r[i+1:], s[i:])
	return r
}

// removeAt returns a fresh slice equal to s without element i (nil if empty).
func removeAt[T any](s []T, i int) []T {
	if len(s) == 1 {
		return nil
	}
	r := make([]T, len(s)-1)
	copy(r, s[:i])
	copy(r[i:], s[i+1:])
	return r
}

// setValue returns n with the value of entries[idx] replaced.
func (n *mnode[V]) setValue(e *Edit, idx int, v V) *mnode[V] {
	if n.owned(e) {
		n.entries[idx].val = v
		return n
	}
	c := &mnode[V]{
		datamap:  n.datamap,
		nodemap:  n.nodemap,
		entries:  slices.Clone(n.entries),
		children: keep(n.children, e, n.edit),
		edit:     e,
	}
	c.entries[idx].val = v
	return c
}

// setChild returns n with children[idx] replaced.
func (n *mnode[V]) setChild(e *Edit, idx int, child *mnode[V]) *mnode[V] {
	if n.owned(e) {
		n.children[idx] = child
		return n
	}
	c := &mnode[V]{
		datamap:  n.datamap,
		nodemap:  n.nodemap,
		entries:  keep(n.entries, e, n.edit),
		children: slices.Clone(n.children),
		edit:     e,
	}
	c.children[idx] = child
	return c
}

// insertEntry returns n with ent inserted at entries[idx] and bit set in
// datamap (bit is 0 for collision nodes).
func (n *mnode[V]) insertEntry(e *Edit, bit uint64, idx int, ent entry[V]) *mnode[V] {
	if n.owned(e) {
		n.entries = slices.Insert(n.entries, idx, ent)
		n.datamap |= bit
		return n
	}
	return &mnode[V]{
		datamap:  n.datamap | bit,
		nodemap:  n.nodemap,
		entries:  insertAt(n.entries, idx, ent),
		children: keep(n.children, e, n.edit),
		edit:     e,
	}
}

// removeEntry returns n without entries[idx] and with bit cleared in
// datamap (bit is 0 for collision nodes).
func (n *mnode[V]) removeEntry(e *Edit, bit uint64, idx int) *mnode[V] {
	if n.owned(e) {
		n.entries = slices.Delete(n.entries, idx, idx+1)
		n.datamap &^= bit
		return n
	}
	return &mnode[V]{
		datamap:  n.datamap &^ bit,
		nodemap:  n.nodemap,
		entries:  removeAt(n.entries, idx),
		children: keep(n.children, e, n.edit),
		edit:     e,
	}
}

// dataToNode returns n with the inline entry at entries[idx] (fragment bit)
// replaced by the subtree child.
func (n *mnode[V]) dataToNode(e *Edit, bit uint64, idx int, child *mnode[V]) *mnode[V] {
	cidx := bits.OnesCount64(n.nodemap & (bit - 1))
	if n.owned(e) {
		n.entries = slices.Delete(n.entries, idx, idx+1)
		n.children = slices.Insert(n.children, cidx, child)
		n.datamap &^= bit
		n.nodemap |= bit
		return n
	}
	return &mnode[V]{
		datamap:  n.datamap &^ bit,
		nodemap:  n.nodemap | bit,
		entries:  removeAt(n.entries, idx),
		children: insertAt(n.children, cidx, child),
		edit:     e,
	}
}

// nodeToData returns n with the subtree at children[cidx] (fragment bit)
// replaced by the inline entry ent.
func (n *mnode[V]) nodeToData(e *Edit, bit uint64, cidx int, ent entry[V]) *mnode[V] {
	idx := bits.OnesCount64(n.datamap & (bit - 1))
	if n.owned(e) {
		n.children = slices.Delete(n.children, cidx, cidx+1)
		n.entries = slices.Insert(n.entries, idx, ent)
		n.nodemap &^= bit
		n.datamap |= bit
		return n
	}
	return &mnode[V]{
		datamap:  n.datamap | bit,
		nodemap:  n.nodemap &^ bit,
		entries:  insertAt(n.entries, idx, ent),
		children: removeAt(n.children, cidx),
		edit:     e,
	}
}

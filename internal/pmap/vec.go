package pmap

import "iter"

const (
	// vecBits is the number of index bits consumed per trie level.
	vecBits = 5
	// vecWidth is the branching factor of the vector trie.
	vecWidth = 1 << vecBits
	// vecMask selects one level's worth of index bits.
	vecMask = vecWidth - 1
)

// vnode is a vector trie node: a leaf (vals, at shift 0) or a branch (kids).
// Slices hold only the used slots; the rightmost path may be partially
// filled, every other node is full. Nodes owned by a non-nil Edit are
// allocated with capacity vecWidth and never share backing arrays, so they
// can be appended to in place.
type vnode[T any] struct {
	kids []*vnode[T]
	vals []T
	edit *Edit
}

// Vec is a persistent vector indexed 0..Len()-1, implemented as a 32-way
// array-mapped trie (at most 7 levels). Appends and updates cost O(log n)
// path copying.
//
// Vec is a small value (root pointer, height and length); copying it is
// cheap and copies share all structure. The zero Vec is empty and ready to
// use. Updates return a new Vec; see the package documentation for the
// rules governing the Edit argument.
type Vec[T any] struct {
	root  *vnode[T]
	shift uint // shift of the root level: 0 when the root is a leaf
	len   int
}

// Len returns the number of elements in v.
func (v Vec[T]) Len() int { return v.len }

// Get returns the element at index i, or the zero T if i is out of range.
// It never panics and does not allocate.
func (v Vec[T]) Get(i int) T {
	if uint(i) >= uint(v.len) {
		var zero T
		return zero
	}
	n := v.root
	for s := v.shift; s > 0; s -= vecBits {
		n = n.kids[(i>>s)&vecMask]
	}
	return n.vals[i&vecMask]
}

// Set returns a vector equal to v except that element i is x. If i is out
// of range (i < 0 or i >= Len()), Set returns v unchanged. The Edit argument
// has the same meaning as for [Map.Set].
func (v Vec[T]) Set(e *Edit, i int, x T) Vec[T] {
	if uint(i) >= uint(v.len) {
		return v
	}
	v.root = v.root.set(e, v.shift, i, x)
	return v
}

// Append returns a vector equal to v with x added at index Len(). The Edit
// argument has the same meaning as for [Map.Set].
func (v Vec[T]) Append(e *Edit, x T) Vec[T] {
	if v.root == nil {
		return Vec[T]{root: newVecPath(e, 0, x), len: 1}
	}
	if v.len>>(v.shift+vecBits) != 0 {
		// The trie is full: grow a new root level.
		kids := make([]*vnode[T], 2, vecCap(e, 2))
		kids[0] = v.root
		kids[1] = newVecPath(e, v.shift, x)
		return Vec[T]{
			root:  &vnode[T]{kids: kids, edit: e},
			shift: v.shift + vecBits,
			len:   v.len + 1,
		}
	}
	v.root = v.root.append(e, v.shift, v.len, x)
	v.len++
	return v
}

// All returns an iterator over the index/element pairs of v in index
// order. Stopping early is safe.
func (v Vec[T]) All() iter.Seq2[int, T] {
	return func(yield func(int, T) bool) {
		if v.root != nil {
			i := 0
			v.root.each(v.shift, &i, v.len, yield)
		}
	}
}

func (n *vnode[T]) each(shift uint, i *int, end int, yield func(int, T) bool) bool {
	if shift == 0 {
		for _, x := range n.vals {
			if *i >= end || !yield(*i, x) {
				return false
			}
			*i++
		}
		return true
	}
	for _, k := range n.kids {
		if !k.each(shift-vecBits, i, end, yield) {
			return false
		}
	}
	return true
}

// vecCap is the capacity for a node slice of length n created under e:
// full width for transient nodes (so they can be appended to in place),
// exact otherwise.
func vecCap(e *Edit, n int) int {
	if e != nil {
		return vecWidth
	}
	return n
}

// cloneVec returns a fresh copy of s with extra additional zero slots.
func cloneVec[T any](s []T, e *Edit, extra int) []T {
	r := make([]T, len(s)+extra, vecCap(e, len(s)+extra))
	copy(r, s)
	return r
}

// owned reports whether n may be mutated in place under e.
func (n *vnode[T]) owned(e *Edit) bool { return e != nil && n.edit == e }

// newVecPath returns a subtree of the given shift holding only x.
func newVecPath[T any](e *Edit, shift uint, x T) *vnode[T] {
	if shift == 0 {
		vals := make([]T, 1, vecCap(e, 1))
		vals[0] = x
		return &vnode[T]{vals: vals, edit: e}
	}
	kids := make([]*vnode[T], 1, vecCap(e, 1))
	kids[0] = newVecPath(e, shift-vecBits, x)
	return &vnode[T]{kids: kids, edit: e}
}

// set replaces element i in the subtree rooted at n. Recursion depth is
// bounded by the trie height.
func (n *vnode[T]) set(e *Edit, shift uint, i int, x T) *vnode[T] {
	if shift == 0 {
		if n.owned(e) {
			n.vals[i&vecMask] = x
			return n
		}
		c := &vnode[T]{vals: cloneVec(n.vals, e, 0), edit: e}
		c.vals[i&vecMask] = x
		return c
	}
	idx := (i >> shift) & vecMask
	old := n.kids[idx]
	child := old.set(e, shift-vecBits, i, x)
	if child == old {
		return n
	}
	if n.owned(e) {
		n.kids[idx] = child
		return n
	}
	c := &vnode[T]{kids: cloneVec(n.kids, e, 0), edit: e}
	c.kids[idx] = child
	return c
}

// append adds x as element i (the current length) to the non-full subtree
// rooted at n.
func (n *vnode[T]) append(e *Edit, shift uint, i int, x T) *vnode[T] {
	if shift == 0 {
		// Slicing to i's slot keeps append correct even if the leaf
		// holds stale elements beyond the vector's length.
		j := i & vecMask
		if n.owned(e) {
			n.vals = append(n.vals[:j], x)
			return n
		}
		c := &vnode[T]{vals: cloneVec(n.vals[:j], e, 1), edit: e}
		c.vals[j] = x
		return c
	}
	idx := int((i >> shift) & vecMask)
	if idx < len(n.kids) {
		old := n.kids[idx]
		child := old.append(e, shift-vecBits, i, x)
		if child == old {
			return n
		}
		if n.owned(e) {
			n.kids[idx] = child
			return n
		}
		c := &vnode[T]{kids: cloneVec(n.kids, e, 0), edit: e}
		c.kids[idx] = child
		return c
	}
	child := newVecPath(e, shift-vecBits, x)
	if n.owned(e) {
		n.kids = append(n.kids, child)
		return n
	}
	c := &vnode[T]{kids: cloneVec(n.kids, e, 1), edit: e}
	c.kids[idx] = child
	return c
}

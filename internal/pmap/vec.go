package pmap

import (
	"iter"
	"unsafe"
)

const (
	// vecBits is the number of index bits consumed per branch level.
	vecBits = 5
	// vecWidth is the branching factor of the vector trie's branches.
	vecWidth = 1 << vecBits
	// vecMask selects one branch level's worth of index bits.
	vecMask = vecWidth - 1
	// leafBits is the number of index bits a leaf consumes. Leaves are
	// narrower than branches because an update copies one leaf per
	// changed element but shares the upper branches among the elements
	// it changes: a 16-slot leaf of 12-byte values is half the bytes of a
	// 32-slot one, and a vector of up to half a million elements keeps
	// the height (four levels) a 32-slot leaf would give it up to a
	// million.
	leafBits = 4
	// leafWidth is the number of elements a leaf holds.
	leafWidth = 1 << leafBits
	// leafMask selects a leaf's index bits.
	leafMask = leafWidth - 1
)

// A level's shift is the position of the index bits it consumes: 0 for a
// leaf, leafBits for the branches just above the leaves, and vecBits more
// for each level above those.

// childShift returns the shift of the level below a branch at shift s.
func childShift(s uint) uint { return s - min(s, vecBits) }

// parentShift returns the shift of a branch whose children are at shift s.
func parentShift(s uint) uint {
	if s == 0 {
		return leafBits
	}
	return s + vecBits
}

// capacity returns the number of elements a subtree at shift s can hold.
func capacity(s uint) int { return 1 << parentShift(s) }

// The trie's nodes hold their slots inline, so a lookup costs one dependent
// load per level rather than two (node, then its slice's array): the level
// count, not the arithmetic, is what a lookup in a large vector pays for.
// A branch's slots point to branches or, on the level above the values, to
// leaves; the level's shift says which, so they are stored untyped.
//
// Nodes owned by a non-nil Edit may be written in place by that Edit.
type (
	vbranch struct {
		edit *Edit
		kids [vecWidth]unsafe.Pointer // *vbranch when shift > vecBits, else *vleaf[T]
	}
	vleaf[T any] struct {
		edit *Edit
		vals [leafWidth]T
	}
)

// Vec is a persistent vector indexed 0..Len()-1, implemented as a 32-way
// array-mapped trie with 16-slot leaves (at most 7 levels) and a tail: the
// last 1–16 elements live in a leaf of their own outside the trie, as in
// Clojure's vectors. An append then copies one leaf, not a root-to-leaf
// path, and pushes a full tail into the trie once per 16 appends; appends
// are what a growing tree does once per new node or user in each of its
// vectors, and often in transactions of one. Updates inside the trie cost
// O(log n) path copying.
//
// Vec is a small value (root and tail pointers, height and length);
// copying it is cheap and copies share all structure. The zero Vec is
// empty and ready to use. Updates return a new Vec; see the package
// documentation for the rules governing the Edit argument.
type Vec[T any] struct {
	root  unsafe.Pointer // *vleaf[T] when shift is 0, else *vbranch; nil while len <= leafWidth
	tail  *vleaf[T]      // elements tailStart()..len-1; nil when len is 0
	shift uint           // shift of the root level: 0 when the root is a leaf
	len   int
}

// Len returns the number of elements in v.
func (v Vec[T]) Len() int { return v.len }

// tailStart returns the index of the tail's first element: the number of
// elements in the trie.
func (v Vec[T]) tailStart() int {
	if v.len == 0 {
		return 0
	}
	return (v.len - 1) &^ leafMask
}

// Get returns the element at index i, or the zero T if i is out of range.
// It never panics and does not allocate.
func (v Vec[T]) Get(i int) T {
	if uint(i) >= uint(v.len) {
		var zero T
		return zero
	}
	if i >= v.tailStart() {
		return v.tail.vals[i&leafMask]
	}
	p := v.root
	// Branch shifts are leafBits plus multiples of vecBits, and leafBits <
	// vecBits: counting down in signed steps ends below zero at the leaf.
	for s := int(v.shift); s > 0; s -= vecBits {
		p = (*vbranch)(p).kids[(i>>s)&vecMask]
	}
	return (*vleaf[T])(p).vals[i&leafMask]
}

// Set returns a vector equal to v except that element i is x. If i is out
// of range (i < 0 or i >= Len()), Set returns v unchanged. The Edit argument
// has the same meaning as for [Map.Set].
func (v Vec[T]) Set(e *Edit, i int, x T) Vec[T] {
	if uint(i) >= uint(v.len) {
		return v
	}
	if i >= v.tailStart() {
		v.tail = ownLeaf(e, v.tail)
		v.tail.vals[i&leafMask] = x
		return v
	}
	v.root = vecPut(e, v.root, v.shift, i, x)
	return v
}

// Append returns a vector equal to v with x added at index Len(). The Edit
// argument has the same meaning as for [Map.Set].
func (v Vec[T]) Append(e *Edit, x T) Vec[T] {
	switch {
	case v.len == 0:
		v.tail = &vleaf[T]{edit: e}
	case v.len&leafMask == 0:
		// The tail is full: it becomes the trie's last leaf.
		v.pushTail(e)
		v.tail = &vleaf[T]{edit: e}
	default:
		v.tail = ownLeaf(e, v.tail)
	}
	v.tail.vals[v.len&leafMask] = x
	v.len++
	return v
}

// pushTail puts the full tail into the trie as the leaf of indexes
// len-leafWidth..len-1, copying the branches on the way that e does not
// own. The leaf goes in as it is: a leaf in the trie is copied before any
// write its Edit does not own, as a tail is.
func (v *Vec[T]) pushTail(e *Edit) {
	n := v.len - leafWidth // elements in the trie before the push
	leaf := unsafe.Pointer(v.tail)
	switch {
	case n == 0:
		v.root, v.shift = leaf, 0
	case n == capacity(v.shift):
		// The trie is full: grow a new root level.
		b := &vbranch{edit: e}
		b.kids[0], b.kids[1] = v.root, vecLeafPath(e, v.shift, leaf)
		v.root, v.shift = unsafe.Pointer(b), parentShift(v.shift)
	default:
		v.root = vecPutLeaf(e, v.root, v.shift, n, leaf)
	}
}

// ownBranch returns b if e owns it, else a copy that e owns.
func ownBranch(e *Edit, b *vbranch) *vbranch {
	if e != nil && b.edit == e {
		return b
	}
	c := *b
	c.edit = e
	return &c
}

// ownLeaf returns l if e owns it, else a copy that e owns.
func ownLeaf[T any](e *Edit, l *vleaf[T]) *vleaf[T] {
	if e != nil && l.edit == e {
		return l
	}
	c := *l
	c.edit = e
	return &c
}

// All returns an iterator over the index/element pairs of v in index
// order. Stopping early is safe.
func (v Vec[T]) All() iter.Seq2[int, T] {
	return func(yield func(int, T) bool) {
		i, start := 0, v.tailStart()
		if v.root != nil && !vecEach(v.root, v.shift, &i, start, yield) {
			return
		}
		for ; i < v.len; i++ {
			if !yield(i, v.tail.vals[i&leafMask]) {
				return
			}
		}
	}
}

// vecEach yields the elements below p from index *i up to end. Recursion
// depth is bounded by the trie height.
func vecEach[T any](p unsafe.Pointer, shift uint, i *int, end int, yield func(int, T) bool) bool {
	if shift == 0 {
		for _, x := range (*vleaf[T])(p).vals {
			if *i >= end {
				return true
			}
			if !yield(*i, x) {
				return false
			}
			*i++
		}
		return true
	}
	for _, k := range (*vbranch)(p).kids {
		if *i >= end {
			return true
		}
		if k == nil || !vecEach[T](k, childShift(shift), i, end, yield) {
			return false
		}
	}
	return true
}

// vecLeafPath returns a subtree of the given shift holding only leaf, as
// its first leaf.
func vecLeafPath(e *Edit, shift uint, leaf unsafe.Pointer) unsafe.Pointer {
	if shift == 0 {
		return leaf
	}
	b := &vbranch{edit: e}
	b.kids[0] = vecLeafPath(e, childShift(shift), leaf)
	return unsafe.Pointer(b)
}

// vecPutLeaf stores leaf as the leaf holding index i (a multiple of
// leafWidth, the number of elements in the subtree, which is not full) of
// the subtree at p, copying the branches on the way that e does not own,
// and returns the subtree's new root. Recursion depth is bounded by the
// trie height.
func vecPutLeaf(e *Edit, p unsafe.Pointer, shift uint, i int, leaf unsafe.Pointer) unsafe.Pointer {
	b := (*vbranch)(p)
	idx := (i >> shift) & vecMask
	var child unsafe.Pointer
	switch {
	case shift == leafBits:
		child = leaf
	case i&(1<<shift-1) == 0:
		// i starts a new child: any pointer left in the slot is a
		// discarded intermediate version's, not part of this vector.
		child = vecLeafPath(e, childShift(shift), leaf)
	default:
		child = vecPutLeaf(e, b.kids[idx], childShift(shift), i, leaf)
	}
	b = ownBranch(e, b)
	b.kids[idx] = child
	return unsafe.Pointer(b)
}

// vecPut stores x as element i, which it holds, of the subtree at p,
// copying the nodes on the way that e does not own, and returns the
// subtree's new root. Recursion depth is bounded by the trie height.
func vecPut[T any](e *Edit, p unsafe.Pointer, shift uint, i int, x T) unsafe.Pointer {
	if shift == 0 {
		l := ownLeaf(e, (*vleaf[T])(p))
		l.vals[i&leafMask] = x
		return unsafe.Pointer(l)
	}
	b := (*vbranch)(p)
	idx := (i >> shift) & vecMask
	old := b.kids[idx]
	child := vecPut(e, old, childShift(shift), i, x)
	if child == old {
		return p
	}
	b = ownBranch(e, b)
	b.kids[idx] = child
	return unsafe.Pointer(b)
}

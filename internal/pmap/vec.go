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
// array-mapped trie with 16-slot leaves (at most 7 levels). Appends and
// updates cost O(log n) path copying.
//
// Vec is a small value (root pointer, height and length); copying it is
// cheap and copies share all structure. The zero Vec is empty and ready to
// use. Updates return a new Vec; see the package documentation for the
// rules governing the Edit argument.
type Vec[T any] struct {
	root  unsafe.Pointer // *vleaf[T] when shift is 0, else *vbranch
	shift uint           // shift of the root level: 0 when the root is a leaf
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
	v.root = vecPut(e, v.root, v.shift, i, x, false)
	return v
}

// Append returns a vector equal to v with x added at index Len(). The Edit
// argument has the same meaning as for [Map.Set].
func (v Vec[T]) Append(e *Edit, x T) Vec[T] {
	switch {
	case v.root == nil:
		v.root = vecPath(e, 0, x)
	case v.len == capacity(v.shift):
		// The trie is full: grow a new root level.
		b := &vbranch{edit: e}
		b.kids[0], b.kids[1] = v.root, vecPath(e, v.shift, x)
		v.root, v.shift = unsafe.Pointer(b), parentShift(v.shift)
	default:
		v.root = vecPut(e, v.root, v.shift, v.len, x, true)
	}
	v.len++
	return v
}

// All returns an iterator over the index/element pairs of v in index
// order. Stopping early is safe.
func (v Vec[T]) All() iter.Seq2[int, T] {
	return func(yield func(int, T) bool) {
		if v.root != nil {
			i := 0
			vecEach(v.root, v.shift, &i, v.len, yield)
		}
	}
}

// vecEach yields the elements below p from index *i up to end. Recursion
// depth is bounded by the trie height.
func vecEach[T any](p unsafe.Pointer, shift uint, i *int, end int, yield func(int, T) bool) bool {
	if shift == 0 {
		for _, x := range (*vleaf[T])(p).vals {
			if *i >= end || !yield(*i, x) {
				return false
			}
			*i++
		}
		return true
	}
	for _, k := range (*vbranch)(p).kids {
		if k == nil || !vecEach[T](k, childShift(shift), i, end, yield) {
			return false
		}
	}
	return true
}

// vecPath returns a subtree of the given shift holding only x.
func vecPath[T any](e *Edit, shift uint, x T) unsafe.Pointer {
	if shift == 0 {
		l := &vleaf[T]{edit: e}
		l.vals[0] = x
		return unsafe.Pointer(l)
	}
	b := &vbranch{edit: e}
	b.kids[0] = vecPath(e, childShift(shift), x)
	return unsafe.Pointer(b)
}

// vecPut stores x as element i of the subtree at p, copying the nodes on
// the way that e does not own, and returns the subtree's new root. With
// grow, i is the vector's length and the subtree is not full: a slot i's
// path does not reach yet is created. Recursion depth is bounded by the
// trie height.
func vecPut[T any](e *Edit, p unsafe.Pointer, shift uint, i int, x T, grow bool) unsafe.Pointer {
	if shift == 0 {
		l := (*vleaf[T])(p)
		if e == nil || l.edit != e {
			c := *l
			c.edit = e
			l = &c
		}
		l.vals[i&leafMask] = x
		return unsafe.Pointer(l)
	}
	b := (*vbranch)(p)
	idx := (i >> shift) & vecMask
	old := b.kids[idx]
	var child unsafe.Pointer
	if grow && i&(1<<shift-1) == 0 {
		// i starts a new child: any pointer left in the slot is a
		// discarded intermediate version's, not part of this vector.
		child = vecPath(e, childShift(shift), x)
	} else {
		child = vecPut(e, old, childShift(shift), i, x, grow)
	}
	if child == old {
		return p
	}
	if e == nil || b.edit != e {
		c := *b
		c.edit = e
		b = &c
	}
	b.kids[idx] = child
	return unsafe.Pointer(b)
}

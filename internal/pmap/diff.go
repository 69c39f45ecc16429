package pmap

import (
	"math/bits"
	"unsafe"
)

// Diffs walk two versions of a container side by side and skip every
// subtree the two share (same pointer): two versions built from one another
// share all but the paths their updates copied, so a diff costs about what
// those updates cost, not the size of the container. Subtrees that are not
// shared are compared element by element, so the result is exact for any
// two containers, related or not.

// Diff calls yield for every index below the larger of the two lengths
// where old and v hold elements that same does not consider equal. An
// index present in only one vector is reported with the zero T on the
// other side, and its presence flags say which sides hold it. Elements in
// subtrees the two vectors share are never compared. Stopping early (yield
// returns false) is safe.
func (v Vec[T]) Diff(old Vec[T], same func(a, b T) bool, yield func(i int, oldX, newX T, inOld, inNew bool) bool) {
	var zero T
	common := min(old.len, v.len)
	inTries := min(old.tailStart(), v.tailStart())
	if inTries > 0 {
		a, b := old.root, v.root
		as, bs := old.shift, v.shift
		// Bring both roots to the same height: the taller one's first
		// child chain covers the indexes of the shorter one (growing a
		// trie makes the old root the new root's first child).
		for as > bs {
			a, as = (*vbranch)(a).kids[0], childShift(as)
		}
		for bs > as {
			b, bs = (*vbranch)(b).kids[0], childShift(bs)
		}
		if !vecDiff(a, b, as, 0, inTries, same, yield) {
			return
		}
	}
	// The rest of the common part is in a tail on at least one side: at
	// most a leaf's worth of elements.
	for i := inTries; i < common; i++ {
		a, b := old.Get(i), v.Get(i)
		if !same(a, b) && !yield(i, a, b, true, true) {
			return
		}
	}
	for i := common; i < old.len; i++ {
		if !yield(i, old.Get(i), zero, true, false) {
			return
		}
	}
	for i := common; i < v.len; i++ {
		if !yield(i, zero, v.Get(i), false, true) {
			return
		}
	}
}

// vecDiff compares the subtrees a and b (same shift, first index base) up
// to index end. Recursion depth is bounded by the trie height.
func vecDiff[T any](a, b unsafe.Pointer, shift uint, base, end int, same func(a, b T) bool, yield func(int, T, T, bool, bool) bool) bool {
	if a == b || base >= end {
		return true
	}
	if shift == 0 {
		la, lb := (*vleaf[T])(a), (*vleaf[T])(b)
		for j := range leafWidth {
			i := base + j
			if i >= end {
				break
			}
			if !same(la.vals[j], lb.vals[j]) && !yield(i, la.vals[j], lb.vals[j], true, true) {
				return false
			}
		}
		return true
	}
	ba, bb := (*vbranch)(a), (*vbranch)(b)
	step := 1 << shift
	for j := range vecWidth {
		lo := base + j*step
		if lo >= end {
			break
		}
		if !vecDiff(ba.kids[j], bb.kids[j], childShift(shift), lo, end, same, yield) {
			return false
		}
	}
	return true
}

// Diff calls yield for every key whose entry differs between old and m:
// present in one only (the flags say which), or present in both with values
// that same does not consider equal. Subtrees the two maps share are never
// visited. Keys come in unspecified order; stopping early is safe.
func (m Map[V]) Diff(old Map[V], same func(a, b V) bool, yield func(key string, oldV, newV V, inOld, inNew bool) bool) {
	d := mapDiffer[V]{same: same, yield: yield}
	d.node(old.root, m.root, 0)
}

type mapDiffer[V any] struct {
	same  func(a, b V) bool
	yield func(string, V, V, bool, bool) bool
	stop  bool
	// scratch for comparing small groups of entries
	olds, news []entry[V]
}

// node compares two subtrees at one shift (either may be nil).
// Recursion depth is bounded by the trie height.
func (d *mapDiffer[V]) node(a, b *mnode[V], shift uint) {
	if a == b || d.stop {
		return
	}
	if a == nil || b == nil || shift >= 64 {
		d.group(a, b, nil, nil)
		return
	}
	all := a.datamap | a.nodemap | b.datamap | b.nodemap
	for all != 0 && !d.stop {
		bit := all & -all
		all &^= bit
		ac, bc := childAt(a, bit), childAt(b, bit)
		if ac != nil && bc != nil {
			d.node(ac, bc, shift+mapBits)
			continue
		}
		// At least one side is an inline entry (or absent): the other
		// side's subtree under this fragment is compared entry by entry.
		d.group(ac, bc, entryAt(a, bit), entryAt(b, bit))
	}
}

func childAt[V any](n *mnode[V], bit uint64) *mnode[V] {
	if n.nodemap&bit == 0 {
		return nil
	}
	return n.children[bits.OnesCount64(n.nodemap&(bit-1))]
}

func entryAt[V any](n *mnode[V], bit uint64) *entry[V] {
	if n.datamap&bit == 0 {
		return nil
	}
	return &n.entries[bits.OnesCount64(n.datamap&(bit-1))]
}

// group compares everything under subtree a plus entry ea with everything
// under subtree b plus entry eb, by key.
func (d *mapDiffer[V]) group(a, b *mnode[V], ea, eb *entry[V]) {
	var zero V
	if a == nil && ea == nil || b == nil && eb == nil {
		// One side is empty: everything on the other side is reported
		// as is (no pairing by key, which is quadratic).
		n, e, isNew := b, eb, true
		if b == nil && eb == nil {
			n, e, isNew = a, ea, false
		}
		one := func(k string, v V) bool {
			if isNew {
				return d.yield(k, zero, v, false, true)
			}
			return d.yield(k, v, zero, true, false)
		}
		if e != nil && !one(e.key, e.val) {
			d.stop = true
			return
		}
		if n != nil && !n.each(one) {
			d.stop = true
		}
		return
	}
	olds, news := d.olds[:0], d.news[:0]
	if ea != nil {
		olds = append(olds, *ea)
	}
	if eb != nil {
		news = append(news, *eb)
	}
	if a != nil {
		a.each(func(k string, v V) bool { olds = append(olds, entry[V]{key: k, val: v}); return true })
	}
	if b != nil {
		b.each(func(k string, v V) bool { news = append(news, entry[V]{key: k, val: v}); return true })
	}
	for i := range olds {
		found := false
		for j := range news {
			if news[j].key == olds[i].key {
				found = true
				if !d.same(olds[i].val, news[j].val) && !d.yield(olds[i].key, olds[i].val, news[j].val, true, true) {
					d.stop = true
					return
				}
				break
			}
		}
		if !found && !d.yield(olds[i].key, olds[i].val, zero, true, false) {
			d.stop = true
			return
		}
	}
	for j := range news {
		found := false
		for i := range olds {
			if olds[i].key == news[j].key {
				found = true
				break
			}
		}
		if !found && !d.yield(news[j].key, zero, news[j].val, false, true) {
			d.stop = true
			return
		}
	}
	d.olds, d.news = olds[:0], news[:0]
}

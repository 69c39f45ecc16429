package orgtree

import (
	"slices"

	"github.com/orgtree/orgtree/internal/pmap"
)

// Depths and subtree rollups. Every node has a depth (root = 0) and a
// distinct count: the users with at least one membership anywhere in its
// subtree. Both live beside the node records, in vectors of small values
// (state.roll for depth and parent, state.counts for the distinct counts),
// so that keeping them costs no copy of a node record and never marks a
// node as changed: a member change rewrites a few 4-byte counts, not a
// dozen records. The counts have a vector of their own because member
// changes, the most frequent writes, touch nothing else: each count a
// change copies drags its vector leaf along, and a leaf of counts is a
// third of the bytes of a leaf of whole rollups.
//
// A user u counts at node a exactly when a is an ancestor-or-self of one of
// u's departments, and those nodes form a union of root paths. So when u
// joins or leaves n, only the ancestors of n deeper than the deepest one
// still covered by u's other departments change: O(k·depth) for a user in k
// departments, never a walk of the subtree. A move changes the depth of
// every node of the moved subtree (O(subtree), one small entry each) and
// the counts of the two root paths, for the users with memberships in the
// subtree (O(those memberships · depth) with per-department memos).

// rollup is the derived per-node structure kept in state.roll.
type rollup struct {
	depth int32 // root = 0
	// parent repeats the node record's parent: the walks up to the root
	// that member changes and moves make for many departments then read
	// this compact vector, not a record each.
	parent nid
}

func (st *state) depth(n nid) int { return int(st.roll.Get(int(n)).depth) }

// parentOf returns the parent of live node n, 0 for a root.
func (st *state) parentOf(n nid) nid { return st.roll.Get(int(n)).parent }

// setParent records n's new parent in its rollup (the record's own link is
// set by the caller).
func (tx *Tx) setParent(n, p nid) {
	r := tx.st.roll.Get(int(n))
	r.parent = p
	tx.st.roll = tx.st.roll.Set(tx.edit, int(n), r)
}

// distinct returns the number of distinct users with a membership in n's
// subtree: the kept count, or a count by walking the subtree while a large
// transaction has stopped keeping them.
func (st *state) distinct(n nid) int {
	if st.staleCounts {
		return len(st.subtreeUsers(n))
	}
	return int(st.counts.Get(int(n)))
}

// appendNode makes room for one more node slot in the vectors kept beside
// the node records.
func (st *state) appendNode(e *pmap.Edit, r rollup) {
	st.roll = st.roll.Append(e, r)
	st.counts = st.counts.Append(e, 0)
}

// bulkLinks is the number of memberships after which a transaction that
// adds more than a quarter of the tree's memberships stops keeping distinct
// counts one by one and has commit recompute them all, in
// O(memberships·depth) once instead of O(k·depth) per membership. A
// variable so tests can force it.
var bulkLinks = 4096

// bulkEntries is the number of nodes or users a transaction must add for
// its commit to fold the lookup indexes completely.
const bulkEntries = 4096

// countLink notes one more membership made by the transaction.
func (tx *Tx) countLink() {
	tx.links++
	if !tx.st.staleCounts && tx.links > bulkLinks && tx.links > tx.base.memberships/4 {
		tx.st.staleCounts = true
		// A bulk load looks up every node and user it links: fold the id
		// indexes now so each lookup takes one probe.
		st := tx.st
		st.nodeIDs, st.userIDs = st.nodeIDs.Own(tx.edit), st.userIDs.Own(tx.edit)
	}
}

// addDistinct adds delta to the distinct count of n and of its levels-1
// nearest ancestors.
func (tx *Tx) addDistinct(n nid, levels int, delta int32) {
	st := tx.st
	for ; levels > 0 && n != 0; levels-- {
		st.counts = st.counts.Set(tx.edit, int(n), st.counts.Get(int(n))+delta)
		n = st.parentOf(n)
	}
}

// rootPath returns the handles from the root down to n, indexed by depth.
func (st *state) rootPath(n nid) []nid {
	if n == 0 {
		return nil
	}
	path := make([]nid, st.depth(n)+1)
	for i := len(path) - 1; i >= 0; i-- {
		path[i] = n
		n = st.parentOf(n)
	}
	return path
}

// coveredOn returns the depth of the deepest node of path (root first,
// indexed by depth) that is an ancestor-or-self of d, or -1 if there is
// none (d is in another org). O(depth of d), no allocation.
func (st *state) coveredOn(path []nid, d nid) int {
	k := st.depth(d)
	for ; k >= len(path); k-- {
		d = st.parentOf(d)
	}
	for ; k >= 0 && path[k] != d; k-- {
		d = st.parentOf(d)
	}
	return k
}

// directCoverUsers is the most users a move works out without memos.
const directCoverUsers = 64

// coveredOnBoth is coveredOn for two paths (root first, indexed by depth)
// in one walk up from d. It stops at depth stop: a path met only above it
// reads as -1, which the caller treats alike.
func (st *state) coveredOnBoth(a, b []nid, d nid, stop int) (ka, kb int) {
	ka, kb = -1, -1
	k := st.depth(d)
	for top := max(len(a), len(b)) - 1; k > top; k-- {
		d = st.parentOf(d)
	}
	for ; k >= stop && (ka < 0 || kb < 0); k-- {
		if ka < 0 && k < len(a) && a[k] == d {
			ka = k
		}
		if kb < 0 && k < len(b) && b[k] == d {
			kb = k
		}
		d = st.parentOf(d)
	}
	return ka, kb
}

// lcaDepth returns the depth of the deepest common ancestor of a (at depth
// da) and b, or -1 if they are in different orgs.
func (st *state) lcaDepth(a nid, da int, b nid) int {
	db := st.depth(b)
	for ; da > db; da-- {
		a = st.parentOf(a)
	}
	for ; db > da; db-- {
		b = st.parentOf(b)
	}
	for a != b {
		a, b = st.parentOf(a), st.parentOf(b)
		da--
	}
	return da
}

// coverChange updates the rollups for u joining (+1) or leaving (-1) n;
// u's department list must not contain n when it is called.
func (tx *Tx) coverChange(n nid, u uid, delta int32) {
	st := tx.st
	if st.staleCounts {
		return
	}
	depth := st.depth(n)
	covered := -1
	for _, d := range st.user(u).depts {
		if covered = max(covered, st.lcaDepth(n, depth, d)); covered == depth {
			return // another department lies in n's subtree: no count changes
		}
	}
	tx.addDistinct(n, depth-covered, delta)
}

// inSubtree reports whether n lies in top's subtree. O(depth difference).
func (st *state) inSubtree(n, top nid) bool {
	for k := st.depth(n) - st.depth(top); k > 0; k-- {
		n = st.parentOf(n)
	}
	return n == top
}

// subtreeUsers returns the distinct users with a membership in top's subtree.
func (st *state) subtreeUsers(top nid) []uid {
	_, users := st.subtreeScan(top, nil)
	return users
}

// subtreeScan walks top's subtree once, calling visit (if not nil) on each
// node: which handles lie in it, and the distinct users with a membership
// there.
func (st *state) subtreeScan(top nid, visit func(nid)) (inS func(nid) bool, users []uid) {
	in, seen := newHandleSet[nid](st.nodes.Len()), newHandleSet[uid](st.users.Len())
	stack := []nid{top}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		in.add(n)
		if visit != nil {
			visit(n)
		}
		r := st.node(n)
		for _, m := range r.members {
			if seen.add(m.user) {
				users = append(users, m.user)
			}
		}
		stack = append(stack, r.children...)
	}
	return in.has, users
}

// handleSet is a set of handles: a small hash table while it is small, a
// table indexed by handle once it holds a sixty-fourth of all handles, so
// that small subtrees do not allocate tables the size of the tree and large
// ones do not pay for hashing.
type handleSet[H nid | uid] struct {
	small   probeTable[H]
	table   []bool
	handles int
}

func newHandleSet[H nid | uid](handles int) *handleSet[H] {
	return &handleSet[H]{handles: handles}
}

// add puts h in the set and reports whether it was new.
func (s *handleSet[H]) add(h H) bool {
	if s.table != nil {
		if s.table[h] {
			return false
		}
		s.table[h] = true
		return true
	}
	if !s.small.put(h, 0) {
		return false
	}
	if s.small.n*64 > s.handles {
		s.table = make([]bool, s.handles)
		for k := range s.small.all {
			s.table[k] = true
		}
		s.small = probeTable[H]{}
	}
	return true
}

func (s *handleSet[H]) has(h H) bool {
	if s.table != nil {
		return s.table[h]
	}
	_, ok := s.small.get(h)
	return ok
}

// probeTable maps non-zero handles to int32 values by open addressing in
// two parallel arrays: the sets and memos of a small move or delete cost a
// few allocations, where a built-in map costs a table and its growth.
type probeTable[H nid | uid] struct {
	keys []H // 0: free
	vals []int32
	n    int
}

// slot returns where h is or would go; the table must have room.
func (t *probeTable[H]) slot(h H) int {
	mask := len(t.keys) - 1
	i := int(uint32(h)*2654435769>>7) & mask // Fibonacci hashing
	for t.keys[i] != 0 && t.keys[i] != h {
		i = (i + 1) & mask
	}
	return i
}

func (t *probeTable[H]) get(h H) (int32, bool) {
	if t.n == 0 {
		return 0, false
	}
	i := t.slot(h)
	return t.vals[i], t.keys[i] == h
}

// put sets h's value and reports whether h was new.
func (t *probeTable[H]) put(h H, v int32) bool {
	if 2*(t.n+1) > len(t.keys) {
		t.grow()
	}
	i := t.slot(h)
	t.vals[i] = v
	if t.keys[i] == h {
		return false
	}
	t.keys[i] = h
	t.n++
	return true
}

func (t *probeTable[H]) grow() {
	old, oldVals := t.keys, t.vals
	size := max(32, 2*len(old))
	t.keys, t.vals = make([]H, size), make([]int32, size)
	for i, k := range old {
		if k != 0 {
			j := t.slot(k)
			t.keys[j], t.vals[j] = k, oldVals[i]
		}
	}
}

// all yields the keys present.
func (t *probeTable[H]) all(yield func(H, int32) bool) {
	for i, k := range t.keys {
		if k != 0 && !yield(k, t.vals[i]) {
			return
		}
	}
}

// depthMemo answers coveredOn(path, d) for many departments d, remembering
// the answer of every node it walks through: a node deeper than the path's
// end has its parent's answer, so the departments of a large subtree's
// users cost one walk over their ancestors in all, not one walk each. The
// memo is a small hash table while small, a table by handle once large.
type depthMemo struct {
	st    *state
	path  []nid
	small probeTable[nid]
	table []int32 // answer+2 per handle; 0 = unknown
	walk  []nid
}

func (st *state) memoOn(path []nid) *depthMemo {
	return &depthMemo{st: st, path: path}
}

func (m *depthMemo) get(n nid) (int, bool) {
	if m.table != nil {
		k := m.table[n]
		return int(k) - 2, k != 0
	}
	k, ok := m.small.get(n)
	return int(k), ok
}

func (m *depthMemo) put(n nid, k int) {
	if m.table == nil && m.small.n*64 > m.st.nodes.Len() {
		m.table = make([]int32, m.st.nodes.Len())
		for h, v := range m.small.all {
			m.table[h] = v + 2
		}
		m.small = probeTable[nid]{}
	}
	if m.table != nil {
		m.table[n] = int32(k) + 2
	} else {
		m.small.put(n, int32(k))
	}
}

func (m *depthMemo) covered(d nid) int {
	if k, ok := m.get(d); ok {
		return k
	}
	// Walk up while below the path's end and unknown; the first known or
	// shallow enough node answers for every node walked.
	st, last := m.st, len(m.path)-1
	m.walk = m.walk[:0]
	n, k := d, 0
	for {
		if known, ok := m.get(n); ok {
			k = known
			break
		}
		if st.depth(n) <= last {
			k = st.coveredOn(m.path, n)
			break
		}
		m.walk = append(m.walk, n)
		n = st.parentOf(n)
	}
	m.put(n, k)
	for _, w := range m.walk {
		m.put(w, k)
	}
	return k
}

// levelCounts turns per-user thresholds into per-depth counts: after
// count(t) for each user whose change starts at depth t, at(i) is the
// number of users whose change reaches depth i.
type levelCounts []int32

func (c levelCounts) count(t int) {
	if t < len(c) {
		c[t]++
	}
}

func (c levelCounts) accumulate() {
	for i := 1; i < len(c); i++ {
		c[i] += c[i-1]
	}
}

// moveRollups fixes depths and distinct counts for moving subtree n from its
// current parent to newParent. It must run before the links change.
func (tx *Tx) moveRollups(n, newParent nid) {
	st := tx.st
	oldPath, newPath := st.rootPath(st.parentOf(n)), st.rootPath(newParent)
	common := 0 // the nodes above both positions keep their counts
	for common < len(oldPath) && common < len(newPath) && oldPath[common] == newPath[common] {
		common++
	}
	shift := int32(len(newPath) - len(oldPath))
	var visit func(nid)
	if shift != 0 {
		visit = func(m nid) {
			r := st.roll.Get(int(m))
			r.depth += shift
			st.roll = st.roll.Set(tx.edit, int(m), r)
		}
	}
	// The counts below read depths outside the subtree only (both paths lie
	// outside it), so the depths inside it can shift during the same scan.
	inside := st.counts.Get(int(n))
	if st.staleCounts || inside == 0 {
		if visit != nil {
			st.eachInSubtree(n, visit)
		}
		return
	}
	// A large subtree moved beside a small rest of the org (a reorganisation
	// under the root) is cheaper to count from the outside: the changed
	// counts are those of the two path segments below the common ancestor,
	// and what they keep is found in the segments' own subtrees.
	budget := 2*int(inside) + 16
	loss, ok := st.segmentCounts(oldPath, common, n, inside, &budget)
	var gain levelCounts
	if ok {
		gain, ok = st.segmentCounts(newPath, common, n, inside, &budget)
	}
	if ok {
		if visit != nil {
			st.eachInSubtree(n, visit)
		}
		tx.applyLevelCounts(oldPath, common, loss, -1)
		tx.applyLevelCounts(newPath, common, gain, +1)
		return
	}
	inS, users := st.subtreeScan(n, visit)
	loss, gain = make(levelCounts, len(oldPath)), make(levelCounts, len(newPath))
	// A few users (a leaf's members) walk each other department up once for
	// both paths; many share their walks through the memos.
	var oldMemo, newMemo *depthMemo
	if len(users) > directCoverUsers {
		oldMemo, newMemo = st.memoOn(oldPath), st.memoOn(newPath)
	}
	stop := max(common-1, 0)
	for _, u := range users {
		lOld, lNew := -1, -1
		for _, d := range st.user(u).depts {
			switch {
			case inS(d):
			case oldMemo == nil:
				a, b := st.coveredOnBoth(oldPath, newPath, d, stop)
				lOld, lNew = max(lOld, a), max(lNew, b)
			default:
				lOld, lNew = max(lOld, oldMemo.covered(d)), max(lNew, newMemo.covered(d))
			}
		}
		loss.count(max(lOld+1, common))
		gain.count(max(lNew+1, common))
	}
	loss.accumulate()
	gain.accumulate()
	tx.applyLevelCounts(oldPath, common, loss, -1)
	tx.applyLevelCounts(newPath, common, gain, +1)
}

// applyLevelCounts adds sign·counts[i] to the distinct count of path[i]
// for every depth i from common on.
func (tx *Tx) applyLevelCounts(path []nid, common int, counts levelCounts, sign int32) {
	for i := common; i < len(path); i++ {
		if counts[i] != 0 {
			tx.addDistinct(path[i], 1, sign*counts[i])
		}
	}
}

// segmentCounts works out, for the nodes of path (root first) from depth
// common on, how many of the inside users of subtree n (those with a
// membership in it) have no membership in that node's subtree outside n:
// the users whose count there n's leaving takes away (path is n's old root
// path) or n's coming adds (its new one). It scans the subtree of
// path[common] without n, spending budget (a node and a membership a unit
// each) and gives up (false) when the budget runs out; with an empty
// segment it costs nothing.
func (st *state) segmentCounts(path []nid, common int, n nid, inside int32, budget *int) (levelCounts, bool) {
	if common >= len(path) {
		return make(levelCounts, len(path)), true
	}
	// The users counted at the segment's top, less the inside ones, have a
	// membership each in what the scan would read: when they alone exceed
	// the budget (a leaf moved within a big org), give up before starting.
	if outside := int(st.counts.Get(int(path[common]))) - int(inside); outside > *budget {
		*budget = -1
		return nil, false
	}
	counts := make(levelCounts, len(path))
	// reach maps each inside user met in the segment's subtree to the
	// deepest segment level whose subtree holds one of its memberships;
	// outsider marks the users met with no membership in n.
	const outsider = -1
	var reach probeTable[uid]
	type item struct {
		n     nid
		level int
	}
	stack := []item{{path[common], common}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		r := st.node(it.n)
		if *budget -= 1 + len(r.members); *budget < 0 {
			return nil, false
		}
		for _, m := range r.members {
			had, met := reach.get(m.user)
			switch {
			case !met:
				depts := st.user(m.user).depts
				*budget -= len(depts)
				if !slices.ContainsFunc(depts, func(d nid) bool { return st.inSubtree(d, n) }) {
					reach.put(m.user, outsider)
					continue
				}
				reach.put(m.user, int32(it.level))
			case had != outsider && int32(it.level) > had:
				reach.put(m.user, int32(it.level))
			}
		}
		for _, c := range r.children {
			if c == n {
				continue
			}
			level := it.level
			if level+1 < len(path) && path[level+1] == c {
				level++
			}
			stack = append(stack, item{c, level})
		}
	}
	// kept[i]: inside users with a membership outside n under path[i].
	kept := make(levelCounts, len(path)+1)
	for _, level := range reach.all {
		if level != outsider {
			kept[level]++
		}
	}
	for i := len(path) - 1; i >= common; i-- {
		kept[i] += kept[i+1]
		counts[i] = inside - kept[i]
	}
	return counts, true
}

// eachInSubtree calls visit for every node of top's subtree.
func (st *state) eachInSubtree(top nid, visit func(nid)) {
	stack := []nid{top}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		visit(n)
		stack = append(stack, st.node(n).children...)
	}
}

// dropRollups fixes the counts above a subtree whose memberships are gone
// (deleteSubtree): each of users still counts above it only as far up as
// its other departments.
func (tx *Tx) dropRollups(above []nid, users []uid) {
	st := tx.st
	if st.staleCounts {
		return
	}
	loss := make(levelCounts, len(above))
	memo := st.memoOn(above)
	for _, u := range users {
		if ur := st.user(u); ur != nil {
			covered := -1
			for _, d := range ur.depts {
				covered = max(covered, memo.covered(d))
			}
			loss.count(covered + 1)
		}
	}
	loss.accumulate()
	for i, a := range above {
		if loss[i] != 0 {
			tx.addDistinct(a, 1, -loss[i])
		}
	}
}

// rebuildRollups computes depths and distinct counts from scratch (after a
// load).
func (tx *Tx) rebuildRollups() {
	st := tx.st
	roll, counts := st.computeRollups()
	for i, r := range st.nodes.All() {
		if r == nil {
			continue
		}
		if st.roll.Get(i) != roll[i] {
			st.roll = st.roll.Set(tx.edit, i, roll[i])
		}
		if st.counts.Get(i) != counts[i] {
			st.counts = st.counts.Set(tx.edit, i, counts[i])
		}
	}
}

// computeRollups returns what every node's rollup and distinct count must
// be, by brute force: depths by walking every org from its root, distinct
// counts by marking each user's root paths. Nodes no root reaches get depth
// -1. Check and Load use it; it is iterative and safe on broken structures.
func (st *state) computeRollups() (roll []rollup, counts []int32) {
	roll, counts = make([]rollup, st.nodes.Len()), make([]int32, st.nodes.Len())
	for i, r := range st.nodes.All() {
		roll[i].depth = -1
		if r != nil {
			roll[i].parent = r.parent
		}
	}
	for _, o := range st.orgs.All() {
		if st.node(o.root) == nil {
			continue
		}
		roll[o.root].depth = 0
		for stack := []nid{o.root}; len(stack) > 0; {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, c := range st.node(n).children {
				if st.node(c) != nil && roll[c].depth < 0 {
					roll[c].depth = roll[n].depth + 1
					stack = append(stack, c)
				}
			}
		}
	}
	// Walking up a flat copy of the parent links reads one array instead
	// of the node trie: a user's root paths are most of this function.
	parent := make([]nid, st.nodes.Len())
	live := make([]bool, st.nodes.Len())
	for i, r := range st.nodes.All() {
		if r != nil {
			parent[i], live[i] = r.parent, true
		}
	}
	mark := make([]uint32, st.nodes.Len()) // last user (handle+1) counted at a node
	for i, r := range st.users.All() {
		if r == nil {
			continue
		}
		stamp := uint32(i) + 1
		for _, d := range r.depts {
			for a := d; int(a) < len(live) && a != 0 && live[a] && mark[a] != stamp; a = parent[a] {
				mark[a] = stamp
				counts[a]++
			}
		}
	}
	return roll, counts
}

// attachRollups sets the distinct counts of a subtree whose memberships were
// added without them (a bulk import, whose nodes got their depths when
// inserted): counts inside it from scratch, then the path above it as if
// the subtree had moved in. O(subtree + memberships·depth).
func (tx *Tx) attachRollups(top nid) {
	st := tx.st
	if st.staleCounts {
		return
	}
	inT, users := st.subtreeScan(top, nil)
	stamp := map[nid]int{}
	for k, u := range users {
		for _, d := range st.user(u).depts {
			if !inT(d) {
				continue
			}
			for a := d; ; a = st.parentOf(a) {
				if s, ok := stamp[a]; ok && s == k {
					break
				}
				stamp[a] = k
				tx.addDistinct(a, 1, +1)
				if a == top {
					break
				}
			}
		}
	}
	above := st.rootPath(st.parentOf(top))
	if len(above) == 0 {
		return
	}
	gain := make(levelCounts, len(above))
	memo := st.memoOn(above)
	for _, u := range users {
		covered := -1
		for _, d := range st.user(u).depts {
			if !inT(d) {
				covered = max(covered, memo.covered(d))
			}
		}
		gain.count(covered + 1)
	}
	gain.accumulate()
	for i, a := range above {
		if gain[i] != 0 {
			tx.addDistinct(a, 1, gain[i])
		}
	}
}

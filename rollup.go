package orgtree

// Depths and subtree rollups. Every node has a depth (root = 0) and a
// distinct count: the users with at least one membership anywhere in its
// subtree. Both live beside the node records, in a vector of small values
// (state.roll), so that keeping them costs no copy of a node record and
// never marks a node as changed: a member change rewrites a few 8-byte
// entries, not a dozen records.
//
// A user u counts at node a exactly when a is an ancestor-or-self of one of
// u's departments, and those nodes form a union of root paths. So when u
// joins or leaves n, only the ancestors of n deeper than the deepest one
// still covered by u's other departments change: O(k·depth) for a user in k
// departments, never a walk of the subtree. A move changes the depth of
// every node of the moved subtree (O(subtree), one small entry each) and
// the counts of the two root paths, for the users with memberships in the
// subtree (O(those memberships · depth) with per-department memos).

// rollup is the derived per-node data kept in state.roll.
type rollup struct {
	distinct int32 // distinct users with a membership in the subtree
	depth    int32 // root = 0
}

func (st *state) depth(n nid) int { return int(st.roll.Get(int(n)).depth) }

// distinct returns the number of distinct users with a membership in n's
// subtree: the kept count, or a count by walking the subtree while a large
// transaction has stopped keeping them.
func (st *state) distinct(n nid) int {
	if st.staleCounts {
		return len(st.subtreeUsers(n))
	}
	return int(st.roll.Get(int(n)).distinct)
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
		st.nodeIDs, st.userIDs = st.nodeIDs.Compact(), st.userIDs.Compact()
	}
}

// addDistinct adds delta to the distinct count of n and of its levels-1
// nearest ancestors.
func (tx *Tx) addDistinct(n nid, levels int, delta int32) {
	st := tx.st
	for ; levels > 0 && n != 0; levels-- {
		r := st.roll.Get(int(n))
		r.distinct += delta
		st.roll = st.roll.Set(tx.edit, int(n), r)
		n = st.node(n).parent
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
		n = st.node(n).parent
	}
	return path
}

// coveredOn returns the depth of the deepest node of path (root first,
// indexed by depth) that is an ancestor-or-self of d, or -1 if there is
// none (d is in another org). O(depth of d), no allocation.
func (st *state) coveredOn(path []nid, d nid) int {
	k := st.depth(d)
	for ; k >= len(path); k-- {
		d = st.node(d).parent
	}
	for ; k >= 0 && path[k] != d; k-- {
		d = st.node(d).parent
	}
	return k
}

// lcaDepth returns the depth of the deepest common ancestor of a (at depth
// da) and b, or -1 if they are in different orgs.
func (st *state) lcaDepth(a nid, da int, b nid) int {
	db := st.depth(b)
	for ; da > db; da-- {
		a = st.node(a).parent
	}
	for ; db > da; db-- {
		b = st.node(b).parent
	}
	for a != b {
		a, b = st.node(a).parent, st.node(b).parent
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
		n = st.node(n).parent
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

// handleSet is a set of handles: a map while it is small, a table indexed
// by handle once it holds a sixty-fourth of all handles, so that small
// subtrees do not allocate tables the size of the tree and large ones do
// not pay for hashing.
type handleSet[H nid | uid] struct {
	small   map[H]struct{}
	table   []bool
	handles int
}

func newHandleSet[H nid | uid](handles int) *handleSet[H] {
	return &handleSet[H]{small: map[H]struct{}{}, handles: handles}
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
	if _, ok := s.small[h]; ok {
		return false
	}
	s.small[h] = struct{}{}
	if len(s.small)*64 > s.handles {
		s.table = make([]bool, s.handles)
		for k := range s.small {
			s.table[k] = true
		}
		s.small = nil
	}
	return true
}

func (s *handleSet[H]) has(h H) bool {
	if s.table != nil {
		return s.table[h]
	}
	_, ok := s.small[h]
	return ok
}

// depthMemo answers coveredOn(path, d) for many departments d, remembering
// the answer of every node it walks through: a node deeper than the path's
// end has its parent's answer, so the departments of a large subtree's
// users cost one walk over their ancestors in all, not one walk each. The
// memo is a map while small, a table by handle once large.
type depthMemo struct {
	st    *state
	path  []nid
	small map[nid]int32
	table []int32 // answer+2 per handle; 0 = unknown
	walk  []nid
}

func (st *state) memoOn(path []nid) *depthMemo {
	return &depthMemo{st: st, path: path, small: map[nid]int32{}}
}

func (m *depthMemo) get(n nid) (int, bool) {
	if m.table != nil {
		k := m.table[n]
		return int(k) - 2, k != 0
	}
	k, ok := m.small[n]
	return int(k), ok
}

func (m *depthMemo) put(n nid, k int) {
	if m.table == nil && len(m.small)*64 > m.st.nodes.Len() {
		m.table = make([]int32, m.st.nodes.Len())
		for h, v := range m.small {
			m.table[h] = v + 2
		}
		m.small = nil
	}
	if m.table != nil {
		m.table[n] = int32(k) + 2
	} else {
		m.small[n] = int32(k)
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
		n = st.node(n).parent
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
	oldPath, newPath := st.rootPath(st.node(n).parent), st.rootPath(newParent)
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
	if st.staleCounts || st.roll.Get(int(n)).distinct == 0 {
		if visit != nil {
			st.subtreeScan(n, visit)
		}
		return
	}
	inS, users := st.subtreeScan(n, visit)
	loss, gain := make(levelCounts, len(oldPath)), make(levelCounts, len(newPath))
	oldMemo, newMemo := st.memoOn(oldPath), st.memoOn(newPath)
	for _, u := range users {
		lOld, lNew := -1, -1
		for _, d := range st.user(u).depts {
			if !inS(d) {
				lOld, lNew = max(lOld, oldMemo.covered(d)), max(lNew, newMemo.covered(d))
			}
		}
		loss.count(max(lOld+1, common))
		gain.count(max(lNew+1, common))
	}
	loss.accumulate()
	gain.accumulate()
	for i := common; i < len(oldPath); i++ {
		if loss[i] != 0 {
			tx.addDistinct(oldPath[i], 1, -loss[i])
		}
	}
	for i := common; i < len(newPath); i++ {
		if gain[i] != 0 {
			tx.addDistinct(newPath[i], 1, gain[i])
		}
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
	roll := st.computeRollups()
	for i, r := range st.nodes.All() {
		if r != nil && st.roll.Get(i) != roll[i] {
			st.roll = st.roll.Set(tx.edit, i, roll[i])
		}
	}
}

// computeRollups returns what every node's rollup must be, by brute force:
// depths by walking every org from its root, distinct counts by marking
// each user's root paths. Nodes no root reaches get depth -1. Check and
// Load use it; it is iterative and safe on broken structures.
func (st *state) computeRollups() []rollup {
	roll := make([]rollup, st.nodes.Len())
	for i := range roll {
		roll[i].depth = -1
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
				roll[a].distinct++
			}
		}
	}
	return roll
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
			for a := d; ; a = st.node(a).parent {
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
	above := st.rootPath(st.node(top).parent)
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

package orgtree

// Subtree rollups. Every node keeps size (nodes in its subtree, itself
// included) and distinct (users with at least one membership anywhere in its
// subtree). A user u counts at node a exactly when a is an ancestor-or-self
// of one of u's departments, and those nodes form a union of root paths. So
// when u joins or leaves node n, only the ancestors of n deeper than the
// deepest one still covered by u's other departments change: O(k·depth) for a
// user in k departments, never a walk of the subtree. Moves and deletes
// recompute only the users with memberships in the moved or deleted subtree,
// and only along the two root paths.

// rootPath returns the handles from the root down to n.
func (st *state) rootPath(n nid) []nid {
	var up []nid
	for ; n != 0; n = st.node(n).parent {
		up = append(up, n)
	}
	for i, j := 0, len(up)-1; i < j; i, j = i+1, j-1 {
		up[i], up[j] = up[j], up[i]
	}
	return up
}

// pathIndex maps the nodes of a root path to their depths.
type pathIndex struct {
	path []nid
	pos  map[nid]int
	org  string
}

func (st *state) indexPath(path []nid) *pathIndex {
	ix := &pathIndex{path: path, pos: make(map[nid]int, len(path))}
	for i, a := range path {
		ix.pos[a] = i
	}
	if len(path) > 0 {
		ix.org = st.node(path[0]).orgID
	}
	return ix
}

// coveredDepth returns the depth of the deepest node of path (root first)
// that is an ancestor-or-self of one of depts, skipping the departments for
// which skip reports true, or -1 if there is none.
func (st *state) coveredDepth(path []nid, depts []nid, skip func(nid) bool) int {
	return st.coveredDepthIx(st.indexPath(path), depts, skip)
}

func (st *state) coveredDepthIx(ix *pathIndex, depts []nid, skip func(nid) bool) int {
	path, pos, org := ix.path, ix.pos, ix.org
	if len(path) == 0 {
		return -1
	}
	best := -1
	for _, d := range depts {
		if (skip != nil && skip(d)) || st.node(d).orgID != org {
			continue
		}
		for a := d; a != 0; a = st.node(a).parent {
			if i, ok := pos[a]; ok {
				best = max(best, i)
				break
			}
		}
		if best == len(path)-1 {
			break
		}
	}
	return best
}

// adjustDistinct adds delta to the distinct count of the nodes of path
// deeper than covered.
func (tx *Tx) adjustDistinct(path []nid, covered int, delta int32) {
	for _, a := range path[covered+1:] {
		tx.mutNode(a).distinct += delta
	}
}

// adjustSize adds delta to the size of every node on path.
func (tx *Tx) adjustSize(path []nid, delta int32) {
	for _, a := range path {
		tx.mutNode(a).size += delta
	}
}

// coverChange updates the rollups for u joining (+1) or leaving (-1) n;
// u's department list must not contain n when it is called.
func (tx *Tx) coverChange(n nid, u uid, delta int32) {
	path := tx.st.rootPath(n)
	tx.adjustDistinct(path, tx.st.coveredDepth(path, tx.st.user(u).depts, nil), delta)
}

// subtreeUsers returns the distinct users with a membership in top's subtree.
func (st *state) subtreeUsers(top nid) []uid {
	seen := map[uid]struct{}{}
	var out []uid
	for r := range st.walk(top) {
		for _, m := range r.members {
			if _, ok := seen[m.user]; !ok {
				seen[m.user] = struct{}{}
				out = append(out, m.user)
			}
		}
	}
	return out
}

// inSubtree reports whether n lies in top's subtree.
func (st *state) inSubtree(n, top nid) bool {
	for ; n != 0; n = st.node(n).parent {
		if n == top {
			return true
		}
	}
	return false
}

// moveRollups fixes size and distinct for moving subtree n from its current
// parent to newParent. It must run before the links change.
func (tx *Tx) moveRollups(n, newParent nid) {
	st := tx.st
	oldPath := st.rootPath(st.node(n).parent)
	newPath := st.rootPath(newParent)
	onOld := make(map[nid]bool, len(oldPath))
	for _, a := range oldPath {
		onOld[a] = true
	}
	onNew := make(map[nid]bool, len(newPath))
	for _, a := range newPath {
		onNew[a] = true
	}
	size := st.node(n).size
	delta := map[nid]int32{}
	if st.node(n).distinct > 0 {
		inS, users := st.subtreeScan(n)
		oldDepth := st.pathDepths(oldPath, inS)
		newDepth := st.pathDepths(newPath, inS)
		for _, u := range users {
			depts := st.user(u).depts
			lOld := oldDepth.covered(depts)
			for i, a := range oldPath {
				if i > lOld && !onNew[a] {
					delta[a]--
				}
			}
			lNew := newDepth.covered(depts)
			for i, a := range newPath {
				if i > lNew && !onOld[a] {
					delta[a]++
				}
			}
		}
	}
	for _, a := range oldPath {
		if !onNew[a] {
			w := tx.mutNode(a)
			w.size -= size
			w.distinct += delta[a]
		}
	}
	for _, a := range newPath {
		if !onOld[a] {
			w := tx.mutNode(a)
			w.size += size
			w.distinct += delta[a]
		}
	}
}

// subtreeScan walks top's subtree once: which handles lie in it, and the
// distinct users with a membership there. Small subtrees use maps, so that
// moving a leaf does not allocate tables the size of the whole tree.
func (st *state) subtreeScan(top nid) (inS func(nid) bool, users []uid) {
	small := int(st.node(top).size)*64 < st.nodes.Len()
	in, seen := newHandleSet[nid](small, st.nodes.Len()), newHandleSet[uid](small, st.users.Len())
	stack := []nid{top}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		in.add(n)
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

// handleSet is a set of handles: a map when it will stay small, a table
// indexed by handle when it may hold a large part of all handles.
type handleSet[H nid | uid] struct {
	small map[H]bool
	table []bool
}

func newHandleSet[H nid | uid](small bool, handles int) *handleSet[H] {
	if small {
		return &handleSet[H]{small: map[H]bool{}}
	}
	return &handleSet[H]{table: make([]bool, handles)}
}

// add puts h in the set and reports whether it was new.
func (s *handleSet[H]) add(h H) bool {
	if s.small != nil {
		if s.small[h] {
			return false
		}
		s.small[h] = true
		return true
	}
	if s.table[h] {
		return false
	}
	s.table[h] = true
	return true
}

func (s *handleSet[H]) has(h H) bool {
	if s.small != nil {
		return s.small[h]
	}
	return s.table[h]
}

// depthsOnPath answers, for departments outside a moving subtree, how deep
// on one root path their nearest covering ancestor is, remembering each
// department's answer: users of a large subtree share many departments.
type depthsOnPath struct {
	st   *state
	ix   *pathIndex
	skip func(nid) bool
	memo map[nid]int
}

func (st *state) pathDepths(path []nid, skip func(nid) bool) *depthsOnPath {
	return &depthsOnPath{st: st, ix: st.indexPath(path), skip: skip, memo: map[nid]int{}}
}

// covered is coveredDepth for depts, leaving out the skipped ones.
func (p *depthsOnPath) covered(depts []nid) int {
	best, last := -1, len(p.ix.path)-1
	if last < 0 {
		return -1
	}
	for _, d := range depts {
		if p.skip(d) {
			continue
		}
		at, ok := p.memo[d]
		if !ok {
			at = p.st.coveredDepthIx(p.ix, []nid{d}, nil)
			p.memo[d] = at
		}
		if best = max(best, at); best == last {
			break
		}
	}
	return best
}

// rebuildRollups computes size and distinct from scratch (after a load).
func (tx *Tx) rebuildRollups() {
	st := tx.st
	size, distinct := st.computeRollups()
	for i, r := range st.nodes.All() {
		if r != nil && (r.size != size[i] || r.distinct != distinct[i]) {
			w := tx.mutNode(nid(i))
			w.size, w.distinct = size[i], distinct[i]
		}
	}
}

// computeRollups returns what size and distinct must be, by brute force:
// sizes by walking every org, distinct counts by marking each user's root
// paths. Check and Load use it.
func (st *state) computeRollups() (size, distinct []int32) {
	size = make([]int32, st.nodes.Len())
	distinct = make([]int32, st.nodes.Len())
	for _, o := range st.orgs.All() {
		if st.node(o.root) == nil {
			continue
		}
		var order []nid
		for r := range st.walk(o.root) {
			n, _ := st.nodeIDs.Get(r.id)
			order = append(order, n)
		}
		for i := len(order) - 1; i >= 0; i-- { // children before parents
			n := order[i]
			size[n]++
			if p := st.node(n).parent; p != 0 {
				size[p] += size[n]
			}
		}
	}
	mark := make([]uint32, st.nodes.Len()) // last user (handle+1) counted at a node
	for i, r := range st.users.All() {
		if r == nil {
			continue
		}
		stamp := uint32(i) + 1
		for _, d := range r.depts {
			for a := d; a != 0 && st.node(a) != nil && mark[a] != stamp; a = st.node(a).parent {
				mark[a] = stamp
				distinct[a]++
			}
		}
	}
	return size, distinct
}

// attachRollups sets the rollups of a subtree whose nodes and memberships
// were added without them (a bulk import): sizes and distinct counts inside
// it from scratch, then the path above it as if the subtree had moved in.
// O(subtree + memberships·depth), never O(subtree·depth).
func (tx *Tx) attachRollups(top nid) {
	st := tx.st
	var order []nid
	for r := range st.walk(top) {
		n, _ := st.nodeIDs.Get(r.id)
		order = append(order, n)
	}
	for i := len(order) - 1; i >= 0; i-- { // children before parents
		n := order[i]
		w := tx.mutNode(n)
		w.size = 1
		for _, c := range w.children {
			w.size += st.node(c).size
		}
		w.distinct = 0
	}
	users := st.subtreeUsers(top)
	inT := func(d nid) bool { return st.inSubtree(d, top) }
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
				tx.mutNode(a).distinct++
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
	tx.adjustSize(above, st.node(top).size)
	ix := st.indexPath(above)
	for _, u := range users {
		tx.adjustDistinct(above, st.coveredDepthIx(ix, st.user(u).depts, inT), +1)
	}
}

package orgtree

import (
	"errors"
	"fmt"
	"hash/maphash"
	"runtime"
	"slices"
	"sync"
)

// maxCheckErrors bounds the report of a badly broken tree.
const maxCheckErrors = 1000

type checker struct {
	errs []error
	// links sums the (node, user) membership pairs the part saw: the node
	// side and the user side must list the same set.
	links pairSum
}

// pairSum is an order-independent digest of a set of (node, user) pairs:
// two listings of the same pairs give equal digests, and a pair missing,
// added or changed on one side changes it, short of a deliberate collision.
// It lets Check compare both sides of a million memberships without a
// lookup per membership; only when they differ does it look each one up to
// say which.
type pairSum struct {
	sum, xor uint64
	n        int
}

func (p *pairSum) add(n nid, u uid) {
	h := mix64(uint64(n)<<32 | uint64(u))
	p.sum += h
	p.xor ^= h
	p.n++
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func (c *checker) bad(format string, args ...any) {
	if len(c.errs) < maxCheckErrors {
		c.errs = append(c.errs, fmt.Errorf("orgtree: check: "+format+": %w", append(args, ErrCorrupt)...))
	}
}

// Check walks every structure of this version — parent and child links,
// sibling order, reachability from the org roots (no cycles, no orphans),
// the id, code and external id indexes, both sides of every membership, main
// departments, grants and all counts — and returns every broken invariant,
// joined, each wrapping ErrCorrupt. It returns nil for a sound tree. It runs
// in O(nodes + memberships), is iterative, and spreads its independent
// parts over the machine's cores for the length of the call.
func (s Snapshot) Check() error {
	return s.check(s.checkNameIndex, s.checkRollups, s.checkUserOrder, s.checkIDIndexes)
}

// checkRecords is the part of Check that a freshly loaded version needs:
// the records and the structure they form (links, reachability, both sides
// of every membership). The indexes and counts a load derives from the
// records are built by the engine's own code, which the tests prove with
// Check after every load; proving them again on every open would cost more
// than the rest of this check.
func (s Snapshot) checkRecords() error { return s.check() }

// check runs the record parts and the given derived parts.
func (s Snapshot) check(derived ...func(*checker)) error {
	st := s.st
	c := &checker{}
	if st.node(0) != nil || st.user(0) != nil {
		c.bad("handle 0 is in use")
	}
	// The parts read an immutable version and share nothing, so they run
	// side by side; each reports into its own checker, joined in a fixed
	// order so that the report does not depend on scheduling.
	const nodesPart, usersPart = 0, 2
	parts := append([]func(*checker){nodesPart: s.checkNodes, 1: s.checkOrgs, usersPart: s.checkUsers}, derived...)
	found := make([]checker, len(parts))
	var wg sync.WaitGroup
	for i, part := range parts {
		wg.Go(func() { part(&found[i]) })
	}
	wg.Wait()
	if found[nodesPart].links != found[usersPart].links {
		s.checkLinks(c)
	}
	for _, f := range found {
		for _, err := range f.errs {
			if len(c.errs) < maxCheckErrors {
				c.errs = append(c.errs, err)
			}
		}
	}
	return errors.Join(c.errs...)
}

// checkRollups recomputes every depth and distinct member count.
func (s Snapshot) checkRollups(c *checker) {
	st := s.st
	if st.roll.Len() != st.nodes.Len() {
		c.bad("%d rollups for %d node slots", st.roll.Len(), st.nodes.Len())
		return
	}
	if st.counts.Len() != st.nodes.Len() {
		c.bad("%d distinct counts for %d node slots", st.counts.Len(), st.nodes.Len())
		return
	}
	want, wantCounts := st.computeRollups()
	for i, r := range st.nodes.All() {
		if r == nil {
			continue
		}
		got := st.roll.Get(i)
		if got.parent != want[i].parent {
			c.bad("node %q: rollup parent handle %d, the record says %d", r.id, got.parent, want[i].parent)
		}
		if got.depth != want[i].depth {
			c.bad("node %q: depth %d, want %d", r.id, got.depth, want[i].depth)
		}
		if got := st.counts.Get(i); got != wantCounts[i] && !st.staleCounts {
			c.bad("node %q: distinct subtree members %d, want %d", r.id, got, wantCounts[i])
		}
	}
}

// checkNameIndex verifies that every node is listed under exactly the grams
// of its names and that posting lists are sorted and live. It compares the
// multiset of (gram, node) pairs the names need with the one the postings
// hold through an order-independent hash sum, and looks each pair up only
// when the sums differ, to say which are missing.
func (s Snapshot) checkNameIndex(c *checker) {
	st := s.st
	oldest := st.oldestPending()
	if n := len(slices.Collect(st.pendingAll())); n != st.pendingLen {
		c.bad("pending name list has %d entries, count says %d", n, st.pendingLen)
	}
	var wantSum, gotSum uint64
	want, got := 0, 0
	// The names' side (recomputing every node's grams) is the longest
	// walk of Check: it runs beside the postings' side, cut into ranges of
	// handles so that it does not hold up the whole check on its own.
	parts := min(runtime.GOMAXPROCS(0), 8)
	sums, counts := make([]uint64, parts), make([]int, parts)
	var wg sync.WaitGroup
	for k := range parts {
		wg.Go(func() {
			for i := st.nodes.Len() * k / parts; i < st.nodes.Len()*(k+1)/parts; i++ {
				for _, g := range st.listedGrams(nid(i), oldest[nid(i)]) {
					counts[k]++
					sums[k] += pairHash(g, nid(i))
				}
			}
		})
	}
	for g, p := range st.grams.All() {
		ids := p.all()
		got += len(ids)
		if len(ids) == 0 || len(ids) != p.n {
			c.bad("gram %q: posting has %d handles, count says %d", g, len(ids), p.n)
		}
		checkPosting(c, g, p)
		for k, n := range ids {
			gotSum += pairHash(g, n)
			if k > 0 && ids[k-1] >= n {
				c.bad("gram %q: posting out of order at %d", g, k)
			}
			if p := oldest[n]; st.node(n) == nil && (p == nil || !p.indexed) {
				c.bad("gram %q lists dead handle %d", g, n)
			}
		}
	}
	wg.Wait()
	for k := range parts {
		want, wantSum = want+counts[k], wantSum+sums[k]
	}
	if got == want && gotSum == wantSum {
		return
	}
	c.bad("name index holds %d postings, the names need %d", got, want)
	for i := range st.nodes.Len() {
		p := oldest[nid(i)]
		r := st.node(nid(i))
		id := fmt.Sprintf("#%d", i) // a deleted node the fold has not taken out yet
		if r != nil {
			id = r.id
		}
		for _, g := range st.listedGrams(nid(i), p) {
			if list, ok := st.grams.Get(g); !ok {
				c.bad("node %q: gram %q is not indexed", id, g)
			} else if !list.contains(nid(i)) {
				c.bad("node %q is missing from the posting of gram %q", id, g)
			}
		}
	}
}

// pairHash hashes one (gram, node) listing for checkNameIndex's sums.
func pairHash(g string, n nid) uint64 {
	h := maphash.String(pairSeed, g) ^ (uint64(n) * 0x9e3779b97f4a7c15)
	h ^= h >> 31
	h *= 0xbf58476d1ce4e5b9
	return h ^ h>>29
}

var pairSeed = maphash.MakeSeed()

func (s Snapshot) checkNodes(c *checker) {
	st := s.st
	lim := st.cfg.limits
	live, members := 0, 0
	var lastOrg *orgRec
	for i, r := range st.nodes.All() {
		if r == nil {
			continue
		}
		n := nid(i)
		live++
		members += len(r.members)
		if lastOrg == nil || lastOrg.id != r.orgID { // nodes of one org mostly come together
			lastOrg, _ = st.orgs.Get(r.orgID)
		}
		o, ok := lastOrg, lastOrg != nil
		if !ok {
			c.bad("node %q: org %q does not exist", r.id, r.orgID)
		} else {
			if r.parent == 0 && o.root != n {
				c.bad("node %q has no parent but is not the root of org %q", r.id, r.orgID)
			}
		}
		if r.parent == 0 && r.parentID != "" {
			c.bad("node %q has no parent but records parent id %q", r.id, r.parentID)
		}
		if r.parent != 0 {
			p := st.node(r.parent)
			switch {
			case p == nil:
				c.bad("node %q: parent handle %d is dead", r.id, r.parent)
			case p.orgID != r.orgID:
				c.bad("node %q in org %q has parent %q in org %q", r.id, r.orgID, p.id, p.orgID)
			case !hasChild(st, p, n):
				c.bad("node %q is not among the children of its parent %q", r.id, p.id)
			case p.id != r.parentID:
				c.bad("node %q records parent id %q, its parent is %q", r.id, r.parentID, p.id)
			}
		}
		for k, ch := range r.children {
			cr := st.node(ch)
			if cr == nil {
				c.bad("node %q: child handle %d is dead", r.id, ch)
				continue
			}
			if cr.parent != n {
				c.bad("node %q lists child %q whose parent is another", r.id, cr.id)
			}
			if k > 0 && st.node(r.children[k-1]) != nil && st.childCmp(r.children[k-1], ch) >= 0 {
				c.bad("node %q: children out of order at %d", r.id, k)
			}
		}
		if name, err := cleanName(r.name, lim.MaxNameLength); err != nil || name != r.name {
			c.bad("node %q: name %q is not valid", r.id, r.name)
		}
		if r.code != "" && checkCode(r.code) != nil {
			c.bad("node %q: code %q is not valid", r.id, r.code)
		}
		if r.created > st.lastTime || r.updated > st.lastTime || r.created > r.updated {
			c.bad("node %q: timestamps created %d updated %d beyond clock %d", r.id, r.created, r.updated, st.lastTime)
		}
		for k, m := range r.members {
			if k > 0 && r.members[k-1].user >= m.user {
				c.bad("node %q: members out of order at %d", r.id, k)
			}
			c.links.add(n, m.user)
		}
		for k, res := range r.resources {
			if k > 0 && resourceCmp(r.resources[k-1], res) >= 0 {
				c.bad("node %q: resources out of order at %d", r.id, k)
			}
			if clean, err := cleanResource(res); err != nil || !slices.Equal(clean.Actions, res.Actions) {
				c.bad("node %q: resource %q is not valid", r.id, res.Code)
			}
		}
	}
	if live != st.nodeCount || live != st.nodeIDs.Len() {
		c.bad("%d live nodes, count says %d, id index has %d", live, st.nodeCount, st.nodeIDs.Len())
	}
	if members != st.memberships {
		c.bad("%d memberships on the node side, count says %d", members, st.memberships)
	}
}

// checkIDIndexes scans the id and external id indexes: each entry must name
// a live record carrying that id. The record walks compare their counts with
// the indexes' lengths, and an index cannot send two ids to one record that
// carries only one of them, so together they prove every record is indexed
// under its id — by one sequential pass per index instead of a hashed probe
// per record.
func (s Snapshot) checkIDIndexes(c *checker) {
	st := s.st
	for id, n := range st.nodeIDs.All() {
		if r := st.node(n); r == nil || r.id != id {
			c.bad("node id %q is indexed to handle %d, which does not carry it", id, n)
		}
	}
	for id, u := range st.userIDs.All() {
		if r := st.user(u); r == nil || r.id != id {
			c.bad("user id %q is indexed to handle %d, which does not carry it", id, u)
		}
	}
	for ext, u := range st.userExt.All() {
		if r := st.user(u); r == nil || r.externalID != ext {
			c.bad("user externalId %q is indexed to handle %d, which does not carry it", ext, u)
		}
	}
}

// checkOrgs walks every org from its root: each live node must be reached
// exactly once, which rules out cycles, orphans and shared children.
func (s Snapshot) checkOrgs(c *checker) {
	st := s.st
	seen := make([]bool, st.nodes.Len())
	reached := 0
	for id, o := range st.orgs.All() {
		if o.id != id {
			c.bad("org %q is indexed as %q", o.id, id)
		}
		root := st.node(o.root)
		if root == nil || root.orgID != id || root.parent != 0 {
			c.bad("org %q: root handle %d is not a root of the org", id, o.root)
			continue
		}
		count, codes, exts := 0, 0, 0
		stack := []nid{o.root}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			r := st.node(n)
			if r == nil {
				continue
			}
			if seen[n] {
				c.bad("org %q: node %q reached twice (cycle or shared child)", id, r.id)
				continue
			}
			seen[n] = true
			count++
			if r.orgID != id {
				c.bad("org %q reaches node %q of org %q", id, r.id, r.orgID)
			}
			if r.code != "" {
				codes++
			}
			if r.externalID != "" {
				exts++
			}
			stack = append(stack, r.children...)
		}
		reached += count
		if codes != o.codes.Len() {
			c.bad("org %q: %d nodes have codes, code index has %d", id, codes, o.codes.Len())
		}
		if exts != o.extIDs.Len() {
			c.bad("org %q: %d nodes have external ids, index has %d", id, exts, o.extIDs.Len())
		}
		for code, n := range o.codes.All() {
			if r := st.node(n); r == nil || r.code != code || r.orgID != id {
				c.bad("org %q: code %q indexed to a node without it", id, code)
			}
		}
		for ext, n := range o.extIDs.All() {
			if r := st.node(n); r == nil || r.externalID != ext || r.orgID != id {
				c.bad("org %q: externalId %q indexed to a node without it", id, ext)
			}
		}
	}
	if reached != st.nodeCount {
		c.bad("%d nodes reachable from org roots, %d live (orphans)", reached, st.nodeCount)
	}
}

func (s Snapshot) checkUsers(c *checker) {
	st := s.st
	live, depts, exts, leads := 0, 0, 0, 0
	for i, r := range st.users.All() {
		if r == nil {
			continue
		}
		u := uid(i)
		live++
		depts += len(r.depts)
		if r.externalID != "" {
			exts++
		}
		for k, n := range r.depts {
			if k > 0 && r.depts[k-1] >= n {
				c.bad("user %q: departments out of order at %d", r.id, k)
			}
			c.links.add(n, u)
		}
		leads += len(r.leads)
		for k, n := range r.leads {
			if k > 0 && r.leads[k-1] >= n {
				c.bad("user %q: led nodes out of order at %d", r.id, k)
			}
			if nr := st.node(n); nr == nil || nr.leaderUserID != r.id {
				c.bad("user %q: listed as the leader of node handle %d, which does not name it", r.id, n)
			}
		}
		if r.main != 0 {
			if _, ok := slices.BinarySearch(r.depts, r.main); !ok {
				c.bad("user %q: main department handle %d is not one of its departments", r.id, r.main)
			}
		}
	}
	if live != st.userCount || live != st.userIDs.Len() {
		c.bad("%d live users, count says %d, id index has %d", live, st.userCount, st.userIDs.Len())
	}
	if exts != st.userExt.Len() {
		c.bad("%d users have external ids, index has %d", exts, st.userExt.Len())
	}
	if depts != st.memberships {
		c.bad("%d memberships on the user side, count says %d", depts, st.memberships)
	}
	// Every lead a user lists names a distinct node that names the user, so
	// equal counts mean every node's leader is a user listing it.
	led := 0
	for _, r := range st.nodes.All() {
		if r != nil && r.leaderUserID != "" {
			led++
		}
	}
	if led != leads {
		c.bad("%d nodes have a leader, users list %d", led, leads)
	}
}

// Check runs Snapshot.Check on the newest version.
func (t *Tree) Check() error { return t.Snapshot().Check() }

func hasChild(st *state, p *nodeRec, n nid) bool {
	_, ok := slices.BinarySearchFunc(p.children, n, st.childCmp)
	return ok
}

// checkPosting verifies the shape of one posting: page and chunk sizes, and
// that every directory entry names the first handle of what it points to.
func checkPosting(c *checker, g string, p *posting) {
	if len(p.firsts) != len(p.pages) {
		c.bad("gram %q: %d page starts for %d pages", g, len(p.firsts), len(p.pages))
		return
	}
	for i, pg := range p.pages {
		if len(pg.firsts) != len(pg.chunks) || len(pg.chunks) == 0 || len(pg.chunks) > pageChunks {
			c.bad("gram %q: page %d has %d chunk starts for %d chunks", g, i, len(pg.firsts), len(pg.chunks))
			continue
		}
		if p.firsts[i] != pg.firsts[0] {
			c.bad("gram %q: page %d starts at %d, directory says %d", g, i, pg.firsts[0], p.firsts[i])
		}
		for k, ch := range pg.chunks {
			if len(ch.ids) == 0 || len(ch.ids) > maxChunk {
				c.bad("gram %q: chunk of %d handles", g, len(ch.ids))
			} else if pg.firsts[k] != ch.ids[0] {
				c.bad("gram %q: chunk %d of page %d starts at %d, directory says %d", g, k, i, ch.ids[0], pg.firsts[k])
			}
		}
	}
}

// checkLinks looks up both sides of every membership; Check runs it when
// the digests of the two sides differ, to name the broken links.
func (s Snapshot) checkLinks(c *checker) {
	st := s.st
	for i, r := range st.nodes.All() {
		if r == nil {
			continue
		}
		for _, m := range r.members {
			u := st.user(m.user)
			if u == nil {
				c.bad("node %q: member handle %d is dead", r.id, m.user)
			} else if _, ok := slices.BinarySearch(u.depts, nid(i)); !ok {
				c.bad("node %q lists member %q who does not list the node", r.id, u.id)
			}
		}
	}
	for i, r := range st.users.All() {
		if r == nil {
			continue
		}
		for _, n := range r.depts {
			nr := st.node(n)
			if nr == nil {
				c.bad("user %q: department handle %d is dead", r.id, n)
			} else if !nr.hasMember(uid(i)) {
				c.bad("user %q lists node %q which does not list the user", r.id, nr.id)
			}
		}
	}
}

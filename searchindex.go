package orgtree

import (
	"iter"
	"runtime"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/orgtree/orgtree/internal/pmap"
)

// The name index maps n-grams of case-folded names (name and every nameI18n
// value) to the sorted handles of the nodes whose names contain them, the
// way google/codesearch narrows candidates: every trigram, plus the 1- and
// 2-rune grams that hold a non-ASCII rune, so one- and two-character CJK
// queries are answered from the index too. Candidates are always re-checked
// against the real text, so results equal a brute-force scan; only ASCII
// queries of one or two characters fall back to a scan.

// posting is one gram's list of node handles, sorted and distinct, kept in
// two levels so that a change copies little however long the list: pages
// of at most pageChunks chunks of at most maxChunk handles. A change copies
// the posting's page directory (one entry per 4096 handles), one page and
// one chunk. firsts hold the first handle of each page (and a page's
// firsts, of each chunk), apart from the pointers, so that finding the
// right one reads one contiguous array. A transaction may change in place
// the posting, page and chunk it owns (edit).
type posting struct {
	edit   *pmap.Edit
	firsts []nid
	pages  []*page // ordered; none empty
	n      int
}

type page struct {
	edit   *pmap.Edit
	firsts []nid
	chunks []*chunk // ordered; none empty
}

type chunk struct {
	edit *pmap.Edit
	ids  []nid
}

const maxChunk = 64

// pageChunks is the most chunks a page holds; a variable so tests can make
// small trees use many pages.
var pageChunks = 64

// all returns the handles in order.
func (p *posting) all() []nid {
	out := make([]nid, 0, p.n)
	for _, pg := range p.pages {
		for _, c := range pg.chunks {
			out = append(out, c.ids...)
		}
	}
	return out
}

// locate returns the index of the entry of a sorted firsts list whose
// range holds n or would hold it.
func locate(firsts []nid, n nid) int {
	i, found := slices.BinarySearch(firsts, n)
	if !found && i > 0 {
		i--
	}
	return i
}

// where returns the page and chunk that hold n or would hold it, and
// whether n is there; p must not be empty.
func (p *posting) where(n nid) (pi, ci int, found bool) {
	pi = locate(p.firsts, n)
	pg := p.pages[pi]
	ci = locate(pg.firsts, n)
	_, found = slices.BinarySearch(pg.chunks[ci].ids, n)
	return pi, ci, found
}

// contains reports whether n is in the posting.
func (p *posting) contains(n nid) bool {
	if len(p.pages) == 0 {
		return false
	}
	_, _, found := p.where(n)
	return found
}

// mutChunk returns chunk ci of page pi, both owned by e.
func (p *posting) mutChunk(e *pmap.Edit, pi, ci int) (*page, *chunk) {
	pg := p.pages[pi]
	if pg.edit != e {
		pg = copyPage(e, pg)
		p.pages[pi] = pg
	}
	c := pg.chunks[ci]
	if c.edit != e {
		// Room for the one handle an add inserts, so the insert does not
		// copy the chunk a second time.
		c = &chunk{edit: e, ids: append(make([]nid, 0, len(c.ids)+1), c.ids...)}
		pg.chunks[ci] = c
	}
	return pg, c
}

// Most postings are small: one page of one chunk. Their parts are
// allocated together, so that a transaction touching a few hundred of
// them (a fold of new names) makes a few allocations each, not eight.

// onePage is a posting of one page with its page directory inline.
type onePage struct {
	p      posting
	firsts [1]nid
	pages  [1]*page
}

// oneChunk is a page of one chunk with its chunk list inline, and room
// for the chunk itself when the page is new.
type oneChunk struct {
	pg     page
	firsts [1]nid
	chunks [1]*chunk
	c      chunk
}

// newPosting returns an empty posting owned by e, with room for one page.
func newPosting(e *pmap.Edit) *posting {
	b := &onePage{}
	b.p = posting{edit: e, firsts: b.firsts[:0], pages: b.pages[:0]}
	return &b.p
}

// copyPosting returns a copy of p owned by e, sharing p's pages.
func copyPosting(e *pmap.Edit, p *posting) *posting {
	if len(p.pages) == 1 {
		b := &onePage{firsts: [1]nid{p.firsts[0]}, pages: [1]*page{p.pages[0]}}
		b.p = posting{edit: e, firsts: b.firsts[:], pages: b.pages[:], n: p.n}
		return &b.p
	}
	return &posting{edit: e, firsts: slices.Clone(p.firsts), pages: slices.Clone(p.pages), n: p.n}
}

// copyPage returns a copy of pg owned by e, sharing pg's chunks.
func copyPage(e *pmap.Edit, pg *page) *page {
	if len(pg.chunks) == 1 {
		b := &oneChunk{firsts: [1]nid{pg.firsts[0]}, chunks: [1]*chunk{pg.chunks[0]}}
		b.pg = page{edit: e, firsts: b.firsts[:], chunks: b.chunks[:]}
		return &b.pg
	}
	return &page{edit: e, firsts: slices.Clone(pg.firsts), chunks: slices.Clone(pg.chunks)}
}

// soloPage returns a page owned by e holding n alone.
func soloPage(e *pmap.Edit, n nid) *page {
	b := &oneChunk{firsts: [1]nid{n}}
	b.c = chunk{edit: e, ids: []nid{n}}
	b.chunks[0] = &b.c
	b.pg = page{edit: e, firsts: b.firsts[:], chunks: b.chunks[:]}
	return &b.pg
}

// add inserts n; p must be owned by e.
func (p *posting) add(e *pmap.Edit, n nid) {
	if len(p.pages) == 0 {
		p.pages = append(p.pages, soloPage(e, n))
		p.firsts = append(p.firsts, n)
		p.n++
		return
	}
	pi, ci, found := p.where(n)
	if found {
		return
	}
	pg, c := p.mutChunk(e, pi, ci)
	j, _ := slices.BinarySearch(c.ids, n)
	c.ids = slices.Insert(c.ids, j, n)
	pg.firsts[ci] = c.ids[0]
	p.firsts[pi] = pg.firsts[0]
	p.n++
	if len(c.ids) > maxChunk {
		half := len(c.ids) / 2
		right := &chunk{edit: e, ids: slices.Clone(c.ids[half:])}
		c.ids = c.ids[:half:half]
		pg.chunks = slices.Insert(pg.chunks, ci+1, right)
		pg.firsts = slices.Insert(pg.firsts, ci+1, right.ids[0])
	}
	if len(pg.chunks) > pageChunks {
		half := len(pg.chunks) / 2
		right := &page{edit: e, firsts: slices.Clone(pg.firsts[half:]), chunks: slices.Clone(pg.chunks[half:])}
		pg.firsts, pg.chunks = pg.firsts[:half:half], pg.chunks[:half:half]
		p.pages = slices.Insert(p.pages, pi+1, right)
		p.firsts = slices.Insert(p.firsts, pi+1, right.firsts[0])
	}
}

// remove deletes n; p must be owned by e.
func (p *posting) remove(e *pmap.Edit, n nid) {
	if len(p.pages) == 0 {
		return
	}
	pi, ci, found := p.where(n)
	if !found {
		return
	}
	pg, c := p.mutChunk(e, pi, ci)
	j, _ := slices.BinarySearch(c.ids, n)
	c.ids = slices.Delete(c.ids, j, j+1)
	p.n--
	if len(c.ids) > 0 {
		pg.firsts[ci] = c.ids[0]
	} else {
		pg.chunks = slices.Delete(pg.chunks, ci, ci+1)
		pg.firsts = slices.Delete(pg.firsts, ci, ci+1)
	}
	if len(pg.chunks) > 0 {
		p.firsts[pi] = pg.firsts[0]
	} else {
		p.pages = slices.Delete(p.pages, pi, pi+1)
		p.firsts = slices.Delete(p.firsts, pi, pi+1)
	}
}

// rebuild replaces the content with ids (sorted, distinct); p owned by e.
func (p *posting) rebuild(e *pmap.Edit, ids []nid) {
	p.pages, p.firsts = p.pages[:0], p.firsts[:0]
	perPage := maxChunk * pageChunks
	for start := 0; start < len(ids); start += perPage {
		part := ids[start:min(len(ids), start+perPage)]
		pg := &page{edit: e}
		for k := 0; k < len(part); k += maxChunk {
			pg.chunks = append(pg.chunks, &chunk{edit: e, ids: slices.Clone(part[k:min(len(part), k+maxChunk)])})
			pg.firsts = append(pg.firsts, part[k])
		}
		p.pages = append(p.pages, pg)
		p.firsts = append(p.firsts, part[0])
	}
	p.n = len(ids)
}

// indexedShort reports whether a 1- or 2-rune gram is indexed.
func indexedShort(g string) bool {
	for i := 0; i < len(g); i++ {
		if g[i] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// Anchor grams mark where a name starts and ends, so that a limited search
// can find exact and prefix matches without looking at every substring
// match: for each folded name, its first one, two and three runes (after
// prefixMark), and the whole name when it has at most three runes (after
// wholeMark), else its last three (after suffixMark). The marks are
// control characters, which no name contains.
const (
	prefixMark = "\x00"
	wholeMark  = "\x01"
	suffixMark = "\x02"
)

// nodeGrams returns the distinct indexed grams of a name and its i18n
// variants, sorted.
func nodeGrams(name string, i18n map[string]string) []string {
	out := appendNodeGrams(nil, name, i18n)
	slices.Sort(out)
	return slices.Compact(out)
}

// appendNodeGrams appends the indexed grams of a name and its i18n
// variants to out, with repeats, in no order.
func appendNodeGrams(out []string, name string, i18n map[string]string) []string {
	out = slices.Grow(out, 2*len(name)+4)
	out = nameGrams(out, foldString(name))
	for _, v := range i18n {
		out = nameGrams(out, foldString(v))
	}
	return out
}

// nameGrams appends the grams of one folded name. Its anchors are
// substrings of one string built for them, so a name costs one allocation
// beside the slice.
func nameGrams(out []string, folded string) []string {
	out = gramsOfText(out, folded)
	if folded == "" {
		return out
	}
	var ends [3]int // byte length of the first one, two and three runes
	n := 0          // runes seen, up to 4
	for i := range folded {
		if n >= 1 && n <= 3 {
			ends[n-1] = i
		}
		if n++; n > 3 {
			break
		}
	}
	if n <= 3 {
		ends[n-1] = len(folded)
		// prefixMark+folded, then wholeMark+folded.
		buf := prefixMark + folded + wholeMark + folded
		for k := range n - 1 {
			out = append(out, buf[:1+ends[k]])
		}
		return append(out, buf[:1+len(folded)], buf[1+len(folded):])
	}
	// prefixMark+first three runes, then suffixMark+last three.
	buf := prefixMark + folded[:ends[2]] + suffixMark + lastRunes(folded, 3)
	for k := range 3 {
		out = append(out, buf[:1+ends[k]])
	}
	return append(out, buf[1+ends[2]:])
}

func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

func lastRunes(s string, n int) string {
	i := len(s)
	for ; n > 0 && i > 0; n-- {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return s[i:]
}

// rankGrams returns the grams every node matching the folded key with the
// given rank is listed under (the anchors of the rank and the key's own
// trigrams, so the most selective of them narrows the candidates), or nil
// when only a scan can tell.
func rankGrams(key string, rank MatchRank) []string {
	var anchors []string
	switch rank {
	case MatchExact:
		if utf8.RuneCountInString(key) <= 3 {
			return []string{wholeMark + key}
		}
		anchors = []string{prefixMark + firstRunes(key, 3), suffixMark + lastRunes(key, 3)}
	case MatchPrefix:
		anchors = []string{prefixMark + firstRunes(key, 3)}
	}
	return append(anchors, substringGrams(key)...)
}

// gramsOfText appends every trigram of s and every 1- and 2-rune gram of s
// holding a non-ASCII rune (with repeats).
func gramsOfText(out []string, s string) []string {
	var b [4]int // byte offsets of the current and the three previous runes
	k := 0       // runes seen
	for i := range s {
		b[0], b[1], b[2] = b[1], b[2], b[3]
		b[3] = i
		k++
		_, size := utf8.DecodeRuneInString(s[i:])
		end := i + size
		if g := s[i:end]; indexedShort(g) {
			out = append(out, g)
		}
		if k >= 2 {
			if g := s[b[2]:end]; indexedShort(g) {
				out = append(out, g)
			}
		}
		if k >= 3 {
			out = append(out, s[b[1]:end])
		}
	}
	return out
}

// substringGrams returns the grams a folded query needs, or nil when the query
// must be answered by a scan (ASCII and shorter than three runes).
func substringGrams(folded string) []string {
	if utf8.RuneCountInString(folded) < 3 {
		if indexedShort(folded) {
			return []string{folded}
		}
		return nil
	}
	var out []string
	for _, g := range gramsOfText(nil, folded) {
		if utf8.RuneCountInString(g) == 3 {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (tx *Tx) mutPosting(g string) *posting {
	p, ok := tx.st.grams.Get(g)
	if !ok {
		p = newPosting(tx.edit)
		tx.st.grams = tx.st.grams.Set(tx.edit, g, p)
		return p
	}
	if p.edit != tx.edit {
		p = copyPosting(tx.edit, p)
		tx.st.grams = tx.st.grams.Set(tx.edit, g, p)
	}
	return p
}

// Name changes reach the index in batches. AddNode, a rename and a delete
// only push the node onto st.pending, with the names the index lists it
// under (if any); a search re-checks the pending nodes beside the
// candidates the index gives, and the commit that takes the list past
// pendingFold entries folds it in, one pass per gram. So a rename copies no
// posting, a bulk load builds each posting once, and a batch of renames
// shares the copies of the postings it touches.

// pendingName is a node whose names changed since the index last took it
// in. A node may be pushed several times; its oldest entry says what the
// index holds.
type pendingName struct {
	n       nid
	indexed bool // the index lists n under the grams of name and i18n
	name    string
	i18n    map[string]string
	next    *pendingName // the entry pushed before this one
}

// pendingFold bounds the pending list of a published version: a search
// re-checks at most this many extra nodes.
const pendingFold = 256

// nameChanged records that node n's names are about to change; was is its
// record before the change, nil for a node being created.
func (tx *Tx) nameChanged(n nid, was *nodeRec) {
	p := &pendingName{n: n, next: tx.st.pending}
	if was != nil {
		p.indexed, p.name, p.i18n = true, was.name, was.nameI18n
	}
	tx.st.pending = p
	tx.st.pendingLen++
}

// pendingAll yields the pending entries, newest first.
func (st *state) pendingAll() iter.Seq[*pendingName] {
	return func(yield func(*pendingName) bool) {
		for p := st.pending; p != nil && yield(p); p = p.next {
		}
	}
}

// newPending returns the pending nodes in ascending order when each is
// pending once and new to the index, as after a load or an import adds
// them, and nil otherwise. Then the fold needs no map of the entries.
func (st *state) newPending() []nid {
	order := make([]nid, 0, st.pendingLen)
	for p := range st.pendingAll() { // newest first: descending handles
		if p.indexed || (len(order) > 0 && p.n >= order[len(order)-1]) {
			return nil
		}
		order = append(order, p.n)
	}
	slices.Reverse(order)
	return order
}

// oldestPending maps each pending node to its oldest entry.
func (st *state) oldestPending() map[nid]*pendingName {
	oldest := make(map[nid]*pendingName, st.pendingLen)
	for p := range st.pendingAll() {
		oldest[p.n] = p
	}
	return oldest
}

// listedGrams returns the grams the index lists node n under: its pending
// entry's if it has one (p may be nil), else those of its record.
func (st *state) listedGrams(n nid, p *pendingName) []string {
	if p != nil {
		if !p.indexed {
			return nil
		}
		return nodeGrams(p.name, p.i18n)
	}
	if r := st.node(n); r != nil {
		return nodeGrams(r.name, r.nameI18n)
	}
	return nil
}

// foldPending brings the index up to date with every pending node.
func (tx *Tx) foldPending() {
	st := tx.st
	if st.pending == nil {
		return
	}
	var oldest map[nid]*pendingName
	order := st.newPending()
	if order == nil {
		oldest = st.oldestPending()
		order = make([]nid, 0, len(oldest))
		for n := range oldest {
			order = append(order, n)
		}
		slices.Sort(order)
	}
	// Working out the grams is most of a large fold (a load, an import) and
	// reads only this version, so large folds split it over the cores. Each
	// part takes an ascending run of handles, so the parts' lists, joined in
	// order, are sorted.
	parts := 1
	if len(order) >= 8192 {
		parts = min(runtime.GOMAXPROCS(0), 8)
	}
	found := make([]gramChanges, parts)
	var wg sync.WaitGroup
	for k := range parts {
		run := order[len(order)*k/parts : len(order)*(k+1)/parts]
		wg.Go(func() { found[k] = st.gramChanges(run, oldest) })
	}
	wg.Wait()
	all := found[0]
	for _, more := range found[1:] {
		for g, c := range more {
			if have := all[g]; have != nil {
				have.add, have.del = append(have.add, c.add...), append(have.del, c.del...)
			} else {
				all[g] = c
			}
		}
	}
	for g, c := range all {
		tx.changePosting(g, c.add, c.del)
	}
	st.pending, st.pendingLen = nil, 0
}

// gramChanges maps each gram to the nodes of run (ascending) to add to its
// posting and to remove from it; oldest gives each pending node's oldest
// entry, or is nil when every node of run is new to the index.
type gramChanges map[string]*struct{ add, del []nid }

func (st *state) gramChanges(run []nid, oldest map[nid]*pendingName) gramChanges {
	out := gramChanges{}
	at := func(g string) *struct{ add, del []nid } {
		c := out[g]
		if c == nil {
			c = &struct{ add, del []nid }{}
			out[g] = c
		}
		return c
	}
	var grams []string // reused from node to node
	for _, n := range run {
		if p := oldest[n]; p == nil || !p.indexed {
			// A node new to the index (most of a load): its grams are all
			// additions, and a repeated gram already ends its list with n.
			if r := st.node(n); r != nil {
				grams = appendNodeGrams(grams[:0], r.name, r.nameI18n)
				for _, g := range grams {
					if c := at(g); len(c.add) == 0 || c.add[len(c.add)-1] != n {
						c.add = append(c.add, n)
					}
				}
			}
			continue
		}
		before, after := st.listedGrams(n, oldest[n]), st.listedGrams(n, nil)
		for _, g := range setMinus(before, after) {
			at(g).del = append(at(g).del, n)
		}
		for _, g := range setMinus(after, before) {
			at(g).add = append(at(g).add, n)
		}
	}
	return out
}

// changePosting adds and removes handles of one gram (add and del sorted):
// one by one when they are few, by rebuilding the posting when they are
// many.
func (tx *Tx) changePosting(g string, add, del []nid) {
	p := tx.mutPosting(g)
	if len(add)+len(del) <= max(16, p.n/16) {
		for _, n := range del {
			p.remove(tx.edit, n)
		}
		for _, n := range add {
			p.add(tx.edit, n)
		}
	} else {
		kept := slices.DeleteFunc(p.all(), func(n nid) bool { _, found := slices.BinarySearch(del, n); return found })
		p.rebuild(tx.edit, mergeSorted(kept, add))
	}
	if p.n == 0 {
		tx.st.grams = tx.st.grams.Delete(tx.edit, g)
	}
}

// mergeSorted merges two sorted lists of distinct handles.
func mergeSorted(a, b []nid) []nid {
	out := make([]nid, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0] < b[0] {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// withPending adds the live pending nodes to a sorted candidate list.
func (st *state) withPending(ids []nid) []nid {
	if st.pending == nil {
		return ids
	}
	var extra []nid
	for p := st.pending; p != nil; p = p.next {
		if st.node(p.n) != nil {
			extra = append(extra, p.n)
		}
	}
	slices.Sort(extra)
	extra = slices.Compact(extra)
	extra = slices.DeleteFunc(extra, func(n nid) bool { _, found := slices.BinarySearch(ids, n); return found })
	return mergeSorted(ids, extra)
}

// postings returns the postings of grams, smallest first, or ok=false if
// a gram has none (then no indexed node has them all).
func (st *state) postings(grams []string) (lists []*posting, ok bool) {
	lists = make([]*posting, 0, len(grams))
	for _, g := range grams {
		p, found := st.grams.Get(g)
		if !found {
			return nil, false
		}
		lists = append(lists, p)
	}
	slices.SortFunc(lists, func(a, b *posting) int { return a.n - b.n })
	return lists, len(lists) > 0
}

// intersect returns candidates for the handles listed in every posting
// (smallest first): a superset, since every candidate is re-checked against
// its names anyway. Once a list takes out less than a quarter of the
// candidates, the larger ones after it would cost more than the re-checks
// they save (the grams of one query mostly come from the same names), so
// it stops there.
func intersect(lists []*posting) []nid {
	out := lists[0].all()
	for _, l := range lists[1:] {
		before := len(out)
		out = l.keep(out)
		if len(out) == 0 || 4*(before-len(out)) < before {
			break
		}
	}
	return out
}

// keep filters the sorted handles ids in place down to those in p. The
// handles come in order, so the page and chunk cursors only move forward:
// a pass costs a binary search within one chunk per handle, plus one step
// per page and chunk passed, not a search from the top for each.
func (p *posting) keep(ids []nid) []nid {
	out := ids[:0]
	pi, ci := 0, 0
	for _, n := range ids {
		for pi+1 < len(p.firsts) && p.firsts[pi+1] <= n {
			pi, ci = pi+1, 0
		}
		if pi >= len(p.pages) {
			break
		}
		pg := p.pages[pi]
		for ci+1 < len(pg.firsts) && pg.firsts[ci+1] <= n {
			ci++
		}
		if _, found := slices.BinarySearch(pg.chunks[ci].ids, n); found {
			out = append(out, n)
		}
	}
	return out
}

package orgtree

import (
	"slices"
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

// posting is one gram's list of node handles, sorted and distinct, cut
// into chunks of at most maxChunk handles so that a change copies one chunk
// and the chunk directory, not the whole list. A transaction that owns the
// posting (edit) may change the directory in place, and a chunk it owns too.
type posting struct {
	edit   *pmap.Edit
	chunks []*chunk // ordered; none empty
	n      int
}

type chunk struct {
	edit *pmap.Edit
	ids  []nid
}

const maxChunk = 512

// all returns the handles in order.
func (p *posting) all() []nid {
	out := make([]nid, 0, p.n)
	for _, c := range p.chunks {
		out = append(out, c.ids...)
	}
	return out
}

// find returns the index of the chunk that holds n or would hold it.
func (p *posting) find(n nid) int {
	i, _ := slices.BinarySearchFunc(p.chunks, n, func(c *chunk, n nid) int { return cmpNid(c.ids[0], n) })
	if i == len(p.chunks) || (i > 0 && p.chunks[i].ids[0] > n) {
		i--
	}
	return max(i, 0)
}

func cmpNid(a, b nid) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// contains reports whether n is in the posting.
func (p *posting) contains(n nid) bool {
	if len(p.chunks) == 0 {
		return false
	}
	_, found := slices.BinarySearch(p.chunks[p.find(n)].ids, n)
	return found
}

// mutChunk returns chunk i owned by e.
func (p *posting) mutChunk(e *pmap.Edit, i int) *chunk {
	c := p.chunks[i]
	if c.edit != e {
		c = &chunk{edit: e, ids: slices.Clone(c.ids)}
		p.chunks[i] = c
	}
	return c
}

// add inserts n; p must be owned by e.
func (p *posting) add(e *pmap.Edit, n nid) {
	if len(p.chunks) == 0 {
		p.chunks = append(p.chunks, &chunk{edit: e, ids: []nid{n}})
		p.n++
		return
	}
	i := p.find(n)
	c := p.mutChunk(e, i)
	j, found := slices.BinarySearch(c.ids, n)
	if found {
		return
	}
	c.ids = slices.Insert(c.ids, j, n)
	p.n++
	if len(c.ids) > maxChunk {
		half := len(c.ids) / 2
		right := &chunk{edit: e, ids: slices.Clone(c.ids[half:])}
		c.ids = c.ids[:half:half]
		p.chunks = slices.Insert(p.chunks, i+1, right)
	}
}

// remove deletes n; p must be owned by e.
func (p *posting) remove(e *pmap.Edit, n nid) {
	if len(p.chunks) == 0 {
		return
	}
	i := p.find(n)
	if _, found := slices.BinarySearch(p.chunks[i].ids, n); !found {
		return
	}
	c := p.mutChunk(e, i)
	j, _ := slices.BinarySearch(c.ids, n)
	c.ids = slices.Delete(c.ids, j, j+1)
	p.n--
	if len(c.ids) == 0 {
		p.chunks = slices.Delete(p.chunks, i, i+1)
	}
}

// rebuild replaces the content with ids (sorted, distinct); p owned by e.
func (p *posting) rebuild(e *pmap.Edit, ids []nid) {
	p.chunks = p.chunks[:0]
	for start := 0; start < len(ids); start += maxChunk {
		p.chunks = append(p.chunks, &chunk{edit: e, ids: slices.Clone(ids[start:min(len(ids), start+maxChunk)])})
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

// nodeGrams returns the distinct indexed grams of a name and its i18n
// variants, sorted.
func nodeGrams(name string, i18n map[string]string) []string {
	set := make(map[string]struct{}, 16)
	gramsOfText(set, foldString(name))
	for _, v := range i18n {
		gramsOfText(set, foldString(v))
	}
	out := make([]string, 0, len(set))
	for g := range set {
		out = append(out, g)
	}
	slices.Sort(out)
	return out
}

// gramsOfText adds every trigram of s and every 1- and 2-rune gram of s
// holding a non-ASCII rune.
func gramsOfText(set map[string]struct{}, s string) {
	var b [4]int // byte offsets of the current and the three previous runes
	k := 0       // runes seen
	for i := range s {
		b[0], b[1], b[2] = b[1], b[2], b[3]
		b[3] = i
		k++
		_, size := utf8.DecodeRuneInString(s[i:])
		end := i + size
		if g := s[i:end]; indexedShort(g) {
			set[g] = struct{}{}
		}
		if k >= 2 {
			if g := s[b[2]:end]; indexedShort(g) {
				set[g] = struct{}{}
			}
		}
		if k >= 3 {
			set[s[b[1]:end]] = struct{}{}
		}
	}
}

// queryGrams returns the grams a folded query needs, or nil when the query
// must be answered by a scan (ASCII and shorter than three runes).
func queryGrams(folded string) []string {
	if utf8.RuneCountInString(folded) < 3 {
		if indexedShort(folded) {
			return []string{folded}
		}
		return nil
	}
	set := map[string]struct{}{}
	gramsOfText(set, folded)
	out := make([]string, 0, len(set))
	for g := range set {
		if utf8.RuneCountInString(g) == 3 {
			out = append(out, g)
		}
	}
	return out
}

func (tx *Tx) mutPosting(g string) *posting {
	p, ok := tx.st.grams.Get(g)
	if !ok {
		p = &posting{edit: tx.edit}
		tx.st.grams = tx.st.grams.Set(tx.edit, g, p)
		return p
	}
	if p.edit != tx.edit {
		p = &posting{edit: tx.edit, chunks: slices.Clone(p.chunks), n: p.n}
		tx.st.grams = tx.st.grams.Set(tx.edit, g, p)
	}
	return p
}

// indexAdd adds node n under each gram.
func (tx *Tx) indexAdd(n nid, grams []string) {
	for _, g := range grams {
		tx.mutPosting(g).add(tx.edit, n)
	}
}

// indexRemove removes node n from each gram, dropping emptied grams.
func (tx *Tx) indexRemove(n nid, grams []string) {
	for _, g := range grams {
		p := tx.mutPosting(g)
		p.remove(tx.edit, n)
		if p.n == 0 {
			tx.st.grams = tx.st.grams.Delete(tx.edit, g)
		}
	}
}

// indexRemoveMany removes a set of deleted nodes, filtering each touched
// gram once, so deleting a large subtree costs O(postings), not O(n²).
func (tx *Tx) indexRemoveMany(dead map[nid]struct{}, grams map[string]struct{}) {
	for g := range grams {
		p := tx.mutPosting(g)
		p.rebuild(tx.edit, slices.DeleteFunc(p.all(), func(n nid) bool { _, ok := dead[n]; return ok }))
		if p.n == 0 {
			tx.st.grams = tx.st.grams.Delete(tx.edit, g)
		}
	}
}

// candidates returns the handles whose names may contain the folded
// query, or scan=true when the index cannot narrow it.
func (st *state) candidates(folded string) (ids []nid, scan bool) {
	grams := queryGrams(folded)
	if grams == nil {
		return nil, true
	}
	lists := make([]*posting, 0, len(grams))
	for _, g := range grams {
		p, ok := st.grams.Get(g)
		if !ok {
			return nil, false
		}
		lists = append(lists, p)
	}
	slices.SortFunc(lists, func(a, b *posting) int { return a.n - b.n })
	out := lists[0].all()
	for _, l := range lists[1:] {
		out = slices.DeleteFunc(out, func(n nid) bool { return !l.contains(n) })
		if len(out) == 0 {
			break
		}
	}
	return out, false
}

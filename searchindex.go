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

// posting is one gram's list of node handles, sorted and distinct. A
// transaction that owns it (edit) may change ids in place.
type posting struct {
	edit *pmap.Edit
	ids  []nid
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
		p = &posting{edit: tx.edit, ids: slices.Clone(p.ids)}
		tx.st.grams = tx.st.grams.Set(tx.edit, g, p)
	}
	return p
}

// indexAdd adds node n under each gram.
func (tx *Tx) indexAdd(n nid, grams []string) {
	for _, g := range grams {
		p := tx.mutPosting(g)
		if k := len(p.ids); k == 0 || p.ids[k-1] < n {
			p.ids = append(p.ids, n) // the common case: new handles are the largest
			continue
		}
		if i, found := slices.BinarySearch(p.ids, n); !found {
			p.ids = slices.Insert(p.ids, i, n)
		}
	}
}

// indexRemove removes node n from each gram, dropping emptied grams.
func (tx *Tx) indexRemove(n nid, grams []string) {
	for _, g := range grams {
		p := tx.mutPosting(g)
		if i, found := slices.BinarySearch(p.ids, n); found {
			p.ids = slices.Delete(p.ids, i, i+1)
		}
		if len(p.ids) == 0 {
			tx.st.grams = tx.st.grams.Delete(tx.edit, g)
		}
	}
}

// indexRemoveMany removes a set of deleted nodes, filtering each touched
// gram once, so deleting a large subtree costs O(postings), not O(n²).
func (tx *Tx) indexRemoveMany(dead map[nid]struct{}, grams map[string]struct{}) {
	for g := range grams {
		p := tx.mutPosting(g)
		p.ids = slices.DeleteFunc(p.ids, func(n nid) bool { _, ok := dead[n]; return ok })
		if len(p.ids) == 0 {
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
	lists := make([][]nid, 0, len(grams))
	for _, g := range grams {
		p, ok := st.grams.Get(g)
		if !ok {
			return nil, false
		}
		lists = append(lists, p.ids)
	}
	slices.SortFunc(lists, func(a, b []nid) int { return len(a) - len(b) })
	out := slices.Clone(lists[0])
	for _, l := range lists[1:] {
		out = intersectSorted(out, l)
		if len(out) == 0 {
			break
		}
	}
	return out, false
}

// intersectSorted keeps the elements of a (in place) that are also in b.
func intersectSorted(a, b []nid) []nid {
	out := a[:0]
	j := 0
	for _, x := range a {
		k, _ := slices.BinarySearch(b[j:], x)
		j += k
		if j < len(b) && b[j] == x {
			out = append(out, x)
		}
	}
	return out
}

package orgtree

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MatchRank says how a search hit matched; smaller is better.
type MatchRank int

const (
	// MatchExact: a name equals the keyword, ignoring case.
	MatchExact MatchRank = iota
	// MatchPrefix: a name starts with the keyword.
	MatchPrefix
	// MatchSubstring: a name contains the keyword.
	MatchSubstring
)

// SearchOptions narrows a search.
type SearchOptions struct {
	OrgID string // only this org when set
	Limit int    // at most this many hits when > 0
}

// SearchHit is one node found by Search, with its name path.
type SearchHit struct {
	Node     Node      `json:"node"`
	NamePath []string  `json:"namePath"`
	Rank     MatchRank `json:"rank"`
}

// foldRune maps every rune of a simple case-folding orbit (k, K, K) to one
// representative, the smallest, so comparing folded strings is comparing
// case-insensitively rune by rune, the way strings.EqualFold does.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		// For ASCII the smallest orbit member is the upper-case letter, also
		// for k (K, k, U+212A) and s (S, s, U+017F).
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}
	best := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < best {
			best = f
		}
	}
	return best
}

func foldString(s string) string {
	return strings.Map(foldRune, s)
}

func matchRank(foldedName, foldedKey string) (MatchRank, bool) {
	switch {
	case foldedName == foldedKey:
		return MatchExact, true
	case strings.HasPrefix(foldedName, foldedKey):
		return MatchPrefix, true
	case strings.Contains(foldedName, foldedKey):
		return MatchSubstring, true
	}
	return 0, false
}

// nodeRank is the best rank of keyword over a node's name and i18n names.
func nodeRank(r *nodeRec, foldedKey string) (MatchRank, bool) {
	best, found := matchRank(foldString(r.name), foldedKey)
	for _, v := range r.nameI18n {
		if rank, ok := matchRank(foldString(v), foldedKey); ok && (!found || rank < best) {
			best, found = rank, true
		}
	}
	return best, found
}

// Search finds nodes whose name or any nameI18n value contains keyword,
// ignoring case (Unicode simple case folding; no normalisation). Hits are
// ranked exact, then prefix, then substring; then shallower first, then by
// name and id.
func (s Snapshot) Search(keyword string, opt SearchOptions) ([]SearchHit, error) {
	const op = "search"
	if !utf8.ValidString(keyword) || strings.TrimSpace(keyword) == "" {
		return nil, fmt.Errorf("orgtree: %s: keyword must be non-empty UTF-8: %w", op, ErrInvalidArgument)
	}
	if n := utf8.RuneCountInString(keyword); n > maxKeywordRunes {
		return nil, fmt.Errorf("orgtree: %s: keyword has %d runes, more than %d: %w", op, n, maxKeywordRunes, ErrInvalidArgument)
	}
	if opt.Limit < 0 {
		return nil, fmt.Errorf("orgtree: %s: limit %d: %w", op, opt.Limit, ErrInvalidArgument)
	}
	if opt.OrgID != "" {
		if _, err := s.lookupOrg(op, opt.OrgID); err != nil {
			return nil, err
		}
	}
	key := foldString(keyword)
	type hit struct {
		r     *nodeRec
		n     nid
		rank  MatchRank
		depth int
	}
	var hits []hit
	consider := func(n nid, r *nodeRec) {
		if opt.OrgID != "" && r.orgID != opt.OrgID {
			return
		}
		if rank, ok := nodeRank(r, key); ok {
			hits = append(hits, hit{r, n, rank, s.st.depth(n)})
		}
	}
	if ids, scan := s.st.candidates(key); scan {
		for i, r := range s.st.nodes.All() {
			if r != nil {
				consider(nid(i), r)
			}
		}
	} else {
		for _, n := range s.st.withPending(ids) {
			if r := s.st.node(n); r != nil { // a deleted node stays listed until the fold
				consider(n, r)
			}
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.depth, b.depth), cmp.Compare(a.r.name, b.r.name), cmp.Compare(a.r.id, b.r.id))
	})
	if opt.Limit > 0 && len(hits) > opt.Limit {
		hits = hits[:opt.Limit]
	}
	out := make([]SearchHit, len(hits))
	for i, h := range hits {
		names := make([]string, 0, h.depth+1)
		for _, r := range s.st.chain(h.n) {
			names = append(names, r.name)
		}
		out[i] = SearchHit{Node: s.st.nodeValue(h.r), NamePath: names, Rank: h.rank}
	}
	return out, nil
}

// Search finds nodes by keyword; see Snapshot.Search.
func (t *Tree) Search(keyword string, opt SearchOptions) ([]SearchHit, error) {
	return t.Snapshot().Search(keyword, opt)
}

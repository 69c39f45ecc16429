package orgtree

import (
	"bytes"
	"cmp"
	"context"
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

// matcher ranks names against one folded keyword, folding each name into
// a buffer it reuses, so testing a candidate allocates nothing.
type matcher struct {
	key []byte
	buf []byte
}

func newMatcher(foldedKey string) *matcher { return &matcher{key: []byte(foldedKey)} }

// fold returns s case-folded as foldString does, in m's buffer.
func (m *matcher) fold(s string) []byte {
	b := m.buf[:0]
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			b = append(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		b = utf8.AppendRune(b, foldRune(r))
		i += size
	}
	m.buf = b
	return b
}

func (m *matcher) rankOf(name string) (MatchRank, bool) {
	f := m.fold(name)
	switch {
	case bytes.Equal(f, m.key):
		return MatchExact, true
	case bytes.HasPrefix(f, m.key):
		return MatchPrefix, true
	case bytes.Contains(f, m.key):
		return MatchSubstring, true
	}
	return 0, false
}

// rank is the best rank of the keyword over a node's name and i18n names.
func (m *matcher) rank(r *nodeRec) (MatchRank, bool) {
	best, found := m.rankOf(r.name)
	for _, v := range r.nameI18n {
		if found && best == MatchExact {
			break
		}
		if rank, ok := m.rankOf(v); ok && (!found || rank < best) {
			best, found = rank, true
		}
	}
	return best, found
}

// hit is a search result before it is turned into a SearchHit.
type hit struct {
	r     *nodeRec
	n     nid
	rank  MatchRank
	depth int
}

func sortHits(hits []hit) { slices.SortFunc(hits, cmpHits) }

func cmpHits(a, b hit) int {
	return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.depth, b.depth), cmp.Compare(a.r.name, b.r.name), cmp.Compare(a.r.id, b.r.id))
}

// sortHitsUntil is sortHits that c can cut short: sorting every hit of a
// query that matches most of a large tree is most of its cost. Once c has
// stopped, every comparison says equal, so the sort runs out at once; its
// order, which the caller then discards, is arbitrary.
func sortHitsUntil(c *canceller, hits []hit) {
	if c == nil {
		sortHits(hits)
		return
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if c.stop() {
			return 0
		}
		return cmpHits(a, b)
	})
}

// bestHits returns the need best of hits (all of one rank), in order.
// Sorting every hit by name would cost most of a limited search that
// re-checks thousands of candidates; depth, a small integer, decides all
// but the hits at the deepest depth that still makes the cut, so only the
// hits down to that depth are sorted.
func bestHits(hits []hit, need int) []hit {
	if len(hits) > need {
		var perDepth []int
		for _, h := range hits {
			if h.depth >= len(perDepth) {
				perDepth = append(perDepth, make([]int, h.depth+1-len(perDepth))...)
			}
			perDepth[h.depth]++
		}
		cut, sum := 0, 0
		for cut < len(perDepth) && sum+perDepth[cut] < need {
			sum += perDepth[cut]
			cut++
		}
		hits = slices.DeleteFunc(hits, func(h hit) bool { return h.depth > cut })
	}
	sortHits(hits)
	return hits[:min(need, len(hits))]
}

// topScanLimit is the largest candidate list a limited search re-checks
// whole; above it, it walks the tree level by level instead.
var topScanLimit = 2048 // a variable so tests can make small trees take the walk

// Search finds nodes whose name or any nameI18n value contains keyword,
// ignoring case (Unicode simple case folding; no normalisation). Hits are
// ranked exact, then prefix, then substring; then shallower first, then by
// name and id.
//
// Without a Limit every hit is found: the name index narrows the
// candidates, each is re-checked. With a Limit k the search works rank by
// rank and stops once it has k hits: for each rank it re-checks the
// candidates the index gives when they are few (at most topScanLimit), and
// otherwise walks the tree level by level, shallowest first, until it has
// enough hits from whole levels — so a query that matches most of the tree
// stops after its first levels.
func (s Snapshot) Search(keyword string, opt SearchOptions) ([]SearchHit, error) {
	return s.SearchContext(context.Background(), keyword, opt)
}

// SearchContext is Search that stops when ctx ends: it looks at ctx before
// it starts and every few hundred nodes it re-checks, and then returns an
// error wrapping ctx.Err() and no hits.
func (s Snapshot) SearchContext(ctx context.Context, keyword string, opt SearchOptions) ([]SearchHit, error) {
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
	var root nid // 0: every org
	if opt.OrgID != "" {
		o, err := s.lookupOrg(op, opt.OrgID)
		if err != nil {
			return nil, err
		}
		root = o.root
	}
	c := newCanceller(ctx, op)
	if c.now() {
		return nil, c.stopped()
	}
	key := foldString(keyword)
	m := newMatcher(key)
	var hits []hit
	if opt.Limit > 0 {
		hits = s.topHits(c, m, key, root, opt.Limit)
	} else {
		hits = s.rankedHits(c, m, substringGrams(key), root, -1, 0)
		sortHitsUntil(c, hits)
	}
	if c.stopped() != nil {
		return nil, c.stopped()
	}
	out := make([]SearchHit, len(hits))
	for i, h := range hits {
		if c.stop() {
			return nil, c.stopped()
		}
		names := make([]string, h.depth+1)
		for k, n := h.depth, h.n; k >= 0; k-- {
			r := s.st.node(n)
			names[k], n = r.name, r.parent
		}
		out[i] = SearchHit{Node: s.st.nodeValue(h.r), NamePath: names, Rank: h.rank}
	}
	return out, nil
}

// topHits returns the best k hits, rank by rank (or what it has when c
// stops it).
func (s Snapshot) topHits(c *canceller, m *matcher, key string, root nid, k int) []hit {
	var out []hit
	for rank := MatchExact; rank <= MatchSubstring && len(out) < k && c.stopped() == nil; rank++ {
		need := k - len(out)
		var phase []hit
		grams := rankGrams(key, rank)
		if lists, ok := s.st.postings(grams); grams == nil || (ok && lists[0].n > topScanLimit) {
			phase = s.levelHits(c, m, root, rank, need)
		} else {
			phase = s.rankedHits(c, m, grams, root, rank, need)
		}
		out = append(out, bestHits(phase, need)...)
	}
	return out
}

// rankedHits re-checks the nodes listed under every gram (and the pending
// ones) and returns those that match with the given rank (any rank if
// rank < 0). Nil grams mean every node. With need > 0 only the hits from
// the shallowest depths that give need of them are sure to be returned:
// the candidates are re-checked shallowest first (a depth costs far less
// to read than a name to fold), stopping after the depth that brings the
// hits to need. When c stops it, what it returns is incomplete: the caller
// looks at c.
func (s Snapshot) rankedHits(c *canceller, m *matcher, grams []string, root nid, rank MatchRank, need int) []hit {
	st := s.st
	var hits []hit
	org := ""
	if root != 0 {
		org = st.node(root).orgID
	}
	consider := func(n nid, r *nodeRec) {
		if org != "" && r.orgID != org {
			return
		}
		if rk, ok := m.rank(r); ok && (rank < 0 || rk == rank) {
			hits = append(hits, hit{r, n, rk, st.depth(n)})
		}
	}
	if grams == nil {
		for i, r := range st.nodes.All() {
			if c.stop() {
				return hits
			}
			if r != nil {
				consider(nid(i), r)
			}
		}
		return hits
	}
	var ids []nid
	if lists, ok := st.postings(grams); ok {
		ids = intersect(lists)
	}
	ids = st.withPending(ids)
	if need > 0 && len(ids) > need {
		for _, level := range st.byDepth(ids) {
			for _, n := range level {
				if c.stop() {
					return hits
				}
				if r := st.node(n); r != nil {
					consider(n, r)
				}
			}
			if len(hits) >= need {
				break
			}
		}
		return hits
	}
	for _, n := range ids {
		if c.stop() {
			return hits
		}
		if r := st.node(n); r != nil { // a deleted node stays listed until the fold
			consider(n, r)
		}
	}
	return hits
}

// byDepth groups live handles by depth, shallowest first (a counting sort).
func (st *state) byDepth(ids []nid) [][]nid {
	depths := make([]int32, len(ids))
	var count []int
	for i, n := range ids {
		d := int32(-1)
		if st.node(n) != nil {
			d = int32(st.depth(n))
			if int(d) >= len(count) {
				count = append(count, make([]int, int(d)+1-len(count))...)
			}
			count[d]++
		}
		depths[i] = d
	}
	sorted := make([]nid, 0, len(ids))
	levels := make([][]nid, len(count))
	start := make([]int, len(count))
	for d, c := range count {
		start[d] = len(sorted)
		sorted = sorted[:len(sorted)+c]
	}
	fill := slices.Clone(start)
	for i, n := range ids {
		if d := depths[i]; d >= 0 {
			sorted[fill[d]] = n
			fill[d]++
		}
	}
	for d := range count {
		levels[d] = sorted[start[d]:fill[d]]
	}
	return levels
}

// levelHits walks the tree (or root's org) level by level and returns the
// nodes matching with the given rank from the shallowest levels, stopping
// after the first level that brings their number to need (or when c stops
// it).
func (s Snapshot) levelHits(c *canceller, m *matcher, root nid, rank MatchRank, need int) []hit {
	st := s.st
	var level []nid
	if root != 0 {
		level = []nid{root}
	} else {
		for _, o := range st.orgs.All() {
			level = append(level, o.root)
		}
	}
	var hits []hit
	for depth := 0; len(level) > 0 && len(hits) < need; depth++ {
		var next []nid
		for _, n := range level {
			if c.stop() {
				return hits
			}
			r := st.node(n)
			if rk, ok := m.rank(r); ok && rk == rank {
				hits = append(hits, hit{r, n, rk, depth})
			}
			next = append(next, r.children...)
		}
		level = next
	}
	return hits
}

// Search finds nodes by keyword; see Snapshot.Search.
func (t *Tree) Search(keyword string, opt SearchOptions) ([]SearchHit, error) {
	return t.Snapshot().Search(keyword, opt)
}

// SearchContext finds nodes by keyword until ctx ends; see
// Snapshot.SearchContext.
func (t *Tree) SearchContext(ctx context.Context, keyword string, opt SearchOptions) ([]SearchHit, error) {
	return t.Snapshot().SearchContext(ctx, keyword, opt)
}

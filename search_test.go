package orgtree

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bruteContains reports whether some rune window of s equals q under
// strings.EqualFold: an implementation independent of foldString.
func bruteContains(s, q string) bool {
	rs, n := []rune(s), utf8.RuneCountInString(q)
	for i := 0; i+n <= len(rs); i++ {
		if strings.EqualFold(string(rs[i:i+n]), q) {
			return true
		}
	}
	return false
}

// bruteSearch returns the ids of every node whose name or i18n name
// contains q, by scanning.
func bruteSearch(t *testing.T, tr *Tree, q string) []string {
	var out []string
	for _, root := range tr.ExportAll(ExportOptions{OmitMembers: true, OmitPaths: true}) {
		stack := []*TreeNode{root}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = append(stack[:len(stack)-1], n.Children...)
			match := bruteContains(n.Name, q)
			for _, v := range n.NameI18n {
				match = match || bruteContains(v, q)
			}
			if match {
				out = append(out, n.ID)
			}
		}
	}
	slices.Sort(out)
	return out
}

// bruteRank is the rank of q in s by rune windows under strings.EqualFold.
func bruteRank(s, q string) (MatchRank, bool) {
	rs, n := []rune(s), utf8.RuneCountInString(q)
	switch {
	case len(rs) == n && strings.EqualFold(s, q):
		return MatchExact, true
	case len(rs) >= n && strings.EqualFold(string(rs[:n]), q):
		return MatchPrefix, true
	case bruteContains(s, q):
		return MatchSubstring, true
	}
	return 0, false
}

// bruteRanked returns the ids of every hit of q in Search's order (rank,
// depth, name, id), by scanning.
func bruteRanked(t *testing.T, tr *Tree, q string) []string {
	type hit struct {
		id, name    string
		rank, depth int
	}
	var hits []hit
	for _, root := range tr.ExportAll(ExportOptions{OmitMembers: true, OmitPaths: true}) {
		type frame struct {
			n     *TreeNode
			depth int
		}
		stack := []frame{{root, 0}}
		for len(stack) > 0 {
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, c := range f.n.Children {
				stack = append(stack, frame{c, f.depth + 1})
			}
			best, found := bruteRank(f.n.Name, q)
			for _, v := range f.n.NameI18n {
				if r, ok := bruteRank(v, q); ok && (!found || r < best) {
					best, found = r, true
				}
			}
			if found {
				hits = append(hits, hit{f.n.ID, f.n.Name, int(best), f.depth})
			}
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.depth, b.depth), cmp.Compare(a.name, b.name), cmp.Compare(a.id, b.id))
	})
	out := []string{}
	for _, h := range hits {
		out = append(out, h.id)
	}
	return out
}

var searchAlphabet = []string{"a", "B", "k", "K", "K", "s", "ſ", "S", "ß", "ẞ", "i", "İ", "ı", "研", "发", "部", "后", "端", "é", "e\u0301", "Σ", "σ", "ς", " ", "/", "1"}

func randomName(rng *rand.Rand) string {
	var b strings.Builder
	for n := 1 + rng.IntN(8); n > 0; n-- {
		b.WriteString(searchAlphabet[rng.IntN(len(searchAlphabet))])
	}
	if s := strings.TrimSpace(b.String()); s != "" {
		return s
	}
	return "研"
}

func TestSearchEqualsBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	defer func(was int) { pageChunks = was }(pageChunks)
	pageChunks = 2 // postings of a few hundred handles take several pages
	tr := newTestTree(t, WithLimits(Limits{MaxChildren: -1}))
	org, err := tr.CreateOrg(OrgInput{Name: "root"})
	require.NoError(t, err)
	ids := []string{org.RootID}
	for i := 0; i < 1500; i++ { // enough for postings to split into chunks
		in := NodeInput{ParentID: ids[rng.IntN(len(ids))], Name: randomName(rng)}
		if rng.IntN(4) == 0 {
			in.NameI18n = map[string]string{"en": randomName(rng)}
		}
		n, err := tr.AddNode(in)
		require.NoError(t, err)
		ids = append(ids, n.ID)
		switch rng.IntN(40) {
		case 0, 1, 2, 3: // rename
			if _, err := tr.Node(ids[len(ids)-1]); err == nil && len(ids) > 1 {
				_, err = tr.UpdateNode(ids[len(ids)-1], NodeUpdate{Name: Ptr(randomName(rng)), NameI18n: map[string]string{}})
				require.NoError(t, err)
			}
		case 4: // delete a subtree
			victim := ids[1+rng.IntN(len(ids)-1)]
			if _, err := tr.Node(victim); err == nil {
				require.NoError(t, tr.DeleteNode(victim, Cascade))
				// keep only live ids as parents
				ids = slices.DeleteFunc(ids, func(id string) bool { _, err := tr.Node(id); return err != nil })
			}
		}

	}
	checked(t, tr)
	paged := false
	for _, p := range tr.Snapshot().st.grams.All() {
		paged = paged || len(p.pages) > 1
	}
	require.True(t, paged, "no posting was long enough to take several pages")
	queries, rounds := 0, size(200, 600)
	for i := 0; i < rounds; i++ {
		q := randomName(rng)
		if i%3 == 0 { // a window of an existing name
			n, _ := tr.Node(ids[rng.IntN(len(ids))])
			rs := []rune(n.Name)
			a := rng.IntN(len(rs))
			q = string(rs[a : a+1+rng.IntN(len(rs)-a)])
		}
		if strings.TrimSpace(q) == "" {
			continue
		}
		hits, err := tr.Search(q, SearchOptions{})
		require.NoError(t, err)
		var got []string
		for _, h := range hits {
			got = append(got, h.Node.ID)
			assert.Equal(t, h.NamePath[len(h.NamePath)-1], h.Node.Name)
		}
		ranked := bruteRanked(t, tr, q)
		require.Equal(t, ranked, append([]string{}, got...), "query %q: order", q)
		slices.Sort(got)
		require.Equal(t, bruteSearch(t, tr, q), got, "query %q", q)
		// A limited search returns the first hits of the full one, whether
		// it re-checks index candidates or walks the tree level by level.
		for _, scanLimit := range []int{topScanLimit, 4} {
			defer func(old int) { topScanLimit = old }(topScanLimit)
			topScanLimit = scanLimit
			for _, k := range []int{1, 3, 20} {
				hits, err := tr.Search(q, SearchOptions{Limit: k})
				require.NoError(t, err)
				ids := []string{}
				for _, h := range hits {
					ids = append(ids, h.Node.ID)
				}
				require.Equal(t, ranked[:min(k, len(ranked))], ids, "query %q, limit %d, scan limit %d", q, k, scanLimit)
			}
		}
		queries++
	}
	require.Greater(t, queries, rounds*5/6)
}

// TestLargeFoldMatchesRecords drives the name index's parallel fold (a
// transaction leaving more than 8192 pending nodes, twice): first a load of new
// nodes, then renames and deletes of most of them in one transaction, so
// that every part has grams to add and to remove. Check compares every
// posting with the records; the searches compare with a scan.
func TestLargeFoldMatchesRecords(t *testing.T) {
	tr := New(WithLimits(Limits{MaxChildren: -1}))
	org, err := tr.CreateOrg(OrgInput{Name: "Acme"})
	require.NoError(t, err)
	words := []string{"研发", "Platform", "Sales", "后端", "Ops"}
	var ids []string
	require.NoError(t, tr.Update(func(tx *Tx) error {
		for i := range 12000 {
			n, err := tx.AddNode(NodeInput{ParentID: org.RootID, Name: words[i%len(words)] + "-" + strconv.Itoa(i)})
			if err != nil {
				return err
			}
			ids = append(ids, n.ID)
		}
		return nil
	}))
	checked(t, tr)
	require.NoError(t, tr.Update(func(tx *Tx) error {
		for i, id := range ids {
			var err error
			switch i % 10 {
			case 0:
				err = tx.DeleteNode(id, RefuseNonEmpty)
			case 1, 2:
			default:
				_, err = tx.UpdateNode(id, NodeUpdate{Name: Ptr(words[(i+1)%len(words)] + " renamed " + strconv.Itoa(i))})
			}
			if err != nil {
				return err
			}
		}
		return nil
	}))
	checked(t, tr)
	for _, q := range []string{"研发", "renamed 12", "platform-1", "-8999", "后端 renamed"} {
		got, err := tr.Search(q, SearchOptions{})
		require.NoError(t, err)
		var gotIDs []string
		for _, h := range got {
			gotIDs = append(gotIDs, h.Node.ID)
		}
		slices.Sort(gotIDs)
		want := bruteSearch(t, tr, q)
		slices.Sort(want)
		require.Equal(t, want, gotIDs, "search %q", q)
	}
}

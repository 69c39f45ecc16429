package orgtree

import (
	"math/rand/v2"
	"slices"
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
	chunked := false
	for _, p := range tr.Snapshot().st.grams.All() {
		chunked = chunked || len(p.chunks) > 1
	}
	require.True(t, chunked, "no posting was long enough to split")
	queries := 0
	for i := 0; i < 600; i++ {
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
		slices.Sort(got)
		require.Equal(t, bruteSearch(t, tr, q), got, "query %q", q)
		queries++
	}
	require.Greater(t, queries, 500)
}

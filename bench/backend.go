package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/orgtree/orgtree"
)

// backend is one implementation of the workload. Every method answers the
// same question the same way on every backend (bench_test.go checks that):
// lookups return every field of an orgtree.Node, and so does each search
// hit, with its name path and rank, as orgtree's; children sort by order
// desc then creation; member pages list distinct users by creation
// ascending; search is a case-insensitive substring match on names, and a
// limited search returns the k best hits in orgtree's order (exact, prefix,
// substring; then shallower first; then by name and id).
type backend interface {
	name() string
	load(o *synthOrg) error // nodes, users and memberships in one transaction
	lookupID(id string) (orgtree.Node, bool)
	lookupCode(code string) (orgtree.Node, bool)
	path(id string) []string // ids, root first
	children(id string) []string
	move(id, parent string) error // errCycle when parent is id or below it
	subtreeCount(id string) int   // distinct members of the subtree
	firstPage(id string, limit int) []string
	search(q string) []orgtree.SearchHit           // every matching node, its name path and rank; any order
	searchTop(q string, k int) []orgtree.SearchHit // the k best, best first
	addMember(node, user string) error
	removeMember(node, user string) error
	rename(id, name string) error
	exportJSON(w io.Writer) error // the org as nested JSON (nodes only)
	importJSON(r io.Reader) error // into a fresh, empty instance of the backend
	close() error
}

type cycleError struct{}

func (cycleError) Error() string { return "move would create a cycle" }

var errCycle error = cycleError{}

// orgID is the id every backend gives the one org it holds.
const orgID = "org"

// Ranks of a search hit, as orgtree.MatchRank orders them.
const (
	rankExact = iota
	rankPrefix
	rankSubstring
)

// matchRank ranks name against the lower-cased query q. The bench's names
// are ASCII or Chinese, for which lower-casing is orgtree's case folding.
func matchRank(name, q string) (int, bool) {
	name = strings.ToLower(name)
	switch {
	case name == q:
		return rankExact, true
	case strings.HasPrefix(name, q):
		return rankPrefix, true
	case strings.Contains(name, q):
		return rankSubstring, true
	}
	return 0, false
}

// searchHit is a candidate of a limited search.
type searchHit struct {
	id, name    string
	rank, depth int
}

func compareHits(a, b searchHit) int {
	return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.depth, b.depth), strings.Compare(a.name, b.name), strings.Compare(a.id, b.id))
}

// topK keeps the k best hits of a scan, what a hand-written limited search
// does: a bounded, sorted buffer, and no depth walk for a hit whose rank
// cannot make the cut.
type topK struct {
	k    int
	hits []searchHit
}

// wants reports whether a hit of this rank could still enter the top k.
func (t *topK) wants(rank int) bool {
	return len(t.hits) < t.k || rank <= t.hits[len(t.hits)-1].rank
}

func (t *topK) add(h searchHit) {
	if len(t.hits) == t.k {
		if compareHits(h, t.hits[t.k-1]) >= 0 {
			return
		}
		t.hits = t.hits[:t.k-1]
	}
	i, _ := slices.BinarySearchFunc(t.hits, h, compareHits)
	t.hits = slices.Insert(t.hits, i, h)
}

// hitIDs lists the node ids of search hits, in their order.
func hitIDs(hits []orgtree.SearchHit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Node.ID
	}
	return out
}

// exportRows writes the nested export document that nestRows builds.
func exportRows(w io.Writer, rows rowSource) error {
	roots, err := nestRows(rows)
	if err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(roots)
}

// decodeDoc reads a nested document; the bench's hold one org.
func decodeDoc(r io.Reader) (*jsonNode, error) {
	var roots []*jsonNode
	if err := json.NewDecoder(r).Decode(&roots); err != nil {
		return nil, err
	}
	if len(roots) != 1 {
		return nil, fmt.Errorf("the document holds %d orgs, want 1", len(roots))
	}
	return roots[0], nil
}

// rowSource is what database/sql's and pgx's rows have in common.
type rowSource interface {
	Next() bool
	Scan(...any) error
	Err() error
}

// nestRows builds the nested export document from rows read in sibling
// order (order desc, then creation), each naming its parent: how a SQL
// backend exports, one query and the nesting in memory.
//
// rows yield (id, parent id or "", name, code, order).
func nestRows(rows rowSource) ([]*jsonNode, error) {
	byID := map[string]*jsonNode{}
	parents := map[string]string{}
	var order []string
	for rows.Next() {
		j := &jsonNode{Children: []*jsonNode{}}
		var parent string
		if err := rows.Scan(&j.ID, &parent, &j.Name, &j.Code, &j.Order); err != nil {
			return nil, err
		}
		byID[j.ID], parents[j.ID] = j, parent
		order = append(order, j.ID)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var roots []*jsonNode
	for _, id := range order {
		if p := parents[id]; p == "" {
			roots = append(roots, byID[id])
		} else {
			byID[p].Children = append(byID[p].Children, byID[id])
		}
	}
	return roots, nil
}

// sqlNodeColumns lists the columns of table alias t that make an
// orgtree.Node, in the order the SQL backends scan them (the bench's nodes
// have no i18n names, so the schemas keep none).
func sqlNodeColumns(t string) string {
	return strings.NewReplacer("t.", t+".").Replace(`t.id, coalesce(t.parent_id, ''), t.name, coalesce(t.code, ''), t.ord, t.description, ` +
		`coalesce(t.external_id, ''), coalesce(t.leader_user_id, ''), t.created_at, t.updated_at`)
}

// sqlRank is the MatchRank of a hit in SQL; ? stands for the lower-cased
// query's parameter.
func sqlRank(t, param, startsWith string) string {
	return "CASE WHEN lower(" + t + ".name) = " + param + " THEN 0 WHEN " + startsWith + " THEN 1 ELSE 2 END"
}

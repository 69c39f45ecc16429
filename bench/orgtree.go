package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

	"github.com/orgtree/orgtree"
)

// orgtreeBackend is the engine under test.
type orgtreeBackend struct {
	t   *orgtree.Tree
	org string
}

func newOrgtree() *orgtreeBackend {
	return &orgtreeBackend{t: orgtree.New(benchTreeOptions...)}
}

func (b *orgtreeBackend) name() string { return "orgtree" }

func (b *orgtreeBackend) load(o *synthOrg) error {
	return b.t.Update(func(tx *orgtree.Tx) error {
		org, err := tx.CreateOrg(orgtree.OrgInput{ID: orgID, RootID: o.nodes[0].id, Name: o.nodes[0].name, Code: o.nodes[0].code})
		if err != nil {
			return err
		}
		b.org = org.ID
		for _, n := range o.nodes[1:] {
			if _, err := tx.AddNode(orgtree.NodeInput{ID: n.id, ParentID: o.nodes[n.parent].id, Name: n.name, Code: n.code, Order: n.order}); err != nil {
				return err
			}
		}
		for _, u := range o.users {
			if _, err := tx.CreateUser(orgtree.User{ID: u.id, Name: u.name}); err != nil {
				return err
			}
		}
		for _, m := range o.members {
			if err := tx.AddMembers(o.nodes[m[0]].id, o.users[m[1]].id); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *orgtreeBackend) lookupID(id string) (orgtree.Node, bool) {
	n, err := b.t.Node(id)
	return n, err == nil
}

func (b *orgtreeBackend) lookupCode(code string) (orgtree.Node, bool) {
	n, err := b.t.NodeByCode(b.org, code)
	return n, err == nil
}

func (b *orgtreeBackend) path(id string) []string {
	p, _ := b.t.Path(id)
	return p
}

func (b *orgtreeBackend) children(id string) []string {
	c, _ := b.t.ChildIDs(id)
	return c
}

func (b *orgtreeBackend) move(id, parent string) error {
	_, err := b.t.MoveNode(id, parent)
	if errors.Is(err, orgtree.ErrCycle) {
		return errCycle
	}
	return err
}

func (b *orgtreeBackend) subtreeCount(id string) int {
	n, _ := b.t.MemberCount(id, true)
	return n
}

func (b *orgtreeBackend) firstPage(id string, limit int) []string {
	p, err := b.t.ListMembers(id, orgtree.ListMembersOptions{IncludeDescendants: true, Limit: limit, SortBy: orgtree.SortCreatedAtAsc})
	if err != nil {
		return nil
	}
	out := make([]string, len(p.List))
	for i, u := range p.List {
		out[i] = u.ID
	}
	return out
}

func (b *orgtreeBackend) search(q string) []orgtree.SearchHit {
	hits, _ := b.t.Search(q, orgtree.SearchOptions{OrgID: b.org})
	return hits
}

func (b *orgtreeBackend) searchTop(q string, k int) []orgtree.SearchHit {
	hits, _ := b.t.Search(q, orgtree.SearchOptions{OrgID: b.org, Limit: k})
	return hits
}

func (b *orgtreeBackend) addMember(node, user string) error    { return b.t.AddMembers(node, user) }
func (b *orgtreeBackend) removeMember(node, user string) error { return b.t.RemoveMembers(node, user) }

func (b *orgtreeBackend) rename(id, name string) error {
	_, err := b.t.UpdateNode(id, orgtree.NodeUpdate{Name: &name})
	return err
}

// noop is a transaction that changes nothing: begin and end.
func (b *orgtreeBackend) noop() error { return b.t.Update(func(*orgtree.Tx) error { return nil }) }

// describe is the smallest write there is: one field of one node, which
// no index and no sibling order depends on.
func (b *orgtreeBackend) describe(id, text string) error {
	_, err := b.t.UpdateNode(id, orgtree.NodeUpdate{Description: &text})
	return err
}

func (b *orgtreeBackend) exportJSON(w io.Writer) error {
	return b.t.ExportJSON(w, b.org, orgtree.ExportOptions{OmitMembers: true, OmitPaths: true})
}

func (b *orgtreeBackend) importJSON(r io.Reader) error {
	orgs, err := b.t.ImportJSON(r, orgtree.ImportOptions{KeepIDs: true})
	if err == nil && len(orgs) > 0 {
		b.org = orgs[0].ID
	}
	return err
}

func (b *orgtreeBackend) close() error { return nil }

// exportWithMembers writes the org with every node's members: the whole
// document a backup or a sync reads. Only orgtree has this row.
func (b *orgtreeBackend) exportWithMembers(w io.Writer) error {
	return b.t.ExportJSON(w, b.org, orgtree.ExportOptions{OmitPaths: true})
}

func (b *orgtreeBackend) check() error { return b.t.Check() }

// chainRun is the deep-chain row: a chain (each node the only child of the
// one before) built by Tree.AddNode, one transaction per node, until it is
// target deep or the budget is spent.
type chainRun struct {
	target, nodes int
	elapsed       time.Duration
	halfNodes     int           // about half of nodes
	half          time.Duration // the time those took
}

// buildChain builds the chain with the depth limit lifted. Every hundred
// nodes it notes the time, so that the cost growth can be read off: a
// constant cost per node makes the second half take as long as the first,
// a cost linear in depth three times as long.
func buildChain(target int, budget time.Duration) (chainRun, error) {
	t := orgtree.New(orgtree.WithLimits(orgtree.Limits{MaxDepth: -1, MaxImportNodes: -1}))
	if _, err := t.CreateOrg(orgtree.OrgInput{ID: orgID, RootID: "d0", Name: "chain"}); err != nil {
		return chainRun{}, err
	}
	run := chainRun{target: target, nodes: 1}
	const every = 100
	var marks []time.Duration // marks[i]: time when every·(i+1) nodes stood
	start := time.Now()
	for parent := "d0"; run.nodes < target; run.nodes++ {
		id := "d" + strconv.Itoa(run.nodes)
		if _, err := t.AddNode(orgtree.NodeInput{ID: id, ParentID: parent, Name: "level " + id[1:]}); err != nil {
			return run, fmt.Errorf("chain at depth %d: %w", run.nodes, err)
		}
		parent = id
		if (run.nodes+1)%every == 0 {
			marks = append(marks, time.Since(start))
			if marks[len(marks)-1] > budget {
				run.nodes++
				break
			}
		}
	}
	run.elapsed = time.Since(start)
	if len(marks) >= 2 {
		run.halfNodes, run.half = every*(len(marks)/2), marks[len(marks)/2-1]
	}
	if d, err := t.Depth("d" + strconv.Itoa(run.nodes-1)); err != nil || d != run.nodes-1 {
		return run, fmt.Errorf("chain: the last node has depth %d (%v), want %d", d, err, run.nodes-1)
	}
	return run, nil
}

// extrapolate estimates the time a chain of target nodes takes from the
// growth from half the chain to all of it: t(n) ∝ n^k, k measured and held
// between 1 (a constant cost per node) and 2 (a cost linear in depth).
func (c chainRun) extrapolate() (time.Duration, float64) {
	if c.nodes >= c.target || c.half <= 0 || c.halfNodes >= c.nodes {
		return c.elapsed, 1
	}
	k := math.Log(float64(c.elapsed)/float64(c.half)) / math.Log(float64(c.nodes)/float64(c.halfNodes))
	k = min(max(k, 1), 2)
	return time.Duration(float64(c.elapsed) * math.Pow(float64(c.target)/float64(c.nodes), k)), k
}

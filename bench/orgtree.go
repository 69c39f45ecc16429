package main

import (
	"errors"
	"io"

	"github.com/orgtree/orgtree"
)

// orgtreeBackend is the engine under test.
type orgtreeBackend struct {
	t   *orgtree.Tree
	org string
}

func newOrgtree() *orgtreeBackend {
	return &orgtreeBackend{t: orgtree.New(orgtree.WithLimits(orgtree.Limits{MaxChildren: -1, MaxImportNodes: -1}))}
}

func (b *orgtreeBackend) name() string { return "orgtree" }

func (b *orgtreeBackend) load(o *synthOrg) error {
	return b.t.Update(func(tx *orgtree.Tx) error {
		org, err := tx.CreateOrg(orgtree.OrgInput{ID: "org", RootID: o.nodes[0].id, Name: o.nodes[0].name, Code: o.nodes[0].code})
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

func (b *orgtreeBackend) lookupID(id string) (string, bool) {
	n, err := b.t.Node(id)
	return n.Name, err == nil
}

func (b *orgtreeBackend) lookupCode(code string) (string, bool) {
	n, err := b.t.NodeByCode(b.org, code)
	return n.ID, err == nil
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

func (b *orgtreeBackend) search(q string) []string {
	hits, _ := b.t.Search(q, orgtree.SearchOptions{OrgID: b.org})
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Node.ID
	}
	return out
}

func (b *orgtreeBackend) addMember(node, user string) error    { return b.t.AddMembers(node, user) }
func (b *orgtreeBackend) removeMember(node, user string) error { return b.t.RemoveMembers(node, user) }

func (b *orgtreeBackend) rename(id, name string) error {
	_, err := b.t.UpdateNode(id, orgtree.NodeUpdate{Name: &name})
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

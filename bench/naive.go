package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/orgtree/orgtree"
)

// naiveBackend is what a service writes by hand: maps from id and code to
// nodes with parent pointers and child lists, members as a set per node,
// and a depth-first walk for every subtree question. An RWMutex makes it
// safe for concurrent use, as a real service would need.
type naiveBackend struct {
	mu     sync.RWMutex
	byID   map[string]*naiveNode
	byCode map[string]*naiveNode
	users  map[string]int64 // user id → created
	root   *naiveNode
	seq    int
}

// naiveNode keeps the fields orgtree.Node has, so that a lookup returns
// the same record orgtree's does.
type naiveNode struct {
	id, code, name, description string
	externalID, leaderUserID    string
	nameI18n, descriptionI18n   map[string]string
	created, updated            time.Time
	order, seq                  int
	parent                      *naiveNode
	children                    []*naiveNode
	members                     map[string]bool
}

// value is the node as an orgtree.Node, maps cloned as orgtree clones them.
func (n *naiveNode) value() orgtree.Node {
	v := orgtree.Node{ID: n.id, OrgID: orgID, Name: n.name, NameI18n: maps.Clone(n.nameI18n), Description: n.description,
		DescriptionI18n: maps.Clone(n.descriptionI18n), Code: n.code, Order: n.order, ExternalID: n.externalID,
		LeaderUserID: n.leaderUserID, CreatedAt: n.created, UpdatedAt: n.updated}
	if n.parent != nil {
		v.ParentID = n.parent.id
	}
	return v
}

func newNaive() *naiveBackend {
	return &naiveBackend{byID: map[string]*naiveNode{}, byCode: map[string]*naiveNode{}, users: map[string]int64{}}
}

func (b *naiveBackend) name() string { return "naive" }

func (b *naiveBackend) addNode(id, code, name string, order int, parent *naiveNode) *naiveNode {
	b.seq++
	now := time.Now()
	n := &naiveNode{id: id, code: code, name: name, order: order, seq: b.seq, parent: parent, members: map[string]bool{}, created: now, updated: now}
	b.byID[id] = n
	if code != "" {
		b.byCode[code] = n
	}
	if parent == nil {
		b.root = n
	} else {
		parent.children = append(parent.children, n)
	}
	return n
}

// load takes the org as a service receives it, by ids: each parent and each
// membership's node and user are found through the maps (as orgtree's
// load finds them through its indexes), and an unknown one is an error.
func (b *naiveBackend) load(o *synthOrg) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, n := range o.nodes {
		var parent *naiveNode
		if n.parent >= 0 {
			if parent = b.byID[o.nodes[n.parent].id]; parent == nil {
				return fmt.Errorf("node %s: no parent %s", n.id, o.nodes[n.parent].id)
			}
		}
		b.addNode(n.id, n.code, n.name, n.order, parent)
	}
	for _, u := range o.users {
		b.users[u.id] = u.created
	}
	for _, m := range o.members {
		if err := b.link(o.nodes[m[0]].id, o.users[m[1]].id); err != nil {
			return err
		}
	}
	return nil
}

// link adds a membership of a known user to a known node.
func (b *naiveBackend) link(node, user string) error {
	n := b.byID[node]
	if n == nil {
		return fmt.Errorf("no node %s", node)
	}
	if _, ok := b.users[user]; !ok {
		return fmt.Errorf("no user %s", user)
	}
	n.members[user] = true
	return nil
}

func (b *naiveBackend) lookupID(id string) (orgtree.Node, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n, ok := b.byID[id]
	if !ok {
		return orgtree.Node{}, false
	}
	return n.value(), true
}

func (b *naiveBackend) lookupCode(code string) (orgtree.Node, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n, ok := b.byCode[code]
	if !ok {
		return orgtree.Node{}, false
	}
	return n.value(), true
}

func (b *naiveBackend) path(id string) []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []string
	for n := b.byID[id]; n != nil; n = n.parent {
		out = append(out, n.id)
	}
	slices.Reverse(out)
	return out
}

func (b *naiveBackend) children(id string) []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	kids := slices.Clone(b.byID[id].children)
	slices.SortFunc(kids, func(x, y *naiveNode) int {
		return cmp.Or(cmp.Compare(y.order, x.order), cmp.Compare(x.seq, y.seq), cmp.Compare(x.id, y.id))
	})
	out := make([]string, len(kids))
	for i, k := range kids {
		out[i] = k.id
	}
	return out
}

func (b *naiveBackend) move(id, parent string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, p := b.byID[id], b.byID[parent]
	for a := p; a != nil; a = a.parent {
		if a == n {
			return errCycle
		}
	}
	old := n.parent
	old.children = slices.DeleteFunc(old.children, func(c *naiveNode) bool { return c == n })
	n.parent = p
	p.children = append(p.children, n)
	return nil
}

// subtree walks the subtree of id depth-first.
func (b *naiveBackend) subtree(id string, visit func(*naiveNode)) {
	stack := []*naiveNode{b.byID[id]}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		visit(n)
		stack = append(stack, n.children...)
	}
}

func (b *naiveBackend) distinct(id string) map[string]bool {
	seen := map[string]bool{}
	b.subtree(id, func(n *naiveNode) {
		for u := range n.members {
			seen[u] = true
		}
	})
	return seen
}

func (b *naiveBackend) subtreeCount(id string) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.distinct(id))
}

func (b *naiveBackend) firstPage(id string, limit int) []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var users []string
	for u := range b.distinct(id) {
		users = append(users, u)
	}
	slices.SortFunc(users, func(x, y string) int { return cmp.Or(cmp.Compare(b.users[x], b.users[y]), cmp.Compare(x, y)) })
	return users[:min(limit, len(users))]
}

// hit is n as a search hit: the node, its name path, its rank.
func (n *naiveNode) hit(rank int) orgtree.SearchHit {
	var names []string
	for a := n; a != nil; a = a.parent {
		names = append(names, a.name)
	}
	slices.Reverse(names)
	return orgtree.SearchHit{Node: n.value(), NamePath: names, Rank: orgtree.MatchRank(rank)}
}

func (b *naiveBackend) search(q string) []orgtree.SearchHit {
	b.mu.RLock()
	defer b.mu.RUnlock()
	q = strings.ToLower(q)
	var out []orgtree.SearchHit
	for _, n := range b.byID {
		if rank, ok := matchRank(n.name, q); ok {
			out = append(out, n.hit(rank))
		}
	}
	return out
}

func (b *naiveBackend) searchTop(q string, k int) []orgtree.SearchHit {
	b.mu.RLock()
	defer b.mu.RUnlock()
	q = strings.ToLower(q)
	top := topK{k: k}
	for id, n := range b.byID {
		if rank, ok := matchRank(n.name, q); ok && top.wants(rank) {
			depth := 0
			for a := n.parent; a != nil; a = a.parent {
				depth++
			}
			top.add(searchHit{id, n.name, rank, depth})
		}
	}
	out := make([]orgtree.SearchHit, len(top.hits))
	for i, h := range top.hits {
		out[i] = b.byID[h.id].hit(h.rank)
	}
	return out
}

func (b *naiveBackend) addMember(node, user string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.link(node, user)
}

func (b *naiveBackend) removeMember(node, user string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.byID[node]
	if n == nil {
		return fmt.Errorf("no node %s", node)
	}
	delete(n.members, user)
	return nil
}

func (b *naiveBackend) rename(id, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.byID[id]
	n.name, n.updated = name, time.Now()
	return nil
}

// jsonNode is the nested document the baselines export and import.
type jsonNode struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	Code     string      `json:"code,omitempty"`
	Order    int         `json:"order"`
	Children []*jsonNode `json:"children"`
}

func (b *naiveBackend) exportJSON(w io.Writer) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var build func(n *naiveNode) *jsonNode
	build = func(n *naiveNode) *jsonNode {
		j := &jsonNode{ID: n.id, Name: n.name, Code: n.code, Order: n.order, Children: []*jsonNode{}}
		for _, c := range n.children {
			j.Children = append(j.Children, build(c))
		}
		return j
	}
	return json.NewEncoder(w).Encode([]*jsonNode{build(b.root)})
}

func (b *naiveBackend) importJSON(r io.Reader) error {
	root, err := decodeDoc(r)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	type item struct {
		j      *jsonNode
		parent *naiveNode
	}
	stack := []item{{root, nil}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := b.addNode(it.j.ID, it.j.Code, it.j.Name, it.j.Order, it.parent)
		for i := len(it.j.Children) - 1; i >= 0; i-- {
			stack = append(stack, item{it.j.Children[i], n})
		}
	}
	return nil
}

func (b *naiveBackend) close() error { return nil }

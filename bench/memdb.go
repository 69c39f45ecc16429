package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/orgtree/orgtree"
)

// memdbBackend is the org as a competent user of hashicorp/go-memdb keeps
// it: a nodes table indexed on id, parent and org+code, a users table, a
// memberships table indexed on node and on user. Reads run on a Txn(false)
// snapshot of the immutable radix trees while writers go on; one writer at
// a time (go-memdb's own lock). Subtree questions walk the parent index
// from the top of the subtree; search scans the nodes table (a prefix index
// only answers prefixes, and the workload's queries are substrings).
type memdbBackend struct {
	db   *memdb.MemDB
	root string
	seq  int64 // creation order of nodes; only written inside a write txn
}

// mdbNode is a row of the nodes table. Rows are never changed once
// inserted: a write inserts a changed copy.
type mdbNode struct {
	ID, Org, Parent, Name, Code, Description string
	ExternalID, LeaderUserID                 string
	NameI18n, DescriptionI18n                map[string]string
	Order                                    int
	Seq                                      int64
	Created, Updated                         time.Time
}

type mdbUser struct {
	ID, Name string
	Created  int64
}

type mdbMember struct{ Node, User string }

// smallSet is the largest distinct-member set that a first page sorts by
// looking each user up; larger sets are paged by walking the users'
// creation index instead, which stops after limit hits.
const smallSet = 1000

var memdbSchema = &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
	"nodes": {Name: "nodes", Indexes: map[string]*memdb.IndexSchema{
		"id":     {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
		"parent": {Name: "parent", AllowMissing: true, Indexer: &memdb.StringFieldIndex{Field: "Parent"}},
		"code": {Name: "code", Unique: true, AllowMissing: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
			&memdb.StringFieldIndex{Field: "Org"}, &memdb.StringFieldIndex{Field: "Code"}}}},
	}},
	"users": {Name: "users", Indexes: map[string]*memdb.IndexSchema{
		"id":      {Name: "id", Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
		"created": {Name: "created", Indexer: &memdb.IntFieldIndex{Field: "Created"}},
	}},
	"members": {Name: "members", Indexes: map[string]*memdb.IndexSchema{
		"id": {Name: "id", Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
			&memdb.StringFieldIndex{Field: "Node"}, &memdb.StringFieldIndex{Field: "User"}}}},
		"node": {Name: "node", Indexer: &memdb.StringFieldIndex{Field: "Node"}},
		"user": {Name: "user", Indexer: &memdb.StringFieldIndex{Field: "User"}},
	}},
}}

func newMemdb() (*memdbBackend, error) {
	db, err := memdb.NewMemDB(memdbSchema)
	if err != nil {
		return nil, err
	}
	return &memdbBackend{db: db}, nil
}

func (b *memdbBackend) name() string { return "memdb" }

// write runs fn in a write transaction and commits it when fn succeeds.
func (b *memdbBackend) write(fn func(*memdb.Txn) error) error {
	txn := b.db.Txn(true)
	defer txn.Abort() // a no-op after Commit
	if err := fn(txn); err != nil {
		return err
	}
	txn.Commit()
	return nil
}

func (b *memdbBackend) insertNode(txn *memdb.Txn, id, parent, name, code string, order int, now time.Time) error {
	b.seq++
	if parent == "" {
		b.root = id
	}
	return txn.Insert("nodes", &mdbNode{ID: id, Org: orgID, Parent: parent, Name: name, Code: code, Order: order, Seq: b.seq, Created: now, Updated: now})
}

func (b *memdbBackend) load(o *synthOrg) error {
	now := time.Now()
	return b.write(func(txn *memdb.Txn) error {
		for _, n := range o.nodes {
			parent := ""
			if n.parent >= 0 {
				parent = o.nodes[n.parent].id
			}
			if err := b.insertNode(txn, n.id, parent, n.name, n.code, n.order, now); err != nil {
				return err
			}
		}
		for _, u := range o.users {
			if err := txn.Insert("users", &mdbUser{ID: u.id, Name: u.name, Created: u.created}); err != nil {
				return err
			}
		}
		for _, m := range o.members {
			if err := txn.Insert("members", &mdbMember{o.nodes[m[0]].id, o.users[m[1]].id}); err != nil {
				return err
			}
		}
		return nil
	})
}

func node(txn *memdb.Txn, index string, args ...any) *mdbNode {
	raw, err := txn.First("nodes", index, args...)
	if err != nil || raw == nil {
		return nil
	}
	return raw.(*mdbNode)
}

func (n *mdbNode) value() orgtree.Node {
	return orgtree.Node{ID: n.ID, OrgID: n.Org, ParentID: n.Parent, Name: n.Name, NameI18n: maps.Clone(n.NameI18n),
		Description: n.Description, DescriptionI18n: maps.Clone(n.DescriptionI18n), Code: n.Code, Order: n.Order,
		ExternalID: n.ExternalID, LeaderUserID: n.LeaderUserID, CreatedAt: n.Created, UpdatedAt: n.Updated}
}

func (b *memdbBackend) lookupID(id string) (orgtree.Node, bool) {
	if n := node(b.db.Txn(false), "id", id); n != nil {
		return n.value(), true
	}
	return orgtree.Node{}, false
}

func (b *memdbBackend) lookupCode(code string) (orgtree.Node, bool) {
	if n := node(b.db.Txn(false), "code", orgID, code); n != nil {
		return n.value(), true
	}
	return orgtree.Node{}, false
}

func (b *memdbBackend) path(id string) []string {
	txn := b.db.Txn(false)
	var out []string
	for n := node(txn, "id", id); n != nil; n = node(txn, "id", n.Parent) {
		out = append(out, n.ID)
		if n.Parent == "" {
			break
		}
	}
	slices.Reverse(out)
	return out
}

// kids lists the children of id in sibling order.
func kids(txn *memdb.Txn, id string) []*mdbNode {
	it, err := txn.Get("nodes", "parent", id)
	if err != nil {
		return nil
	}
	var out []*mdbNode
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*mdbNode))
	}
	slices.SortFunc(out, func(x, y *mdbNode) int {
		return cmp.Or(cmp.Compare(y.Order, x.Order), cmp.Compare(x.Seq, y.Seq), cmp.Compare(x.ID, y.ID))
	})
	return out
}

func (b *memdbBackend) children(id string) []string {
	var out []string
	for _, k := range kids(b.db.Txn(false), id) {
		out = append(out, k.ID)
	}
	return out
}

func (b *memdbBackend) move(id, parent string) error {
	return b.write(func(txn *memdb.Txn) error {
		n, p := node(txn, "id", id), node(txn, "id", parent)
		if n == nil || p == nil {
			return fmt.Errorf("move %s under %s: no such node", id, parent)
		}
		for a := p; a != nil; a = node(txn, "id", a.Parent) {
			if a.ID == id {
				return errCycle
			}
			if a.Parent == "" {
				break
			}
		}
		moved := *n
		moved.Parent, moved.Updated = parent, time.Now()
		return txn.Insert("nodes", &moved)
	})
}

// distinct walks the subtree of id down the parent index and collects the
// distinct members of its nodes.
func distinctMembers(txn *memdb.Txn, id string) map[string]bool {
	seen := map[string]bool{}
	stack := []string{id}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it, err := txn.Get("members", "node", n); err == nil {
			for raw := it.Next(); raw != nil; raw = it.Next() {
				seen[raw.(*mdbMember).User] = true
			}
		}
		if it, err := txn.Get("nodes", "parent", n); err == nil {
			for raw := it.Next(); raw != nil; raw = it.Next() {
				stack = append(stack, raw.(*mdbNode).ID)
			}
		}
	}
	return seen
}

func (b *memdbBackend) subtreeCount(id string) int { return len(distinctMembers(b.db.Txn(false), id)) }

func (b *memdbBackend) firstPage(id string, limit int) []string {
	txn := b.db.Txn(false)
	set := distinctMembers(txn, id)
	if len(set) > smallSet {
		it, err := txn.Get("users", "created")
		if err != nil {
			return nil
		}
		var out []string
		for raw := it.Next(); raw != nil && len(out) < limit; raw = it.Next() {
			if u := raw.(*mdbUser); set[u.ID] {
				out = append(out, u.ID)
			}
		}
		return out
	}
	users := make([]*mdbUser, 0, len(set))
	for u := range set {
		if raw, err := txn.First("users", "id", u); err == nil && raw != nil {
			users = append(users, raw.(*mdbUser))
		}
	}
	slices.SortFunc(users, func(x, y *mdbUser) int { return cmp.Or(cmp.Compare(x.Created, y.Created), cmp.Compare(x.ID, y.ID)) })
	out := make([]string, 0, min(limit, len(users)))
	for _, u := range users[:min(limit, len(users))] {
		out = append(out, u.ID)
	}
	return out
}

// scan calls fn for every node of the table.
func (b *memdbBackend) scan(txn *memdb.Txn, fn func(*mdbNode)) {
	it, err := txn.Get("nodes", "id")
	if err != nil {
		return
	}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		fn(raw.(*mdbNode))
	}
}

// ancestry lists n and its ancestors, n first.
func ancestry(txn *memdb.Txn, n *mdbNode) []*mdbNode {
	out := []*mdbNode{n}
	for n.Parent != "" {
		if n = node(txn, "id", n.Parent); n == nil {
			break
		}
		out = append(out, n)
	}
	return out
}

// hit is n as a search hit: the node, its name path, its rank.
func hit(txn *memdb.Txn, n *mdbNode, rank int) orgtree.SearchHit {
	up := ancestry(txn, n)
	names := make([]string, len(up))
	for i, a := range up {
		names[len(up)-1-i] = a.Name
	}
	return orgtree.SearchHit{Node: n.value(), NamePath: names, Rank: orgtree.MatchRank(rank)}
}

func (b *memdbBackend) search(q string) []orgtree.SearchHit {
	q = strings.ToLower(q)
	txn := b.db.Txn(false)
	var out []orgtree.SearchHit
	b.scan(txn, func(n *mdbNode) {
		if rank, ok := matchRank(n.Name, q); ok {
			out = append(out, hit(txn, n, rank))
		}
	})
	return out
}

func (b *memdbBackend) searchTop(q string, k int) []orgtree.SearchHit {
	q = strings.ToLower(q)
	txn := b.db.Txn(false)
	top := topK{k: k}
	b.scan(txn, func(n *mdbNode) {
		if rank, ok := matchRank(n.Name, q); ok && top.wants(rank) {
			top.add(searchHit{n.ID, n.Name, rank, len(ancestry(txn, n)) - 1})
		}
	})
	out := make([]orgtree.SearchHit, len(top.hits))
	for i, h := range top.hits {
		out[i] = hit(txn, node(txn, "id", h.id), h.rank)
	}
	return out
}

func (b *memdbBackend) addMember(n, user string) error {
	return b.write(func(txn *memdb.Txn) error { return txn.Insert("members", &mdbMember{n, user}) })
}

func (b *memdbBackend) removeMember(n, user string) error {
	return b.write(func(txn *memdb.Txn) error {
		err := txn.Delete("members", &mdbMember{n, user})
		if err == memdb.ErrNotFound {
			return nil
		}
		return err
	})
}

func (b *memdbBackend) rename(id, name string) error {
	return b.write(func(txn *memdb.Txn) error {
		n := node(txn, "id", id)
		if n == nil {
			return fmt.Errorf("rename %s: no such node", id)
		}
		renamed := *n
		renamed.Name, renamed.Updated = name, time.Now()
		return txn.Insert("nodes", &renamed)
	})
}

func (b *memdbBackend) exportJSON(w io.Writer) error {
	txn := b.db.Txn(false)
	rootNode := node(txn, "id", b.root)
	if rootNode == nil {
		return fmt.Errorf("memdb: no root")
	}
	top := &jsonNode{ID: rootNode.ID, Name: rootNode.Name, Code: rootNode.Code, Order: rootNode.Order, Children: []*jsonNode{}}
	stack := []*jsonNode{top}
	for len(stack) > 0 {
		j := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, k := range kids(txn, j.ID) {
			c := &jsonNode{ID: k.ID, Name: k.Name, Code: k.Code, Order: k.Order, Children: []*jsonNode{}}
			j.Children = append(j.Children, c)
			stack = append(stack, c)
		}
	}
	return json.NewEncoder(w).Encode([]*jsonNode{top})
}

func (b *memdbBackend) importJSON(r io.Reader) error {
	root, err := decodeDoc(r)
	if err != nil {
		return err
	}
	now := time.Now()
	return b.write(func(txn *memdb.Txn) error {
		type item struct {
			j      *jsonNode
			parent string
		}
		stack := []item{{root, ""}}
		for len(stack) > 0 {
			it := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if err := b.insertNode(txn, it.j.ID, it.parent, it.j.Name, it.j.Code, it.j.Order, now); err != nil {
				return err
			}
			for i := len(it.j.Children) - 1; i >= 0; i-- {
				stack = append(stack, item{it.j.Children[i], it.j.ID})
			}
		}
		return nil
	})
}

func (b *memdbBackend) close() error { return nil }

package orgtree

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// A deliberately simple reference model: maps, slices and loops, every
// query recomputed from scratch. TestReferenceModel drives it and the engine
// with the same random operations and compares every answer.

type refNode struct {
	id, org, parent, name, code string
	order, seq                  int
}

type refModel struct {
	nodes   map[string]*refNode
	roots   map[string]string // org → root node
	users   map[string]int    // user → creation sequence
	members map[string]map[string]bool
	main    map[string]string
	seq     int
	lim     Limits
}

func newRefModel(lim Limits) *refModel {
	return &refModel{nodes: map[string]*refNode{}, roots: map[string]string{}, users: map[string]int{},
		members: map[string]map[string]bool{}, main: map[string]string{}, lim: lim}
}

func (m *refModel) depth(id string) int {
	d := 0
	for n := m.nodes[id]; n.parent != ""; n = m.nodes[n.parent] {
		d++
	}
	return d
}

func (m *refModel) children(id string) []*refNode {
	var out []*refNode
	for _, n := range m.nodes {
		if n.parent == id {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b *refNode) int {
		return cmp.Or(cmp.Compare(b.order, a.order), cmp.Compare(a.seq, b.seq), cmp.Compare(a.id, b.id))
	})
	return out
}

func (m *refModel) isAncestorOrSelf(anc, id string) bool {
	for cur := id; cur != ""; cur = m.nodes[cur].parent {
		if cur == anc {
			return true
		}
	}
	return false
}

func (m *refModel) subtree(id string) []string {
	var out []string
	for nid := range m.nodes {
		if m.isAncestorOrSelf(id, nid) {
			out = append(out, nid)
		}
	}
	return out
}

func (m *refModel) codeTaken(org, code, except string) bool {
	for _, n := range m.nodes {
		if n.org == org && n.code == code && code != "" && n.id != except {
			return true
		}
	}
	return false
}

func (m *refModel) checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > m.lim.MaxNameLength {
		return "", ErrInvalidName
	}
	return name, nil
}

func (m *refModel) checkCode(code string) error {
	if strings.HasPrefix(strings.ToLower(code), "sys:") || strings.ContainsAny(code, " \t") {
		return ErrInvalidCode
	}
	return nil
}

func (m *refModel) addNode(id, parent, name, code string, order int) error {
	p, ok := m.nodes[parent]
	if !ok {
		return ErrNotFound
	}
	name, err := m.checkName(name)
	if err != nil {
		return err
	}
	if err := m.checkCode(code); err != nil {
		return err
	}
	if m.codeTaken(p.org, code, "") {
		return ErrDuplicateCode
	}
	if len(m.children(parent)) >= m.lim.MaxChildren || m.depth(parent)+1 > m.lim.MaxDepth {
		return ErrLimitExceeded
	}
	m.seq++
	m.nodes[id] = &refNode{id: id, org: p.org, parent: parent, name: name, code: code, order: order, seq: m.seq}
	return nil
}

func (m *refModel) moveNode(id, parent string) error {
	n, ok := m.nodes[id]
	if !ok {
		return ErrNotFound
	}
	p, ok := m.nodes[parent]
	switch {
	case !ok:
		return ErrNotFound
	case n.parent == "":
		return ErrRootNode
	case p.org != n.org:
		return ErrCrossOrg
	case n.parent == parent:
		return nil
	case m.isAncestorOrSelf(id, parent):
		return ErrCycle
	case len(m.children(parent)) >= m.lim.MaxChildren:
		return ErrLimitExceeded
	}
	height := 0
	for _, d := range m.subtree(id) {
		height = max(height, m.depth(d)-m.depth(id))
	}
	if m.depth(parent)+1+height > m.lim.MaxDepth {
		return ErrLimitExceeded
	}
	n.parent = parent
	return nil
}

func (m *refModel) deleteNode(id string, mode DeleteMode) error {
	n, ok := m.nodes[id]
	if !ok {
		return ErrNotFound
	}
	if n.parent == "" {
		return ErrRootNode
	}
	if mode == RefuseNonEmpty && (len(m.children(id)) > 0 || len(m.members[id]) > 0) {
		return ErrNotEmpty
	}
	for _, d := range m.subtree(id) {
		for u := range m.members[d] {
			if m.main[u] == d {
				delete(m.main, u)
			}
		}
		delete(m.members, d)
		delete(m.nodes, d)
	}
	return nil
}

// listedTwice: a user named twice in one call is refused (see resolveUsers).
func listedTwice(users []string) bool {
	seen := map[string]bool{}
	for _, u := range users {
		if seen[u] {
			return true
		}
		seen[u] = true
	}
	return false
}

func (m *refModel) addMembers(node string, users ...string) error {
	if _, ok := m.nodes[node]; !ok {
		return ErrNotFound
	}
	for _, u := range users {
		if _, ok := m.users[u]; !ok {
			return ErrNotFound
		}
	}
	if listedTwice(users) {
		return ErrInvalidArgument
	}
	if m.members[node] == nil {
		m.members[node] = map[string]bool{}
	}
	for _, u := range users {
		m.members[node][u] = true
	}
	return nil
}

func (m *refModel) removeMembers(node string, users ...string) error {
	if _, ok := m.nodes[node]; !ok {
		return ErrNotFound
	}
	for _, u := range users {
		if _, ok := m.users[u]; !ok {
			return ErrNotFound
		}
	}
	if listedTwice(users) {
		return ErrInvalidArgument
	}
	for _, u := range users {
		if !m.members[node][u] {
			return ErrNotMember
		}
	}
	for _, u := range users {
		delete(m.members[node], u)
		if m.main[u] == node {
			delete(m.main, u)
		}
	}
	return nil
}

func (m *refModel) setMain(u, node string) error {
	if _, ok := m.users[u]; !ok {
		return ErrNotFound
	}
	if _, ok := m.nodes[node]; !ok {
		return ErrNotFound
	}
	if !m.members[node][u] {
		return ErrNotMember
	}
	m.main[u] = node
	return nil
}

// distinctMembers lists the users of a node or subtree, oldest user first.
func (m *refModel) distinctMembers(id string, sub bool) []string {
	scope := []string{id}
	if sub {
		scope = m.subtree(id)
	}
	set := map[string]bool{}
	for _, n := range scope {
		for u := range m.members[n] {
			set[u] = true
		}
	}
	var out []string
	for u := range set {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(m.users[a], m.users[b]) })
	return out
}

func sameKind(t *testing.T, want, got error, what string) {
	t.Helper()
	if want == nil {
		require.NoError(t, got, what)
		return
	}
	require.Error(t, got, what)
	require.Truef(t, errors.Is(got, want), "%s: got %v, want %v", what, got, want)
}

func TestReferenceModel(t *testing.T) {
	seeds, steps := size(60, 300), 150
	if testing.Short() {
		seeds = 30
	}
	for seed := 1; seed <= seeds; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			runReferenceModel(t, rand.New(rand.NewPCG(uint64(seed), 42)), steps, nil)
		})
	}
}

// runReferenceModel applies random operations drawn from rng to an engine
// and to the reference model and compares them after every step. It stops
// after steps operations, or earlier when more returns false (the fuzz
// target runs out of input).
func runReferenceModel(t *testing.T, rng *rand.Rand, steps int, more func() bool) {
	lim := Limits{MaxDepth: 5, MaxChildren: 6, MaxNameLength: 8}
	names := []string{"dev", "Dev", "研发", "后端", " ops ", "", "  ", "toolongname!", "a/b", "ſales"}
	codes := []string{"", "", "a", "b", "c", "sys:x", "d e"}
	tr := newTestTree(t, WithLimits(lim), WithIDGenerator(SequentialIDs("g")))
	m := newRefModel(lim.withDefaults())
	for o := 0; o < 2; o++ {
		org, err := tr.CreateOrg(OrgInput{Name: "org"})
		require.NoError(t, err)
		m.seq++
		m.nodes[org.RootID] = &refNode{id: org.RootID, org: org.ID, name: "org", seq: m.seq}
		m.roots[org.ID] = org.RootID
	}
	for i := 0; i < 6; i++ {
		u, err := tr.CreateUser(User{Name: fmt.Sprint("u", i)})
		require.NoError(t, err)
		m.users[u.ID] = i
	}
	anyNode := func() string {
		if rng.IntN(12) == 0 {
			return "ghost"
		}
		ids := make([]string, 0, len(m.nodes))
		for id := range m.nodes {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		return ids[rng.IntN(len(ids))]
	}
	anyUser := func() string {
		if rng.IntN(12) == 0 {
			return "nobody"
		}
		return fmt.Sprint("g", 5+rng.IntN(len(m.users))) // two orgs took g1…g4
	}
	for step := 0; step < steps && (more == nil || more()); step++ {
		var want, got error
		what := ""
		switch rng.IntN(8) {
		case 0, 1:
			parent, name, code, order := anyNode(), names[rng.IntN(len(names))], codes[rng.IntN(len(codes))], rng.IntN(3)
			var n Node
			n, got = tr.AddNode(NodeInput{ParentID: parent, Name: name, Code: code, Order: order})
			id := n.ID
			if got != nil {
				id = "unused"
			}
			want = m.addNode(id, parent, name, code, order)
			what = fmt.Sprintf("add %q under %s code %q", name, parent, code)
		case 2:
			id, parent := anyNode(), anyNode()
			_, got = tr.MoveNode(id, parent)
			want = m.moveNode(id, parent)
			what = "move " + id + " under " + parent
		case 3:
			id, mode := anyNode(), DeleteMode(rng.IntN(2))
			got = tr.DeleteNode(id, mode)
			want = m.deleteNode(id, mode)
			what = "delete " + id
		case 4:
			node, a, b := anyNode(), anyUser(), anyUser()
			got = tr.AddMembers(node, a, b)
			want = m.addMembers(node, a, b)
			what = "add members to " + node
		case 5:
			node, a := anyNode(), anyUser()
			got = tr.RemoveMembers(node, a)
			want = m.removeMembers(node, a)
			what = "remove member from " + node
		case 6:
			u, node := anyUser(), anyNode()
			got = tr.SetMainDepartment(u, node)
			want = m.setMain(u, node)
			what = "set main " + node
		case 7:
			id, name := anyNode(), names[rng.IntN(len(names))]
			_, got = tr.UpdateNode(id, NodeUpdate{Name: &name, Order: Ptr(rng.IntN(3))})
			if n, ok := m.nodes[id]; !ok {
				want = ErrNotFound
			} else if clean, err := m.checkName(name); err != nil {
				want = err
			} else {
				n.name = clean
				// order is compared through Children below; copy the engine's
				if e, err := tr.Node(id); err == nil {
					n.order = e.Order
				}
			}
			what = "update " + id
		}
		sameKind(t, want, got, fmt.Sprintf("step %d: %s", step, what))
		require.NoError(t, tr.Check(), "step %d", step)
		compareWithModel(t, tr, m, step)
	}
}

func compareWithModel(t *testing.T, tr *Tree, m *refModel, step int) {
	t.Helper()
	s := tr.Snapshot()
	require.Equal(t, len(m.nodes), s.Stats().Nodes, "step %d: node count", step)
	for id, n := range m.nodes {
		got, err := s.Node(id)
		require.NoError(t, err, "step %d", step)
		require.Equal(t, n.parent, got.ParentID, "step %d: parent of %s", step, id)
		require.Equal(t, n.name, got.Name, "step %d: name of %s", step, id)
		require.Equal(t, n.code, got.Code, "step %d: code of %s", step, id)
		d, _ := s.Depth(id)
		require.Equal(t, m.depth(id), d, "step %d: depth of %s", step, id)
		var want []string
		for _, c := range m.children(id) {
			want = append(want, c.id)
		}
		kids, _ := s.ChildIDs(id)
		if len(want) == 0 {
			want = []string{}
		}
		require.Equal(t, want, kids, "step %d: children of %s", step, id)
		for _, sub := range []bool{false, true} {
			members := m.distinctMembers(id, sub)
			count, _ := s.MemberCount(id, sub)
			require.Equal(t, len(members), count, "step %d: member count of %s (subtree %v)", step, id, sub)
			page, err := s.ListMembers(id, ListMembersOptions{IncludeDescendants: sub, SortBy: SortCreatedAtAsc, Limit: 4})
			require.NoError(t, err)
			require.Equal(t, members[:min(4, len(members))], nonNil(userIDs(page.List)), "step %d: members of %s", step, id)
		}
		if n.code != "" {
			byCode, err := s.NodeByCode(n.org, n.code)
			require.NoError(t, err)
			require.Equal(t, id, byCode.ID)
		}
	}
	for u := range m.users {
		got, _ := s.User(u)
		require.Equal(t, m.main[u], got.MainDepartmentID, "step %d: main department of %s", step, u)
	}
}

func nonNil(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	return ss
}

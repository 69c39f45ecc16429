package orgtreetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/orgtree/orgtree"
)

// ErrInvalidSpec is returned (wrapped) by Generate for a Spec that cannot be
// met.
var ErrInvalidSpec = errors.New("orgtreetest: invalid spec")

// NameStyle chooses the words department and user names are made of.
type NameStyle int

const (
	// MixedNames mixes Chinese and English words, as a Chinese company's
	// directory does (the default).
	MixedNames NameStyle = iota
	// LatinNames uses English words only.
	LatinNames
	// CJKNames uses Chinese words only.
	CJKNames
)

// Spec describes a synthetic org. Zero fields take the defaults noted.
type Spec struct {
	// Nodes is the number of departments, root included (default 1).
	Nodes int
	// MinFanOut and MaxFanOut bound the children a department gets when it
	// is expanded (defaults 5 and 15). The last expanded department may
	// get fewer, so that the org has exactly Nodes departments.
	MinFanOut, MaxFanOut int
	// MaxDepth is the deepest level (the root is 0; default 12).
	MaxDepth int
	// Users is the number of users; Memberships the number of distinct
	// (department, user) pairs. When Memberships ≥ Users every user is in
	// at least one department.
	Users, Memberships int
	// MainDepartment marks each user's first membership as their main
	// department.
	MainDepartment bool
	// Names picks the language of names.
	Names NameStyle
	// Seed makes the org: the same Spec always gives the same org.
	Seed uint64
}

// Org is a generated org: departments in parent-first order (index 0 is the
// root), users in creation order, memberships as index pairs.
type Org struct {
	Nodes       []Node
	Users       []orgtree.User
	Memberships []Membership
	// MainDepartment is Spec.MainDepartment.
	MainDepartment bool
}

// Node is a generated department. IDs are n0, n1, …, codes c0, c1, …
type Node struct {
	ID, Code, Name string
	Parent         int // index in Org.Nodes; -1 for the root
	Order          int
	Depth          int
}

// Membership puts Org.Users[User] in Org.Nodes[Node].
type Membership struct{ Node, User int }

var (
	latinWords = []string{"Platform", "Sales", "Support", "Finance", "Design", "QA", "Marketing", "Legal", "Data", "Security"}
	cjkWords   = []string{"研发", "运营", "市场", "销售", "后端", "前端", "设计", "财务", "法务", "数据"}
	latinGiven = []string{"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy"}
	latinLast  = []string{"Chen", "Smith", "Wang", "Garcia", "Li", "Müller", "Zhang", "Kim", "Liu", "Brown"}
	cjkLast    = []string{"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴"}
	cjkGiven   = []string{"伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "杰"}
)

func (s Spec) withDefaults() Spec {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&s.Nodes, 1)
	def(&s.MinFanOut, 5)
	def(&s.MaxFanOut, max(15, s.MinFanOut))
	def(&s.MaxDepth, 12)
	return s
}

func (s Spec) validate() error {
	switch {
	case s.Nodes < 1 || s.Users < 0 || s.Memberships < 0 || s.MinFanOut < 1 || s.MaxDepth < 0:
		return fmt.Errorf("%w: negative or zero size in %+v", ErrInvalidSpec, s)
	case s.MaxFanOut < s.MinFanOut:
		return fmt.Errorf("%w: MaxFanOut %d < MinFanOut %d", ErrInvalidSpec, s.MaxFanOut, s.MinFanOut)
	case s.Names < MixedNames || s.Names > CJKNames:
		return fmt.Errorf("%w: unknown NameStyle %d", ErrInvalidSpec, s.Names)
	case s.Memberships > 0 && s.Users == 0:
		return fmt.Errorf("%w: %d memberships without users", ErrInvalidSpec, s.Memberships)
	case s.Users > 0 && s.Memberships > s.Nodes*s.Users:
		return fmt.Errorf("%w: %d memberships exceed nodes×users = %d", ErrInvalidSpec, s.Memberships, s.Nodes*s.Users)
	}
	// The most departments MaxFanOut and MaxDepth allow; stop counting
	// once Nodes is reached so the sum cannot overflow.
	capacity, level := 1, 1
	for d := 1; d <= s.MaxDepth && capacity < s.Nodes; d++ {
		level *= s.MaxFanOut
		capacity += level
	}
	if capacity < s.Nodes {
		return fmt.Errorf("%w: MaxFanOut %d and MaxDepth %d allow only %d of %d nodes", ErrInvalidSpec, s.MaxFanOut, s.MaxDepth, capacity, s.Nodes)
	}
	return nil
}

// Generate makes the org a Spec describes, deterministically for its Seed.
// Departments are expanded in a random order that favours recent, deep ones,
// which gives the uneven depths of real orgs.
func Generate(spec Spec) (*Org, error) {
	s := spec.withDefaults()
	if err := s.validate(); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(s.Seed, 0x6f7267))
	words := pick(s.Names, latinWords, cjkWords)
	o := &Org{MainDepartment: s.MainDepartment, Nodes: make([]Node, 1, s.Nodes)}
	o.Nodes[0] = Node{ID: "n0", Code: "c0", Name: pick(s.Names, "Acme", "某某公司"), Parent: -1}
	add := func(parent int) {
		i := len(o.Nodes)
		o.Nodes = append(o.Nodes, Node{
			ID: fmt.Sprintf("n%d", i), Code: fmt.Sprintf("c%d", i), Parent: parent, Order: r.IntN(100),
			Depth: o.Nodes[parent].Depth + 1, Name: fmt.Sprintf("%s %d", words[r.IntN(len(words))], i),
		})
	}
	kids := make([]int, 1, s.Nodes)
	open := []int{0}
	if s.MaxDepth == 0 {
		open = nil
	}
	for len(o.Nodes) < s.Nodes && len(open) > 0 {
		k := r.IntN(len(open))
		if r.IntN(2) == 0 {
			k = len(open) - 1 - r.IntN(min(len(open), 8)) // often a recent, deep one
		}
		next := open[k]
		open[k] = open[len(open)-1]
		open = open[:len(open)-1]
		for c := s.MinFanOut + r.IntN(s.MaxFanOut-s.MinFanOut+1); c > 0 && len(o.Nodes) < s.Nodes; c-- {
			add(next)
			kids[next]++
			kids = append(kids, 0)
			if o.Nodes[len(o.Nodes)-1].Depth < s.MaxDepth {
				open = append(open, len(o.Nodes)-1)
			}
		}
	}
	// Every department was expanded once and nodes are still missing (a
	// tight MaxDepth): fill departments up to MaxFanOut, shallow first.
	// validate made sure this reaches Nodes.
	for p := 0; len(o.Nodes) < s.Nodes; p++ {
		for o.Nodes[p].Depth < s.MaxDepth && kids[p] < s.MaxFanOut && len(o.Nodes) < s.Nodes {
			add(p)
			kids[p]++
			kids = append(kids, 0)
		}
	}
	o.Users = make([]orgtree.User, s.Users)
	for u := range o.Users {
		o.Users[u] = orgtree.User{ID: fmt.Sprintf("u%d", u), Name: userName(s.Names, u), Username: fmt.Sprintf("user%d", u), Email: fmt.Sprintf("user%d@example.com", u)}
	}
	seen := make(map[Membership]bool, s.Memberships)
	for len(o.Memberships) < s.Memberships {
		m := Membership{Node: r.IntN(len(o.Nodes)), User: r.IntN(s.Users)}
		if len(o.Memberships) < s.Users {
			m.User = len(o.Memberships) // everyone somewhere first
		}
		if !seen[m] {
			seen[m] = true
			o.Memberships = append(o.Memberships, m)
		}
	}
	return o, nil
}

func pick[T any](style NameStyle, latin, cjk T) T {
	if style == CJKNames {
		return cjk
	}
	return latin
}

func userName(style NameStyle, u int) string {
	cjk := style == CJKNames || (style == MixedNames && u%2 == 0)
	if cjk {
		return cjkLast[u%len(cjkLast)] + cjkGiven[(u/len(cjkLast))%len(cjkGiven)]
	}
	return latinGiven[u%len(latinGiven)] + " " + latinLast[(u/len(latinGiven))%len(latinLast)]
}

// limits are the default limits raised where the org needs more.
func (o *Org) limits() orgtree.Limits {
	l := orgtree.Limits{}
	kids := make([]int, len(o.Nodes))
	maxKids, maxDepth := 0, 0
	for _, n := range o.Nodes[1:] {
		kids[n.Parent]++
		maxKids = max(maxKids, kids[n.Parent])
		maxDepth = max(maxDepth, n.Depth)
	}
	if maxKids > orgtree.DefaultLimits.MaxChildren {
		l.MaxChildren = maxKids
	}
	if maxDepth > orgtree.DefaultLimits.MaxDepth {
		l.MaxDepth = maxDepth
	}
	return l
}

// Build loads the org into tx in one go: the org (id "org"), its
// departments, users and memberships, with the ids of the Org.
func (o *Org) Build(tx *orgtree.Tx) error {
	root := o.Nodes[0]
	if _, err := tx.CreateOrg(orgtree.OrgInput{ID: "org", RootID: root.ID, Name: root.Name, Code: root.Code}); err != nil {
		return err
	}
	for _, n := range o.Nodes[1:] {
		if _, err := tx.AddNode(orgtree.NodeInput{ID: n.ID, ParentID: o.Nodes[n.Parent].ID, Name: n.Name, Code: n.Code, Order: n.Order}); err != nil {
			return err
		}
	}
	for _, u := range o.Users {
		if _, err := tx.CreateUser(u); err != nil {
			return err
		}
	}
	for i, m := range o.Memberships {
		user, node := o.Users[m.User].ID, o.Nodes[m.Node].ID
		if err := tx.AddMembers(node, user); err != nil {
			return err
		}
		if o.MainDepartment && i < len(o.Users) {
			if err := tx.SetMainDepartment(user, node); err != nil {
				return err
			}
		}
	}
	return nil
}

// Tree returns a new deterministic tree (see Options) holding the org, with
// limits raised where the org needs it (a chain deeper than the default
// MaxDepth, say).
func (o *Org) Tree(opts ...orgtree.Option) (*orgtree.Tree, error) {
	t := New(append([]orgtree.Option{orgtree.WithLimits(o.limits())}, opts...)...)
	if err := t.Update(o.Build); err != nil {
		return nil, fmt.Errorf("orgtreetest: build generated org: %w", err)
	}
	return t, nil
}

// GenerateFixture generates the org of spec and builds it, once per test
// binary for each Spec.
func GenerateFixture(spec Spec) (*Fixture, error) {
	return cached(spec, func() (*Fixture, error) {
		o, err := Generate(spec)
		if err != nil {
			return nil, err
		}
		f, err := build(func(t *orgtree.Tree) error { return t.Update(o.Build) }, orgtree.WithLimits(o.limits()))
		if err != nil {
			return nil, fmt.Errorf("orgtreetest: build generated org: %w", err)
		}
		return f, nil
	})
}

// LoadSpec is Load for a generated org: it is built once per test binary
// for each Spec, and every caller gets its own fork. A bad Spec fails the
// test.
func LoadSpec(t testing.TB, spec Spec) *orgtree.Tree {
	t.Helper()
	f, err := GenerateFixture(spec)
	if err != nil {
		t.Fatal(err)
	}
	return f.Fork()
}

// Flat is a root with n-1 direct children and no users.
func Flat(n int) Spec {
	return Spec{Nodes: n, MinFanOut: max(n-1, 1), MaxFanOut: max(n-1, 1), MaxDepth: 1}
}

// DeepChain is a chain of n departments, each the only child of the one
// before (depth n-1; Build raises MaxDepth when that exceeds the default).
func DeepChain(n int) Spec {
	return Spec{Nodes: n, MinFanOut: 1, MaxFanOut: 1, MaxDepth: max(n-1, 1)}
}

// Wide is n departments three levels deep with 100–300 children each, and
// as many users, each in one department.
func Wide(n int) Spec {
	return Spec{Nodes: n, MinFanOut: 100, MaxFanOut: 300, MaxDepth: 3, Users: n, Memberships: n, Seed: 3}
}

// Company is a realistic 5,000-person company: 400 departments up to six
// levels deep with 2–8 sub-departments each, Chinese and English names,
// every employee in one department marked as their main one and one in ten
// in a second.
func Company() Spec {
	return Spec{Nodes: 400, MinFanOut: 2, MaxFanOut: 8, MaxDepth: 6, Users: 5000, Memberships: 5500, MainDepartment: true, Seed: 5}
}

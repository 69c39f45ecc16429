package reconcile

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

func newOrg(t testing.TB) (*orgtree.Tree, orgtree.Org) {
	t.Helper()
	tr := orgtree.New(orgtree.WithIDGenerator(orgtree.SequentialIDs("id")))
	org, err := tr.CreateOrg(orgtree.OrgInput{Name: "Acme"})
	require.NoError(t, err)
	return tr, org
}

// sync plans and applies in, checks the tree, and checks that planning the
// same input again gives an empty plan.
func sync(t testing.TB, tr *orgtree.Tree, orgID string, in Input, opt Options) *ChangePlan {
	t.Helper()
	p, err := Plan(tr.Snapshot(), orgID, in, opt)
	require.NoError(t, err)
	require.NoError(t, Apply(tr, p), "plan:\n%s", p)
	require.NoError(t, tr.Check())
	again, err := Plan(tr.Snapshot(), orgID, in, opt)
	require.NoError(t, err)
	require.True(t, again.Empty(), "second plan not empty:\n%s", again)
	return p
}

// projection renders an org as the input that would produce it: per
// department its parent, name, order and code, per managed user its
// departments and main department, all by external id.
func projection(t testing.TB, s orgtree.Snapshot, orgID string) string {
	t.Helper()
	d := s.Dump()
	ext := map[string]string{}
	var lines []string
	for _, n := range d.Nodes {
		if n.OrgID == orgID {
			ext[n.ID] = n.ExternalID
		}
	}
	userExt := map[string]string{}
	for _, u := range d.Users {
		userExt[u.ID] = u.ExternalID
	}
	for _, n := range d.Nodes {
		if n.OrgID != orgID {
			continue
		}
		if n.ParentID == "" {
			lines = append(lines, fmt.Sprintf("root %s", n.ExternalID))
			continue
		}
		lines = append(lines, fmt.Sprintf("dept %s parent=%s name=%q order=%d code=%q leader=%s", n.ExternalID, ext[n.ParentID], n.Name, n.Order, n.Code, userExt[n.LeaderUserID]))
	}
	for _, u := range d.Users {
		var in []string
		for _, m := range u.Memberships {
			if e, ok := ext[m.NodeID]; ok {
				in = append(in, e)
			}
		}
		if len(in) == 0 {
			continue
		}
		slices.Sort(in)
		main := ""
		if e, ok := ext[u.MainDepartmentID]; ok {
			main = e
		}
		lines = append(lines, fmt.Sprintf("user %s name=%q in=%v main=%s", u.ExternalID, u.Name, in, main))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// expected renders an input the way projection renders a synced org.
// prev maps user external ids to the external id of their main department
// before the sync (mainsOf): a member without MainDepartmentID keeps it
// while it stays in that department.
func expected(in Input, prev map[string]string) string {
	var lines []string
	users := map[string]bool{}
	for _, m := range in.Members {
		users[m.ExternalID] = true
	}
	for _, d := range in.Departments {
		if d.ParentExternalID == "" {
			lines = append(lines, "root "+d.ExternalID)
			continue
		}
		leader := d.LeaderExternalID
		if !users[leader] {
			leader = ""
		}
		lines = append(lines, fmt.Sprintf("dept %s parent=%s name=%q order=%d code=%q leader=%s", d.ExternalID, d.ParentExternalID, d.Name, d.Order, d.Code, leader))
	}
	for _, m := range in.Members {
		if len(m.DepartmentIDs) == 0 {
			continue
		}
		depts := sortedUnique(m.DepartmentIDs)
		main := m.MainDepartmentID
		if was := prev[m.ExternalID]; main == "" && slices.Contains(depts, was) {
			main = was
		}
		lines = append(lines, fmt.Sprintf("user %s name=%q in=%v main=%s", m.ExternalID, m.Name, depts, main))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// mainsOf maps the external id of every user with a main department in
// the org to that department's external id.
func mainsOf(s orgtree.Snapshot, orgID string) map[string]string {
	d, err := s.DumpOrg(orgID)
	if err != nil {
		panic(err)
	}
	ext := map[string]string{}
	for _, n := range d.Nodes {
		ext[n.ID] = n.ExternalID
	}
	out := map[string]string{}
	for _, u := range d.Users {
		if e, ok := ext[u.MainDepartmentID]; ok {
			out[u.ExternalID] = e
		}
	}
	return out
}

func open2(t *testing.T, a, b string) (io.Reader, io.Reader) {
	t.Helper()
	fa, err := os.Open("testdata/" + a)
	require.NoError(t, err)
	t.Cleanup(func() { fa.Close() })
	fb, err := os.Open("testdata/" + b)
	require.NoError(t, err)
	t.Cleanup(func() { fb.Close() })
	return fa, fb
}

func TestProviderFixtures(t *testing.T) {
	cases := []struct {
		name   string
		decode func(io.Reader, io.Reader) (Input, error)
		prefix string
		// first is the sibling shown first of 后端 (order 10) and 前端
		// (order 20): WeCom sorts larger orders first, DingTalk and Lark
		// smaller ones.
		first string
		id    func(string) string // provider id of the fixture's department n
		user  func(string) string
	}{
		{"dingtalk", DecodeDingTalk, "dingtalk", "后端", func(n string) string { return n }, func(u string) string { return u }},
		{"wecom", DecodeWeCom, "wecom", "前端", func(n string) string { return n }, func(u string) string { return u }},
		{"lark", DecodeLark, "lark", "后端", func(n string) string {
			if n == "1" {
				return "0"
			}
			return "od-" + n
		}, func(u string) string { return "ou_" + u }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, err := c.decode(open2(t, c.prefix+"_departments.json", c.prefix+"_users.json"))
			require.NoError(t, err)
			require.Len(t, in.Departments, 5)
			require.Len(t, in.Members, 3, "lisi's two pages merge into one member")

			tr, org := newOrg(t)
			p := sync(t, tr, org.ID, in, Options{})
			// Children came before parents; creates still run parents-first.
			var created []string
			for _, s := range p.Steps {
				if s.Action == ActCreate {
					created = append(created, s.Node.Name)
				}
			}
			assert.Less(t, slices.Index(created, "研发部"), slices.Index(created, "后端"))

			s := tr.Snapshot()
			be, err := s.NodeByExternalID(org.ID, c.id("3"))
			require.NoError(t, err)
			path, err := s.NamePath(be.ID)
			require.NoError(t, err)
			assert.Equal(t, []string{"Acme", "研发部", "后端"}, path)
			kids, err := s.Children(mustExt(t, s, org.ID, c.id("2")), 1)
			require.NoError(t, err)
			require.Len(t, kids, 2)
			assert.Equal(t, c.first, kids[0].Name, "siblings in the provider's order")

			lisi, err := s.UserByExternalID(c.user("lisi"))
			require.NoError(t, err)
			depts, err := s.UserDepartments(lisi.ID)
			require.NoError(t, err)
			assert.Len(t, depts, 2)
			fe, err := s.Node(mustExt(t, s, org.ID, c.id("5")))
			require.NoError(t, err)
			assert.Equal(t, lisi.ID, fe.LeaderUserID)
			zs, err := s.UserByExternalID(c.user("zhangsan"))
			require.NoError(t, err)
			assert.Equal(t, "zs@example.com", zs.Email)
			assert.Equal(t, be.ID, zs.MainDepartmentID)
		})
	}
}

func mustExt(t *testing.T, s orgtree.Snapshot, orgID, ext string) string {
	t.Helper()
	n, err := s.NodeByExternalID(orgID, ext)
	require.NoError(t, err)
	return n.ID
}

func TestDecodeErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"provider error":  `{"errcode":60011,"errmsg":"no privilege"}`,
		"not json":        `{"department":[`,
		"no list":         `{"errcode":0,"something":1}`,
		"bad id type":     `{"department":[{"id":{"x":1},"name":"a","parentid":0}]}`,
		"empty":           ``,
		"bad order":       `{"department":[{"id":2,"name":"a","parentid":1,"order":"ten"}]}`,
		"lark code error": `{"code":99991663,"msg":"token invalid"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeWeCom(strings.NewReader(doc), nil)
			if name == "lark code error" {
				_, err = DecodeLark(strings.NewReader(doc), nil)
			}
			require.ErrorIs(t, err, ErrInvalidInput)
		})
	}
}

func dept(id, parent, name string) Department {
	return Department{ExternalID: id, ParentExternalID: parent, Name: name}
}

func TestInputErrorsAllAtOnce(t *testing.T) {
	tr, org := newOrg(t)
	before := tr.Snapshot().Dump()
	in := Input{
		Departments: []Department{
			dept("root", "", "Acme"), dept("root2", "", "Other"),
			dept("a", "b", "A"), dept("b", "a", "B"), // a cycle
			dept("c", "ghost", "C"), // unknown parent
			dept("d", "root", "D"), dept("d", "root", "D again"),
			dept("e", "root", "   "),
			dept("f", "root", strings.Repeat("长", 65)),
			{ExternalID: "g", ParentExternalID: "root", Name: "G", Code: "sys:admin"},
		},
		Members: []Member{{ExternalID: "u1", DepartmentIDs: []string{"nowhere"}}, {ExternalID: "u2", DepartmentIDs: []string{"d"}, MainDepartmentID: "root"}},
	}
	_, err := Plan(tr.Snapshot(), org.ID, in, Options{})
	require.ErrorIs(t, err, ErrInvalidInput)
	var ie *InputError
	require.True(t, errors.As(err, &ie))
	got := map[string][]string{}
	for _, p := range ie.Problems {
		got[p.Kind] = append(got[p.Kind], p.IDs...)
	}
	assert.Equal(t, []string{"d"}, got["duplicate id"])
	assert.Equal(t, []string{"a", "b"}, got["cycle"])
	assert.Equal(t, []string{"c"}, got["unknown parent"])
	assert.Equal(t, []string{"root", "root2"}, got["roots"])
	assert.ElementsMatch(t, []string{"e", "f"}, got["name"])
	assert.Equal(t, []string{"g"}, got["code"])
	assert.ElementsMatch(t, []string{"u1", "u2"}, got["member"])
	assert.Equal(t, before, tr.Snapshot().Dump(), "nothing applied")

	_, err = Plan(tr.Snapshot(), "no-such-org", Input{Departments: []Department{dept("r", "", "R")}}, Options{})
	require.ErrorIs(t, err, orgtree.ErrNotFound)
}

func base() Input {
	return Input{
		Departments: []Department{
			dept("1", "", "Acme"), dept("2", "1", "R&D"), dept("3", "2", "Backend"), dept("4", "2", "Frontend"),
			dept("5", "1", "Sales"), dept("6", "5", "EMEA"),
		},
		Members: []Member{
			{ExternalID: "ann", Name: "Ann", DepartmentIDs: []string{"3"}, MainDepartmentID: "3"},
			{ExternalID: "bob", Name: "Bob", DepartmentIDs: []string{"4", "6"}},
			{ExternalID: "cy", Name: "Cy", DepartmentIDs: []string{"6"}},
		},
	}
}

func TestRenameAndMoveAreOneStep(t *testing.T) {
	tr, org := newOrg(t)
	sync(t, tr, org.ID, base(), Options{})
	backend := mustExt(t, tr.Snapshot(), org.ID, "3")

	in := base()
	in.Departments[2].Name = "Platform"
	p := sync(t, tr, org.ID, in, Options{})
	require.Len(t, p.Steps, 1, "%s", p)
	assert.Equal(t, ActUpdate, p.Steps[0].Action)
	assert.Equal(t, backend, mustExt(t, tr.Snapshot(), org.ID, "3"), "renamed, not recreated")

	in.Departments[2].ParentExternalID = "5"
	p = sync(t, tr, org.ID, in, Options{})
	require.Len(t, p.Steps, 1, "%s", p)
	assert.Equal(t, ActMove, p.Steps[0].Action)
	ann, err := tr.UserByExternalID("ann")
	require.NoError(t, err)
	ok, err := tr.HasMember(backend, ann.ID)
	require.NoError(t, err)
	assert.True(t, ok, "a moved department keeps its members")
	assert.Equal(t, expected(in, nil), projection(t, tr.Snapshot(), org.ID))
}

func TestSwapParentAndChild(t *testing.T) {
	tr, org := newOrg(t)
	sync(t, tr, org.ID, base(), Options{})
	in := base()
	// Sales goes under EMEA, which was its child: a naive order would try
	// to put EMEA under itself.
	in.Departments[4].ParentExternalID = "6"
	in.Departments[5].ParentExternalID = "1"
	sync(t, tr, org.ID, in, Options{})
	assert.Equal(t, expected(in, nil), projection(t, tr.Snapshot(), org.ID))
}

func TestCodesAndExternalIDsChangeHands(t *testing.T) {
	tr, org := newOrg(t)
	in := base()
	in.Departments[1].Code = "rd"
	in.Departments[4].Code = "sales"
	sync(t, tr, org.ID, in, Options{})
	in.Departments[1].Code, in.Departments[4].Code = "sales", "rd"
	p := sync(t, tr, org.ID, in, Options{})
	assert.Equal(t, 2, p.Count()[ActRelease], "%s", p)
	assert.Equal(t, expected(in, nil), projection(t, tr.Snapshot(), org.ID))
}

func TestMembersOfDeletedDepartments(t *testing.T) {
	tr, org := newOrg(t)
	sync(t, tr, org.ID, base(), Options{})
	// A user added by hand, without an external id, to a department that
	// the provider then drops.
	local, err := tr.CreateUser(orgtree.User{Name: "local"})
	require.NoError(t, err)
	emea := mustExt(t, tr.Snapshot(), org.ID, "6")
	require.NoError(t, tr.AddMembers(emea, local.ID))

	in := base()
	in.Departments = in.Departments[:5] // EMEA is gone
	in.Members[1].DepartmentIDs = []string{"4"}
	in.Members[2].DepartmentIDs = []string{"5"} // Cy moves to Sales
	p := sync(t, tr, org.ID, in, Options{Force: true})
	text := p.String()
	assert.Contains(t, text, `move member "Cy" (cy) from "EMEA"`)
	assert.Contains(t, text, `remove member "local"`)
	assert.Contains(t, text, "department deleted")
	assert.Contains(t, text, `delete "EMEA"`)
	_, err = tr.User(local.ID)
	require.NoError(t, err, "users are never deleted")
	assert.Equal(t, expected(in, nil), projection(t, tr.Snapshot(), org.ID))
}

func TestMissingKeepMarksAndUnmarks(t *testing.T) {
	tr, org := newOrg(t)
	sync(t, tr, org.ID, base(), Options{})
	in := base()
	in.Departments = in.Departments[:5]
	in.Members[1].DepartmentIDs = []string{"4"}
	in.Members[2].DepartmentIDs = nil
	p := sync(t, tr, org.ID, in, Options{Missing: MissingKeep})
	assert.Equal(t, 1, p.Count()[ActMark], "%s", p)
	emea, err := tr.NodeByExternalID(org.ID, "6")
	require.NoError(t, err)
	assert.Contains(t, emea.DescriptionI18n, MarkKey)
	cy, err := tr.UserByExternalID("cy")
	require.NoError(t, err)
	ok, err := tr.HasMember(emea.ID, cy.ID)
	require.NoError(t, err)
	assert.True(t, ok, "kept departments keep their members")

	p = sync(t, tr, org.ID, base(), Options{Missing: MissingKeep})
	assert.Equal(t, 1, p.Count()[ActUpdate], "found again: unmarked\n%s", p)
	emea, err = tr.NodeByExternalID(org.ID, "6")
	require.NoError(t, err)
	assert.NotContains(t, emea.DescriptionI18n, MarkKey)
}

func TestDeleteThreshold(t *testing.T) {
	tr, org := newOrg(t)
	sync(t, tr, org.ID, base(), Options{})
	in := Input{Departments: []Department{dept("1", "", "Acme"), dept("2", "1", "R&D")},
		Members: []Member{{ExternalID: "ann", Name: "Ann", DepartmentIDs: []string{"2"}}, {ExternalID: "bob", Name: "Bob", DepartmentIDs: []string{"2"}}, {ExternalID: "cy", Name: "Cy", DepartmentIDs: []string{"2"}}}}
	_, err := Plan(tr.Snapshot(), org.ID, in, Options{})
	require.ErrorIs(t, err, ErrTooManyDeletes)
	var le *LimitError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, Loss{Departments: 4, OfDepartments: 5, Memberships: 1, OfMemberships: 4, OfMembers: 3}, le.Loss)
	assert.Contains(t, err.Error(), "4 of 5 departments, 1 of 4 memberships")
	p, err := Plan(tr.Snapshot(), org.ID, in, Options{MaxDeleteRatio: 0.9})
	require.NoError(t, err)
	assert.Contains(t, p.Summary(), "takes away 4 of 5 departments, 1 of 4 memberships")
	sync(t, tr, org.ID, in, Options{Force: true})
	assert.Equal(t, expected(in, nil), projection(t, tr.Snapshot(), org.ID))
}

func TestStalePlanIsRefused(t *testing.T) {
	tr, org := newOrg(t)
	p, err := Plan(tr.Snapshot(), org.ID, base(), Options{})
	require.NoError(t, err)
	_, err = tr.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "meanwhile"})
	require.NoError(t, err)
	before := tr.Snapshot().Dump()
	require.ErrorIs(t, Apply(tr, p), ErrStalePlan)
	assert.Equal(t, before, tr.Snapshot().Dump())
}

func TestApplyIsAtomic(t *testing.T) {
	tr, org := newOrg(t)
	in := base()
	in.Departments = append(in.Departments, dept("7", "6", "deep"))
	p, err := Plan(tr.Snapshot(), org.ID, in, Options{})
	require.NoError(t, err)
	// Make the last create fail at apply time: a node appears with its
	// external id... in a way Plan could not see. Simulate by corrupting
	// the plan's last department step.
	for i := range p.Steps {
		if p.Steps[i].Action == ActCreate && p.Steps[i].Node.ExternalID == "7" {
			p.Steps[i].Set.Name = orgtree.Ptr("")
		}
	}
	before := tr.Snapshot().Dump()
	err = Apply(tr, p)
	require.ErrorIs(t, err, orgtree.ErrInvalidName)
	assert.Equal(t, before, tr.Snapshot().Dump(), "all or nothing")
}

// randomInput draws a tree of up to 40 departments from a universe of 60
// external ids, names from a small set (duplicates on purpose), codes from
// a small pool, and 20 users with random memberships.
func randomInput(r *rand.Rand) Input {
	in := Input{Departments: []Department{{ExternalID: "root", Name: "Acme"}}}
	perm := r.Perm(60)
	n := 1 + r.IntN(40)
	names := []string{"研发", "Sales", "Ops", "QA", "市场", "Support"}
	codes := r.Perm(10)
	for i := range n {
		d := Department{ExternalID: fmt.Sprintf("d%d", perm[i]), Name: names[r.IntN(len(names))], Order: r.IntN(3)}
		d.ParentExternalID = in.Departments[r.IntN(len(in.Departments))].ExternalID
		if i < len(codes) && r.IntN(2) == 0 {
			d.Code = fmt.Sprintf("k%d", codes[i])
		}
		in.Departments = append(in.Departments, d)
	}
	for u := range 20 {
		m := Member{ExternalID: fmt.Sprintf("u%d", u), Name: names[r.IntN(len(names))]}
		for range r.IntN(4) {
			m.DepartmentIDs = append(m.DepartmentIDs, in.Departments[r.IntN(len(in.Departments))].ExternalID)
		}
		if len(m.DepartmentIDs) > 0 && r.IntN(2) == 0 {
			m.MainDepartmentID = m.DepartmentIDs[0]
		}
		in.Members = append(in.Members, m)
	}
	for i := range in.Departments {
		if r.IntN(4) == 0 {
			in.Departments[i].LeaderExternalID = fmt.Sprintf("u%d", r.IntN(25)) // some unknown
		}
	}
	r.Shuffle(len(in.Departments), func(i, j int) { in.Departments[i], in.Departments[j] = in.Departments[j], in.Departments[i] })
	return in
}

// TestSyncAThenBYieldsB is the property test: for random inputs A and B,
// syncing A and then B leaves exactly B, and every plan re-plans empty.
func TestSyncAThenBYieldsB(t *testing.T) {
	rounds := 300
	if testing.Short() {
		rounds = 60
	}
	r := rand.New(rand.NewPCG(7, 8))
	for round := range rounds {
		tr, org := newOrg(t)
		for step, in := range []Input{randomInput(r), randomInput(r), randomInput(r)} {
			prev := mainsOf(tr.Snapshot(), org.ID)
			p, err := Plan(tr.Snapshot(), org.ID, in, Options{Force: true})
			require.NoError(t, err, "round %d step %d", round, step)
			require.NoError(t, Apply(tr, p), "round %d step %d plan:\n%s", round, step, p)
			require.NoError(t, tr.Check())
			require.Equal(t, expected(in, prev), projection(t, tr.Snapshot(), org.ID), "round %d step %d plan:\n%s", round, step, p)
			again, err := Plan(tr.Snapshot(), org.ID, in, Options{Force: true})
			require.NoError(t, err)
			require.True(t, again.Empty(), "round %d step %d: second plan:\n%s", round, step, again)
		}
	}
}

func TestPlanIsDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	a, b := randomInput(r), randomInput(r)
	tr, org := newOrg(t)
	sync(t, tr, org.ID, a, Options{Force: true})
	p1, err := Plan(tr.Snapshot(), org.ID, b, Options{Force: true})
	require.NoError(t, err)
	slices.Reverse(b.Departments)
	slices.Reverse(b.Members)
	p2, err := Plan(tr.Snapshot(), org.ID, b, Options{Force: true})
	require.NoError(t, err)
	assert.Equal(t, p1.String(), p2.String())
}

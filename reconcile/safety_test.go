package reconcile

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

type provider struct {
	name   string
	decode func(io.Reader, io.Reader) (Input, error)
}

var providers = []provider{{"dingtalk", DecodeDingTalk}, {"wecom", DecodeWeCom}, {"lark", DecodeLark}}

// fixture opens testdata/name, or returns nil for "".
func fixture(t *testing.T, name string) io.Reader {
	t.Helper()
	if name == "" {
		return nil
	}
	f, err := os.Open("testdata/" + name)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// synced returns a tree whose org was synced from the provider's standard
// fixtures, with the root's own code "hq".
func synced(t *testing.T, pr provider) (*orgtree.Tree, orgtree.Org) {
	t.Helper()
	tr := orgtree.New(orgtree.WithIDGenerator(orgtree.SequentialIDs("id")))
	org, err := tr.CreateOrg(orgtree.OrgInput{Name: "Acme", Code: "hq"})
	require.NoError(t, err)
	in, err := pr.decode(fixture(t, pr.name+"_departments.json"), fixture(t, pr.name+"_users.json"))
	require.NoError(t, err)
	sync(t, tr, org.ID, in, Options{})
	return tr, org
}

// Item 1 and 2: an empty department list still gets its root, and an
// answer with nothing in it is refused unless the caller says so.
func TestEmptyAnswersAreRefused(t *testing.T) {
	for _, pr := range providers {
		t.Run(pr.name, func(t *testing.T) {
			tr, org := synced(t, pr)
			before := tr.Snapshot().Dump()
			for _, users := range []string{pr.name + "_empty_users.json", ""} {
				in, err := pr.decode(fixture(t, pr.name+"_empty_departments.json"), fixture(t, users))
				require.NoError(t, err)
				require.Len(t, in.Departments, 1, "the root is added")
				_, err = Plan(tr.Snapshot(), org.ID, in, Options{MaxDeleteRatio: -1})
				require.ErrorIs(t, err, ErrEmptyInput, "users %q", users)
				assert.Contains(t, err.Error(), "AllowEmpty")
			}
			assert.Equal(t, before, tr.Snapshot().Dump())

			// The caller says the org really is empty: it still takes Force
			// (or a ratio) to remove what is there.
			in, err := pr.decode(fixture(t, pr.name+"_empty_departments.json"), fixture(t, pr.name+"_empty_users.json"))
			require.NoError(t, err)
			_, err = Plan(tr.Snapshot(), org.ID, in, Options{AllowEmpty: true})
			require.ErrorIs(t, err, ErrTooManyDeletes)
			p := sync(t, tr, org.ID, in, Options{AllowEmpty: true, Force: true})
			assert.Equal(t, Loss{Departments: 4, OfDepartments: 4, Memberships: 4, OfMemberships: 4, Members: 3, OfMembers: 3}, p.Loss)
			kids, err := tr.Children(org.RootID, 1)
			require.NoError(t, err)
			assert.Empty(t, kids)
		})
	}
	tr, org := newOrg(t)
	sync(t, tr, org.ID, base(), Options{})
	_, err := Plan(tr.Snapshot(), org.ID, Input{}, Options{MaxDeleteRatio: -1})
	require.ErrorIs(t, err, ErrEmptyInput)
	_, err = Plan(tr.Snapshot(), org.ID, Input{}, Options{MaxDeleteRatio: -1, Force: true})
	require.ErrorIs(t, err, ErrEmptyInput, "Force is about ratios, not about empty answers")
}

// Item 1: a company whose staff all sit in the root syncs, from an empty
// department list or from none at all.
func TestRootOnlyCompany(t *testing.T) {
	for _, pr := range providers {
		for _, depts := range []string{pr.name + "_empty_departments.json", ""} {
			t.Run(pr.name+"/"+depts, func(t *testing.T) {
				in, err := pr.decode(fixture(t, depts), fixture(t, pr.name+"_rootonly_users.json"))
				require.NoError(t, err)
				tr, org := newOrg(t)
				sync(t, tr, org.ID, in, Options{})
				n, err := tr.MemberCount(org.RootID, false)
				require.NoError(t, err)
				assert.Equal(t, 2, n)
				root, err := tr.Node(org.RootID)
				require.NoError(t, err)
				assert.Equal(t, "Acme", root.Name, "the root keeps its name")
			})
		}
	}
}

// Item 3: a last page that still says more pages follow is refused.
func TestTruncatedPagesAreRefused(t *testing.T) {
	for _, c := range []struct {
		pr           provider
		depts, users string
	}{
		{providers[2], "lark_truncated_departments.json", "lark_users.json"},
		{providers[2], "lark_departments.json", "lark_truncated_users.json"},
		{providers[0], "dingtalk_departments.json", "dingtalk_truncated_users.json"},
		{providers[1], "wecom_departments.json", "wecom_truncated_users.json"},
	} {
		t.Run(c.depts+"+"+c.users, func(t *testing.T) {
			_, err := c.pr.decode(fixture(t, c.depts), fixture(t, c.users))
			require.ErrorIs(t, err, ErrTruncated)
			require.ErrorIs(t, err, ErrInvalidInput)
		})
	}
	// Complete paged answers decode: DingTalk's pages end with has_more
	// false, WeCom's list_id with an empty next_cursor.
	in, err := DecodeWeCom(fixture(t, "wecom_departments.json"), fixture(t, "wecom_listid_users.json"))
	require.NoError(t, err)
	want, err := DecodeWeCom(fixture(t, "wecom_departments.json"), fixture(t, "wecom_users.json"))
	require.NoError(t, err)
	assert.Equal(t, memberIDs(want.Members), memberIDs(in.Members))
	assert.Equal(t, []string{"5", "4"}, in.Members[1].DepartmentIDs)
}

func memberIDs(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ExternalID
	}
	return out
}

// Item 4: an empty user list would remove every membership: the ratio
// covers memberships and members, and a missing list leaves them alone.
func TestMembershipRemovalsAreLimited(t *testing.T) {
	for _, pr := range providers {
		t.Run(pr.name, func(t *testing.T) {
			tr, org := synced(t, pr)
			before := tr.Snapshot().Dump()
			in, err := pr.decode(fixture(t, pr.name+"_departments.json"), fixture(t, pr.name+"_empty_users.json"))
			require.NoError(t, err)
			_, err = Plan(tr.Snapshot(), org.ID, in, Options{})
			var le *LimitError
			require.ErrorAs(t, err, &le)
			assert.Equal(t, Loss{Memberships: 4, OfMemberships: 4, Members: 3, OfMembers: 3, OfDepartments: 4}, le.Loss)
			assert.Contains(t, err.Error(), "4 of 4 memberships, 3 of 3 members")

			// No user list at all: memberships stay.
			in, err = pr.decode(fixture(t, pr.name+"_departments.json"), nil)
			require.NoError(t, err)
			require.True(t, in.KeepMembers)
			p := sync(t, tr, org.ID, in, Options{})
			assert.True(t, p.Empty(), "%s", p)
			assert.Equal(t, before, tr.Snapshot().Dump())

			p, err = Plan(tr.Snapshot(), org.ID, Input{Departments: in.Departments}, Options{Force: true})
			require.NoError(t, err)
			assert.Equal(t, 4, p.Count()[ActRemoveMember])
			assert.Contains(t, p.Summary(), "takes away 4 of 4 memberships, 3 of 3 members")
		})
	}
	_, err := Plan(orgtree.New().Snapshot(), "x", Input{Departments: []Department{dept("1", "", "A")}, KeepMembers: true,
		Members: []Member{{ExternalID: "u"}}}, Options{})
	require.ErrorIs(t, err, ErrInvalidInput)
}

// Item 4: moving members is not a loss; a deleted department's members
// count; members kept by MissingKeep are not lost.
func TestLossCounts(t *testing.T) {
	tr, org := newOrg(t)
	sync(t, tr, org.ID, base(), Options{})
	in := base()
	in.Members[0].DepartmentIDs, in.Members[0].MainDepartmentID = []string{"4"}, "4" // ann moves
	p := sync(t, tr, org.ID, in, Options{})
	assert.Equal(t, Loss{OfDepartments: 5, OfMemberships: 4, OfMembers: 3}, p.Loss)
	assert.Equal(t, 1, p.Count()[ActMoveMember])

	in.Departments = in.Departments[:5] // EMEA goes, with bob's and cy's memberships
	in.Members[1].DepartmentIDs, in.Members[2].DepartmentIDs = []string{"4"}, nil
	p, err := Plan(tr.Snapshot(), org.ID, in, Options{Force: true})
	require.NoError(t, err)
	assert.Equal(t, Loss{Departments: 1, OfDepartments: 5, Memberships: 2, OfMemberships: 4, Members: 1, OfMembers: 3}, p.Loss, "%s", p)
	p, err = Plan(tr.Snapshot(), org.ID, in, Options{Missing: MissingKeep})
	require.NoError(t, err)
	assert.False(t, p.Loss.any(), "%s", p)
}

// Item 5: Lark's is_primary_dept is the main department, and a later sync
// that does not say keeps it.
func TestLarkPrimaryDepartment(t *testing.T) {
	tr, org := synced(t, providers[2])
	s := tr.Snapshot()
	lisi, err := s.UserByExternalID("ou_lisi")
	require.NoError(t, err)
	assert.Equal(t, mustExt(t, s, org.ID, "od-4"), lisi.MainDepartmentID)

	in, err := DecodeLark(fixture(t, "lark_departments.json"), fixture(t, "lark_users.json"))
	require.NoError(t, err)
	for i := range in.Members {
		in.Members[i].MainDepartmentID = ""
	}
	p := sync(t, tr, org.ID, in, Options{})
	assert.True(t, p.Empty(), "%s", p)
	lisi, err = tr.UserByExternalID("ou_lisi")
	require.NoError(t, err)
	assert.Equal(t, mustExt(t, tr.Snapshot(), org.ID, "od-4"), lisi.MainDepartmentID)

	// Leaving the main department clears it, even by a member move.
	in.Members[1].DepartmentIDs = []string{"od-5", "od-3"}
	p = sync(t, tr, org.ID, in, Options{})
	assert.Equal(t, 1, p.Count()[ActMoveMember], "%s", p)
	lisi, err = tr.UserByExternalID("ou_lisi")
	require.NoError(t, err)
	assert.Empty(t, lisi.MainDepartmentID)
}

// Item 6: the root keeps the code, name and leader the provider does not
// give; a code the provider gives is taken.
func TestRootKeepsWhatTheProviderDoesNotSay(t *testing.T) {
	for _, pr := range providers {
		t.Run(pr.name, func(t *testing.T) {
			tr, org := synced(t, pr)
			root, err := tr.NodeByCode(org.ID, "hq")
			require.NoError(t, err)
			assert.Equal(t, org.RootID, root.ID)
		})
	}
	tr := orgtree.New()
	boss, err := tr.CreateUser(orgtree.User{Name: "Boss"})
	require.NoError(t, err)
	org, err := tr.CreateOrg(orgtree.OrgInput{Name: "Acme Ltd", Code: "hq", LeaderUserID: boss.ID})
	require.NoError(t, err)
	in := base()
	in.Departments[0].Name = ""
	sync(t, tr, org.ID, in, Options{})
	root, err := tr.Node(org.RootID)
	require.NoError(t, err)
	assert.Equal(t, "Acme Ltd", root.Name)
	assert.Equal(t, "hq", root.Code)
	assert.Equal(t, boss.ID, root.LeaderUserID)

	in.Departments[0].Code = "acme"
	in.Departments[0].LeaderExternalID = "ann"
	sync(t, tr, org.ID, in, Options{})
	root, err = tr.Node(org.RootID)
	require.NoError(t, err)
	assert.Equal(t, "acme", root.Code)
	ann, err := tr.UserByExternalID("ann")
	require.NoError(t, err)
	assert.Equal(t, ann.ID, root.LeaderUserID)
}

// Item 7: two orgs list the same user; each re-plan is empty, the user's
// fields and main department follow its home org, memberships are each
// org's own.
func TestUsersSharedByOrgsDoNotPingPong(t *testing.T) {
	tr := orgtree.New(orgtree.WithIDGenerator(orgtree.SequentialIDs("id")))
	a, err := tr.CreateOrg(orgtree.OrgInput{Name: "A"})
	require.NoError(t, err)
	b, err := tr.CreateOrg(orgtree.OrgInput{Name: "B"})
	require.NoError(t, err)
	inA := Input{Departments: []Department{dept("1", "", "A"), dept("2", "1", "Dev")},
		Members: []Member{{ExternalID: "ann", Name: "Ann (A)", Email: "ann@a", DepartmentIDs: []string{"2"}, MainDepartmentID: "2"}}}
	inB := Input{Departments: []Department{dept("1", "", "B"), dept("7", "1", "Ops")},
		Members: []Member{{ExternalID: "ann", Name: "Ann (B)", Email: "ann@b", DepartmentIDs: []string{"7"}, MainDepartmentID: "7"}}}
	sync(t, tr, a.ID, inA, Options{})
	sync(t, tr, b.ID, inB, Options{})
	for range 3 {
		for _, c := range []struct {
			org string
			in  Input
		}{{a.ID, inA}, {b.ID, inB}} {
			p, err := Plan(tr.Snapshot(), c.org, c.in, Options{})
			require.NoError(t, err)
			require.True(t, p.Empty(), "%s", p)
		}
	}
	ann, err := tr.UserByExternalID("ann")
	require.NoError(t, err)
	assert.Equal(t, "Ann (A)", ann.Name, "A is ann's home: her main department is there")
	assert.Equal(t, mustExt(t, tr.Snapshot(), a.ID, "2"), ann.MainDepartmentID)
	ok, err := tr.HasMember(mustExt(t, tr.Snapshot(), b.ID, "7"), ann.ID)
	require.NoError(t, err)
	assert.True(t, ok, "B's memberships are B's")

	// Ann leaves A: B becomes her home and syncs her fields.
	inA.Members = nil
	sync(t, tr, a.ID, inA, Options{Force: true})
	p := sync(t, tr, b.ID, inB, Options{})
	assert.Equal(t, map[Action]int{ActUpdateUser: 1, ActMainDept: 1}, p.Count(), "%s", p)
	ann, err = tr.UserByExternalID("ann")
	require.NoError(t, err)
	assert.Equal(t, "Ann (B)", ann.Name)
}

// Item 8: staleness is judged against what the plan read.
func TestStalenessIsJudgedByWhatThePlanRead(t *testing.T) {
	setup := func(t *testing.T) (*orgtree.Tree, orgtree.Org, orgtree.Org, *ChangePlan, Input) {
		tr, org := newOrg(t)
		other, err := tr.CreateOrg(orgtree.OrgInput{Name: "Other"})
		require.NoError(t, err)
		sync(t, tr, org.ID, base(), Options{})
		in := base()
		in.Departments[2].Name = "Platform"
		in.Members = append(in.Members, Member{ExternalID: "dan", Name: "Dan", DepartmentIDs: []string{"5"}})
		p, err := Plan(tr.Snapshot(), org.ID, in, Options{})
		require.NoError(t, err)
		return tr, org, other, p, in
	}
	unrelated := map[string]func(*testing.T, *orgtree.Tree, orgtree.Org, orgtree.Org){
		"node in another org": func(t *testing.T, tr *orgtree.Tree, _, other orgtree.Org) {
			_, err := tr.AddNode(orgtree.NodeInput{ParentID: other.RootID, Name: "x"})
			require.NoError(t, err)
		},
		"unrelated user": func(t *testing.T, tr *orgtree.Tree, _, _ orgtree.Org) {
			_, err := tr.CreateUser(orgtree.User{Name: "eve", ExternalID: "eve"})
			require.NoError(t, err)
		},
		"description in the org": func(t *testing.T, tr *orgtree.Tree, org, _ orgtree.Org) {
			_, err := tr.UpdateNode(org.RootID, orgtree.NodeUpdate{Description: orgtree.Ptr("not read by the plan")})
			require.NoError(t, err)
		},
		"member of another org": func(t *testing.T, tr *orgtree.Tree, _, other orgtree.Org) {
			ann, err := tr.UserByExternalID("ann")
			require.NoError(t, err)
			require.NoError(t, tr.AddMembers(other.RootID, ann.ID))
		},
	}
	for name, write := range unrelated {
		t.Run("unrelated/"+name, func(t *testing.T) {
			tr, org, other, p, in := setup(t)
			write(t, tr, org, other)
			require.NoError(t, Apply(tr, p))
			assert.Equal(t, expected(in, mainsOf(tr.Snapshot(), org.ID)), projection(t, tr.Snapshot(), org.ID))
		})
	}
	conflicting := map[string]func(*testing.T, *orgtree.Tree, orgtree.Org, orgtree.Org){
		"rename in the org": func(t *testing.T, tr *orgtree.Tree, org, _ orgtree.Org) {
			_, err := tr.UpdateNode(mustExt(t, tr.Snapshot(), org.ID, "6"), orgtree.NodeUpdate{Name: orgtree.Ptr("Europe")})
			require.NoError(t, err)
		},
		"node added to the org": func(t *testing.T, tr *orgtree.Tree, org, _ orgtree.Org) {
			_, err := tr.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "meanwhile"})
			require.NoError(t, err)
		},
		"listed user renamed": func(t *testing.T, tr *orgtree.Tree, _, _ orgtree.Org) {
			ann, err := tr.UserByExternalID("ann")
			require.NoError(t, err)
			_, err = tr.UpdateUser(ann.ID, orgtree.UserUpdate{Name: orgtree.Ptr("Anne")})
			require.NoError(t, err)
		},
		"user the plan creates appears": func(t *testing.T, tr *orgtree.Tree, _, _ orgtree.Org) {
			_, err := tr.CreateUser(orgtree.User{Name: "Dan", ExternalID: "dan"})
			require.NoError(t, err)
		},
		"main department moved to another org": func(t *testing.T, tr *orgtree.Tree, _, other orgtree.Org) {
			ann, err := tr.UserByExternalID("ann")
			require.NoError(t, err)
			require.NoError(t, tr.AddMembers(other.RootID, ann.ID))
			require.NoError(t, tr.SetMainDepartment(ann.ID, other.RootID))
		},
	}
	for name, write := range conflicting {
		t.Run("conflicting/"+name, func(t *testing.T) {
			tr, org, other, p, _ := setup(t)
			write(t, tr, org, other)
			before := tr.Snapshot().Dump()
			require.ErrorIs(t, Apply(tr, p), ErrStalePlan)
			assert.Equal(t, before, tr.Snapshot().Dump())
		})
	}
}

// Item 8: ApplyTx sees its own transaction's writes; a plan made inside a
// transaction that rolls back, or before a Tree.Rollback, is refused.
func TestStalenessAcrossTransactionsAndRollbacks(t *testing.T) {
	errRollback := errors.New("roll back")
	t.Run("ApplyTx after the same tx changed the org", func(t *testing.T) {
		tr, org := newOrg(t)
		p, err := Plan(tr.Snapshot(), org.ID, base(), Options{})
		require.NoError(t, err)
		err = tr.Update(func(tx *orgtree.Tx) error {
			if _, err := tx.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "first"}); err != nil {
				return err
			}
			return ApplyTx(tx, p)
		})
		require.ErrorIs(t, err, ErrStalePlan)
	})
	t.Run("ApplyTx after the same tx wrote elsewhere", func(t *testing.T) {
		tr, org := newOrg(t)
		p, err := Plan(tr.Snapshot(), org.ID, base(), Options{})
		require.NoError(t, err)
		require.NoError(t, tr.Update(func(tx *orgtree.Tx) error {
			if _, err := tx.CreateOrg(orgtree.OrgInput{Name: "other"}); err != nil {
				return err
			}
			return ApplyTx(tx, p)
		}))
		assert.Equal(t, expected(base(), nil), projection(t, tr.Snapshot(), org.ID))
	})
	t.Run("plan made inside a rolled-back tx", func(t *testing.T) {
		tr, org := newOrg(t)
		var p *ChangePlan
		err := tr.Update(func(tx *orgtree.Tx) error {
			if _, err := tx.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "uncommitted", ExternalID: "2"}); err != nil {
				return err
			}
			var err error
			p, err = Plan(tx.Snapshot, org.ID, base(), Options{})
			require.NoError(t, err)
			return errRollback
		})
		require.ErrorIs(t, err, errRollback)
		require.Equal(t, tr.Snapshot().Seq(), p.BaseSeq, "the version number alone cannot tell")
		require.ErrorIs(t, Apply(tr, p), ErrStalePlan)
	})
	t.Run("plan made on a version a Tree.Rollback discarded", func(t *testing.T) {
		tr, org := newOrg(t)
		before := tr.Snapshot()
		_, err := tr.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "later rolled back", ExternalID: "2"})
		require.NoError(t, err)
		p, err := Plan(tr.Snapshot(), org.ID, base(), Options{})
		require.NoError(t, err)
		require.NoError(t, tr.Rollback(before))
		_, err = tr.CreateOrg(orgtree.OrgInput{Name: "reuses the number"})
		require.NoError(t, err)
		require.Greater(t, tr.Snapshot().Seq(), p.BaseSeq, "version numbers are not reused")
		require.ErrorIs(t, Apply(tr, p), ErrStalePlan)
	})
}

// Item 8: with steady writes elsewhere every plan applies at the first
// attempt (before, any write anywhere made it stale).
func TestSteadyWritesElsewhere(t *testing.T) {
	tr, org := newOrg(t)
	other, err := tr.CreateOrg(orgtree.OrgInput{Name: "Other"})
	require.NoError(t, err)
	in := base()
	for round := range 15 {
		in.Departments[2].Name = "Backend " + strings.Repeat("I", round+1)
		p, err := Plan(tr.Snapshot(), org.ID, in, Options{})
		require.NoError(t, err)
		for i := range 3 {
			_, err := tr.AddNode(orgtree.NodeInput{ParentID: other.RootID, Name: "busy"})
			require.NoError(t, err)
			_, err = tr.CreateUser(orgtree.User{Name: strings.Repeat("u", i+1)})
			require.NoError(t, err)
		}
		require.NoError(t, Apply(tr, p), "round %d", round)
	}
	assert.Equal(t, expected(in, nil), projection(t, tr.Snapshot(), org.ID))
}

// Item 10: Plan checks MaxChildren, counting departments deleted at the
// end (creates run first).
func TestPlanChecksMaxChildren(t *testing.T) {
	tr := orgtree.New(orgtree.WithLimits(orgtree.Limits{MaxChildren: 3}))
	org, err := tr.CreateOrg(orgtree.OrgInput{Name: "Acme"})
	require.NoError(t, err)
	in := Input{Departments: []Department{dept("1", "", "Acme"), dept("a", "1", "A"), dept("b", "1", "B"), dept("c", "1", "C")}}
	sync(t, tr, org.ID, in, Options{})
	wide := in
	wide.Departments = append(wide.Departments[:4:4], dept("d", "1", "D"))
	_, err = Plan(tr.Snapshot(), org.ID, wide, Options{})
	var ie *InputError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, []Problem{{Kind: "children", IDs: []string{"1"}, Msg: ie.Problems[0].Msg}}, ie.Problems)
	// Replacing a child needs room for both while the plan runs.
	swap := Input{Departments: []Department{dept("1", "", "Acme"), dept("a", "1", "A"), dept("b", "1", "B"), dept("d", "1", "D")}}
	_, err = Plan(tr.Snapshot(), org.ID, swap, Options{Force: true})
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "children", ie.Problems[0].Kind)
}

// Item 10: a user on several per-department pages gets each department
// once; the legacy DingTalk shape decodes; a list without ids is refused;
// of several leaders the first listed user wins.
func TestDecoderEdges(t *testing.T) {
	in, err := DecodeDingTalk(fixture(t, "dingtalk_legacy_departments.json"), fixture(t, "dingtalk_paged_users.json"))
	require.NoError(t, err)
	require.Len(t, in.Departments, 3)
	assert.Equal(t, Department{ExternalID: "3", ParentExternalID: "2", Name: "后端"}, in.Departments[2])
	assert.Equal(t, []string{"2", "3"}, in.Members[0].DepartmentIDs)
	tr, org := newOrg(t)
	sync(t, tr, org.ID, in, Options{})

	for _, pr := range providers[:2] { // Lark finds no list under "department" at all
		_, err := pr.decode(fixture(t, "unknown_shape_departments.json"), nil)
		require.ErrorIs(t, err, ErrInvalidInput, pr.name)
		assert.Contains(t, err.Error(), "has no id", pr.name)
	}

	in, err = DecodeWeCom(fixture(t, "wecom_multileader_departments.json"), fixture(t, "wecom_users.json"))
	require.NoError(t, err)
	leaders := map[string]string{}
	for _, d := range in.Departments {
		leaders[d.ExternalID] = d.LeaderExternalID
	}
	assert.Equal(t, map[string]string{"1": "", "2": "lisi", "3": "zhangsan"}, leaders, "ghost is in no user list")
	in, err = DecodeLark(fixture(t, "lark_multileader_departments.json"), fixture(t, "lark_users.json"))
	require.NoError(t, err)
	assert.Equal(t, "ou_zhangsan", in.Departments[0].LeaderExternalID, "the main leader is unknown: the first listed deputy")
	assert.Equal(t, "ou_lisi", in.Departments[1].LeaderExternalID, "the main leader before deputies")
	in, err = DecodeDingTalk(fixture(t, "dingtalk_multileader_departments.json"), nil)
	require.NoError(t, err)
	assert.Equal(t, "ghost", in.Departments[0].LeaderExternalID, "without a user list: the first")
}

// Item 10: MissingKeep keeps a department with all its members, users the
// provider no longer lists included; a code the input gives to another
// department is taken from the kept one (the input wins).
func TestMissingKeepRules(t *testing.T) {
	tr, org := newOrg(t)
	in := base()
	in.Departments[5].Code = "emea"
	sync(t, tr, org.ID, in, Options{})
	in = base()
	in.Departments = in.Departments[:5]
	in.Departments = append(in.Departments, Department{ExternalID: "9", ParentExternalID: "1", Name: "Europe", Code: "emea"})
	in.Members = in.Members[:1] // bob and cy are no longer listed
	p := sync(t, tr, org.ID, in, Options{Missing: MissingKeep})
	assert.Contains(t, p.String(), `code "emea" goes to 9`)
	emea, err := tr.NodeByExternalID(org.ID, "6")
	require.NoError(t, err)
	assert.Empty(t, emea.Code)
	n, err := tr.MemberCount(emea.ID, false)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "bob and cy stay in the kept department")
	bob, err := tr.UserByExternalID("bob")
	require.NoError(t, err)
	depts, err := tr.UserDepartments(bob.ID)
	require.NoError(t, err)
	assert.Len(t, depts, 1, "but leave the departments the provider lists")
}

// A plan survives a JSON round trip (made by one process, applied by
// another); a tampered fingerprint is stale.
func TestPlanJSONRoundTrip(t *testing.T) {
	tr, org := newOrg(t)
	p, err := Plan(tr.Snapshot(), org.ID, base(), Options{})
	require.NoError(t, err)
	data, err := json.Marshal(p)
	require.NoError(t, err)
	var back ChangePlan
	require.NoError(t, json.Unmarshal(data, &back))
	tampered := back
	tampered.Fingerprint = ""
	require.ErrorIs(t, Apply(tr, &tampered), ErrStalePlan)
	require.NoError(t, Apply(tr, &back))
	assert.Equal(t, expected(base(), nil), projection(t, tr.Snapshot(), org.ID))
}

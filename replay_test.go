package orgtree_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/orgtree/orgtree"
)

var applySteps = flag.Int("apply.steps", 200, "transactions per random history in TestApplyRandomHistories")

// historyGen makes random transactions on a tree: every kind of write,
// several in one transaction, often conflicting (a move under a
// descendant, a duplicate code) so that refused ops are part of the mix.
type historyGen struct {
	rng   *rand.Rand
	next  int
	codes []string
}

func (g *historyGen) pick(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return ids[g.rng.Intn(len(ids))]
}

func (g *historyGen) nodeIDs(s orgtree.Snapshot) (all, nonRoot []string) {
	for _, n := range s.Dump().Nodes {
		all = append(all, n.ID)
		if n.ParentID != "" {
			nonRoot = append(nonRoot, n.ID)
		}
	}
	return all, nonRoot
}

func (g *historyGen) userIDs(s orgtree.Snapshot) []string {
	var out []string
	for _, u := range s.Dump().Users {
		out = append(out, u.ID)
	}
	return out
}

func (g *historyGen) op(tx *orgtree.Tx) {
	g.next++
	id := fmt.Sprintf("x%d", g.next)
	nodes, nonRoot := g.nodeIDs(tx.Snapshot)
	users := g.userIDs(tx.Snapshot)
	code := func() string {
		if g.rng.Intn(3) == 0 {
			return ""
		}
		return fmt.Sprintf("c%d", g.rng.Intn(12)) // few codes: duplicates and swaps happen
	}
	switch k := g.rng.Intn(20); {
	case k == 0 || len(nodes) == 0:
		_, _ = tx.CreateOrg(orgtree.OrgInput{ID: "o" + id, RootID: "r" + id, Name: "Org " + id, Code: code()})
	case k < 5:
		in := orgtree.NodeInput{ID: id, ParentID: g.pick(nodes), Name: "n " + id, Code: code(), Order: g.rng.Intn(3)}
		if g.rng.Intn(4) == 0 {
			in.NameI18n = map[string]string{"en": "N" + id}
			in.ExternalID = fmt.Sprintf("e%d", g.rng.Intn(8))
		}
		if g.rng.Intn(5) == 0 && len(users) > 0 {
			in.LeaderUserID = g.pick(users)
		}
		_, _ = tx.AddNode(in)
	case k < 7:
		_, _ = tx.MoveNode(g.pick(nonRoot), g.pick(nodes))
	case k < 9:
		upd := orgtree.NodeUpdate{}
		switch g.rng.Intn(5) {
		case 0:
			upd.Name = orgtree.Ptr("renamed " + id)
		case 1:
			upd.Code = orgtree.Ptr(code())
		case 2:
			upd.Order = orgtree.Ptr(g.rng.Intn(4))
		case 3:
			upd.Description, upd.ExternalID = orgtree.Ptr("d"+id), orgtree.Ptr(fmt.Sprintf("e%d", g.rng.Intn(8)))
		case 4:
			upd.LeaderUserID = orgtree.Ptr(g.pick(append(users, "")))
		}
		_, _ = tx.UpdateNode(g.pick(nodes), upd)
	case k < 10:
		mode := orgtree.RefuseNonEmpty
		if g.rng.Intn(4) == 0 {
			mode = orgtree.Cascade
		}
		_ = tx.DeleteNode(g.pick(nonRoot), mode)
	case k < 12:
		u := orgtree.User{ID: "u" + id, Name: "U " + id}
		if g.rng.Intn(3) == 0 {
			u.ExternalID = fmt.Sprintf("ue%d", g.rng.Intn(6))
		}
		_, _ = tx.CreateUser(u)
	case k < 13:
		_, _ = tx.UpdateUser(g.pick(users), orgtree.UserUpdate{Email: orgtree.Ptr(id + "@x"), ExternalID: orgtree.Ptr(fmt.Sprintf("ue%d", g.rng.Intn(6)))})
	case k < 14:
		_ = tx.DeleteUser(g.pick(users))
	case k < 16:
		n := g.pick(nodes)
		for i := g.rng.Intn(3); i >= 0; i-- {
			_ = tx.AddMembers(n, g.pick(users))
		}
	case k < 17:
		_ = tx.RemoveMembers(g.pick(nodes), g.pick(users))
	case k < 18:
		if g.rng.Intn(2) == 0 {
			_ = tx.MoveMembers(g.pick(nodes), g.pick(nodes), g.pick(users))
		} else {
			_ = tx.SetMainDepartment(g.pick(users), g.pick(nodes))
		}
	case k < 19:
		if g.rng.Intn(3) == 0 {
			_ = tx.RevokeResource(g.pick(nodes), "ns", "r1")
		} else {
			_ = tx.GrantResource(g.pick(nodes), orgtree.Resource{Namespace: "ns", Code: fmt.Sprintf("r%d", g.rng.Intn(3)), Type: orgtree.ResourceAPI, Actions: []string{"read", "write"}})
		}
	default:
		orgs := tx.Orgs()
		if len(orgs) > 4 {
			_ = tx.DeleteOrg(orgs[g.rng.Intn(len(orgs))].ID)
		}
	}
}

func sameDump(t *testing.T, what string, a, b *orgtree.Dump) {
	t.Helper()
	x, y := *a, *b
	x.Seq, y.Seq = 0, 0
	if !reflect.DeepEqual(x, y) {
		ja, _ := json.Marshal(x)
		jb, _ := json.Marshal(y)
		t.Fatalf("%s: dumps differ\nwant %s\ngot  %s", what, ja, jb)
	}
}

// TestApplyRandomHistories replays random histories on two followers, one
// with the incremental Apply and one with a full rebuild from the merged
// Dump, and checks after every transaction that both equal the source and
// that the incremental one passes Check. Every ChangeSet also goes through
// JSON, as it does on its way through etcd.
func TestApplyRandomHistories(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			var pending []*orgtree.ChangeSet
			src := orgtree.New(orgtree.WithCommitHook(func(cs *orgtree.ChangeSet) error {
				pending = append(pending, cs)
				return nil
			}))
			inc, full := orgtree.New(), orgtree.New()
			g := &historyGen{rng: rand.New(rand.NewSource(seed))}
			for step := 0; step < *applySteps; step++ {
				ops := 1 + g.rng.Intn(4)
				_ = src.Update(func(tx *orgtree.Tx) error {
					for i := 0; i < ops; i++ {
						g.op(tx)
					}
					return nil
				})
				for _, cs := range pending {
					b, err := json.Marshal(cs)
					if err != nil {
						t.Fatal(err)
					}
					var wire orgtree.ChangeSet
					if err := json.Unmarshal(b, &wire); err != nil {
						t.Fatal(err)
					}
					if err := inc.Apply(&wire); err != nil {
						t.Fatalf("step %d: apply: %v\nchange %s", step, err, b)
					}
					if err := full.Replace(orgtree.MergeChangeSet(full.Snapshot().Dump(), &wire)); err != nil {
						t.Fatalf("step %d: rebuild: %v", step, err)
					}
				}
				pending = pending[:0]
				want := src.Snapshot().Dump()
				sameDump(t, fmt.Sprintf("step %d incremental", step), want, inc.Snapshot().Dump())
				sameDump(t, fmt.Sprintf("step %d rebuild", step), want, full.Snapshot().Dump())
				if step%10 == 0 || step == *applySteps-1 {
					if err := inc.Snapshot().Check(); err != nil {
						t.Fatalf("step %d: %v", step, err)
					}
				}
			}
			if st := src.Snapshot().Stats(); st.Nodes < 10 || st.Memberships < 10 {
				t.Fatalf("history too small to mean much: %+v", st)
			}
		})
	}
}

// TestApplyOrderings covers the changes whose steps must be ordered: two
// nodes swapping codes, a parent and child swapping places, a new node
// taking the code of a deleted one, a subtree emptied and deleted while its
// child moves out.
func TestApplyOrderings(t *testing.T) {
	var log []*orgtree.ChangeSet
	src := orgtree.New(orgtree.WithCommitHook(func(cs *orgtree.ChangeSet) error { log = append(log, cs); return nil }))
	dst := orgtree.New()
	follow := func() {
		t.Helper()
		for _, cs := range log {
			if err := dst.Apply(cs); err != nil {
				t.Fatalf("apply: %v", err)
			}
		}
		log = log[:0]
		sameDump(t, "follower", src.Snapshot().Dump(), dst.Snapshot().Dump())
		if err := dst.Snapshot().Check(); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(src.Update(func(tx *orgtree.Tx) error {
		if _, err := tx.CreateOrg(orgtree.OrgInput{ID: "o", RootID: "root", Name: "Acme"}); err != nil {
			return err
		}
		for _, n := range []orgtree.NodeInput{
			{ID: "a", ParentID: "root", Name: "A", Code: "ca"},
			{ID: "b", ParentID: "a", Name: "B", Code: "cb"},
			{ID: "c", ParentID: "b", Name: "C", ExternalID: "ec"},
			{ID: "d", ParentID: "root", Name: "D"},
		} {
			if _, err := tx.AddNode(n); err != nil {
				return err
			}
		}
		if _, err := tx.CreateUser(orgtree.User{ID: "u", Name: "U"}); err != nil {
			return err
		}
		return tx.AddMembers("c", "u")
	}))
	follow()
	must(src.Update(func(tx *orgtree.Tx) error { // swap codes
		if _, err := tx.UpdateNode("a", orgtree.NodeUpdate{Code: orgtree.Ptr("tmp")}); err != nil {
			return err
		}
		if _, err := tx.UpdateNode("b", orgtree.NodeUpdate{Code: orgtree.Ptr("ca")}); err != nil {
			return err
		}
		_, err := tx.UpdateNode("a", orgtree.NodeUpdate{Code: orgtree.Ptr("cb")})
		return err
	}))
	follow()
	must(src.Update(func(tx *orgtree.Tx) error { // b above a: b to root, a under b
		if _, err := tx.MoveNode("b", "root"); err != nil {
			return err
		}
		_, err := tx.MoveNode("a", "b")
		return err
	}))
	follow()
	must(src.Update(func(tx *orgtree.Tx) error { // c out of b, b deleted, e takes b's code under c
		if _, err := tx.MoveNode("c", "d"); err != nil {
			return err
		}
		if _, err := tx.MoveNode("a", "d"); err != nil {
			return err
		}
		if err := tx.DeleteNode("b", orgtree.RefuseNonEmpty); err != nil {
			return err
		}
		_, err := tx.AddNode(orgtree.NodeInput{ID: "e", ParentID: "c", Name: "E", Code: "ca", ExternalID: "ec2"})
		return err
	}))
	follow()
	must(src.Update(func(tx *orgtree.Tx) error { // a user and the node it leads go; the org goes
		if _, err := tx.UpdateNode("e", orgtree.NodeUpdate{LeaderUserID: orgtree.Ptr("u")}); err != nil {
			return err
		}
		return tx.DeleteUser("u")
	}))
	follow()
	must(src.DeleteOrg("o"))
	follow()
}

// TestApplyRefuses checks that a ChangeSet that does not apply cleanly is
// refused with ErrBadChangeSet and the reason, and changes nothing.
func TestApplyRefuses(t *testing.T) {
	var log []*orgtree.ChangeSet
	src := orgtree.New(orgtree.WithCommitHook(func(cs *orgtree.ChangeSet) error { log = append(log, cs); return nil }))
	if err := src.Update(func(tx *orgtree.Tx) error {
		if _, err := tx.CreateOrg(orgtree.OrgInput{ID: "o", RootID: "root", Name: "Acme"}); err != nil {
			return err
		}
		for _, n := range []orgtree.NodeInput{
			{ID: "a", ParentID: "root", Name: "A", Code: "ca"},
			{ID: "b", ParentID: "a", Name: "B", Code: "cb"},
		} {
			if _, err := tx.AddNode(n); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	dst := orgtree.New()
	if err := dst.Apply(log[0]); err != nil {
		t.Fatal(err)
	}
	base := log[0]
	node := func(id string) orgtree.NodeRecord {
		for _, n := range base.Nodes {
			if n.ID == id {
				return n
			}
		}
		t.Fatalf("no node %q", id)
		return orgtree.NodeRecord{}
	}
	with := func(f func(*orgtree.NodeRecord), id string) orgtree.NodeRecord {
		r := node(id)
		f(&r)
		return r
	}
	now := time.Now().UTC()
	cases := []struct {
		name string
		cs   *orgtree.ChangeSet
		want error
	}{
		{"parent missing", &orgtree.ChangeSet{Nodes: []orgtree.NodeRecord{{Node: orgtree.Node{ID: "x", OrgID: "o", ParentID: "missing", Name: "x", CreatedAt: now, UpdatedAt: now}}}}, orgtree.ErrNotFound},
		{"cycle", &orgtree.ChangeSet{Nodes: []orgtree.NodeRecord{with(func(r *orgtree.NodeRecord) { r.ParentID = "b" }, "a")}}, orgtree.ErrCycle},
		{"duplicate code", &orgtree.ChangeSet{Nodes: []orgtree.NodeRecord{with(func(r *orgtree.NodeRecord) { r.Code = "cb" }, "a")}}, orgtree.ErrDuplicateCode},
		{"deleted node keeps a child", &orgtree.ChangeSet{DeletedNodes: []string{"a"}}, orgtree.ErrNotEmpty},
		{"delete missing", &orgtree.ChangeSet{DeletedNodes: []string{"zz"}}, orgtree.ErrNotFound},
		{"bad name", &orgtree.ChangeSet{Nodes: []orgtree.NodeRecord{with(func(r *orgtree.NodeRecord) { r.Name = "" }, "a")}}, orgtree.ErrInvalidName},
		{"leader missing", &orgtree.ChangeSet{Nodes: []orgtree.NodeRecord{with(func(r *orgtree.NodeRecord) { r.LeaderUserID = "nobody" }, "a")}}, orgtree.ErrNotFound},
		{"root moved", &orgtree.ChangeSet{Nodes: []orgtree.NodeRecord{with(func(r *orgtree.NodeRecord) { r.ParentID = "a" }, "root")}}, orgtree.ErrRootNode},
		{"cross org", &orgtree.ChangeSet{Nodes: []orgtree.NodeRecord{with(func(r *orgtree.NodeRecord) { r.OrgID = "p" }, "a")}}, orgtree.ErrCrossOrg},
		{"listed twice", &orgtree.ChangeSet{Nodes: []orgtree.NodeRecord{node("a")}, DeletedNodes: []string{"a"}}, orgtree.ErrInvalidArgument},
		{"membership of a missing node", &orgtree.ChangeSet{Users: []orgtree.UserRecord{{User: orgtree.User{ID: "u", CreatedAt: now, UpdatedAt: now}, Memberships: []orgtree.Membership{{NodeID: "zz", JoinedAt: now}}}}}, orgtree.ErrNotFound},
		{"limit", &orgtree.ChangeSet{Nodes: []orgtree.NodeRecord{{Node: orgtree.Node{ID: "deep", OrgID: "o", ParentID: "b", Name: "x", CreatedAt: now, UpdatedAt: now}}}}, orgtree.ErrLimitExceeded},
		// A record whose derived fields contradict the replay (a createdAt
		// that differs from the stored one) is refused as a mismatch.
		{"result differs", &orgtree.ChangeSet{Nodes: []orgtree.NodeRecord{with(func(r *orgtree.NodeRecord) { r.CreatedAt = now.Add(time.Hour) }, "a")}}, nil},
	}
	limited := orgtree.New(orgtree.WithLimits(orgtree.Limits{MaxDepth: 2}))
	if err := limited.Apply(log[0]); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := dst
			if c.want == orgtree.ErrLimitExceeded {
				tr = limited
			}
			before, seq := tr.Snapshot().Dump(), tr.Snapshot().Seq()
			err := tr.Apply(c.cs)
			if !errors.Is(err, orgtree.ErrBadChangeSet) || (c.want != nil && !errors.Is(err, c.want)) {
				t.Fatalf("got %v, want ErrBadChangeSet and %v", err, c.want)
			}
			if tr.Snapshot().Seq() != seq {
				t.Fatal("a refused apply made a version")
			}
			sameDump(t, "after refusal", before, tr.Snapshot().Dump())
		})
	}
}

// TestApplyRefusesUnlistedChanges: deleting a department changes its
// members' records too; a change set that deletes it without listing them
// would leave replicas disagreeing about those users, so it is refused.
func TestApplyRefusesUnlistedChanges(t *testing.T) {
	var log []*orgtree.ChangeSet
	src := orgtree.New(orgtree.WithCommitHook(func(cs *orgtree.ChangeSet) error { log = append(log, cs); return nil }))
	if _, err := src.CreateOrg(orgtree.OrgInput{ID: "o", RootID: "root", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.AddNode(orgtree.NodeInput{ID: "b", ParentID: "root", Name: "B"}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.CreateUser(orgtree.User{ID: "u", Name: "U"}); err != nil {
		t.Fatal(err)
	}
	if err := src.AddMembers("b", "u"); err != nil {
		t.Fatal(err)
	}
	dst := orgtree.New()
	for _, cs := range log {
		if err := dst.Apply(cs); err != nil {
			t.Fatal(err)
		}
	}
	before, seq := dst.Snapshot().Dump(), dst.Snapshot().Seq()
	err := dst.Apply(&orgtree.ChangeSet{Seq: seq + 1, DeletedNodes: []string{"b"}})
	if !errors.Is(err, orgtree.ErrBadChangeSet) || !strings.Contains(err.Error(), `user "u"`) {
		t.Fatalf("got %v, want ErrBadChangeSet naming user u", err)
	}
	sameDump(t, "after refusal", before, dst.Snapshot().Dump())
}

// TestApplyLimitsOnTheResult: a change that is within the limits may pass
// through a state beyond them while it is replayed (a node moving in
// before its sibling moves out); Apply checks the result, not the steps.
func TestApplyLimitsOnTheResult(t *testing.T) {
	lim := orgtree.WithLimits(orgtree.Limits{MaxChildren: 2})
	var log []*orgtree.ChangeSet
	src := orgtree.New(lim, orgtree.WithCommitHook(func(cs *orgtree.ChangeSet) error { log = append(log, cs); return nil }))
	dst := orgtree.New(lim)
	if err := src.Update(func(tx *orgtree.Tx) error {
		if _, err := tx.CreateOrg(orgtree.OrgInput{ID: "o", RootID: "root", Name: "Acme"}); err != nil {
			return err
		}
		for _, n := range []orgtree.NodeInput{{ID: "a", ParentID: "root", Name: "A"}, {ID: "b", ParentID: "root", Name: "B"}, {ID: "c", ParentID: "a", Name: "C"}} {
			if _, err := tx.AddNode(n); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// b goes under a first, then c comes up to the root: never 3 children.
	if err := src.Update(func(tx *orgtree.Tx) error {
		if _, err := tx.MoveNode("b", "a"); err != nil {
			return err
		}
		_, err := tx.MoveNode("c", "root")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, cs := range log {
		if err := dst.Apply(cs); err != nil {
			t.Fatal(err)
		}
	}
	sameDump(t, "follower", src.Snapshot().Dump(), dst.Snapshot().Dump())
	if err := dst.Snapshot().Check(); err != nil {
		t.Fatal(err)
	}
}

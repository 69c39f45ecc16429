package orgtree

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCommitHookSeesChanges(t *testing.T) {
	var got []*ChangeSet
	var refuse error
	hook := func(cs *ChangeSet) error {
		if refuse != nil {
			return refuse
		}
		got = append(got, cs)
		return nil
	}
	s := newSample(t, WithCommitHook(hook))
	got = nil
	require.NoError(t, s.tr.DeleteNode(s.dev, Cascade))
	require.Len(t, got, 1)
	cs := got[0]
	assert.Equal(t, s.tr.Snapshot().Seq(), cs.Seq)
	assert.Equal(t, []string{s.dev, s.backend, s.frontend}, sortedCopy(cs.DeletedNodes))
	assert.Equal(t, []string{s.alice, s.bob}, userRecordIDs(cs.Users), "members of the deleted nodes changed")
	for _, u := range cs.Users {
		for _, m := range u.Memberships {
			assert.NotContains(t, []string{s.dev, s.backend, s.frontend}, m.NodeID)
		}
	}

	// A refusing hook rolls the transaction back.
	refuse = errors.New("disk full")
	before := s.tr.Snapshot().Dump()
	_, err := s.tr.AddNode(NodeInput{ParentID: s.root, Name: "x"})
	require.ErrorIs(t, err, refuse)
	assert.Equal(t, before, s.tr.Snapshot().Dump())
	refuse = nil

	// A transaction that changes nothing reaches no hook.
	got = nil
	require.NoError(t, s.tr.Update(func(tx *Tx) error { return nil }))
	assert.Empty(t, got)

	// An org created and deleted in one transaction is not reported.
	require.NoError(t, s.tr.Update(func(tx *Tx) error {
		o, err := tx.CreateOrg(OrgInput{Name: "tmp"})
		if err != nil {
			return err
		}
		return tx.DeleteOrg(o.ID)
	}))
	require.Len(t, got, 1)
	assert.Empty(t, got[0].Orgs)
	assert.Empty(t, got[0].DeletedOrgs)
	assert.Empty(t, got[0].Nodes)
}

func sortedCopy(ss []string) []string { return slices.Sorted(slices.Values(ss)) }

func userRecordIDs(us []UserRecord) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

// TestDumpLoadRoundTrip replays a dump, in reverse record order, into a
// fresh tree: everything, rollups and indexes included, comes back.
func TestDumpLoadRoundTrip(t *testing.T) {
	s := newSample(t)
	require.NoError(t, s.tr.SetMainDepartment(s.bob, s.ops))
	require.NoError(t, s.tr.GrantResource(s.dev, Resource{Namespace: "n", Code: "c", Type: ResourceMenu}))
	_, err := s.tr.UpdateNode(s.frontend, NodeUpdate{ExternalID: Ptr("fe"), NameI18n: map[string]string{"en": "Front"}})
	require.NoError(t, err)
	_, err = s.tr.UpdateUser(s.alice, UserUpdate{ExternalID: Ptr("ding-alice")})
	require.NoError(t, err)
	d := s.tr.Snapshot().Dump()
	rev := *d
	rev.Nodes = append([]NodeRecord(nil), d.Nodes...)
	for i, j := 0, len(rev.Nodes)-1; i < j; i, j = i+1, j-1 {
		rev.Nodes[i], rev.Nodes[j] = rev.Nodes[j], rev.Nodes[i]
	}
	fresh := New()
	require.NoError(t, fresh.Load(&rev))
	checked(t, fresh)
	assert.Equal(t, d, fresh.Snapshot().Dump())
	assert.Equal(t, d.Seq, fresh.Snapshot().Seq())
	n, _ := fresh.MemberCount(s.root, true)
	assert.Equal(t, 3, n)
	hits, _ := fresh.Search("front", SearchOptions{})
	require.Len(t, hits, 1)
	got, err := fresh.NodeByExternalID(s.org.ID, "fe")
	require.NoError(t, err)
	assert.Equal(t, s.frontend, got.ID)
	// Writes go on from the loaded state with later timestamps.
	later, err := fresh.AddNode(NodeInput{ParentID: s.root, Name: "later"})
	require.NoError(t, err)
	assert.True(t, later.CreatedAt.After(d.Nodes[0].CreatedAt))
	require.ErrorIs(t, fresh.Load(d), ErrInvalidArgument, "only an empty tree loads")
}

func TestLoadRejectsBadRecords(t *testing.T) {
	good := newSample(t).tr.Snapshot().Dump()
	for _, tc := range []struct {
		name   string
		mutate func(d *Dump)
		want   error
	}{
		{"unknown parent", func(d *Dump) { d.Nodes[1].ParentID = "ghost" }, ErrNotFound},
		{"second root", func(d *Dump) { d.Nodes[1].ParentID = "" }, ErrCorrupt},
		{"unknown org", func(d *Dump) { d.Nodes[1].OrgID = "ghost" }, ErrNotFound},
		{"duplicate code", func(d *Dump) { d.Nodes[1].Code = d.Nodes[2].Code }, ErrDuplicateCode},
		{"bad name", func(d *Dump) { d.Nodes[1].Name = "" }, ErrInvalidName},
		{"untrimmed name", func(d *Dump) { d.Nodes[1].Name = " x" }, ErrInvalidName},
		{"duplicate node", func(d *Dump) { d.Nodes = append(d.Nodes, d.Nodes[1]) }, ErrExists},
		{"duplicate user", func(d *Dump) { d.Users = append(d.Users, d.Users[0]) }, ErrExists},
		{"user without id", func(d *Dump) { d.Users[0].ID = "" }, ErrInvalidArgument},
		{"duplicate user externalId", func(d *Dump) {
			d.Users[0].ExternalID, d.Users[1].ExternalID = "same", "same"
		}, ErrExists},
		{"membership repeated", func(d *Dump) {
			ms := d.Users[0].Memberships
			d.Users[0].Memberships = append(ms[:len(ms):len(ms)], ms[0])
		}, ErrExists},
		{"membership of unknown node", func(d *Dump) { d.Users[0].Memberships[0].NodeID = "ghost" }, ErrNotFound},
		{"main department not joined", func(d *Dump) { d.Users[0].MainDepartmentID = d.Nodes[0].ID }, ErrNotMember},
		{"root of another org", func(d *Dump) { d.Orgs[0].RootID = "ghost" }, ErrNotFound},
		{"cycle", func(d *Dump) {
			// A node under its own child: both are cut off from the root.
			for i, n := range d.Nodes {
				for _, c := range d.Nodes {
					if c.ParentID == n.ID && n.ParentID != "" {
						d.Nodes[i].ParentID = c.ID
						return
					}
				}
			}
			panic("the sample has no node with a parent and a child")
		}, ErrCorrupt},
		{"created after updated", func(d *Dump) { d.Nodes[1].CreatedAt = d.Nodes[1].UpdatedAt.Add(time.Hour) }, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := cloneDump(good)
			tc.mutate(d)
			tr := New()
			err := tr.Load(d)
			require.ErrorIs(t, err, tc.want)
			assert.Equal(t, Stats{}, tr.Snapshot().Stats(), "nothing is loaded")
		})
	}
	require.ErrorIs(t, New().Load(nil), ErrInvalidArgument, "no dump")
}

func cloneDump(d *Dump) *Dump {
	c := &Dump{Seq: d.Seq, Orgs: append([]OrgRecord(nil), d.Orgs...), Nodes: append([]NodeRecord(nil), d.Nodes...)}
	for _, u := range d.Users {
		u.Memberships = append([]Membership(nil), u.Memberships...)
		c.Users = append(c.Users, u)
	}
	return c
}

// TestCheckReportsCorruption breaks internal structures behind the API's
// back and expects Check to name each problem.
func TestCheckReportsCorruption(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(tx *Tx, s *sample)
		want   string
	}{
		{"wrong parent", func(tx *Tx, s *sample) {
			n, _, _ := tx.st.nodeByID(s.backend)
			ops, _, _ := tx.st.nodeByID(s.ops)
			tx.mutNode(n).parent = ops
		}, "not among the children"},
		{"parent id", func(tx *Tx, s *sample) {
			n, _, _ := tx.st.nodeByID(s.backend)
			tx.mutNode(n).parentID = s.ops
		}, "records parent id"},
		{"child not listed", func(tx *Tx, s *sample) {
			n, _, _ := tx.st.nodeByID(s.dev)
			tx.mutNode(n).children = nil
		}, "not among the children"},
		{"depth", func(tx *Tx, s *sample) {
			n, _, _ := tx.st.nodeByID(s.dev)
			r := tx.st.roll.Get(int(n))
			r.depth++
			tx.st.roll = tx.st.roll.Set(tx.edit, int(n), r)
		}, "depth"},
		{"distinct", func(tx *Tx, s *sample) {
			n, _, _ := tx.st.nodeByID(s.root)
			tx.addDistinct(n, 1, -1)
		}, "distinct subtree members"},
		{"membership one-sided", func(tx *Tx, s *sample) {
			u, _, _ := tx.st.userByID(s.alice)
			tx.mutUser(u).depts = nil
		}, "does not list the node"},
		{"membership moved on one side", func(tx *Tx, s *sample) {
			u, r, _ := tx.st.userByID(s.alice)
			ops, _, _ := tx.st.nodeByID(s.ops)
			w := tx.mutUser(u)
			w.depts = slices.Clone(r.depts)
			for k, d := range w.depts {
				if d != ops {
					w.depts[k] = ops // same count, another node
					break
				}
			}
			slices.Sort(w.depts)
		}, "which does not list the user"},
		{"dead member", func(tx *Tx, s *sample) {
			n, r, _ := tx.st.nodeByID(s.ops)
			w := tx.mutNode(n)
			w.members = append(slices.Clone(r.members), member{user: uid(tx.st.users.Len() + 5)})
		}, "member handle"},
		{"code index", func(tx *Tx, s *sample) {
			n, _, _ := tx.st.nodeByID(s.ops)
			tx.mutNode(n).code = "other"
		}, "code"},
		{"name index", func(tx *Tx, s *sample) {
			tx.foldPending() // a pending node is listed under its old names, whatever its record says
			n, _, _ := tx.st.nodeByID(s.ops)
			tx.mutNode(n).name = "renamed behind the index"
		}, "gram"},
		{"pending name", func(tx *Tx, s *sample) {
			tx.foldPending()
			n, r, _ := tx.st.nodeByID(s.ops)
			tx.nameChanged(n, r)
			tx.st.pending.name = "listed under another name"
		}, "gram"},
		{"node id index", func(tx *Tx, s *sample) {
			n, _, _ := tx.st.nodeByID(s.ops)
			tx.mutNode(n).id = "renamed behind the index"
		}, "node id"},
		{"user id index", func(tx *Tx, s *sample) {
			u, _, _ := tx.st.userByID(s.carol)
			tx.mutUser(u).id = "renamed behind the index"
		}, "user id"},
		{"user external id index", func(tx *Tx, s *sample) {
			u, _, _ := tx.st.userByID(s.carol)
			tx.mutUser(u).externalID = "not indexed"
		}, "external ids"},
		{"node external id index", func(tx *Tx, s *sample) {
			n, _, _ := tx.st.nodeByID(s.ops)
			w := tx.mutNode(n)
			w.nodeExtra = newExtra(w.description, w.descriptionI18n, "not indexed", w.leaderUserID, w.resources)
		}, "external ids"},
		{"dangling leader", func(tx *Tx, s *sample) {
			n, _, _ := tx.st.nodeByID(s.ops)
			w := tx.mutNode(n)
			w.nodeExtra = newExtra(w.description, w.descriptionI18n, w.externalID, "ghost", w.resources)
		}, "have a leader"},
		{"count", func(tx *Tx, s *sample) { tx.st.nodeCount++ }, "live nodes"},
		{"user order", func(tx *Tx, s *sample) {
			u, _, _ := tx.st.userByID(s.carol)
			tx.mutUser(u).created++
		}, "index entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSample(t)
			err := s.tr.Update(func(tx *Tx) error {
				tc.break_(tx, s)
				return errors.New("roll back")
			})
			require.Error(t, err)
			checked(t, s.tr) // the real tree is intact
			// Apply the same damage to a private working copy and check it.
			tx := s.tr.begin()
			tc.break_(tx, s)
			err = Snapshot{st: tx.st}.Check()
			require.ErrorIs(t, err, ErrCorrupt)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestRollback(t *testing.T) {
	s := newSample(t)
	before := s.tr.Snapshot()
	want := before.Dump()
	_, err := s.tr.AddNode(NodeInput{ParentID: s.root, Name: "temp"})
	require.NoError(t, err)
	_, err = s.tr.MoveNode(s.backend, s.ops)
	require.NoError(t, err)
	require.NoError(t, s.tr.RemoveMembers(s.backend, s.alice))
	later := s.tr.Snapshot()

	require.NoError(t, s.tr.Rollback(before))
	checked(t, s.tr)
	assert.Equal(t, want, s.tr.Snapshot().Dump())
	assert.Equal(t, before.Seq(), s.tr.Snapshot().Seq())
	// The discarded version stays readable for whoever holds it.
	require.NoError(t, later.Check())
	assert.Len(t, later.Dump().Nodes, len(want.Nodes)+1)

	// Writes go on from the restored version.
	_, err = s.tr.MoveNode(s.frontend, s.ops)
	require.NoError(t, err)
	checked(t, s.tr)

	require.ErrorIs(t, s.tr.Rollback(later), ErrInvalidArgument, "newer than current")
	require.ErrorIs(t, s.tr.Rollback(New().Snapshot()), ErrInvalidArgument, "other tree")
	require.ErrorIs(t, s.tr.Rollback(Snapshot{}), ErrInvalidArgument, "zero snapshot")
}

// TestRollbackOnlyToAncestors: after a rollback to A and commits x and y, a
// snapshot taken before the first rollback (on the discarded branch) is
// refused, and no version number ever names two states.
func TestRollbackOnlyToAncestors(t *testing.T) {
	s := newSample(t)
	a := s.tr.Snapshot()
	_, err := s.tr.AddNode(NodeInput{ParentID: s.root, Name: "discarded"})
	require.NoError(t, err)
	discarded := s.tr.Snapshot()
	require.NoError(t, s.tr.Rollback(a))
	x, err := s.tr.AddNode(NodeInput{ParentID: s.root, Name: "x"})
	require.NoError(t, err)
	afterX := s.tr.Snapshot()
	_, err = s.tr.AddNode(NodeInput{ParentID: s.root, Name: "y"})
	require.NoError(t, err)
	want := s.tr.Snapshot().Dump()

	assert.NotEqual(t, discarded.Seq(), afterX.Seq(), "two states share a version number")
	assert.Greater(t, afterX.Seq(), discarded.Seq())
	unchanged(t, s.tr, ErrInvalidArgument, func() error { return s.tr.Rollback(discarded) })
	assert.Equal(t, want, s.tr.Snapshot().Dump())

	// Ancestors still work: the current version (a no-op), x, then a.
	require.NoError(t, s.tr.Rollback(s.tr.Snapshot()))
	require.NoError(t, s.tr.Rollback(afterX))
	_, err = s.tr.Node(x.ID)
	require.NoError(t, err)
	require.NoError(t, s.tr.Rollback(a))
	checked(t, s.tr)
	require.ErrorIs(t, s.tr.Rollback(afterX), ErrInvalidArgument, "x is on a discarded branch now")

	// A refused commit uses its number up too.
	hooked := New(WithCommitHook(func(cs *ChangeSet) error {
		if cs.Seq == 2 {
			return errors.New("refused")
		}
		return nil
	}))
	_, err = hooked.CreateOrg(OrgInput{Name: "one"})
	require.NoError(t, err)
	_, err = hooked.CreateOrg(OrgInput{Name: "refused"})
	require.Error(t, err)
	_, err = hooked.CreateOrg(OrgInput{Name: "three"})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), hooked.Snapshot().Seq())

	// The working version of a transaction that did not commit is not an
	// ancestor, although it carries the current number.
	var inTx Snapshot
	require.Error(t, s.tr.Update(func(tx *Tx) error {
		if _, err := tx.AddNode(NodeInput{ParentID: s.root, Name: "uncommitted"}); err != nil {
			return err
		}
		inTx = tx.Snapshot
		return errors.New("discard")
	}))
	unchanged(t, s.tr, ErrInvalidArgument, func() error { return s.tr.Rollback(inTx) })

	// Load must not reuse a number either.
	d := s.tr.Snapshot().Dump()
	used := New()
	_, err = used.CreateOrg(OrgInput{Name: "o"})
	require.NoError(t, err)
	require.NoError(t, used.DeleteOrg(used.Snapshot().Dump().Orgs[0].ID))
	d.Seq = 1
	require.ErrorIs(t, used.Load(d), ErrInvalidArgument)
	d.Seq = 3
	require.NoError(t, used.Load(d))
	assert.Equal(t, uint64(3), used.Snapshot().Seq())
}

// TestSmallSet: the dirty set keeps every key once, inline or past the
// inline ones, and a plain AddNode (no code, no external id) lists no org.
func TestSmallSet(t *testing.T) {
	var s smallSet[int]
	for i := range 20 {
		s.add(i % 9)
		s.add(i % 9)
	}
	var got []int
	for k := range s.all() {
		got = append(got, k)
	}
	slices.Sort(got)
	assert.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8}, got)
	assert.Equal(t, 9, s.len())

	var sets []*ChangeSet
	tr := newTestTree(t, WithCommitHook(func(cs *ChangeSet) error { sets = append(sets, cs); return nil }))
	org, _ := tr.CreateOrg(OrgInput{Name: "o"})
	sets = nil
	_, err := tr.AddNode(NodeInput{ParentID: org.RootID, Name: "plain"})
	require.NoError(t, err)
	_, err = tr.AddNode(NodeInput{ParentID: org.RootID, Name: "coded", Code: "c1"})
	require.NoError(t, err)
	require.Len(t, sets, 2)
	assert.Empty(t, sets[0].Orgs, "a plain node changes no org record")
	assert.Len(t, sets[0].Nodes, 2, "the node and its parent")
	assert.Len(t, sets[1].Orgs, 1, "a code goes into the org's index")
	checked(t, tr)
}

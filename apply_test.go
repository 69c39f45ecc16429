package orgtree_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/orgtree/orgtree"
)

// TestApplyFollowsLeader replays every ChangeSet a tree commits on a second
// tree and checks that both end with the same records.
func TestApplyFollowsLeader(t *testing.T) {
	var log []*orgtree.ChangeSet
	src := orgtree.New(orgtree.WithCommitHook(func(cs *orgtree.ChangeSet) error {
		log = append(log, cs)
		return nil
	}))
	org, err := src.CreateOrg(orgtree.OrgInput{Name: "Acme", Code: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 20; i++ {
		parent := org.RootID
		if i > 0 && i%3 == 0 {
			parent = ids[i/2]
		}
		n, err := src.AddNode(orgtree.NodeInput{ParentID: parent, Name: fmt.Sprintf("n%d", i), Code: fmt.Sprintf("c%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, n.ID)
	}
	for i := 0; i < 10; i++ {
		u, err := src.CreateUser(orgtree.User{Name: fmt.Sprintf("u%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if err := src.AddMembers(ids[i], u.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := src.MoveNode(ids[5], ids[7]); err != nil {
		t.Fatal(err)
	}
	if err := src.DeleteNode(ids[19], orgtree.Cascade); err != nil {
		t.Fatal(err)
	}

	dst := orgtree.New()
	for _, cs := range log {
		if err := dst.Apply(cs); err != nil {
			t.Fatalf("apply %d: %v", cs.Seq, err)
		}
	}
	a, b := src.Snapshot().Dump(), dst.Snapshot().Dump()
	a.Seq, b.Seq = 0, 0
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("dumps differ after replay")
	}
	if err := dst.Snapshot().Check(); err != nil {
		t.Fatal(err)
	}
}

// TestApplyRefusesBrokenChange checks that a ChangeSet that would break the
// tree leaves it as it was.
func TestApplyRefusesBrokenChange(t *testing.T) {
	tr := orgtree.New()
	org, err := tr.CreateOrg(orgtree.OrgInput{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	before := tr.Snapshot().Dump()
	// A node whose parent does not exist.
	cs := &orgtree.ChangeSet{Seq: 99, Nodes: []orgtree.NodeRecord{{Node: orgtree.Node{ID: "x", OrgID: org.ID, ParentID: "missing", Name: "x"}}}}
	if err := tr.Apply(cs); err == nil {
		t.Fatal("broken change applied")
	}
	if !reflect.DeepEqual(before, tr.Snapshot().Dump()) {
		t.Fatal("tree changed by a refused apply")
	}
	if err := tr.Apply(nil); !errors.Is(err, orgtree.ErrInvalidArgument) {
		t.Fatalf("nil: %v", err)
	}
}

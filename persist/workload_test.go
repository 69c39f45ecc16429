package persist

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/orgtree/orgtree"
)

// op is one step of a random workload. It is plain data so the crash test's
// child process can report it and the parent can replay it on a model.
type op struct {
	Kind   string `json:"k"`
	ID     string `json:"id,omitempty"`
	Parent string `json:"p,omitempty"`
	Name   string `json:"n,omitempty"`
	Code   string `json:"c,omitempty"`
	User   string `json:"u,omitempty"`
	Sub    []op   `json:"sub,omitempty"` // batch: applied in one transaction
	Fail   bool   `json:"fail,omitempty"`
}

var errForced = errors.New("forced failure at the end of a batch")

// apply runs o as one transaction; a failing op leaves the tree unchanged.
func (o op) apply(t *orgtree.Tree) error {
	return t.Update(o.applyTx)
}

func (o op) applyTx(tx *orgtree.Tx) error {
	var err error
	switch o.Kind {
	case "org":
		_, err = tx.CreateOrg(orgtree.OrgInput{ID: o.ID, RootID: o.ID + "-root", Name: o.Name, Code: o.Code})
	case "add":
		_, err = tx.AddNode(orgtree.NodeInput{ID: o.ID, ParentID: o.Parent, Name: o.Name, Code: o.Code})
	case "rename":
		_, err = tx.UpdateNode(o.ID, orgtree.NodeUpdate{Name: &o.Name, Code: &o.Code})
	case "move":
		_, err = tx.MoveNode(o.ID, o.Parent)
	case "delete":
		err = tx.DeleteNode(o.ID, orgtree.Cascade)
	case "user":
		_, err = tx.CreateUser(orgtree.User{ID: o.User, Name: o.Name})
	case "join":
		err = tx.AddMembers(o.ID, o.User)
	case "leave":
		err = tx.RemoveMembers(o.ID, o.User)
	case "main":
		err = tx.SetMainDepartment(o.User, o.ID)
	case "grant":
		err = tx.GrantResource(o.ID, orgtree.Resource{Namespace: "ns", Code: o.Code, Type: orgtree.ResourceAPI, Actions: []string{"read"}})
	case "batch":
		for _, s := range o.Sub {
			if err = s.applyTx(tx); err != nil {
				return err
			}
		}
		if o.Fail {
			err = errForced
		}
	default:
		err = fmt.Errorf("unknown op %q", o.Kind)
	}
	return err
}

// workload generates ops against the current content of a tree. Ids carry
// prefix so that runs continuing an existing store never reuse one.
type workload struct {
	r      *rand.Rand
	prefix string
	next   int
}

func (w *workload) id(kind string) string {
	w.next++
	return fmt.Sprintf("%s%s%d", w.prefix, kind, w.next)
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func (w *workload) gen(d *orgtree.Dump) op {
	r := w.r
	if len(d.Orgs) == 0 || r.IntN(60) == 0 {
		return op{Kind: "org", ID: w.id("org"), Name: "Org " + w.id("")}
	}
	if r.IntN(8) == 0 {
		n := 2 + r.IntN(4)
		b := op{Kind: "batch", Fail: r.IntN(3) == 0}
		for range n {
			b.Sub = append(b.Sub, w.single(d))
		}
		return b
	}
	return w.single(d)
}

// single draws one non-batch op. It does not see the effect of earlier ops of
// the same batch, so some batch steps fail, which is part of the test.
func (w *workload) single(d *orgtree.Dump) op {
	r := w.r
	node := func() string { return pick(r, d.Nodes).ID }
	user := func() string {
		if len(d.Users) == 0 {
			return "nobody"
		}
		return pick(r, d.Users).ID
	}
	code := func() string {
		if r.IntN(3) == 0 {
			return ""
		}
		return fmt.Sprintf("c%d", r.IntN(40)) // collisions are wanted
	}
	names := []string{"Sales", "研发部", "Ops / East", "a\\b", "QA", "Support", "市场"}
	switch x := r.IntN(100); {
	case x < 30:
		return op{Kind: "add", ID: w.id("n"), Parent: node(), Name: pick(r, names), Code: code()}
	case x < 40:
		return op{Kind: "rename", ID: node(), Name: pick(r, names) + "2", Code: code()}
	case x < 55:
		return op{Kind: "move", ID: node(), Parent: node()}
	case x < 60:
		return op{Kind: "delete", ID: node()}
	case x < 70:
		return op{Kind: "user", User: w.id("u"), Name: pick(r, names)}
	case x < 85:
		return op{Kind: "join", ID: node(), User: user()}
	case x < 92:
		return op{Kind: "leave", ID: node(), User: user()}
	case x < 96:
		return op{Kind: "main", ID: node(), User: user()}
	default:
		return op{Kind: "grant", ID: node(), Code: code() + "x"}
	}
}

// project renders what the workload controls, leaving out timestamps, which
// differ between a store and a model replaying the same ops.
func project(d *orgtree.Dump) string {
	var lines []string
	for _, o := range d.Orgs {
		lines = append(lines, "org "+o.ID+" "+o.RootID)
	}
	for _, n := range d.Nodes {
		res := make([]string, 0, len(n.Resources))
		for _, r := range n.Resources {
			res = append(res, r.Code)
		}
		lines = append(lines, fmt.Sprintf("node %s org=%s parent=%s name=%q code=%q res=%v", n.ID, n.OrgID, n.ParentID, n.Name, n.Code, res))
	}
	for _, u := range d.Users {
		var ms []string
		for _, m := range u.Memberships {
			ms = append(ms, m.NodeID)
		}
		slices.Sort(ms)
		lines = append(lines, fmt.Sprintf("user %s name=%q main=%s in=%v", u.ID, u.Name, u.MainDepartmentID, ms))
	}
	return strings.Join(lines, "\n")
}

package reconcile

import (
	"fmt"
	"maps"

	"github.com/orgtree/orgtree"
)

// Apply runs p on t in one transaction: every step or none. It fails with
// ErrStalePlan if what the plan read (its org, the users it looked at) has
// changed since; writes anywhere else do not matter.
func Apply(t *orgtree.Tree, p *ChangePlan) error {
	return t.Update(func(tx *orgtree.Tx) error { return ApplyTx(tx, p) })
}

// ApplyTx runs p inside a transaction the caller owns, for callers that
// combine a sync with other changes. The staleness check sees the
// transaction's own writes: a plan made before the transaction changed the
// org is refused. On error the caller must discard the transaction (return
// the error from the Update function).
func ApplyTx(tx *orgtree.Tx, p *ChangePlan) error {
	if err := Check(tx.Snapshot, p); err != nil {
		return err
	}
	a := &applier{tx: tx, org: p.OrgID}
	for i, s := range p.Steps {
		if err := a.step(s); err != nil {
			return fmt.Errorf("reconcile: step %d, %s: %w", i+1, s, err)
		}
	}
	return nil
}

// Check reports whether p can still be applied to s: nil if what p read is
// unchanged, ErrStalePlan otherwise. It costs O(the org and the plan's
// users), like Plan.
func Check(s orgtree.Snapshot, p *ChangePlan) error {
	cur, err := load(s, p.OrgID, p.ReadUsers)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStalePlan, err)
	}
	if cur.fingerprint() != p.Fingerprint {
		return fmt.Errorf("%w: org %s or users it names changed since the plan was made (at version %d); plan again", ErrStalePlan, p.OrgID, p.BaseSeq)
	}
	return nil
}

type applier struct {
	tx  *orgtree.Tx
	org string
}

// node resolves a Ref: an existing node by id, or one created by an
// earlier step by its external id.
func (a *applier) node(r Ref) (string, error) {
	if r.NodeID != "" {
		return r.NodeID, nil
	}
	n, err := a.tx.NodeByExternalID(a.org, r.ExternalID)
	return n.ID, err
}

func (a *applier) user(u UserRef) (string, error) {
	if u.ID != "" {
		return u.ID, nil
	}
	got, err := a.tx.UserByExternalID(u.ExternalID)
	return got.ID, err
}

func (a *applier) step(s Step) error {
	switch s.Action {
	case ActCreate:
		parent, err := a.node(s.Parent)
		if err != nil {
			return err
		}
		in := orgtree.NodeInput{ParentID: parent, Name: *s.Set.Name, Order: *s.Set.Order, ExternalID: *s.Set.ExternalID}
		if s.Set.Code != nil {
			in.Code = *s.Set.Code
		}
		_, err = a.tx.AddNode(in)
		return err
	case ActMove:
		id, err := a.node(s.Node)
		if err != nil {
			return err
		}
		parent, err := a.node(s.Parent)
		if err != nil {
			return err
		}
		_, err = a.tx.MoveNode(id, parent)
		return err
	case ActRelease, ActUpdate, ActLeader:
		return a.update(s)
	case ActCreateUser:
		f := s.UserF
		_, err := a.tx.CreateUser(orgtree.User{ExternalID: s.User.ExternalID, Name: f.Name, Username: f.Username, Email: f.Email, Phone: f.Phone})
		return err
	case ActUpdateUser:
		f := s.UserF
		_, err := a.tx.UpdateUser(s.User.ID, orgtree.UserUpdate{Name: &f.Name, Username: &f.Username, Email: &f.Email, Phone: &f.Phone})
		return err
	case ActMoveMember, ActAddMember, ActRemoveMember, ActMainDept:
		return a.member(s)
	case ActMark:
		n, err := a.tx.Node(s.Node.NodeID)
		if err != nil {
			return err
		}
		desc := maps.Clone(n.DescriptionI18n)
		if desc == nil {
			desc = map[string]string{}
		}
		desc[MarkKey] = markText
		_, err = a.tx.UpdateNode(n.ID, orgtree.NodeUpdate{DescriptionI18n: desc})
		return err
	case ActDelete:
		return a.tx.DeleteNode(s.Node.NodeID, orgtree.Cascade)
	}
	return fmt.Errorf("unknown action %q", s.Action)
}

func (a *applier) update(s Step) error {
	id, err := a.node(s.Node)
	if err != nil {
		return err
	}
	f := s.Set
	u := orgtree.NodeUpdate{Name: f.Name, Order: f.Order, Code: f.Code, ExternalID: f.ExternalID}
	if f.Leader != nil {
		leader := ""
		if *f.Leader != "" {
			if leader, err = a.user(UserRef{ExternalID: *f.Leader}); err != nil {
				return err
			}
		}
		u.LeaderUserID = &leader
	}
	if f.Unmark {
		n, err := a.tx.Node(id)
		if err != nil {
			return err
		}
		desc := maps.Clone(n.DescriptionI18n)
		delete(desc, MarkKey)
		if desc == nil {
			desc = map[string]string{}
		}
		u.DescriptionI18n = desc
	}
	_, err = a.tx.UpdateNode(id, u)
	return err
}

func (a *applier) member(s Step) error {
	uid, err := a.user(s.User)
	if err != nil {
		return err
	}
	if s.Action == ActMainDept && s.Node == (Ref{}) {
		return a.tx.SetMainDepartment(uid, "")
	}
	node, err := a.node(s.Node)
	if err != nil {
		return err
	}
	switch s.Action {
	case ActMoveMember:
		to, err := a.node(s.To)
		if err != nil {
			return err
		}
		return a.tx.MoveMembers(node, to, uid)
	case ActAddMember:
		return a.tx.AddMembers(node, uid)
	case ActRemoveMember:
		return a.tx.RemoveMembers(node, uid)
	default:
		return a.tx.SetMainDepartment(uid, node)
	}
}

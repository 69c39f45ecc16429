package reconcile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/orgtree/orgtree"
)

// MarkKey is the DescriptionI18n key that MissingKeep sets on departments
// missing from the input.
const MarkKey = "x-orgtree-sync"

// markText is the value stored under MarkKey.
const markText = "missing from the provider's department list"

// MissingPolicy says what happens to departments missing from the input.
type MissingPolicy int

const (
	// MissingDelete deletes them (after their members are removed).
	MissingDelete MissingPolicy = iota
	// MissingKeep keeps them where they are, with their members, and marks
	// them with MarkKey.
	MissingKeep
)

// Options tune Plan.
type Options struct {
	Missing MissingPolicy
	// MaxDeleteRatio is the largest share a plan may take away of each of
	// three things the org holds: its non-root departments, its
	// memberships, and its members (users with a membership in the org; one
	// leaves when it is removed from all of them). 0 means the default,
	// 0.25; a negative value means no limit. Moving a member from one
	// department to another takes nothing away.
	MaxDeleteRatio float64
	// Force accepts a plan over MaxDeleteRatio.
	Force bool
	// AllowEmpty accepts an input with no department besides the root and
	// no members: the caller says the org really is empty. Without it such
	// an input, which is what an empty or failed provider answer decodes
	// to, is refused with ErrEmptyInput. MaxDeleteRatio still applies.
	AllowEmpty bool
}

// Action is the kind of a Step.
type Action string

// The actions, in the order a plan runs them.
const (
	ActRelease      Action = "release"       // clear a code or external id another department takes
	ActCreate       Action = "create"        // add a department
	ActMove         Action = "move"          // move a department under another
	ActUpdate       Action = "update"        // rename, reorder, recode, re-id, unmark
	ActCreateUser   Action = "create-user"   // add a user
	ActUpdateUser   Action = "update-user"   // change a user's fields
	ActLeader       Action = "leader"        // set or clear a department's leader
	ActMoveMember   Action = "move-member"   // move a user from one department to another
	ActAddMember    Action = "add-member"    // add a user to a department
	ActRemoveMember Action = "remove-member" // remove a user from a department
	ActMainDept     Action = "main-dept"     // set a user's main department
	ActMark         Action = "mark"          // mark a department missing from the input (MissingKeep)
	ActDelete       Action = "delete"        // delete a department missing from the input
)

// Ref names a department: an existing node (NodeID) or one the plan
// creates (ExternalID only). Name is for display.
type Ref struct {
	NodeID     string `json:"nodeId,omitempty"`
	ExternalID string `json:"externalId,omitempty"`
	Name       string `json:"name,omitempty"`
}

func (r Ref) String() string {
	switch {
	case r.ExternalID != "":
		return fmt.Sprintf("%q (%s)", r.Name, r.ExternalID)
	default:
		return fmt.Sprintf("%q [%s]", r.Name, r.NodeID)
	}
}

// UserRef names a user: an existing one (ID) or one the plan creates.
type UserRef struct {
	ID         string `json:"id,omitempty"`
	ExternalID string `json:"externalId,omitempty"`
	Name       string `json:"name,omitempty"`
}

func (u UserRef) String() string {
	if u.ExternalID != "" {
		return fmt.Sprintf("%q (%s)", u.Name, u.ExternalID)
	}
	return fmt.Sprintf("%q [%s]", u.Name, u.ID)
}

// Fields are the department fields a create or update sets; nil means
// unchanged. Leader is an external user id ("" clears).
type Fields struct {
	Name       *string `json:"name,omitempty"`
	Order      *int    `json:"order,omitempty"`
	Code       *string `json:"code,omitempty"`
	ExternalID *string `json:"externalId,omitempty"`
	Leader     *string `json:"leader,omitempty"`
	Unmark     bool    `json:"unmark,omitempty"`
}

// UserFields are the user fields a create or update sets.
type UserFields struct {
	Name, Username, Email, Phone string
}

// Step is one change. Which fields are used depends on Action.
type Step struct {
	Action Action      `json:"action"`
	Node   Ref         `json:"node,omitzero"`   // the department (member steps: the one left or joined)
	Parent Ref         `json:"parent,omitzero"` // create, move: the new parent
	To     Ref         `json:"to,omitzero"`     // move-member: the department joined
	User   UserRef     `json:"user,omitzero"`
	Set    *Fields     `json:"set,omitempty"`
	UserF  *UserFields `json:"userFields,omitempty"`
	Note   string      `json:"note,omitempty"`
}

// String renders the step for people.
func (s Step) String() string {
	var b strings.Builder
	switch s.Action {
	case ActCreate:
		fmt.Fprintf(&b, "create %s under %s", s.Node, s.Parent)
	case ActMove:
		fmt.Fprintf(&b, "move %s under %s", s.Node, s.Parent)
	case ActRelease, ActUpdate, ActLeader:
		fmt.Fprintf(&b, "%s %s:%s", s.Action, s.Node, s.Set.describe())
	case ActCreateUser, ActUpdateUser:
		fmt.Fprintf(&b, "%s %s", s.Action, s.User)
	case ActMoveMember:
		fmt.Fprintf(&b, "move member %s from %s to %s", s.User, s.Node, s.To)
	case ActAddMember:
		fmt.Fprintf(&b, "add member %s to %s", s.User, s.Node)
	case ActRemoveMember:
		fmt.Fprintf(&b, "remove member %s from %s", s.User, s.Node)
	case ActMainDept:
		if s.Node == (Ref{}) {
			fmt.Fprintf(&b, "clear main department of %s", s.User)
		} else {
			fmt.Fprintf(&b, "set main department of %s to %s", s.User, s.Node)
		}
	case ActMark, ActDelete:
		fmt.Fprintf(&b, "%s %s", s.Action, s.Node)
	default:
		fmt.Fprintf(&b, "%s", s.Action)
	}
	if s.Note != "" {
		fmt.Fprintf(&b, " (%s)", s.Note)
	}
	return b.String()
}

func (f *Fields) describe() string {
	if f == nil {
		return ""
	}
	var parts []string
	str := func(what string, p *string) {
		if p != nil {
			parts = append(parts, fmt.Sprintf(" %s=%q", what, *p))
		}
	}
	str("name", f.Name)
	if f.Order != nil {
		parts = append(parts, fmt.Sprintf(" order=%d", *f.Order))
	}
	str("code", f.Code)
	str("externalId", f.ExternalID)
	str("leader", f.Leader)
	if f.Unmark {
		parts = append(parts, " unmark")
	}
	return strings.Join(parts, "")
}

// ChangePlan is an ordered list of steps that makes an org equal to an
// input; Plan makes one, Apply runs it.
type ChangePlan struct {
	OrgID string `json:"orgId"`
	// BaseSeq is the version of the tree the plan was made on, for display.
	// Staleness is judged by Fingerprint, not by it.
	BaseSeq uint64 `json:"baseSeq"`
	// Fingerprint digests what the plan read: the org (structure, names,
	// orders, codes, external ids, leaders, marks), its members, and the
	// users of ReadUsers. Apply refuses the plan when it no longer matches.
	Fingerprint string `json:"fingerprint"`
	// ReadUsers are the external ids of the users the input names, which
	// the plan looked up wherever they live (or found missing).
	ReadUsers []string `json:"readUsers,omitempty"`
	// Loss is what the plan takes away from the org.
	Loss  Loss   `json:"loss"`
	Steps []Step `json:"steps"`
}

// Empty reports whether the plan changes nothing.
func (p *ChangePlan) Empty() bool { return len(p.Steps) == 0 }

// Count returns how many steps of each action the plan has.
func (p *ChangePlan) Count() map[Action]int {
	c := map[Action]int{}
	for _, s := range p.Steps {
		c[s.Action]++
	}
	return c
}

// Summary is one line: the number of steps per action.
func (p *ChangePlan) Summary() string {
	c := p.Count()
	var parts []string
	for _, a := range []Action{ActRelease, ActCreate, ActMove, ActUpdate, ActCreateUser, ActUpdateUser, ActLeader,
		ActMoveMember, ActAddMember, ActRemoveMember, ActMainDept, ActMark, ActDelete} {
		if c[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[a], a))
		}
	}
	if len(parts) == 0 {
		return "no changes"
	}
	out := strings.Join(parts, ", ")
	if p.Loss.any() {
		out += "; takes away " + p.Loss.String()
	}
	return out
}

// String lists the steps, one per line, numbered.
func (p *ChangePlan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plan for org %s at version %d: %s\n", p.OrgID, p.BaseSeq, p.Summary())
	for i, s := range p.Steps {
		fmt.Fprintf(&b, "%4d. %s\n", i+1, s)
	}
	return b.String()
}

// planner holds the state of one Plan call.
type planner struct {
	in *index
	// memberIDs are the input's member external ids, sorted.
	memberIDs []string
	cur       *current
	opt       Options
	steps     []Step
	// match maps an input department to the existing node it becomes
	// (absent: the plan creates it).
	match map[string]string
	// missing are existing nodes no input department matches.
	missing map[string]bool
}

// Plan computes the steps that make org orgID of s equal to in. It reads
// only that org and the users the input names (see Snapshot.DumpOrg), so
// it costs O(the org and the input), whatever else the tree holds.
//
// It refuses an empty input (ErrEmptyInput) unless opt.AllowEmpty, an
// invalid one (*InputError), and a plan that takes away more than
// opt.MaxDeleteRatio of the org (*LimitError) unless opt.Force.
func Plan(s orgtree.Snapshot, orgID string, in Input, opt Options) (*ChangePlan, error) {
	ix, err := validate(in, s.Limits())
	if err != nil {
		return nil, err
	}
	lookups := ix.lookups()
	cur, err := load(s, orgID, lookups)
	if err != nil {
		return nil, err
	}
	if ix.empty() && !opt.AllowEmpty {
		return nil, fmt.Errorf("%w: no department besides the root and no members; an empty or failed provider answer looks like this (set Options.AllowEmpty if the org really is empty)", ErrEmptyInput)
	}
	p := &planner{in: ix, memberIDs: sortedKeys(ix.members), cur: cur, opt: opt, match: map[string]string{}, missing: map[string]bool{}}
	p.matchNodes()
	if err := p.checkShape(s.Limits()); err != nil {
		return nil, err
	}
	p.releases()
	p.departments()
	p.users()
	p.leaders()
	p.memberships()
	p.missingNodes()
	plan := &ChangePlan{OrgID: orgID, BaseSeq: s.Seq(), Fingerprint: cur.fingerprint(), ReadUsers: lookups, Loss: p.loss(), Steps: p.steps}
	if ratio := opt.maxDeleteRatio(); !opt.Force && plan.Loss.over(ratio) {
		return nil, &LimitError{Loss: plan.Loss, Ratio: ratio}
	}
	return plan, nil
}

func (p *planner) add(s Step) { p.steps = append(p.steps, s) }

// order returns the input departments parents-first (breadth-first from
// the root), children sorted by external id.
func (p *planner) order() []string {
	if p.in.root == "" {
		return nil
	}
	out := []string{p.in.root}
	for i := 0; i < len(out); i++ {
		out = append(out, p.in.children[out[i]]...)
	}
	return out
}

// checkShape checks the final tree against the tree's depth and children
// limits, so that Apply does not fail half-way (it would roll back, but
// the caller learns about it late and without the list of culprits).
// Creates and moves run before deletes, so a parent's count includes its
// children that the plan deletes or keeps.
func (p *planner) checkShape(lim orgtree.Limits) error {
	var deep, wide []string
	depth := map[string]int{}
	stays := map[string]int{} // node id → its missing children
	for id := range p.missing {
		stays[p.cur.nodes[id].ParentID]++
	}
	for _, id := range p.order() {
		kids := p.in.children[id]
		if n := len(kids) + stays[p.match[id]]; n > lim.MaxChildren {
			wide = append(wide, id)
		}
		for _, c := range kids {
			depth[c] = depth[id] + 1
			if depth[c] > lim.MaxDepth {
				deep = append(deep, c)
			}
		}
	}
	var probs []Problem
	if len(deep) > 0 {
		slices.Sort(deep)
		probs = append(probs, Problem{Kind: "depth", IDs: deep, Msg: fmt.Sprintf("deeper than the tree's limit of %d", lim.MaxDepth)})
	}
	if len(wide) > 0 {
		slices.Sort(wide)
		probs = append(probs, Problem{Kind: "children", IDs: wide, Msg: fmt.Sprintf("more than the tree's limit of %d children (counting departments the plan deletes at the end or keeps)", lim.MaxChildren)})
	}
	if len(probs) > 0 {
		return &InputError{Problems: probs}
	}
	return nil
}

func (p *planner) matchNodes() {
	if p.in.root != "" {
		p.match[p.in.root] = p.cur.root.ID
	}
	for ext, id := range p.cur.byExt {
		if _, wanted := p.in.depts[ext]; wanted && ext != p.in.root {
			p.match[ext] = id
		}
	}
	matched := make(map[string]bool, len(p.match))
	for _, id := range p.match {
		matched[id] = true
	}
	for id := range p.cur.nodes {
		if id != p.cur.root.ID && !matched[id] {
			p.missing[id] = true
		}
	}
}

// ref names input department ext: its node if it exists.
func (p *planner) ref(ext string) Ref {
	r := Ref{NodeID: p.match[ext], ExternalID: ext, Name: p.in.depts[ext].Name}
	if r.Name == "" && r.NodeID != "" {
		r.Name = p.cur.nodes[r.NodeID].Name
	}
	return r
}

func (p *planner) nodeRef(id string) Ref {
	n := p.cur.nodes[id]
	return Ref{NodeID: id, ExternalID: n.ExternalID, Name: n.Name}
}

// releases clears the codes and external ids that an input department
// takes from another node, first, so no later step meets a duplicate. The
// input wins over every node it does not list, kept ones (MissingKeep)
// and the root included.
func (p *planner) releases() {
	owner := map[string]string{} // node id → external id of the department it becomes
	for ext, id := range p.match {
		owner[id] = ext
	}
	codeTaker := map[string]string{} // code → external id of the department that wants it
	for ext, d := range p.in.depts {
		if d.Code != "" {
			codeTaker[d.Code] = ext
		}
	}
	for _, id := range sortedKeys(p.cur.nodes) {
		n := p.cur.nodes[id]
		f := &Fields{}
		note := ""
		if n.Code != "" {
			if taker, ok := codeTaker[n.Code]; ok && taker != owner[id] {
				f.Code = orgtree.Ptr("")
				note = fmt.Sprintf("code %q goes to %s", n.Code, taker)
			}
		}
		if n.ExternalID != "" {
			if _, wanted := p.in.depts[n.ExternalID]; wanted && n.ExternalID != owner[id] {
				f.ExternalID = orgtree.Ptr("")
			}
		}
		if f.Code != nil || f.ExternalID != nil {
			p.add(Step{Action: ActRelease, Node: Ref{NodeID: id, Name: n.Name}, Set: f, Note: note})
		}
	}
}

// departments emits creates, moves and updates parents-first.
func (p *planner) departments() {
	for _, ext := range p.order() {
		d := p.in.depts[ext]
		id, exists := p.match[ext]
		if !exists {
			f := &Fields{Name: orgtree.Ptr(d.Name), Order: orgtree.Ptr(d.Order), ExternalID: orgtree.Ptr(ext)}
			if d.Code != "" {
				f.Code = orgtree.Ptr(d.Code)
			}
			p.add(Step{Action: ActCreate, Node: Ref{ExternalID: ext, Name: d.Name}, Parent: p.ref(d.ParentExternalID), Set: f})
			continue
		}
		n := p.cur.nodes[id]
		root := ext == p.in.root
		if !root && p.cur.nodes[n.ParentID].ID != p.match[d.ParentExternalID] {
			p.add(Step{Action: ActMove, Node: p.ref(ext), Parent: p.ref(d.ParentExternalID)})
		}
		f := &Fields{}
		changed := false
		if n.Name != d.Name && d.Name != "" {
			f.Name, changed = orgtree.Ptr(d.Name), true
		}
		if !root && n.Order != d.Order {
			f.Order, changed = orgtree.Ptr(d.Order), true
		}
		// The root is the org's own node: the provider speaks only for
		// what it delivers. Every other department is the provider's.
		if n.Code != d.Code && (!root || d.Code != "") {
			f.Code, changed = orgtree.Ptr(d.Code), true
		}
		if n.ExternalID != ext {
			f.ExternalID, changed = orgtree.Ptr(ext), true
		}
		if _, marked := n.DescriptionI18n[MarkKey]; marked {
			f.Unmark, changed = true, true
		}
		if changed {
			p.add(Step{Action: ActUpdate, Node: p.ref(ext), Set: f})
		}
	}
}

// users creates the input's unknown users and updates changed ones that
// this org owns.
func (p *planner) users() {
	for _, ext := range p.memberIDs {
		m := p.in.members[ext]
		want := UserFields{Name: m.Name, Username: m.Username, Email: m.Email, Phone: m.Phone}
		id, ok := p.cur.userExt[ext]
		if !ok {
			p.add(Step{Action: ActCreateUser, User: UserRef{ExternalID: ext, Name: m.Name}, UserF: &want})
			continue
		}
		u := p.cur.users[id]
		if !u.owned(p.cur.orgID) {
			continue // its fields are its home org's to sync
		}
		if (UserFields{Name: u.Name, Username: u.Username, Email: u.Email, Phone: u.Phone}) != want {
			p.add(Step{Action: ActUpdateUser, User: UserRef{ID: id, ExternalID: ext, Name: m.Name}, UserF: &want})
		}
	}
}

// leaders sets each department's leader once every user exists.
func (p *planner) leaders() {
	for _, ext := range p.order() {
		d := p.in.depts[ext]
		want := d.LeaderExternalID
		if want == "" && ext == p.in.root {
			continue // the root keeps a leader the provider does not name
		}
		if want != "" {
			if _, known := p.in.members[want]; !known {
				if _, exists := p.cur.userExt[want]; !exists {
					want = "" // a leader the input does not list and nobody knows
				}
			}
		}
		have := ""
		if id, ok := p.match[ext]; ok {
			if l := p.cur.nodes[id].LeaderUserID; l != "" {
				if u, ok := p.cur.users[l]; ok && u.ExternalID != "" {
					have = u.ExternalID
				} else {
					have = "#" + l // a leader set by hand: not an external id
				}
			}
		}
		if have != want {
			p.add(Step{Action: ActLeader, Node: p.ref(ext), Set: &Fields{Leader: orgtree.Ptr(want)}})
		}
	}
}

// memberships moves, adds and removes members, then sets main departments.
func (p *planner) memberships() {
	nodeOf := func(ext string) string { return p.match[ext] } // "" for departments the plan creates
	kept := func(n string) bool { return p.opt.Missing == MissingKeep && p.missing[n] }
	var moves, adds, removes, mains []Step
	var held []string // the departments a member holds and keeps (reused)
	for _, ext := range p.memberIDs {
		m := p.in.members[ext]
		uref := UserRef{ID: p.cur.userExt[ext], ExternalID: ext, Name: m.Name}
		want := sortedUnique(m.DepartmentIDs)
		have := p.cur.inOrg[uref.ID] // sorted node ids
		held = held[:0]
		var added []string
		for _, d := range want {
			if id := nodeOf(d); id != "" && slices.Contains(have, id) {
				held = append(held, id)
			} else {
				added = append(added, d)
			}
		}
		var removed []string
		for _, n := range have {
			if !slices.Contains(held, n) && !kept(n) {
				removed = append(removed, n)
			}
		}
		u := p.cur.users[uref.ID]
		for len(added) > 0 && len(removed) > 0 {
			moves = append(moves, Step{Action: ActMoveMember, User: uref, Node: p.nodeRef(removed[0]), To: p.ref(added[0])})
			if m.MainDepartmentID == "" && u != nil && u.MainDepartmentID == removed[0] {
				// MoveMembers carries the main department along; the
				// provider did not say so, and a user who leaves its main
				// department has none, whichever way it leaves.
				mains = append(mains, Step{Action: ActMainDept, User: uref, Note: "left it"})
			}
			added, removed = added[1:], removed[1:]
		}
		for _, d := range added {
			adds = append(adds, Step{Action: ActAddMember, User: uref, Node: p.ref(d)})
		}
		for _, n := range removed {
			removes = append(removes, Step{Action: ActRemoveMember, User: uref, Node: p.nodeRef(n)})
		}
		// An empty MainDepartmentID does not speak for the main
		// department; a user whose home is another org keeps its own.
		if m.MainDepartmentID != "" && (u == nil || u.owned(p.cur.orgID)) {
			if id := nodeOf(m.MainDepartmentID); u == nil || id == "" || u.MainDepartmentID != id {
				mains = append(mains, Step{Action: ActMainDept, User: uref, Node: p.ref(m.MainDepartmentID)})
			}
		}
	}
	// Managed users the input does not list leave the org; anyone leaves
	// a department that is deleted, explicitly. Without a user list
	// (KeepMembers) nobody is managed.
	for _, uid := range sortedKeys(p.cur.inOrg) {
		u := p.cur.users[uid]
		if _, listed := p.in.members[u.ExternalID]; listed && u.ExternalID != "" {
			continue
		}
		managed := u.ExternalID != "" && !p.in.keepMembers
		for _, n := range p.cur.inOrg[uid] {
			deleted := p.missing[n] && p.opt.Missing == MissingDelete
			if deleted || managed && !kept(n) {
				note := "not in the provider's user list"
				if !managed {
					note = "department deleted"
				}
				removes = append(removes, Step{Action: ActRemoveMember, User: UserRef{ID: uid, ExternalID: u.ExternalID, Name: u.Name}, Node: p.nodeRef(n), Note: note})
			}
		}
	}
	for _, group := range [][]Step{moves, adds, removes, mains} {
		p.steps = append(p.steps, group...)
	}
}

// missingNodes marks or deletes the nodes the input does not list.
func (p *planner) missingNodes() {
	ids := sortedKeys(p.missing)
	if p.opt.Missing == MissingKeep {
		for _, id := range ids {
			if _, marked := p.cur.nodes[id].DescriptionI18n[MarkKey]; !marked {
				p.add(Step{Action: ActMark, Node: p.nodeRef(id)})
			}
		}
		return
	}
	depth := func(id string) int {
		d := 0
		for n := p.cur.nodes[id]; n != nil && n.ParentID != ""; n = p.cur.nodes[n.ParentID] {
			d++
		}
		return d
	}
	depths := make(map[string]int, len(ids))
	for _, id := range ids {
		depths[id] = depth(id)
	}
	slices.SortStableFunc(ids, func(a, b string) int { return depths[b] - depths[a] })
	for _, id := range ids {
		p.add(Step{Action: ActDelete, Node: p.nodeRef(id)})
	}
}

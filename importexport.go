package orgtree

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TreeNode is a node with its subtree: the nested form of export, import and
// OrgTree. Its JSON uses the reference service's field names. Encoding and
// decoding are iterative, so any depth works; the decoder checks types,
// duplicate keys and trailing data.
type TreeNode struct {
	ID              string            // ignored by import unless ImportOptions.KeepIDs
	OrgID           string            // likewise, on a root
	TenantID        string            // on a root: its org's tenant (export, and import of a new org)
	Name            string            // required
	NameI18n        map[string]string // locale → name
	Description     string
	DescriptionI18n map[string]string
	Code            string
	Order           int
	ExternalID      string
	LeaderUserID    string
	Depth           int       // export only
	Path            []string  // export only: ids from the root down to this node
	Root            bool      // export only
	CreatedAt       time.Time // export only: import stamps nodes afresh
	UpdatedAt       time.Time // export only
	Members         []User    // users; on import an id alone refers to an existing user
	Resources       []Resource
	Children        []*TreeNode
}

// ExportOptions trims an export.
type ExportOptions struct {
	// OmitMembers leaves out the members lists.
	OmitMembers bool
	// OmitPaths leaves out each node's id path. A path costs O(depth) per
	// node, so very deep trees should be exported without.
	OmitPaths bool
}

// ImportOptions controls where and how an import lands.
type ImportOptions struct {
	// ParentID, when set, puts every imported root under this existing node
	// instead of making each root a new org.
	ParentID string
	// KeepIDs uses the document's node ids (and orgId of roots) instead of
	// generating new ones; they must be free.
	KeepIDs bool
	// Progress, when set, is called as nodes are applied, after every
	// progressEvery of them and once at the end, with the number applied
	// and the total; validation comes first and reports nothing. It runs in
	// the importing goroutine and must be quick.
	Progress func(applied, total int)
	// DropMissingMainDepartments imports a member whose mainDepartmentId
	// cannot be kept without that main department. A main department is
	// kept when it names a node of the document that lists the user, and
	// needs nothing when it already is the main department of the existing
	// user; any other (typically a department in another org, left out of a
	// one-org export) makes the import fail with ErrNotFound naming the
	// member, unless this is set, so that nothing is dropped unasked.
	DropMissingMainDepartments bool
}

// progressEvery is how often ImportOptions.Progress is called.
const progressEvery = 1024

// ExportOrg returns the whole tree of an org, with members unless opt says
// otherwise. The result is a private copy.
func (s Snapshot) ExportOrg(orgID string, opt ExportOptions) (*TreeNode, error) {
	return s.ExportOrgContext(context.Background(), orgID, opt)
}

// ExportOrgContext is ExportOrg that stops when ctx ends: it looks at ctx
// before it starts and every few hundred nodes it copies, and then returns
// an error wrapping ctx.Err() and no tree.
func (s Snapshot) ExportOrgContext(ctx context.Context, orgID string, opt ExportOptions) (*TreeNode, error) {
	const op = "export org"
	o, err := s.lookupOrg(op, orgID)
	if err != nil {
		return nil, err
	}
	c := newCanceller(ctx, op)
	if c.now() {
		return nil, c.stopped()
	}
	t := s.st.buildTree(c, o.root, opt)
	if err := c.stopped(); err != nil {
		return nil, err
	}
	t.TenantID = o.tenantID
	return t, nil
}

// OrgTree returns the nested tree of an org without members (the reference
// SDK's treeify).
func (s Snapshot) OrgTree(orgID string) (*TreeNode, error) {
	return s.ExportOrg(orgID, ExportOptions{OmitMembers: true})
}

// ExportAll returns every org's tree, oldest org first.
func (s Snapshot) ExportAll(opt ExportOptions) []*TreeNode {
	out, _ := s.ExportAllContext(context.Background(), opt) // never ends: no error
	return out
}

// ExportAllContext is ExportAll that stops when ctx ends: it looks at ctx
// before it starts and every few hundred nodes it copies, and then returns
// an error wrapping ctx.Err() and no trees.
func (s Snapshot) ExportAllContext(ctx context.Context, opt ExportOptions) ([]*TreeNode, error) {
	c := newCanceller(ctx, "export")
	if c.now() {
		return nil, c.stopped()
	}
	orgs := s.sortedOrgs()
	out := make([]*TreeNode, 0, len(orgs))
	for _, o := range orgs {
		t := s.st.buildTree(c, o.root, opt)
		if err := c.stopped(); err != nil {
			return nil, err
		}
		t.TenantID = o.tenantID
		out = append(out, t)
	}
	return out, nil
}

func (s Snapshot) sortedOrgs() []*orgRec {
	all := make([]*orgRec, 0, s.st.orgs.Len())
	for _, o := range s.st.orgs.All() {
		all = append(all, o)
	}
	slices.SortFunc(all, func(a, b *orgRec) int {
		return cmp.Or(cmp.Compare(a.created, b.created), cmp.Compare(a.id, b.id))
	})
	return all
}

// buildTree copies the subtree of top into TreeNodes, iteratively. When c
// stops it, it returns what it has: the caller looks at c.
func (st *state) buildTree(c *canceller, top nid, opt ExportOptions) *TreeNode {
	type frame struct {
		n      nid
		parent *TreeNode
	}
	var root *TreeNode
	stack := []frame{{top, nil}}
	for len(stack) > 0 && !c.stop() {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		r := st.node(f.n)
		t := new(TreeNode)
		*t = st.nodeFields(r)
		t.NameI18n, t.DescriptionI18n, t.Resources = cloneI18n(r.nameI18n), cloneI18n(r.descriptionI18n), cloneResources(r.resources)
		if f.parent == nil {
			root = t
			t.Depth = st.depth(f.n)
			if !opt.OmitPaths {
				t.Path = make([]string, 0, t.Depth+1)
				for _, a := range st.chain(f.n) {
					t.Path = append(t.Path, a.id)
				}
			}
		} else {
			t.Depth = f.parent.Depth + 1
			if !opt.OmitPaths {
				t.Path = append(slices.Clip(f.parent.Path), r.id)
			}
			f.parent.Children = append(f.parent.Children, t)
		}
		if !opt.OmitMembers {
			t.Members, _ = st.sortedMembers([]User{}, nil, r)
		}
		for i := len(r.children) - 1; i >= 0; i-- {
			stack = append(stack, frame{r.children[i], t})
		}
	}
	return root
}

// nodeFields returns the exported fields of r, sharing its maps and
// grants (the caller copies them if it hands them out): no children,
// depth, path or members.
func (st *state) nodeFields(r *nodeRec) TreeNode {
	return TreeNode{
		ID: r.id, OrgID: r.orgID, Name: r.name, NameI18n: r.nameI18n,
		Description: r.description, DescriptionI18n: r.descriptionI18n,
		Code: r.code, Order: r.order, ExternalID: r.externalID, LeaderUserID: r.leaderUserID,
		Root: r.parent == 0, CreatedAt: timeOf(r.created), UpdatedAt: timeOf(r.updated),
		Resources: r.resources,
	}
}

// sortedMembers appends a node's direct members, in the default listing
// order, to out; recs is scratch space, returned for reuse.
func (st *state) sortedMembers(out []User, recs []*userRec, r *nodeRec) ([]User, []*userRec) {
	recs = recs[:0]
	for _, m := range r.members {
		recs = append(recs, st.user(m.user))
	}
	slices.SortFunc(recs, func(a, b *userRec) int {
		return SortCreatedAtDesc.cmp(SortCreatedAtDesc.key(a), SortCreatedAtDesc.key(b))
	})
	for _, u := range recs {
		out = append(out, st.userValue(u))
	}
	return out, recs
}

// writeJSON streams the trees under tops as WriteTreeJSON would write their
// exports, straight from the records: no tree of TreeNodes is built, and
// the buffers of one node are reused for the next. When c stops it, it
// returns c's error (what it wrote before is an incomplete document).
func (st *state) writeJSON(c *canceller, w io.Writer, tops []nid, asArray bool, opt ExportOptions) error {
	type item struct {
		n            nid
		depth        int
		first, close bool
	}
	var (
		path    []string
		members []User
		recs    []*userRec
	)
	return writeForest(w, len(tops), asArray, func(jw *jsonWriter, ti int) {
		top := tops[ti]
		path = path[:0]
		for _, r := range st.chain(top) {
			path = append(path, r.id)
		}
		stack := []item{{n: top, depth: st.depth(top), first: ti == 0}}
		for len(stack) > 0 && jw.err == nil {
			if c.stop() {
				jw.err = c.stopped()
				break
			}
			it := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if it.close {
				jw.raw("]}")
				continue
			}
			if !it.first {
				jw.raw(",")
			}
			r := st.node(it.n)
			t := st.nodeFields(r)
			t.Depth = it.depth
			if it.n == top && r.parent == 0 {
				if o, ok := st.orgs.Get(r.orgID); ok {
					t.TenantID = o.tenantID // an org root carries its org's tenant
				}
			}
			if !opt.OmitPaths {
				path = append(path[:it.depth], r.id)
				t.Path = path
			}
			if !opt.OmitMembers {
				members, recs = st.sortedMembers(members[:0], recs, r)
				t.Members = members
			}
			jw.nodeHead(&t, opt)
			jw.raw(`,"children":[`)
			stack = append(stack, item{close: true})
			for i := len(r.children) - 1; i >= 0; i-- {
				stack = append(stack, item{n: r.children[i], depth: it.depth + 1, first: i == 0})
			}
		}
	})
}

// ExportJSON writes one org (orgID set) as a JSON object, or every org
// (orgID empty) as a JSON array, in the reference service's field names.
func (s Snapshot) ExportJSON(w io.Writer, orgID string, opt ExportOptions) error {
	return s.ExportJSONContext(context.Background(), w, orgID, opt)
}

// ExportJSONContext is ExportJSON that stops when ctx ends: it looks at
// ctx before it starts and every few hundred nodes it writes, and then
// returns an error wrapping ctx.Err(). What it wrote to w by then is an
// incomplete document, as after a write error: discard it.
func (s Snapshot) ExportJSONContext(ctx context.Context, w io.Writer, orgID string, opt ExportOptions) error {
	c := newCanceller(ctx, "export")
	if orgID == "" {
		if c.now() {
			return c.stopped()
		}
		orgs := s.sortedOrgs()
		tops := make([]nid, len(orgs))
		for i, o := range orgs {
			tops[i] = o.root
		}
		return s.st.writeJSON(c, w, tops, true, opt)
	}
	o, err := s.lookupOrg("export org", orgID)
	if err != nil {
		return err
	}
	if c.now() {
		return c.stopped()
	}
	return s.st.writeJSON(c, w, []nid{o.root}, false, opt)
}

// MarshalJSON encodes the subtree iteratively.
func (t *TreeNode) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	err := WriteTreeJSON(&b, []*TreeNode{t}, false, ExportOptions{})
	return b.Bytes(), err
}

// UnmarshalJSON decodes one node object with its subtree (no depth or size
// limits other than DefaultLimits; use ParseTreeJSON to choose).
func (t *TreeNode) UnmarshalJSON(data []byte) error {
	roots, array, err := ParseTreeJSON(bytes.NewReader(data), DefaultLimits)
	if err != nil {
		return err
	}
	if array || len(roots) != 1 {
		return fmt.Errorf("orgtree: decode node: $: expected one object: %w", ErrInvalidJSON)
	}
	*t = *roots[0]
	return nil
}

// ImportJSON reads a nested document (one org as an object, several as an
// array) and imports it with Import. The document is parsed before the
// writer lock is taken, so a large import blocks other writers only while it
// is applied.
func (t *Tree) ImportJSON(r io.Reader, opt ImportOptions) ([]Org, error) {
	roots, _, err := ParseTreeJSON(r, t.cfg.limits)
	if err != nil {
		return nil, err
	}
	return update1(t, func(tx *Tx) ([]Org, error) { return tx.Import(roots, opt) })
}

// ImportJSON is Tree.ImportJSON inside a transaction.
func (tx *Tx) ImportJSON(r io.Reader, opt ImportOptions) ([]Org, error) {
	roots, _, err := ParseTreeJSON(r, tx.st.cfg.limits)
	if err != nil {
		return nil, err
	}
	return tx.Import(roots, opt)
}

// importError collects the problems of an import, each with its JSON path.
type importError struct {
	errs []error
}

const maxImportErrors = 100

func (e *importError) add(node *jpath, suffix string, err error) {
	if len(e.errs) < maxImportErrors {
		e.errs = append(e.errs, fmt.Errorf("orgtree: import: %s: %w", at(node, suffix), err))
	}
}

func (e *importError) err() error { return errors.Join(e.errs...) }

type plannedNode struct {
	t       *TreeNode
	f       fieldsInput
	id      string
	parent  int // index into plan, -1 for a root
	org     string
	path    *jpath
	members int // where the node's member entries start in definedUsers.entries
}

// Import adds the trees roots: each root becomes a new org, or with
// opt.ParentID a child of that node. Everything is validated before anything
// is applied; the error lists up to 100 problems, each naming the JSON path of
// the bad element ($.children[2].name). Members are users: an entry with only
// an id must name an existing user (or one defined elsewhere in the
// document); an entry with more fields creates the user if it does not exist
// yet. A member whose mainDepartmentId equals the id its node has in the
// document gets that node as main department. A root's tenantId becomes its
// new org's tenant; it is ignored on other nodes and under opt.ParentID.
func (tx *Tx) Import(roots []*TreeNode, opt ImportOptions) ([]Org, error) {
	const op = "import"
	if err := tx.writable(op); err != nil {
		return nil, err
	}
	st := tx.st
	lim := st.cfg.limits
	var parent nid
	var parentOrg *orgRec
	baseDepth := -1
	if opt.ParentID != "" {
		p, pr, err := tx.lookupNode(op, opt.ParentID)
		if err != nil {
			return nil, err
		}
		parent, parentOrg = p, nil
		parentOrg, _ = st.orgs.Get(pr.orgID)
		baseDepth = st.depth(p)
		if len(pr.children)+len(roots) > lim.MaxChildren {
			return nil, fmt.Errorf("orgtree: %s: node %q would have more than %d children: %w", op, pr.id, lim.MaxChildren, ErrLimitExceeded)
		}
	}
	var ie importError
	// The maps are sized from a first count, so a large document grows
	// none of them entry by entry.
	sizes := countTrees(roots, lim.MaxImportNodes)
	total, members := 0, 0
	for _, sz := range sizes {
		total += sz.nodes
		members += sz.members
	}
	plan := make([]plannedNode, 0, total)
	codes := map[string]map[string]*jpath{}  // org key → code → first node
	extIDs := map[string]map[string]*jpath{} // org key → externalId → first node
	nodeIDs := make(map[string]struct{}, total)
	orgIDs := map[string]bool{}
	du := definedUsers{index: make(map[string]int32, min(members, 1<<20)), entries: make([]int64, 0, members)}
	for ri, root := range roots {
		top := rootPath(-1)
		if len(roots) > 1 || opt.ParentID != "" {
			top = rootPath(ri)
		}
		var orgKey string // the org the root's nodes land in, for uniqueness checks
		if parentOrg != nil {
			orgKey = parentOrg.id
		} else {
			orgID := ""
			if opt.KeepIDs && root.OrgID != "" {
				orgID = root.OrgID
			} else {
				var err error
				orgID, err = tx.newID(op, func(id string) bool { _, ok := st.orgs.Get(id); return ok || orgIDs[id] })
				if err != nil {
					return nil, err
				}
			}
			if err := checkID(orgID); err != nil {
				ie.add(top, ".orgId", err)
			} else if _, taken := st.orgs.Get(orgID); taken || orgIDs[orgID] {
				ie.add(top, ".orgId", fmt.Errorf("org %q: %w", orgID, ErrExists))
			}
			if root != nil {
				if err := checkTenantID(root.TenantID); err != nil {
					ie.add(top, ".tenantId", err)
				}
			}
			orgIDs[orgID] = true
			orgKey = orgID
		}
		// The org's maps, found once per root: most nodes have a code, few
		// an externalId.
		orgCodes, orgExtIDs := codes[orgKey], extIDs[orgKey]
		if orgCodes == nil {
			orgCodes = make(map[string]*jpath, sizes[ri].nodes)
			codes[orgKey] = orgCodes
		}
		if orgExtIDs == nil {
			orgExtIDs = map[string]*jpath{}
			extIDs[orgKey] = orgExtIDs
		}
		type frame struct {
			t      *TreeNode
			path   *jpath
			parent int
			depth  int
		}
		stack := []frame{{root, top, -1, baseDepth + 1}}
		for len(stack) > 0 {
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f.t == nil {
				ie.add(f.path, "", fmt.Errorf("null node: %w", ErrInvalidJSON))
				continue
			}
			if len(plan) >= lim.MaxImportNodes {
				return nil, fmt.Errorf("orgtree: %s: more than %d nodes: %w", op, lim.MaxImportNodes, ErrLimitExceeded)
			}
			if f.depth > lim.MaxDepth {
				ie.add(f.path, "", fmt.Errorf("depth %d > %d: %w", f.depth, lim.MaxDepth, ErrLimitExceeded))
				continue
			}
			if len(f.t.Children) > lim.MaxChildren {
				ie.add(f.path, ".children", fmt.Errorf("%d children > %d: %w", len(f.t.Children), lim.MaxChildren, ErrLimitExceeded))
			}
			p := plannedNode{t: f.t, parent: f.parent, org: orgKey, path: f.path}
			var problems []error
			p.f, problems = tx.cleanFieldsAll(fieldsInput{
				name: f.t.Name, nameI18n: f.t.NameI18n, code: f.t.Code, description: f.t.Description,
				descriptionI18n: f.t.DescriptionI18n, order: f.t.Order, externalID: f.t.ExternalID, leaderUserID: f.t.LeaderUserID,
			})
			for _, problem := range problems {
				ie.add(f.path, "", problem)
			}
			var err error
			tx.planUnique(&ie, f.path, ".code", orgCodes, p.f.code, parentOrg, true)
			tx.planUnique(&ie, f.path, ".externalId", orgExtIDs, p.f.externalID, parentOrg, false)
			if opt.KeepIDs && f.t.ID != "" {
				p.id = f.t.ID
			} else {
				p.id, err = tx.newID(op, func(id string) bool {
					_, ok := st.nodeIDs.Get(id)
					_, dup := nodeIDs[id]
					return ok || dup
				})
				if err != nil {
					return nil, err
				}
			}
			seenIDs := len(nodeIDs)
			nodeIDs[p.id] = struct{}{}
			if err := checkID(p.id); err != nil {
				ie.add(f.path, ".id", err)
			} else if _, taken := st.nodeIDs.Get(p.id); taken || len(nodeIDs) == seenIDs {
				ie.add(f.path, ".id", fmt.Errorf("node %q: %w", p.id, ErrExists))
			}
			if len(f.t.Members) > 0 {
				p.members = len(du.entries)
				tx.planMembers(&ie, f.path, len(plan), f.t.Members, &du)
			}
			if len(f.t.Resources) > 0 {
				planResources(&ie, f.path, f.t.Resources)
			}
			idx := len(plan)
			plan = append(plan, p)
			for i := len(f.t.Children) - 1; i >= 0; i-- {
				stack = append(stack, frame{f.t.Children[i], f.path.child(i), idx, f.depth + 1})
			}
		}
	}
	// Main departments the import cannot keep are refused unless dropping
	// them was asked for.
	if !opt.DropMissingMainDepartments && du.mains {
		tx.planMainDepartments(&ie, plan)
	}
	// Member ids that only refer must exist in the tree or the document
	// (planMembers noted the entries it could not resolve as it went), and
	// so must leaders (a leader need not be a member).
	refs := du.refs
	for pi, p := range plan {
		for ; len(refs) > 0 && refs[0].node == pi; refs = refs[1:] {
			id := p.t.Members[refs[0].index].ID
			if k, ok := du.index[id]; ok {
				du.entries[p.members+refs[0].index] = int64(k)
			} else {
				ie.add(p.path, ".members["+strconv.Itoa(refs[0].index)+"]", fmt.Errorf("user %q: %w", id, ErrNotFound))
			}
		}
		if id := p.f.leaderUserID; tx.checkLeader(id) != nil && !du.defines(id) {
			ie.add(p.path, ".leaderUserId", fmt.Errorf("user %q: %w", id, ErrNotFound))
		}
	}
	if err := ie.err(); err != nil {
		return nil, err
	}
	return tx.applyImport(plan, parent, &du, opt.Progress), nil
}

// treeSize is what countTrees finds under one root.
type treeSize struct{ nodes, members int }

// countTrees counts the nodes and member entries under each root, to size
// the import's maps; it stops counting past limit nodes in all (the plan
// refuses such a document anyway).
func countTrees(roots []*TreeNode, limit int) []treeSize {
	sizes := make([]treeSize, len(roots))
	seen := 0
	var stack []*TreeNode
	for i, root := range roots {
		stack = append(stack[:0], root)
		for len(stack) > 0 && seen <= limit {
			t := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if t == nil {
				continue
			}
			seen++
			sizes[i].nodes++
			sizes[i].members += len(t.Members)
			stack = append(stack, t.Children...)
		}
	}
	return sizes
}

// planResources checks a node's grants.
func planResources(ie *importError, node *jpath, resources []Resource) {
	seen := map[[2]string]bool{}
	for i, res := range resources {
		clean, err := cleanResource(res)
		key := [2]string{clean.Namespace, clean.Code}
		if err == nil && seen[key] {
			err = fmt.Errorf("resource %q in namespace %q granted twice: %w", res.Code, res.Namespace, ErrInvalidArgument)
		}
		if err != nil {
			ie.add(node, ".resources["+strconv.Itoa(i)+"]", err)
		}
		seen[key] = true
	}
}

// definedUsers is what planning learns about the users a document lists.
type definedUsers struct {
	users []*User            // the users the document defines (creates), in document order
	index map[string]int32   // their ids → index in users
	byExt map[string][]*User // the same by externalId, made on first use
	// entries has one element per member entry of the planned nodes, in
	// plan order: the index in users of the user it names, or ^u for user
	// u of the tree (-1 while unresolved: the import then fails).
	entries []int64
	// refs are the member entries that name a user neither in the tree nor
	// defined by the document so far: one defined further on resolves them.
	refs []memberRef
	// mains: some member entry has a mainDepartmentId.
	mains bool
}

// defines reports whether the document defines user id.
func (du *definedUsers) defines(id string) bool {
	_, ok := du.index[id]
	return ok
}

// memberRef is a member entry of a planned node.
type memberRef struct {
	node  int // index in the plan
	index int // in the node's members
}

// planMainDepartments reports every member whose mainDepartmentId neither
// names a node of the document that lists the user (applyImport makes that
// node the main department) nor is already the user's main department.
func (tx *Tx) planMainDepartments(ie *importError, plan []plannedNode) {
	type link struct{ node, user string }
	listed := map[link]bool{}
	for _, p := range plan {
		if p.t.ID == "" {
			continue
		}
		for _, m := range p.t.Members {
			listed[link{p.t.ID, m.ID}] = true
		}
	}
	for _, p := range plan {
		for i, m := range p.t.Members {
			main := m.MainDepartmentID
			if main == "" || listed[link{main, m.ID}] {
				continue
			}
			if _, r, ok := tx.st.userByID(m.ID); ok && r.main != 0 && tx.st.node(r.main).id == main {
				continue
			}
			ie.add(p.path, ".members["+strconv.Itoa(i)+"].mainDepartmentId", fmt.Errorf(
				"main department %q of user %q is not a node of the document that lists the user (another org's?); set ImportOptions.DropMissingMainDepartments to import without it: %w",
				main, m.ID, ErrNotFound))
		}
	}
}

// planUnique checks that value is unique in the document's org (seen holds
// the values of that org so far) and, when importing under an existing
// node, in that org.
func (tx *Tx) planUnique(ie *importError, node *jpath, field string, seen map[string]*jpath, value string, existing *orgRec, isCode bool) {
	if value == "" {
		return
	}
	sentinel := ErrExists
	if isCode {
		sentinel = ErrDuplicateCode
	}
	if first, dup := seen[value]; dup {
		ie.add(node, field, fmt.Errorf("%q also used at %s: %w", value, first, sentinel))
		return
	}
	seen[value] = node
	if existing != nil {
		idx := existing.extIDs
		if isCode {
			idx = existing.codes
		}
		if _, taken := idx.Get(value); taken {
			ie.add(node, field, fmt.Errorf("%q already used in org %q: %w", value, existing.id, sentinel))
		}
	}
}

// planMembers validates the member entries of the node planned at index
// pi and records the users the document defines, and the entries that
// name a user not known yet.
func (tx *Tx) planMembers(ie *importError, node *jpath, pi int, members []User, du *definedUsers) {
	var seen map[string]bool // a short list is searched instead
	for i, m := range members {
		if m.MainDepartmentID != "" {
			du.mains = true
		}
		var u uid
		exists := false
		if m.ID != "" {
			u, exists = tx.st.userIDs.Get(m.ID)
		}
		k := int64(tx.planMember(ie, node, members, i, exists, seen, du))
		switch {
		case k >= 0:
		case exists:
			k = ^int64(u)
		case m.ID != "":
			du.refs = append(du.refs, memberRef{pi, i})
		}
		du.entries = append(du.entries, k)
		if seen == nil && i == 8 {
			seen = make(map[string]bool, len(members))
			for _, m := range members[:i+1] {
				seen[m.ID] = true
			}
		} else if seen != nil {
			seen[m.ID] = true
		}
	}
}

// planMember checks entry i of members; seen holds the ids of the entries
// before it, or is nil for a short list. It returns the index of the
// entry's user in du.users, or -1 if the document has not defined it (so
// far).
func (tx *Tx) planMember(ie *importError, node *jpath, members []User, i int, exists bool, seen map[string]bool, du *definedUsers) int32 {
	m := &members[i] // read only: a user the entry defines is inserted from it
	if m.ID == "" {
		ie.add(node, ".members["+strconv.Itoa(i)+"].id", fmt.Errorf("member without id: %w", ErrInvalidArgument))
		return -1
	}
	k, defined := int32(-1), false
	if !exists {
		k, defined = du.index[m.ID]
		if !defined {
			k = -1
		}
	}
	twice := seen[m.ID]
	if seen == nil {
		for _, before := range members[:i] {
			twice = twice || before.ID == m.ID
		}
	}
	if twice {
		ie.add(node, ".members["+strconv.Itoa(i)+"]", fmt.Errorf("user %q listed twice: %w", m.ID, ErrInvalidArgument))
		return k
	}
	if err := validateUser(m); err != nil {
		ie.add(node, ".members["+strconv.Itoa(i)+"]", err)
		return k
	}
	fields := *m
	fields.MainDepartmentID = "" // set with the membership, not with the user
	defines := fields != User{ID: m.ID}
	if exists || !defines || defined {
		return k
	}
	if m.ExternalID != "" {
		mp := ".members[" + strconv.Itoa(i) + "]"
		if _, taken := tx.st.userExt.Get(m.ExternalID); taken {
			ie.add(node, mp+".externalId", fmt.Errorf("user externalId %q: %w", m.ExternalID, ErrExists))
			return k
		}
		for _, other := range du.byExt[m.ExternalID] {
			ie.add(node, mp+".externalId", fmt.Errorf("user externalId %q used by %q too: %w", m.ExternalID, other.ID, ErrExists))
		}
		if du.byExt == nil {
			du.byExt = map[string][]*User{}
		}
		du.byExt[m.ExternalID] = append(du.byExt[m.ExternalID], m)
	}
	k = int32(len(du.users))
	du.index[m.ID] = k
	du.users = append(du.users, m)
	return k
}

// applyImport applies a validated plan; it cannot fail.
func (tx *Tx) applyImport(plan []plannedNode, parent nid, du *definedUsers, progress func(applied, total int)) []Org {
	st := tx.st
	// New users take their handles (and their timestamps when they have
	// none) in id order.
	users := sortedByID(du.users)
	// A large import writes the id indexes in place, sized once, as a Load
	// does; a small one into a big tree keeps the cheap layered writes.
	if len(plan) > bulkEntries {
		st.nodeIDs = st.nodeIDs.Reserve(tx.edit, len(plan))
	}
	if len(users) > bulkEntries {
		st.userIDs = st.userIDs.Reserve(tx.edit, len(users))
	}
	tx.reserveDirty(len(plan), len(users))
	us := make([]uid, 0, len(users))
	handleOf := make([]uid, len(users)) // by index in du.users
	for _, k := range users {
		u := du.users[k]
		created := u.CreatedAt.UnixNano()
		if u.CreatedAt.IsZero() {
			created = tx.now()
		}
		updated := u.UpdatedAt.UnixNano()
		if u.UpdatedAt.IsZero() {
			updated = created
		}
		// Planning checked the id and the externalId are free.
		h := tx.insertUserAs(u.ID, u, created, updated)
		us = append(us, h)
		handleOf[k] = h
	}
	// The user order is built beside the nodes: nothing here reads it.
	defer tx.orderUsers(us)()
	handles := make([]nid, len(plan))
	var joins []join
	var orgs []Org
	tx.bulk = true
	tx.compact = true
	defer func() {
		tx.bulk = false
		if 2*len(plan) > st.nodeCount && !st.staleCounts {
			// Most of the tree is new: one pass over all of it is cheaper
			// than walking each new membership up its new subtree.
			tx.rebuildRollups()
			return
		}
		for i, p := range plan {
			if p.parent < 0 {
				tx.attachRollups(handles[i])
			}
		}
	}()
	// Every node of a root lands in the root's org: the org record is
	// looked up (and its code indexes sized) once per root.
	var org *orgRec
	for i, p := range plan {
		if progress != nil && i%progressEvery == 0 {
			progress(i, len(plan))
		}
		now := tx.now()
		var n nid
		switch {
		case p.parent >= 0:
			n = tx.insertNode(org, handles[p.parent], p.id, p.f, now)
		case parent != 0:
			org = tx.mutOrg(st.node(parent).orgID)
			if i == 0 {
				tx.reserveCodes(org, len(plan))
			}
			n = tx.insertNode(org, parent, p.id, p.f, now)
		default:
			org = &orgRec{edit: tx.edit, id: p.org, tenantID: p.t.TenantID, created: now, updated: now}
			st.orgs = st.orgs.Set(tx.edit, p.org, org)
			tx.dirty.org(p.org)
			tx.reserveCodes(org, subtreeLen(plan, i))
			n = tx.insertNode(org, 0, p.id, p.f, now)
			org.root = n
			orgs = append(orgs, tx.orgValue(org))
		}
		handles[i] = n
		if len(p.t.Resources) > 0 {
			w := tx.mutNode(n)
			tx.mutExtra(w)
			ownSlice(&w.own, ownResources, &w.resources)
			for _, res := range p.t.Resources {
				clean, _ := cleanResource(res)
				w.resources = append(w.resources, clean)
			}
			sortResources(w.resources)
		}
		if len(p.t.Members) > 0 {
			joins = tx.joinNewNode(n, p.t.Members, du.entries[p.members:], handleOf, joins)
		}
	}
	tx.joinUsers(joins)
	if du.mains {
		tx.applyMainDepartments(plan, handles)
	}
	if progress != nil {
		progress(len(plan), len(plan))
	}
	if orgs == nil {
		orgs = []Org{}
	}
	return orgs
}

// applyMainDepartments sets the main departments the members of plan name,
// once every membership is in: one may name a node the document lists
// after the member entry that names it.
func (tx *Tx) applyMainDepartments(plan []plannedNode, handles []nid) {
	st := tx.st
	byDocID := map[string]nid{}
	for i, p := range plan {
		if p.t.ID != "" {
			byDocID[p.t.ID] = handles[i]
		}
	}
	for _, p := range plan {
		for _, m := range p.t.Members {
			if m.MainDepartmentID == "" {
				continue
			}
			u, _ := st.userIDs.Get(m.ID)
			if n, ok := byDocID[m.MainDepartmentID]; ok && st.node(n).hasMember(u) {
				tx.mutUser(u).main = n
			}
		}
	}
}

// sortedByID returns the indexes of users in the order of their ids. Ids
// of one generator agree in most places (a time and a machine, then a
// counter), and a place where every id has the same byte never decides
// an order: each id is keyed by its first 8 bytes at places where the ids
// differ, and only equal keys compare the strings.
func sortedByID(users []*User) []int32 {
	if len(users) == 0 {
		return nil
	}
	first := users[0].ID
	minLen := len(first)
	varies := make([]bool, minLen)
	for _, u := range users[1:] {
		minLen = min(minLen, len(u.ID))
		for p := range minLen {
			varies[p] = varies[p] || u.ID[p] != first[p]
		}
	}
	var places []int
	for p := range minLen {
		if varies[p] && len(places) < 8 {
			places = append(places, p)
		}
	}
	type keyed struct {
		key uint64
		i   int32
	}
	ks := make([]keyed, len(users))
	for i, u := range users {
		var key uint64
		for _, p := range places {
			key = key<<8 | uint64(u.ID[p])
		}
		ks[i] = keyed{key, int32(i)} // every key has len(places) bytes: they compare as they are
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if a.key != b.key {
			return cmp.Compare(a.key, b.key)
		}
		return strings.Compare(users[a.i].ID, users[b.i].ID)
	})
	out := make([]int32, len(ks))
	for i, k := range ks {
		out[i] = k.i
	}
	return out
}

// subtreeLen returns the number of plan entries of the root planned at i:
// a root's nodes follow it up to the next root.
func subtreeLen(plan []plannedNode, i int) int {
	n := 1
	for i+n < len(plan) && plan[i+n].parent >= 0 {
		n++
	}
	return n
}

// reserveCodes sizes the code index of org o, which the transaction owns,
// for n more nodes, when n makes the import a bulk load (external ids are
// rarer: their index grows as it goes).
func (tx *Tx) reserveCodes(o *orgRec, n int) {
	if n > bulkEntries {
		o.codes = o.codes.Reserve(tx.edit, n)
	}
}

// reserveDirty sizes the transaction's changed-record sets for the nodes
// and users an import adds.
func (tx *Tx) reserveDirty(nodes, users int) {
	if tx.dirty.off {
		return
	}
	reserveSet(&tx.dirty.nodes, nodes)
	reserveSet(&tx.dirty.users, users)
}

// reserveSet gives s room for n more keys when n is a bulk load's worth.
func reserveSet[K comparable](s *smallSet[K], n int) {
	if n > bulkEntries {
		m := make(map[K]struct{}, len(s.more)+n)
		maps.Copy(m, s.more)
		s.more = m
	}
}

// join is a membership whose node side is in and whose user side is not.
type join struct {
	u uid
	n nid
}

// joinNewNode gives node n, new in this transaction and without members,
// its members (all known users), in the order they join, and appends the
// user sides still to be made to joins. A user listed twice joins once.
// entries are the members' definedUsers.entries, handleOf the handles of
// the users the document defines. Rollups are the caller's (an import's
// bulk pass).
func (tx *Tx) joinNewNode(n nid, members []User, entries []int64, handleOf []uid, joins []join) []join {
	ms := make([]member, 0, len(members))
	for i := range members {
		u := uid(^entries[i]) // a user of the tree
		if k := entries[i]; k >= 0 {
			u = handleOf[k]
		}
		ms = append(ms, member{user: u, joined: tx.now()})
	}
	slices.SortStableFunc(ms, func(a, b member) int { return cmp.Compare(a.user, b.user) })
	ms = slices.CompactFunc(ms, func(a, b member) bool { return a.user == b.user })
	nr := tx.mutNode(n)
	nr.members, nr.own = ms, nr.own|ownMembers
	for _, m := range ms {
		joins = append(joins, join{m.user, n})
	}
	tx.st.memberships += len(ms)
	return joins
}

// joinUsers adds the user sides of joins, user by user, so that each user
// record is copied once and its departments sorted once.
func (tx *Tx) joinUsers(joins []join) {
	sortJoins(joins)
	for len(joins) > 0 {
		k := 1
		for k < len(joins) && joins[k].u == joins[0].u {
			k++
		}
		ur := tx.mutUser(joins[0].u)
		depts := make([]nid, 0, len(ur.depts)+k)
		depts = append(depts, ur.depts...)
		for _, j := range joins[:k] {
			depts = append(depts, j.n)
		}
		slices.Sort(depts) // new nodes have the newest handles: this is mostly an append
		ur.depts, ur.own = depts, ur.own|ownDepts
		joins = joins[k:]
	}
}

// sortJoins sorts joins by user, then node. Joins are made node by node,
// in ascending node order, so a stable counting sort by user does it when
// the users' handles are not too spread out; otherwise a comparison sort.
func sortJoins(joins []join) {
	if len(joins) < 2 {
		return
	}
	lo, hi := joins[0].u, joins[0].u
	sortedNodes := true
	for i, j := range joins {
		lo, hi = min(lo, j.u), max(hi, j.u)
		sortedNodes = sortedNodes && (i == 0 || joins[i-1].n <= j.n)
	}
	if !sortedNodes || int(hi-lo) > 4*len(joins) {
		slices.SortFunc(joins, func(a, b join) int { return cmp.Or(cmp.Compare(a.u, b.u), cmp.Compare(a.n, b.n)) })
		return
	}
	start := make([]int, int(hi-lo)+2)
	for _, j := range joins {
		start[j.u-lo+1]++
	}
	for i := 1; i < len(start); i++ {
		start[i] += start[i-1]
	}
	out := make([]join, len(joins))
	for _, j := range joins {
		out[start[j.u-lo]] = j
		start[j.u-lo]++
	}
	copy(joins, out)
}

// Export helpers on Tree.

// ExportOrg returns the tree of an org; see Snapshot.ExportOrg.
func (t *Tree) ExportOrg(orgID string, opt ExportOptions) (*TreeNode, error) {
	return t.Snapshot().ExportOrg(orgID, opt)
}

// OrgTree returns the nested tree of an org without members.
func (t *Tree) OrgTree(orgID string) (*TreeNode, error) { return t.Snapshot().OrgTree(orgID) }

// ExportAll returns every org's tree, oldest org first.
func (t *Tree) ExportAll(opt ExportOptions) []*TreeNode { return t.Snapshot().ExportAll(opt) }

// ExportAllContext exports every org until ctx ends; see
// Snapshot.ExportAllContext.
func (t *Tree) ExportAllContext(ctx context.Context, opt ExportOptions) ([]*TreeNode, error) {
	return t.Snapshot().ExportAllContext(ctx, opt)
}

// ExportOrgContext exports an org until ctx ends; see
// Snapshot.ExportOrgContext.
func (t *Tree) ExportOrgContext(ctx context.Context, orgID string, opt ExportOptions) (*TreeNode, error) {
	return t.Snapshot().ExportOrgContext(ctx, orgID, opt)
}

// ExportJSONContext writes an export until ctx ends; see
// Snapshot.ExportJSONContext.
func (t *Tree) ExportJSONContext(ctx context.Context, w io.Writer, orgID string, opt ExportOptions) error {
	return t.Snapshot().ExportJSONContext(ctx, w, orgID, opt)
}

// ExportJSON writes one org, or all orgs when orgID is empty, as JSON from
// one snapshot: writers are not blocked while it runs.
func (t *Tree) ExportJSON(w io.Writer, orgID string, opt ExportOptions) error {
	return t.Snapshot().ExportJSON(w, orgID, opt)
}

// Import adds nested trees; see Tx.Import.
func (t *Tree) Import(roots []*TreeNode, opt ImportOptions) ([]Org, error) {
	return update1(t, func(tx *Tx) ([]Org, error) { return tx.Import(roots, opt) })
}

package reconcile

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/orgtree/orgtree"
)

// Department is one entry of a provider's flat department list.
type Department struct {
	ExternalID       string // the provider's department id
	ParentExternalID string // empty for the root department
	// Name is required, except on the root: a root without a name leaves the
	// org root's name as it is.
	Name string
	// Order places the department among its siblings: larger first, as in
	// orgtree. The decoders map each provider's own rule onto it (WeCom:
	// larger first, kept; DingTalk and Lark: smaller first, negated).
	Order int
	// Code becomes the node's code. On the root, an empty Code leaves the
	// org root's code as it is; on any other department it clears it.
	Code string
	// LeaderExternalID is the provider's user id of the department leader;
	// it becomes the node's LeaderUserID once that user is known locally.
	// orgtree keeps one leader per node: where a provider lists several,
	// the decoders pick the first that the user list includes. On the
	// root, an empty LeaderExternalID leaves the root's leader as it is.
	LeaderExternalID string
}

// Member is one user of a provider's user list with the departments it
// belongs to.
type Member struct {
	ExternalID string // the provider's user id
	Name       string
	Username   string
	Email      string
	Phone      string
	// DepartmentIDs are external department ids: the complete set of the
	// user's departments in this org.
	DepartmentIDs []string
	// MainDepartmentID, when set, must be one of DepartmentIDs. When empty
	// the provider does not speak for it: the user's main department is
	// left as it is (it goes only with the membership it names).
	MainDepartmentID string
}

// Input is what a provider delivers: departments in any order, members.
type Input struct {
	Departments []Department
	Members     []Member
	// KeepMembers says the input carries no user list (the decoders set it
	// when given no users reader): users, memberships and main departments
	// are left as they are, except that members of a deleted department
	// leave it. Members must then be empty.
	KeepMembers bool
}

var (
	// ErrInvalidInput is wrapped by *InputError.
	ErrInvalidInput = errors.New("reconcile: invalid input")
	// ErrEmptyInput means the input has no department besides the root and
	// no members (an empty or failed provider answer, most likely), and
	// Options.AllowEmpty was not set.
	ErrEmptyInput = errors.New("reconcile: empty input")
	// ErrTruncated means a provider answer says more pages follow (has_more,
	// next_cursor) but none do: the list is incomplete. It comes wrapped
	// together with ErrInvalidInput.
	ErrTruncated = errors.New("reconcile: truncated provider answer")
	// ErrStalePlan means what the plan read (its org, the users it looked
	// at) changed after the plan was made.
	ErrStalePlan = errors.New("reconcile: plan is stale")
	// ErrTooManyDeletes means a plan takes away more of the org than
	// Options.MaxDeleteRatio allows; it is wrapped by *LimitError.
	ErrTooManyDeletes = errors.New("reconcile: plan deletes too much")
)

// Problem is one thing wrong with an Input.
type Problem struct {
	// Kind is one of "id", "duplicate id", "unknown parent", "cycle",
	// "roots", "name", "code", "member", "depth" (deeper than the tree's
	// MaxDepth) and "children" (more children than its MaxChildren).
	Kind string
	IDs  []string // the offending external ids
	Msg  string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s: %s [%s]", p.Kind, p.Msg, strings.Join(p.IDs, ", "))
}

// InputError lists every problem found in an Input.
type InputError struct {
	Problems []Problem
}

func (e *InputError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return fmt.Sprintf("reconcile: %d input problem(s):\n  %s", len(e.Problems), strings.Join(lines, "\n  "))
}

// Unwrap makes errors.Is(err, ErrInvalidInput) hold.
func (e *InputError) Unwrap() error { return ErrInvalidInput }

// index is a validated Input: departments by external id, the root, and
// the final tree's children lists in a deterministic order.
type index struct {
	depts    map[string]*Department
	root     string
	children map[string][]string // external id → child external ids, sorted
	members  map[string]*Member
	// keepMembers: the input has no user list (Input.KeepMembers).
	keepMembers bool
}

// empty reports whether the input has nothing but (at most) a root.
func (ix *index) empty() bool {
	nonRoot := len(ix.depts)
	if ix.root != "" {
		nonRoot--
	}
	return nonRoot == 0 && len(ix.members) == 0
}

// lookups lists the external ids of the users the input names (members
// and leaders), sorted: the users the planner reads beyond the org.
func (ix *index) lookups() []string {
	out := make([]string, 0, len(ix.members))
	for ext := range ix.members {
		out = append(out, ext)
	}
	for _, d := range ix.depts {
		if d.LeaderExternalID != "" {
			out = append(out, d.LeaderExternalID)
		}
	}
	return sortedUnique(out)
}

// validate checks in and builds its index, collecting every problem.
func validate(in Input, lim orgtree.Limits) (*index, error) {
	var probs []Problem
	add := func(kind, msg string, ids ...string) {
		probs = append(probs, Problem{Kind: kind, IDs: ids, Msg: msg})
	}
	ix := &index{depts: map[string]*Department{}, children: map[string][]string{}, members: map[string]*Member{}, keepMembers: in.KeepMembers}
	if in.KeepMembers && len(in.Members) > 0 {
		add("member", fmt.Sprintf("%d members given with KeepMembers (which says there is no user list)", len(in.Members)))
	}
	var dups []string
	for i := range in.Departments {
		d := &in.Departments[i]
		if d.ExternalID == "" {
			add("id", fmt.Sprintf("department #%d (%q) has no external id", i, d.Name))
			continue
		}
		if _, dup := ix.depts[d.ExternalID]; dup {
			dups = append(dups, d.ExternalID)
			continue
		}
		ix.depts[d.ExternalID] = d
	}
	if len(dups) > 0 {
		add("duplicate id", "departments listed more than once", sortedUnique(dups)...)
	}
	var roots, unknown, badNames []string
	codes := map[string]string{}
	var dupCodes []string
	for _, id := range sortedKeys(ix.depts) {
		d := ix.depts[id]
		switch _, ok := ix.depts[d.ParentExternalID]; {
		case d.ParentExternalID == "":
			roots = append(roots, id)
		case !ok:
			unknown = append(unknown, id)
		default:
			ix.children[d.ParentExternalID] = append(ix.children[d.ParentExternalID], id)
		}
		d.Name = strings.TrimSpace(d.Name)
		if !goodText(d.Name, lim.MaxNameLength) && (d.Name != "" || d.ParentExternalID != "") {
			badNames = append(badNames, id)
		}
		if !goodID(id) || (d.ParentExternalID != "" && !goodID(d.ParentExternalID)) {
			add("id", "external id empty, over 128 bytes, or with spaces or control characters", id)
		}
		if d.Code != "" && (!goodID(d.Code) || strings.HasPrefix(strings.ToLower(d.Code), "sys:")) {
			add("code", "code with spaces or control characters, or the reserved prefix sys:", id)
		} else if d.Code != "" {
			if other, dup := codes[d.Code]; dup {
				dupCodes = append(dupCodes, other, id)
			}
			codes[d.Code] = id
		}
	}
	if len(unknown) > 0 {
		add("unknown parent", "parent department not in the input", unknown...)
	}
	if len(badNames) > 0 {
		add("name", fmt.Sprintf("name empty, not UTF-8, with control characters or longer than %d runes", lim.MaxNameLength), badNames...)
	}
	if len(dupCodes) > 0 {
		add("code", "code used by several departments", sortedUnique(dupCodes)...)
	}
	switch len(roots) {
	case 1:
		ix.root = roots[0]
	case 0:
		if len(ix.depts) > 0 {
			add("roots", "no root department (one without a parent)")
		}
	default:
		add("roots", "several root departments", roots...)
	}
	if cyc := cycles(ix); len(cyc) > 0 {
		add("cycle", "departments whose parent chain loops", cyc...)
	}
	for i := range in.Members {
		m := &in.Members[i]
		if m.ExternalID == "" {
			add("member", fmt.Sprintf("member #%d (%q) has no external id", i, m.Name))
			continue
		}
		if _, dup := ix.members[m.ExternalID]; dup {
			add("member", "user listed more than once", m.ExternalID)
			continue
		}
		if !goodID(m.ExternalID) {
			add("member", "user external id over 128 bytes or with spaces or control characters", m.ExternalID)
		}
		ix.members[m.ExternalID] = m
		for _, d := range m.DepartmentIDs {
			if _, ok := ix.depts[d]; !ok {
				add("member", fmt.Sprintf("user in unknown department %q", d), m.ExternalID)
			}
		}
		if m.MainDepartmentID != "" && !slices.Contains(m.DepartmentIDs, m.MainDepartmentID) {
			add("member", fmt.Sprintf("main department %q is not one of the user's departments", m.MainDepartmentID), m.ExternalID)
		}
	}
	if len(probs) > 0 {
		return nil, &InputError{Problems: probs}
	}
	return ix, nil
}

// cycles returns the departments on or leading into a parent-chain loop,
// walking each chain once (iteratively: chains may be long).
func cycles(ix *index) []string {
	const (
		unseen = iota
		onPath
		done
	)
	state := make(map[string]int, len(ix.depts))
	var bad []string
	for _, start := range sortedKeys(ix.depts) {
		var path []string
		id := start
		for id != "" && state[id] == unseen {
			if _, ok := ix.depts[id]; !ok {
				break
			}
			state[id] = onPath
			path = append(path, id)
			id = ix.depts[id].ParentExternalID
		}
		if id != "" && state[id] == onPath {
			// The loop is the tail of path from id on.
			i := slices.Index(path, id)
			bad = append(bad, path[i:]...)
		}
		for _, p := range path {
			state[p] = done
		}
	}
	return sortedUnique(bad)
}

// goodText is orgtree's rule for names: valid UTF-8, 1..max runes, no
// control characters.
func goodText(s string, max int) bool {
	return s != "" && utf8.ValidString(s) && (max <= 0 || utf8.RuneCountInString(s) <= max) &&
		!strings.ContainsFunc(s, unicode.IsControl)
}

// goodID is orgtree's rule for ids, codes and external ids.
func goodID(s string) bool {
	return s != "" && len(s) <= 128 && utf8.ValidString(s) &&
		!strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) })
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

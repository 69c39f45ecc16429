package orgtreetest

import (
	"fmt"
	"strings"

	"github.com/orgtree/orgtree"
)

// Text renders the org orgID of s ("" for every org, oldest first) as the
// tree(1)-style text `orgtree tree` prints: one line per department with
// its name, its code in brackets and the number of distinct members of its
// whole subtree, children in listing order (larger order first, then
// creation), drawn with tree(1)'s connectors:
//
//	Acme [acme] (3 members)
//	├── R&D [dev] (2 members)
//	│   └── Backend (1 member)
//	└── Ops (0 members)
//
// The text has no ids or timestamps, so it is a stable golden file (see
// AssertTree). An unknown org is orgtree.ErrNotFound.
func Text(s orgtree.Snapshot, orgID string) (string, error) {
	var roots []string
	if orgID == "" {
		for _, o := range s.Orgs() {
			roots = append(roots, o.RootID)
		}
	} else {
		o, err := s.Org(orgID)
		if err != nil {
			return "", err
		}
		roots = []string{o.RootID}
	}
	var b strings.Builder
	for _, r := range roots {
		if err := writeText(&b, s, r); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

// writeText prints the subtree of root, iteratively (a chain may be a
// million deep).
func writeText(b *strings.Builder, s orgtree.Snapshot, root string) error {
	line := func(prefix, id string) error {
		n, err := s.Node(id)
		if err != nil {
			return err
		}
		count, err := s.MemberCount(id, true)
		if err != nil {
			return err
		}
		b.WriteString(prefix)
		b.WriteString(n.Name)
		if n.Code != "" {
			fmt.Fprintf(b, " [%s]", n.Code)
		}
		if count == 1 {
			b.WriteString(" (1 member)\n")
		} else {
			fmt.Fprintf(b, " (%d members)\n", count)
		}
		return nil
	}
	if err := line("", root); err != nil {
		return err
	}
	type frame struct {
		kids   []string
		next   int
		prefix string
	}
	kids, err := s.ChildIDs(root)
	if err != nil {
		return err
	}
	stack := []frame{{kids: kids}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next == len(top.kids) {
			stack = stack[:len(stack)-1]
			continue
		}
		id := top.kids[top.next]
		top.next++
		connector, indent := "├── ", "│   "
		if top.next == len(top.kids) {
			connector, indent = "└── ", "    "
		}
		prefix := top.prefix
		if err := line(prefix+connector, id); err != nil {
			return err
		}
		kids, err := s.ChildIDs(id)
		if err != nil {
			return err
		}
		stack = append(stack, frame{kids: kids, prefix: prefix + indent})
	}
	return nil
}

package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/orgtree/orgtree"
)

// errAmbiguous is returned when a code or name names several departments.
var errAmbiguous = errors.New("ambiguous")

// resolveNode finds the department ref names: a node id, an org id (its
// root), a path of codes or names from an org's root ("acme/dev/web": each
// step matches a child's code first, then its name), or a code that exactly
// one org has. Errors wrap orgtree.ErrNotFound or errAmbiguous.
func resolveNode(snap orgtree.Snapshot, ref string) (orgtree.Node, error) {
	if ref == "" {
		return orgtree.Node{}, fmt.Errorf("empty department: %w", orgtree.ErrNotFound)
	}
	if n, err := snap.Node(ref); err == nil {
		return n, nil
	}
	if org, err := snap.Org(ref); err == nil {
		return snap.Node(org.RootID)
	}
	steps := strings.Split(strings.Trim(ref, "/"), "/")
	var roots []orgtree.Node
	for _, org := range snap.Orgs() {
		if root, err := snap.Node(org.RootID); err == nil {
			roots = append(roots, root)
		}
	}
	if len(steps) == 1 {
		// A lone code anywhere, or a root's code or name.
		var found []orgtree.Node
		for _, root := range roots {
			if n, err := snap.NodeByCode(root.OrgID, ref); err == nil {
				found = append(found, n)
			} else if root.Name == ref {
				found = append(found, root)
			}
		}
		return pick(snap, ref, found)
	}
	level := matching(roots, steps[0])
	for _, step := range steps[1:] {
		var next []orgtree.Node
		for _, n := range level {
			kids, err := snap.Children(n.ID, 1)
			if err != nil {
				return orgtree.Node{}, err
			}
			next = append(next, matching(kids, step)...)
		}
		level = next
	}
	return pick(snap, ref, level)
}

// matching returns the nodes whose code is step, or else those whose name is.
func matching(nodes []orgtree.Node, step string) []orgtree.Node {
	var byCode, byName []orgtree.Node
	for _, n := range nodes {
		switch {
		case n.Code != "" && n.Code == step:
			byCode = append(byCode, n)
		case n.Name == step:
			byName = append(byName, n)
		}
	}
	if len(byCode) > 0 {
		return byCode
	}
	return byName
}

func pick(snap orgtree.Snapshot, ref string, found []orgtree.Node) (orgtree.Node, error) {
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return orgtree.Node{}, fmt.Errorf("%q: no org id, node id, code or path of codes or names: %w (orgtree tree --ids lists them)", ref, orgtree.ErrNotFound)
	}
	var paths []string
	for _, n := range found {
		p, _ := snap.NamePath(n.ID)
		paths = append(paths, n.ID+" ("+strings.Join(p, " / ")+")")
	}
	sort.Strings(paths)
	return orgtree.Node{}, fmt.Errorf("%q names %d departments: %w; give one of the ids: %s", ref, len(found), errAmbiguous, strings.Join(paths, ", "))
}

package orgtree

import (
	"cmp"
	"fmt"
	"slices"
)

// MergeChangeSet returns the records of d with cs applied: upserts replace
// or add records by id, deletions drop them. d is not modified. It is the
// pure half of Apply, exposed so that a replication log can be folded into
// a snapshot without a tree.
func MergeChangeSet(d *Dump, cs *ChangeSet) *Dump {
	out := &Dump{Seq: cs.Seq}
	out.Orgs = mergeRecords(d.Orgs, cs.Orgs, cs.DeletedOrgs, func(r OrgRecord) string { return r.ID })
	out.Nodes = mergeRecords(d.Nodes, cs.Nodes, cs.DeletedNodes, func(r NodeRecord) string { return r.ID })
	out.Users = mergeRecords(d.Users, cs.Users, cs.DeletedUsers, func(r UserRecord) string { return r.ID })
	return out
}

func mergeRecords[R any](old, up []R, del []string, id func(R) string) []R {
	drop := make(map[string]bool, len(up)+len(del))
	for _, s := range del {
		drop[s] = true
	}
	for _, r := range up {
		drop[id(r)] = true
	}
	out := make([]R, 0, len(old)+len(up))
	for _, r := range old {
		if !drop[id(r)] {
			out = append(out, r)
		}
	}
	out = append(out, up...)
	slices.SortFunc(out, func(a, b R) int { return cmp.Compare(id(a), id(b)) })
	return out
}

// Replace atomically replaces the whole content of the tree with the
// records of d (validated as Load does). Unlike Load the tree need not be
// empty. The commit hook is not called.
func (t *Tree) Replace(d *Dump) error {
	if d == nil {
		return fmt.Errorf("orgtree: replace: nil dump: %w", ErrInvalidArgument)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	// The load runs on an empty version that is never published: readers
	// keep the current one until the new content is complete.
	line := &lineage{}
	tx := beginOn(emptyState(&t.cfg, line))
	defer tx.close()
	if err := tx.loadChecked(d); err != nil {
		return fmt.Errorf("orgtree: replace: %w", err)
	}
	t.lastSeq++
	tx.st.seq = t.lastSeq
	t.line = line
	tx.st.line, tx.st.published = line, true
	t.cur.Store(tx.st)
	t.notifyAll()
	return nil
}

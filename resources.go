package orgtree

import (
	"cmp"
	"fmt"
	"slices"
)

// ResourceType is the kind of an authorized resource.
type ResourceType string

// The resource types of the reference service.
const (
	ResourceData   ResourceType = "DATA"
	ResourceAPI    ResourceType = "API"
	ResourceMenu   ResourceType = "MENU"
	ResourceButton ResourceType = "BUTTON"
)

func (t ResourceType) valid() bool {
	switch t {
	case ResourceData, ResourceAPI, ResourceMenu, ResourceButton:
		return true
	}
	return false
}

// Resource is a grant of a resource to a node: everyone in the department
// may perform Actions on the resource Code of permission group Namespace.
type Resource struct {
	Namespace string       `json:"namespace"`
	Code      string       `json:"code"`
	Type      ResourceType `json:"type"`
	Actions   []string     `json:"actions,omitempty"`
}

// ResourceFilter narrows a resource listing; empty fields match everything.
type ResourceFilter struct {
	Namespace string
	Type      ResourceType
}

// ResourceList is the answer of a resource listing.
type ResourceList struct {
	TotalCount int        `json:"totalCount"`
	List       []Resource `json:"list"`
}

const maxActions = 256

func cloneResources(rs []Resource) []Resource {
	if len(rs) == 0 {
		return nil
	}
	out := make([]Resource, len(rs))
	for i, r := range rs {
		out[i] = r
		out[i].Actions = slices.Clone(r.Actions)
	}
	return out
}

func resourceCmp(a, b Resource) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Code, b.Code))
}

func sortResources(rs []Resource) { slices.SortFunc(rs, resourceCmp) }

// cleanResource validates a grant and returns it with sorted, distinct actions.
func cleanResource(r Resource) (Resource, error) {
	if err := checkRef("namespace", r.Namespace); err != nil {
		return r, err
	}
	if r.Code == "" {
		return r, fmt.Errorf("resource code is empty: %w", ErrInvalidArgument)
	}
	if err := checkText("resource code", r.Code, maxCodeLength*2); err != nil {
		return r, err
	}
	if !r.Type.valid() {
		return r, fmt.Errorf("resource type %q is not DATA, API, MENU or BUTTON: %w", r.Type, ErrInvalidArgument)
	}
	if len(r.Actions) > maxActions {
		return r, fmt.Errorf("%d actions, more than %d: %w", len(r.Actions), maxActions, ErrLimitExceeded)
	}
	acts := slices.Clone(r.Actions)
	for _, a := range acts {
		if a == "" {
			return r, fmt.Errorf("empty action: %w", ErrInvalidArgument)
		}
		if err := checkText("action", a, maxFieldLength); err != nil {
			return r, err
		}
	}
	slices.Sort(acts)
	r.Actions = slices.Compact(acts)
	return r, nil
}

// GrantResource grants a resource to node nodeID. A grant of the same
// (namespace, code) is replaced, so granting is idempotent.
func (tx *Tx) GrantResource(nodeID string, res Resource) error {
	const op = "grant resource"
	if err := tx.writable(op); err != nil {
		return err
	}
	n, r, err := tx.lookupNode(op, nodeID)
	if err != nil {
		return err
	}
	res, err = cleanResource(res)
	if err != nil {
		return fmt.Errorf("orgtree: %s: node %q: %w", op, nodeID, err)
	}
	i, found := slices.BinarySearchFunc(r.resources, res, resourceCmp)
	if found && r.resources[i].Type == res.Type && slices.Equal(r.resources[i].Actions, res.Actions) {
		return nil
	}
	w := tx.mutNode(n)
	tx.mutExtra(w)
	ownSlice(&w.own, ownResources, &w.resources)
	if found {
		w.resources[i] = res
	} else {
		w.resources = slices.Insert(w.resources, i, res)
	}
	w.updated = tx.now()
	return nil
}

// RevokeResource removes the grant of (namespace, code) from node nodeID.
func (tx *Tx) RevokeResource(nodeID, namespace, code string) error {
	const op = "revoke resource"
	if err := tx.writable(op); err != nil {
		return err
	}
	n, r, err := tx.lookupNode(op, nodeID)
	if err != nil {
		return err
	}
	i, found := slices.BinarySearchFunc(r.resources, Resource{Namespace: namespace, Code: code}, resourceCmp)
	if !found {
		return fmt.Errorf("orgtree: %s: node %q has no grant of %q in namespace %q: %w", op, nodeID, code, namespace, ErrNotFound)
	}
	w := tx.mutNode(n)
	tx.mutExtra(w)
	ownSlice(&w.own, ownResources, &w.resources)
	w.resources = slices.Delete(w.resources, i, i+1)
	w.updated = tx.now()
	return nil
}

func filterResources(rs []Resource, f ResourceFilter) (ResourceList, error) {
	if f.Type != "" && !f.Type.valid() {
		return ResourceList{}, fmt.Errorf("orgtree: list resources: type %q: %w", f.Type, ErrInvalidArgument)
	}
	out := ResourceList{List: []Resource{}}
	for _, r := range rs {
		if (f.Namespace == "" || r.Namespace == f.Namespace) && (f.Type == "" || r.Type == f.Type) {
			out.List = append(out.List, r)
		}
	}
	out.List = cloneResources(out.List)
	if out.List == nil {
		out.List = []Resource{}
	}
	out.TotalCount = len(out.List)
	return out, nil
}

// AuthorizedResources lists the grants of node nodeID, sorted by namespace
// and code.
func (s Snapshot) AuthorizedResources(nodeID string, f ResourceFilter) (ResourceList, error) {
	_, r, err := s.lookupNode("list resources", nodeID)
	if err != nil {
		return ResourceList{}, err
	}
	return filterResources(r.resources, f)
}

// AuthorizedResourcesByCode lists the grants of the node of org orgID whose
// code is code.
func (s Snapshot) AuthorizedResourcesByCode(orgID, code string, f ResourceFilter) (ResourceList, error) {
	o, err := s.lookupOrg("list resources by code", orgID)
	if err != nil {
		return ResourceList{}, err
	}
	n, ok := o.codes.Get(code)
	if !ok {
		return ResourceList{}, fmt.Errorf("orgtree: list resources by code: code %q in org %q: %w", code, orgID, ErrNotFound)
	}
	return filterResources(s.st.node(n).resources, f)
}

// GrantResource grants a resource to a node; see Tx.GrantResource.
func (t *Tree) GrantResource(nodeID string, r Resource) error {
	return t.Update(func(tx *Tx) error { return tx.GrantResource(nodeID, r) })
}

// RevokeResource removes a grant from a node.
func (t *Tree) RevokeResource(nodeID, namespace, code string) error {
	return t.Update(func(tx *Tx) error { return tx.RevokeResource(nodeID, namespace, code) })
}

// AuthorizedResources lists the grants of a node.
func (t *Tree) AuthorizedResources(nodeID string, f ResourceFilter) (ResourceList, error) {
	return t.Snapshot().AuthorizedResources(nodeID, f)
}

// AuthorizedResourcesByCode lists the grants of the node with a code.
func (t *Tree) AuthorizedResourcesByCode(orgID, code string, f ResourceFilter) (ResourceList, error) {
	return t.Snapshot().AuthorizedResourcesByCode(orgID, code, f)
}

// resourceEqual reports whether two resources grant the same thing.
func resourceEqual(a, b Resource) bool {
	return a.Namespace == b.Namespace && a.Code == b.Code && a.Type == b.Type && slices.Equal(a.Actions, b.Actions)
}

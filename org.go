package orgtree

import (
	"fmt"
	"time"
)

// Org is an organization: a tree of nodes under one root node.
type Org struct {
	ID     string `json:"id"`
	RootID string `json:"rootId"`
	// TenantID names the tenant the org belongs to, as the reference
	// service's multi-tenant pools do; empty when it belongs to none. It is
	// set when the org is created (or imported) and found by OrgsByTenant.
	TenantID  string    `json:"tenantId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// OrgInput describes a new org and its root node. Name is required; every
// other field is optional. The org's name is its root node's name.
type OrgInput struct {
	ID              string // org id; generated when empty
	RootID          string // root node id; generated when empty
	Name            string
	NameI18n        map[string]string
	Code            string
	Description     string
	DescriptionI18n map[string]string
	Order           int
	ExternalID      string
	LeaderUserID    string // of the root node: an existing user, like NodeInput's
	// TenantID is the org's tenant (optional; an id: no spaces or control
	// characters). Several orgs may share a tenant.
	TenantID string
}

// OrgPage is one page of orgs with the total count.
type OrgPage struct {
	TotalCount int   `json:"totalCount"`
	List       []Org `json:"list"`
}

func (s Snapshot) orgValue(o *orgRec) Org {
	return Org{ID: o.id, RootID: s.st.node(o.root).id, TenantID: o.tenantID, CreatedAt: timeOf(o.created), UpdatedAt: timeOf(o.updated)}
}

// OrgsByTenant returns the orgs of a tenant, oldest first (none for an
// empty tenantID). It scans the orgs, which are few.
func (s Snapshot) OrgsByTenant(tenantID string) []Org {
	out := []Org{}
	if tenantID == "" {
		return out
	}
	for _, o := range s.sortedOrgs() {
		if o.tenantID == tenantID {
			out = append(out, s.orgValue(o))
		}
	}
	return out
}

// checkTenantID validates an optional tenant id: empty, or an id.
func checkTenantID(id string) error {
	if id == "" {
		return nil
	}
	if err := checkID(id); err != nil {
		return fmt.Errorf("tenant %w", err)
	}
	return nil
}

// Org returns the org with the given id.
func (s Snapshot) Org(id string) (Org, error) {
	o, err := s.lookupOrg("get org", id)
	if err != nil {
		return Org{}, err
	}
	return s.orgValue(o), nil
}

// ListOrgs returns page page (from 1) of limit orgs, oldest first. page and
// limit 0 mean 1 and 10.
func (s Snapshot) ListOrgs(page, limit int) (OrgPage, error) {
	offset, limit, err := s.pageWindow("list orgs", page, limit)
	if err != nil {
		return OrgPage{}, err
	}
	all := s.sortedOrgs()
	out := OrgPage{TotalCount: len(all), List: []Org{}}
	for _, o := range window(all, offset, limit) {
		out.List = append(out.List, s.orgValue(o))
	}
	return out, nil
}

// Orgs returns every org, oldest first: ListOrgs without pages, for callers
// that need them all (exports, charts, orders ListOrgs does not offer).
func (s Snapshot) Orgs() []Org {
	all := s.sortedOrgs()
	out := make([]Org, len(all))
	for i, o := range all {
		out[i] = s.orgValue(o)
	}
	return out
}

// RootNode returns the root node of an org.
func (s Snapshot) RootNode(orgID string) (Node, error) {
	o, err := s.lookupOrg("root node", orgID)
	if err != nil {
		return Node{}, err
	}
	return s.st.nodeValue(s.st.node(o.root)), nil
}

// pageWindow turns (page, limit) into an offset, applying defaults and limits.
func (s Snapshot) pageWindow(op string, page, limit int) (offset, n int, err error) {
	if page < 0 || limit < 0 {
		return 0, 0, fmt.Errorf("orgtree: %s: page %d, limit %d: negative: %w", op, page, limit, ErrInvalidArgument)
	}
	if page == 0 {
		page = 1
	}
	if limit == 0 {
		limit = defaultPageSize
	}
	if limit > s.st.cfg.limits.MaxPageSize {
		return 0, 0, fmt.Errorf("orgtree: %s: limit %d > %d: %w", op, limit, s.st.cfg.limits.MaxPageSize, ErrLimitExceeded)
	}
	if page-1 > maxInt/limit {
		return maxInt, limit, nil
	}
	return (page - 1) * limit, limit, nil
}

func window[T any](all []T, offset, limit int) []T {
	if offset >= len(all) {
		return nil
	}
	return all[offset:min(len(all), offset+limit)]
}

// CreateOrg creates an org with a single root node.
func (tx *Tx) CreateOrg(in OrgInput) (Org, error) {
	const op = "create org"
	if err := tx.writable(op); err != nil {
		return Org{}, err
	}
	f, err := tx.cleanFields(op, fieldsInput{
		name: in.Name, nameI18n: in.NameI18n, code: in.Code, description: in.Description,
		descriptionI18n: in.DescriptionI18n, order: in.Order, externalID: in.ExternalID, leaderUserID: in.LeaderUserID,
	})
	if err != nil {
		return Org{}, err
	}
	if err := checkTenantID(in.TenantID); err != nil {
		return Org{}, fmt.Errorf("orgtree: %s: %q: %w", op, in.TenantID, err)
	}
	if err := tx.checkLeader(f.leaderUserID); err != nil {
		return Org{}, fmt.Errorf("orgtree: %s: %w", op, err)
	}
	orgID, err := tx.pickID(op, "org", in.ID, func(id string) bool { _, ok := tx.st.orgs.Get(id); return ok })
	if err != nil {
		return Org{}, err
	}
	rootID, err := tx.pickID(op, "root node", in.RootID, func(id string) bool { _, ok := tx.st.nodeIDs.Get(id); return ok })
	if err != nil {
		return Org{}, err
	}
	now := tx.now()
	o := &orgRec{edit: tx.edit, id: orgID, tenantID: in.TenantID, created: now, updated: now}
	tx.st.orgs = tx.st.orgs.Set(tx.edit, orgID, o)
	tx.dirty.org(orgID)
	o.root = tx.insertNode(o, 0, rootID, f, now)
	return tx.orgValue(o), nil
}

// pickID validates a caller-chosen id or generates one.
func (tx *Tx) pickID(op, what, id string, taken func(string) bool) (string, error) {
	if id == "" {
		return tx.newID(op, taken)
	}
	if err := checkID(id); err != nil {
		return "", fmt.Errorf("orgtree: %s: %s id %q: %w", op, what, id, err)
	}
	if taken(id) {
		return "", fmt.Errorf("orgtree: %s: %s id %q: %w", op, what, id, ErrExists)
	}
	return id, nil
}

// DeleteOrg deletes an org with its whole tree, memberships and grants.
func (tx *Tx) DeleteOrg(id string) error {
	const op = "delete org"
	if err := tx.writable(op); err != nil {
		return err
	}
	o, err := tx.lookupOrg(op, id)
	if err != nil {
		return err
	}
	tx.deleteSubtree(o.root)
	tx.st.orgs = tx.st.orgs.Delete(tx.edit, id)
	tx.dirty.org(id)
	return nil
}

// Org returns the org with the given id.
func (t *Tree) Org(id string) (Org, error) { return t.Snapshot().Org(id) }

// ListOrgs returns one page of orgs; see Snapshot.ListOrgs.
func (t *Tree) ListOrgs(page, limit int) (OrgPage, error) { return t.Snapshot().ListOrgs(page, limit) }

// Orgs returns every org, oldest first.
func (t *Tree) Orgs() []Org { return t.Snapshot().Orgs() }

// OrgsByTenant returns the orgs of a tenant, oldest first.
func (t *Tree) OrgsByTenant(tenantID string) []Org { return t.Snapshot().OrgsByTenant(tenantID) }

// RootNode returns the root node of an org.
func (t *Tree) RootNode(orgID string) (Node, error) { return t.Snapshot().RootNode(orgID) }

// CreateOrg creates an org with a single root node.
func (t *Tree) CreateOrg(in OrgInput) (Org, error) {
	return update1(t, func(tx *Tx) (Org, error) { return tx.CreateOrg(in) })
}

// DeleteOrg deletes an org with its whole tree, memberships and grants.
func (t *Tree) DeleteOrg(id string) error {
	return t.Update(func(tx *Tx) error { return tx.DeleteOrg(id) })
}

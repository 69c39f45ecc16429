package orgtree

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tenant ids: set on CreateOrg and on import, kept by Dump/Load, the commit
// hook's records and the JSON export, found by OrgsByTenant.

func TestOrgTenant(t *testing.T) {
	var changes []*ChangeSet
	tr := newTestTree(t, WithCommitHook(func(cs *ChangeSet) error { changes = append(changes, cs); return nil }))
	a, err := tr.CreateOrg(OrgInput{Name: "A", TenantID: "t1"})
	require.NoError(t, err)
	b, err := tr.CreateOrg(OrgInput{Name: "B"})
	require.NoError(t, err)
	c, err := tr.CreateOrg(OrgInput{Name: "C", TenantID: "t1"})
	require.NoError(t, err)
	d, err := tr.CreateOrg(OrgInput{Name: "D", TenantID: "t2"})
	require.NoError(t, err)
	checked(t, tr)

	assert.Equal(t, "t1", a.TenantID)
	got, err := tr.Org(c.ID)
	require.NoError(t, err)
	assert.Equal(t, "t1", got.TenantID)
	got, err = tr.Org(b.ID)
	require.NoError(t, err)
	assert.Empty(t, got.TenantID)

	ids := func(orgs []Org) []string {
		out := []string{}
		for _, o := range orgs {
			out = append(out, o.ID)
		}
		return out
	}
	assert.Equal(t, []string{a.ID, c.ID}, ids(tr.OrgsByTenant("t1")), "oldest first")
	assert.Equal(t, []string{d.ID}, ids(tr.OrgsByTenant("t2")))
	assert.Empty(t, tr.OrgsByTenant("t3"))
	assert.Empty(t, tr.OrgsByTenant(""), "the empty tenant holds no org")
	assert.Equal(t, "t2", changes[len(changes)-1].Orgs[0].TenantID, "the commit hook's record carries it")

	// A reader's snapshot keeps its orgs after a delete.
	snap := tr.Snapshot()
	require.NoError(t, tr.DeleteOrg(a.ID))
	assert.Equal(t, []string{c.ID}, ids(tr.OrgsByTenant("t1")))
	assert.Equal(t, []string{a.ID, c.ID}, ids(snap.OrgsByTenant("t1")))

	for _, bad := range []string{"has space", "tab\t", strings.Repeat("x", maxIDLength+1), "\xff"} {
		unchanged(t, tr, ErrInvalidArgument, func() error {
			_, err := tr.CreateOrg(OrgInput{Name: "bad", TenantID: bad})
			return err
		})
	}
}

func TestOrgTenantDumpLoad(t *testing.T) {
	tr := newTestTree(t)
	a, err := tr.CreateOrg(OrgInput{Name: "A", TenantID: "tenant-a"})
	require.NoError(t, err)
	_, err = tr.CreateOrg(OrgInput{Name: "B"})
	require.NoError(t, err)
	d := tr.Snapshot().Dump()

	loaded := New()
	require.NoError(t, loaded.Load(d))
	assert.Equal(t, d, loaded.Snapshot().Dump())
	got := loaded.OrgsByTenant("tenant-a")
	require.Len(t, got, 1)
	assert.Equal(t, a.ID, got[0].ID)

	// A stored record with a bad tenant id is refused.
	d.Orgs[0].TenantID = "bad id"
	err = New().Load(d)
	require.ErrorIs(t, err, ErrInvalidArgument)
}

func TestOrgTenantExportImport(t *testing.T) {
	tr := newTestTree(t)
	a, err := tr.CreateOrg(OrgInput{Name: "A", Code: "a", TenantID: "tenant-a"})
	require.NoError(t, err)
	_, err = tr.AddNode(NodeInput{ParentID: a.RootID, Name: "child"})
	require.NoError(t, err)
	_, err = tr.CreateOrg(OrgInput{Name: "B", Code: "b"})
	require.NoError(t, err)

	var first bytes.Buffer
	require.NoError(t, tr.ExportJSON(&first, "", ExportOptions{OmitPaths: true}))
	assert.Equal(t, 1, strings.Count(first.String(), `"tenantId":"tenant-a"`), "on the root only")
	assert.Equal(t, 1, strings.Count(first.String(), `"tenantId"`), "an org without a tenant writes none")
	one, err := tr.ExportOrg(a.ID, ExportOptions{})
	require.NoError(t, err)
	assert.Equal(t, "tenant-a", one.TenantID)

	// export → import → export: identical modulo ids and times.
	other := newTestTree(t, WithIDGenerator(SequentialIDs("other")))
	orgs, err := other.ImportJSON(bytes.NewReader(first.Bytes()), ImportOptions{})
	require.NoError(t, err)
	require.Len(t, orgs, 2)
	assert.Equal(t, "tenant-a", orgs[0].TenantID)
	assert.Empty(t, orgs[1].TenantID)
	assert.Equal(t, []Org{orgs[0]}, other.OrgsByTenant("tenant-a"))
	checked(t, other)
	var second bytes.Buffer
	require.NoError(t, other.ExportJSON(&second, "", ExportOptions{OmitPaths: true}))
	strip := func(roots []*TreeNode) []*TreeNode {
		for _, r := range roots {
			stack := []*TreeNode{r}
			for len(stack) > 0 {
				n := stack[len(stack)-1]
				stack = append(stack[:len(stack)-1], n.Children...)
				n.ID, n.OrgID, n.Path = "", "", nil
				n.CreatedAt, n.UpdatedAt = time.Time{}, time.Time{}
			}
		}
		return roots
	}
	r1, _, err := ParseTreeJSON(bytes.NewReader(first.Bytes()), DefaultLimits)
	require.NoError(t, err)
	r2, _, err := ParseTreeJSON(bytes.NewReader(second.Bytes()), DefaultLimits)
	require.NoError(t, err)
	assert.Equal(t, strip(r1), strip(r2))

	// Under an existing node a root's tenant id has no org to go to.
	_, err = other.ImportJSON(strings.NewReader(`{"name":"sub","tenantId":"ignored"}`), ImportOptions{ParentID: orgs[1].RootID})
	require.NoError(t, err)
	assert.Empty(t, other.OrgsByTenant("ignored"))

	// A bad tenant id is refused with its JSON path, and nothing is imported.
	unchanged(t, other, ErrInvalidArgument, func() error {
		_, err := other.ImportJSON(strings.NewReader(`[{"name":"ok"},{"name":"x","tenantId":"bad id"}]`), ImportOptions{})
		if err != nil {
			assert.Contains(t, err.Error(), "$[1].tenantId")
		}
		return err
	})
	unchanged(t, other, ErrInvalidJSON, func() error {
		_, err := other.ImportJSON(strings.NewReader(`{"name":"x","tenantId":7}`), ImportOptions{})
		return err
	})
}

package persist

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

// An org's tenant id is part of its stored record: it survives a reopen,
// whether the org was created or imported.
func TestTenantIDSurvivesReopen(t *testing.T) {
	db := mustOpen(t, tempPath(t))
	created, err := db.Tree().CreateOrg(orgtree.OrgInput{Name: "Created", TenantID: "tenant-1"})
	require.NoError(t, err)
	imported, err := db.Tree().Import([]*orgtree.TreeNode{{Name: "Imported", TenantID: "tenant-1"}}, orgtree.ImportOptions{})
	require.NoError(t, err)
	_, err = db.Tree().CreateOrg(orgtree.OrgInput{Name: "No tenant"})
	require.NoError(t, err)
	want := db.Tree().Snapshot().Dump()

	db = reopen(t, db)
	defer func() { require.NoError(t, db.Close()) }()
	assert.Equal(t, want, db.Tree().Snapshot().Dump())
	got := db.Tree().OrgsByTenant("tenant-1")
	require.Len(t, got, 2)
	assert.Equal(t, created.ID, got[0].ID)
	assert.Equal(t, imported[0].ID, got[1].ID)
}

package orgtree

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestActorTravelsWithChangeSet(t *testing.T) {
	var got []*ChangeSet
	tr := newTestTree(t, WithCommitHook(func(cs *ChangeSet) error { got = append(got, cs); return nil }))
	require.NoError(t, tr.UpdateAs("admin@acme", "quarterly reorg", func(tx *Tx) error {
		_, err := tx.CreateOrg(OrgInput{Name: "Acme"})
		return err
	}))
	_, err := tr.CreateOrg(OrgInput{Name: "Beta"})
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "admin@acme", got[0].Actor)
	assert.Equal(t, "quarterly reorg", got[0].Reason)
	assert.Empty(t, got[1].Actor, "an actor does not outlive its transaction")

	for _, bad := range []string{"a\nb", strings.Repeat("x", MaxActorLen+1), "\xff"} {
		err := tr.UpdateAs(bad, "", func(*Tx) error { t.Fatal("ran with a bad actor"); return nil })
		assert.True(t, errors.Is(err, ErrInvalidArgument), "%q: %v", bad, err)
	}
}

func TestChangeSetChangesInsideHook(t *testing.T) {
	var kept *ChangeSet
	var seen []*Changes
	tr := newTestTree(t, WithCommitHook(func(cs *ChangeSet) error {
		c, err := cs.Changes()
		if err != nil {
			return err
		}
		seen, kept = append(seen, c), cs
		return nil
	}))
	org, err := tr.CreateOrg(OrgInput{Name: "Acme"})
	require.NoError(t, err)
	n, err := tr.AddNode(NodeInput{ParentID: org.RootID, Name: "dev"})
	require.NoError(t, err)
	_, err = tr.UpdateNode(n.ID, NodeUpdate{Name: new("engineering")})
	require.NoError(t, err)
	require.Len(t, seen, 3)
	last := seen[2]
	require.Len(t, last.Nodes, 1)
	assert.Equal(t, Updated, last.Nodes[0].Kind)
	assert.True(t, last.Nodes[0].Renamed)
	assert.Equal(t, "dev", last.Nodes[0].Old.Name)
	assert.Equal(t, "engineering", last.Nodes[0].New.Name)

	_, err = kept.Changes()
	assert.ErrorIs(t, err, ErrInvalidArgument, "a kept ChangeSet does not keep versions alive")
}

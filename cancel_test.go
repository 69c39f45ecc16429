package orgtree

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countdownCtx is a context that can end (its Done is not nil) and ends
// after its Err has been asked `left` times: a read under it stops at a
// known look, whatever the machine's speed.
type countdownCtx struct {
	context.Context
	left  atomic.Int64
	looks atomic.Int64
}

func newCountdown(left int) *countdownCtx {
	c := &countdownCtx{Context: context.Background()}
	c.left.Store(int64(left))
	return c
}

var never = make(chan struct{})

func (c *countdownCtx) Done() <-chan struct{} { return never }
func (c *countdownCtx) Err() error {
	c.looks.Add(1)
	if c.left.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// cancelTree is a tree of n nodes under one org (fan-out 8), every name
// containing "team", one user in each node.
func cancelTree(t testing.TB, n int) (*Tree, Org) {
	t.Helper()
	tr := New(WithLimits(Limits{MaxChildren: -1}))
	var org Org
	require.NoError(t, tr.Update(func(tx *Tx) error {
		var err error
		if org, err = tx.CreateOrg(OrgInput{Name: "team root"}); err != nil {
			return err
		}
		ids := []string{org.RootID}
		for i := 1; i < n; i++ {
			nd, err := tx.AddNode(NodeInput{ParentID: ids[(i-1)/8], Name: fmt.Sprintf("team %d", i)})
			if err != nil {
				return err
			}
			ids = append(ids, nd.ID)
		}
		for i, id := range ids {
			u, err := tx.CreateUser(User{Name: fmt.Sprintf("user %d", i)})
			if err != nil {
				return err
			}
			if err := tx.AddMembers(id, u.ID); err != nil {
				return err
			}
		}
		return nil
	}))
	return tr, org
}

// cancellable is every read that takes a context, run on tr; it returns
// whether the result is empty (no partial result) alongside the error.
func cancellable(tr *Tree, org Org, older Snapshot) map[string]func(ctx context.Context) (empty bool, err error) {
	snap := tr.Snapshot()
	return map[string]func(ctx context.Context) (bool, error){
		"SearchContext all hits": func(ctx context.Context) (bool, error) {
			h, err := snap.SearchContext(ctx, "team", SearchOptions{})
			return h == nil, err
		},
		"SearchContext limited": func(ctx context.Context) (bool, error) {
			h, err := snap.SearchContext(ctx, "team", SearchOptions{Limit: 4000})
			return h == nil, err
		},
		// Page 20 is found by walking the user order, page 40 (past
		// the middle) by sorting the subtree's members.
		"ListMembersContext subtree, page 20": func(ctx context.Context) (bool, error) {
			p, err := snap.ListMembersContext(ctx, org.RootID, ListMembersOptions{IncludeDescendants: true, Page: 20, Limit: 100})
			return p.List == nil && p.TotalCount == 0, err
		},
		"ListMembersContext subtree, page 40": func(ctx context.Context) (bool, error) {
			p, err := snap.ListMembersContext(ctx, org.RootID, ListMembersOptions{IncludeDescendants: true, Page: 40, Limit: 100})
			return p.List == nil && p.TotalCount == 0, err
		},
		"ChildrenContext whole tree": func(ctx context.Context) (bool, error) {
			k, err := snap.ChildrenContext(ctx, org.RootID, 1<<30)
			return k == nil, err
		},
		"ExportOrgContext": func(ctx context.Context) (bool, error) {
			x, err := snap.ExportOrgContext(ctx, org.ID, ExportOptions{})
			return x == nil, err
		},
		"ExportAllContext": func(ctx context.Context) (bool, error) {
			x, err := snap.ExportAllContext(ctx, ExportOptions{})
			return x == nil, err
		},
		"ExportJSONContext": func(ctx context.Context) (bool, error) {
			err := snap.ExportJSONContext(ctx, io.Discard, org.ID, ExportOptions{})
			return true, err
		},
		"ExportJSONContext all": func(ctx context.Context) (bool, error) {
			err := snap.ExportJSONContext(ctx, io.Discard, "", ExportOptions{})
			return true, err
		},
		"DiffContext": func(ctx context.Context) (bool, error) {
			c, err := DiffContext(ctx, older, snap)
			return c == nil, err
		},
	}
}

// TestCancelledReads: every context-taking read stops with an error that
// wraps the context's, and no partial result — whether the context ended
// before it started or ends after its first look, deep in its loops.
func TestCancelledReads(t *testing.T) {
	tr, org := cancelTree(t, 5000)
	older := New().Snapshot() // unrelated and empty: Diff compares everything
	for name, read := range cancellable(tr, org, older) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			empty, err := read(ctx)
			require.ErrorIs(t, err, context.Canceled)
			assert.True(t, empty, "a partial result")
			assert.Contains(t, err.Error(), "stopped")

			dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			defer dcancel()
			_, err = read(dctx)
			require.ErrorIs(t, err, context.DeadlineExceeded)

			// Ends at its second look: mid-way, after at least one loop
			// of cancelEvery steps.
			cd := newCountdown(1)
			empty, err = read(cd)
			require.ErrorIs(t, err, context.Canceled)
			assert.True(t, empty, "a partial result")
			assert.EqualValues(t, 2, cd.looks.Load(), "looked again after it had stopped")

			// A live context changes nothing.
			empty, err = read(newCountdown(1 << 40))
			require.NoError(t, err)
			if name != "ExportJSONContext" && name != "ExportJSONContext all" {
				assert.False(t, empty)
			}
		})
	}
}

// TestContextReadsEqual: under a live context each read answers what its
// variant without one answers.
func TestContextReadsEqual(t *testing.T) {
	tr, org := cancelTree(t, 3000)
	older := tr.Snapshot()
	_, err := tr.AddNode(NodeInput{ParentID: org.RootID, Name: "team new"})
	require.NoError(t, err)
	snap := tr.Snapshot()
	live := newCountdown(1 << 40)

	for _, opt := range []SearchOptions{{}, {Limit: 7}, {Limit: 3000}, {OrgID: org.ID}} {
		want, err := snap.Search("team 1", opt)
		require.NoError(t, err)
		got, err := snap.SearchContext(live, "team 1", opt)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	for _, opt := range []ListMembersOptions{{IncludeDescendants: true}, {IncludeDescendants: true, Page: 20, Limit: 100}, {Limit: 5}} {
		want, err := snap.ListMembers(org.RootID, opt)
		require.NoError(t, err)
		got, err := snap.ListMembersContext(live, org.RootID, opt)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	for _, depth := range []int{1, 2, 3, 100} {
		want, err := snap.Children(org.RootID, depth)
		require.NoError(t, err)
		got, err := snap.ChildrenContext(live, org.RootID, depth)
		require.NoError(t, err)
		assert.Equal(t, want, got)
	}
	wantOrg, err := snap.ExportOrg(org.ID, ExportOptions{})
	require.NoError(t, err)
	gotOrg, err := snap.ExportOrgContext(live, org.ID, ExportOptions{})
	require.NoError(t, err)
	assert.Equal(t, wantOrg, gotOrg)
	gotAll, err := snap.ExportAllContext(live, ExportOptions{OmitMembers: true})
	require.NoError(t, err)
	assert.Equal(t, snap.ExportAll(ExportOptions{OmitMembers: true}), gotAll)
	var want, got bytes.Buffer
	require.NoError(t, snap.ExportJSON(&want, "", ExportOptions{}))
	require.NoError(t, snap.ExportJSONContext(live, &got, "", ExportOptions{}))
	assert.Equal(t, want.String(), got.String())
	wantDiff, err := Diff(older, snap)
	require.NoError(t, err)
	gotDiff, err := DiffContext(live, older, snap)
	require.NoError(t, err)
	assert.Equal(t, wantDiff, gotDiff)
	assert.Len(t, gotDiff.Nodes, 1)
}

// TestChildrenDepthPrunes: Children down to depth levels reads those
// levels only, so a root's direct children cost its children, not its
// tree: counted in looks at the context.
func TestChildrenDepthPrunes(t *testing.T) {
	tr, org := cancelTree(t, 5000)
	cd := newCountdown(1 << 40)
	kids, err := tr.ChildrenContext(cd, org.RootID, 1)
	require.NoError(t, err)
	assert.Len(t, kids, 8)
	assert.EqualValues(t, 1, cd.looks.Load(), "a walk of the subtree")
	cd = newCountdown(1 << 40)
	all, err := tr.ChildrenContext(cd, org.RootID, 1<<30)
	require.NoError(t, err)
	assert.Len(t, all, 4999)
	assert.GreaterOrEqual(t, cd.looks.Load(), int64(4999/cancelEvery))
}

// TestCancelStopsSoon: a search for every hit of a large tree, cancelled
// from another goroutine, returns soon after the cancel.
func TestCancelStopsSoon(t *testing.T) {
	tr, _ := cancelTree(t, 20000)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var took time.Duration
	go func() {
		for {
			_, err := tr.SearchContext(ctx, "team", SearchOptions{})
			if err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	cancel()
	err := <-done
	took = time.Since(start)
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
	t.Logf("stopped %s after the cancel", took)
	assert.Less(t, took, 500*time.Millisecond)
}

package orgtree

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestWatchWakesOnRelevantWritesOnly(t *testing.T) {
	s := newSample(t)
	tr := s.tr
	snap := tr.Snapshot()
	type watch struct {
		name string
		ch   <-chan struct{}
	}
	watch1 := func(name string, tg WatchTarget) watch { return watch{name, tr.WatchCh(snap, tg)} }
	cases := []struct {
		name   string
		write  func() error
		woken  []WatchTarget
		asleep []WatchTarget
	}{
		{"rename dev", func() error { _, err := tr.UpdateNode(s.dev, NodeUpdate{Name: Ptr("eng")}); return err },
			[]WatchTarget{WatchNode(s.dev), WatchChildren(s.root), WatchSearch(s.org.ID), WatchSearch("")},
			[]WatchTarget{WatchNode(s.ops), WatchChildren(s.ops), WatchMembers(s.ops, true), WatchUser(s.alice)}},
		{"member joins backend", func() error { return tr.AddMembers(s.backend, s.carol) },
			[]WatchTarget{WatchMembers(s.backend, false), WatchMembers(s.dev, true), WatchMembers(s.root, true), WatchUser(s.carol)},
			[]WatchTarget{WatchMembers(s.ops, false), WatchMembers(s.ops, true), WatchMembers(s.dev, false), WatchUser(s.bob)}},
		{"user renamed", func() error { _, err := tr.UpdateUser(s.alice, UserUpdate{Name: Ptr("Alice")}); return err },
			[]WatchTarget{WatchUser(s.alice), WatchMembers(s.backend, false), WatchMembers(s.root, true)},
			[]WatchTarget{WatchUser(s.bob), WatchMembers(s.ops, false), WatchSearch(s.org.ID), WatchNode(s.backend)}},
		{"move ops under dev", func() error { _, err := tr.MoveNode(s.ops, s.dev); return err },
			[]WatchTarget{WatchNode(s.ops), WatchChildren(s.dev), WatchChildren(s.root), WatchMembers(s.dev, true)},
			[]WatchTarget{WatchNode(s.backend), WatchMembers(s.backend, true), WatchUser(s.alice)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			snap = tr.Snapshot()
			var woken, asleep []watch
			for _, tg := range c.woken {
				woken = append(woken, watch1(fmt.Sprint(tg), tg))
			}
			for _, tg := range c.asleep {
				asleep = append(asleep, watch1(fmt.Sprint(tg), tg))
			}
			for _, w := range append(woken, asleep...) {
				require.False(t, isClosed(w.ch), "%s closed before the write", w.name)
			}
			require.NoError(t, c.write())
			for _, w := range woken {
				assert.True(t, isClosed(w.ch), "%s not woken", w.name)
			}
			for _, w := range asleep {
				assert.False(t, isClosed(w.ch), "%s woken by an unrelated write", w.name)
			}
			// A watch asked for on the older version after the write
			// answers at once for what changed, and waits for the rest.
			for _, tg := range c.woken {
				assert.True(t, isClosed(tr.WatchCh(snap, tg)), "stale %v not closed", tg)
			}
			for _, tg := range c.asleep {
				assert.False(t, isClosed(tr.WatchCh(snap, tg)), "stale %v closed", tg)
			}
		})
	}
}

func TestWatchRollbackAndForeignSnapshots(t *testing.T) {
	s := newSample(t)
	before := s.tr.Snapshot()
	_, err := s.tr.UpdateNode(s.ops, NodeUpdate{Name: Ptr("x")})
	require.NoError(t, err)
	ch := s.tr.WatchCh(s.tr.Snapshot(), WatchNode(s.backend))
	require.False(t, isClosed(ch))
	require.NoError(t, s.tr.Rollback(before))
	assert.True(t, isClosed(ch), "a rollback wakes every watcher")
	assert.Zero(t, s.tr.Watching())

	// Replace puts in a version not built from the watched one.
	ch = s.tr.WatchCh(s.tr.Snapshot(), WatchNode(s.backend))
	require.NoError(t, s.tr.Replace(s.tr.Snapshot().Dump()))
	assert.True(t, isClosed(ch), "a replace wakes every watcher")
	assert.Zero(t, s.tr.Watching())

	other := newSample(t)
	assert.True(t, isClosed(s.tr.WatchCh(other.tr.Snapshot(), WatchNode(s.backend))))
	assert.True(t, isClosed(s.tr.WatchCh(Snapshot{}, WatchNode(s.backend))))
	require.NoError(t, s.tr.Update(func(tx *Tx) error {
		assert.True(t, isClosed(s.tr.WatchCh(tx.Snapshot, WatchNode(s.backend))), "an uncommitted version")
		return nil
	}))
}

// TestWatchNoLeak: watchers that give up leave no goroutine behind, and
// their channels go once what they watched changes.
func TestWatchNoLeak(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := newSample(t)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+i%5)*time.Millisecond)
			defer cancel()
			ws := s.tr.Watch(s.tr.Snapshot(), WatchNode(s.dev), WatchMembers(s.root, true), WatchSearch(""))
			_ = ws.Watch(ctx)
		}()
	}
	wg.Wait()
	assert.Equal(t, 3, s.tr.Watching(), "one channel per target, shared")
	require.NoError(t, s.tr.AddMembers(s.dev, s.alice))
	assert.Zero(t, s.tr.Watching(), "closed channels are dropped")
}

// TestWatchNeverMissesAWrite: readers that read, watch and wait see every
// write of a busy writer in the end, under the race detector too.
func TestWatchNeverMissesAWrite(t *testing.T) {
	s := newSample(t)
	const writes = 300
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for {
				snap := s.tr.Snapshot()
				n, err := snap.Node(s.ops)
				if !assert.NoError(t, err) {
					return
				}
				if n.Name == fmt.Sprint("v", writes) {
					return
				}
				if err := s.tr.Watch(snap, WatchNode(s.ops)).Watch(ctx); err != nil {
					t.Errorf("reader stuck at %q: %v", n.Name, err)
					return
				}
			}
		}()
	}
	for i := 1; i <= writes; i++ {
		_, err := s.tr.UpdateNode(s.ops, NodeUpdate{Name: Ptr(fmt.Sprint("v", i))})
		require.NoError(t, err)
		if i%3 == 0 {
			_, err := s.tr.UpdateNode(s.frontend, NodeUpdate{Order: Ptr(i)})
			require.NoError(t, err)
		}
	}
	wg.Wait()
}

func TestWatchSetContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, WatchSet{}.Watch(ctx), context.Canceled)
	ws := WatchSet{}
	ws.Add(nil)
	ws.Add(closedCh)
	assert.NoError(t, ws.Watch(context.Background()))
}

func TestWatchAll(t *testing.T) {
	s := newSample(t)
	snap := s.tr.Snapshot()
	ch := s.tr.WatchCh(snap, WatchAll())
	require.False(t, isClosed(ch))
	_, err := s.tr.UpdateUser(s.bob, UserUpdate{Phone: Ptr("1")})
	require.NoError(t, err)
	assert.True(t, isClosed(ch))
	assert.True(t, isClosed(s.tr.WatchCh(snap, WatchAll())), "stale")
	assert.False(t, isClosed(s.tr.WatchCh(s.tr.Snapshot(), WatchAll())))
}

package orgtree

import (
	"context"
	"fmt"
	"reflect"
	"sync"
)

// Watching a read, in the style of go-memdb's WatchSet and statedb's watch
// channels: a reader that looked at something in a version asks for a
// channel that is closed once a newer version may have changed it, then
// blocks on the channel (alone, or with others in a WatchSet) and reads
// again. A channel can close for a change that leaves the answer as it was
// (it is closed per record touched, not per answer), never the reverse: no
// change to what the target covers goes unnoticed.
//
// The engine starts no goroutine for this. The writer closes the channels
// of what it changed as it publishes a version; a channel is shared by
// every watcher of one target and dropped once closed, so a watcher that
// goes away leaves nothing running, and the registry holds at most one
// channel per live target (a deleted node's targets are closed with it).

// WatchTarget names what a read looked at; make one with WatchNode,
// WatchChildren, WatchMembers, WatchUser, WatchOrg or WatchSearch.
type WatchTarget struct {
	kind watchKind
	id   string
}

type watchKind uint8

const (
	wNode     watchKind = iota + 1 // the node's record (fields, parent, grants)
	wChildren                      // its direct children: which, their order and their records
	wMembers                       // its direct members and their user records
	wSubtree                       // members of it and all its descendants
	wUser                          // a user's record and memberships
	wOrg                           // an org's record
	wSearch                        // any node of an org ("" = of all orgs): names, paths, presence
	wAll                           // any change at all
)

// WatchNode covers Node(id): its stored fields, parent and grants.
func WatchNode(id string) WatchTarget { return WatchTarget{wNode, id} }

// WatchChildren covers the direct children of node id: which they are,
// their order and their records.
func WatchChildren(id string) WatchTarget { return WatchTarget{wChildren, id} }

// WatchMembers covers the members of node id (with includeDescendants, of
// its whole subtree) and those users' records.
func WatchMembers(id string, includeDescendants bool) WatchTarget {
	if includeDescendants {
		return WatchTarget{wSubtree, id}
	}
	return WatchTarget{wMembers, id}
}

// WatchUser covers User(id) and its memberships.
func WatchUser(id string) WatchTarget { return WatchTarget{wUser, id} }

// WatchOrg covers Org(id): its record (which changes with its node count).
func WatchOrg(id string) WatchTarget { return WatchTarget{wOrg, id} }

// WatchAll covers the whole tree: its channel closes at the next commit
// (what a change feed waits on before it diffs).
func WatchAll() WatchTarget { return WatchTarget{kind: wAll} }

// WatchSearch covers Search within org orgID ("" for a search of all orgs):
// any node of the org added, removed, moved or changed.
func WatchSearch(orgID string) WatchTarget { return WatchTarget{wSearch, orgID} }

// watchers is a tree's registry of open channels, guarded by its own lock
// (readers registering never wait for the writer's).
type watchers struct {
	mu      sync.Mutex
	chans   map[WatchTarget]chan struct{}
	subtree int // open wSubtree channels: the writer walks ancestors only when some exist
}

// closedCh is handed out for a target already changed.
var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// WatchCh returns a channel that is closed once a version newer than s
// changes what target covers. If that already happened (s is not the
// newest version and a later one touched the target), the channel is
// closed already. s must be a committed version of this tree (from
// Snapshot); for any other snapshot the channel is closed at once, as
// nothing says how it relates to this tree's history.
func (t *Tree) WatchCh(s Snapshot, target WatchTarget) <-chan struct{} {
	w := t.watch()
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := t.cur.Load()
	if s.st == nil || s.st.cfg != &t.cfg || !s.st.published {
		return closedCh
	}
	if s.st != cur {
		// Was the target touched between s and now? The vectors are
		// compared by shared structure, so this costs what changed.
		if _, hit := touched(s.st, cur, nil, &target, w.subtree > 0 || target.kind == wSubtree)[target]; hit {
			return closedCh
		}
	}
	if c, ok := w.chans[target]; ok {
		return c
	}
	if w.chans == nil {
		w.chans = make(map[WatchTarget]chan struct{})
	}
	c := make(chan struct{})
	w.chans[target] = c
	if target.kind == wSubtree {
		w.subtree++
	}
	return c
}

// Watch returns a WatchSet of the channels of several targets read in s.
func (t *Tree) Watch(s Snapshot, targets ...WatchTarget) WatchSet {
	ws := make(WatchSet, len(targets))
	for _, tg := range targets {
		ws.Add(t.WatchCh(s, tg))
	}
	return ws
}

// Watching reports how many channels are open (for tests and metrics).
func (t *Tree) Watching() int {
	w := t.watch()
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.chans)
}

// watch returns the tree's registry, made on first use (a tree nobody
// watches pays one pointer).
func (t *Tree) watch() *watchers {
	if w := t.watchReg.Load(); w != nil {
		return w
	}
	t.watchReg.CompareAndSwap(nil, &watchers{})
	return t.watchReg.Load()
}

// notifyCommit closes the channels of what tx changed; the writer calls it
// right after publishing tx's version.
func (t *Tree) notifyCommit(tx *Tx) {
	w := t.watchReg.Load()
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.chans) == 0 {
		return
	}
	for tg := range touched(tx.base, tx.st, tx.dirty, nil, w.subtree > 0) {
		w.closeTarget(tg)
	}
}

// notifyAll closes every channel: the newest version was replaced by one
// not built from it (Rollback, Load, Replace).
func (t *Tree) notifyAll() {
	w := t.watchReg.Load()
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for tg := range w.chans {
		w.closeTarget(tg)
	}
}

func (w *watchers) closeTarget(tg WatchTarget) {
	if c, ok := w.chans[tg]; ok {
		close(c)
		delete(w.chans, tg)
		if tg.kind == wSubtree {
			w.subtree--
		}
	}
}

// touched lists the targets that the records changed from a to b touch.
// With dirty, the changed records are the ones it lists (a commit);
// without, they are found by diffing a and b. With only, the walk stops as
// soon as that target is found. subtree asks for wSubtree targets too
// (they need walks up to the root).
func touched(a, b *state, dirty *dirtySet, only *WatchTarget, subtree bool) map[WatchTarget]struct{} {
	out := map[WatchTarget]struct{}{{kind: wAll}: {}}
	if a == b {
		return map[WatchTarget]struct{}{}
	}
	done := func() bool {
		if only == nil {
			return false
		}
		_, ok := out[*only]
		return ok
	}
	add := func(k watchKind, id string) { out[WatchTarget{k, id}] = struct{}{} }
	ancestors := func(st *state, n nid) {
		for r := st.node(n); r != nil; r = st.node(r.parent) {
			add(wSubtree, r.id)
			if r.parent == 0 {
				break
			}
		}
	}
	node := func(st *state, n nid, r *nodeRec) {
		if r == nil {
			return
		}
		add(wNode, r.id)
		add(wChildren, r.id)
		add(wMembers, r.id)
		add(wSearch, r.orgID)
		add(wSearch, "")
		if r.parentID != "" {
			add(wChildren, r.parentID)
		}
		if subtree {
			ancestors(st, n)
		}
	}
	user := func(st *state, r *userRec) {
		if r == nil {
			return
		}
		add(wUser, r.id)
		for _, n := range r.depts {
			if nr := st.node(n); nr != nil {
				add(wMembers, nr.id)
				if subtree {
					ancestors(st, n)
				}
			}
		}
	}
	if dirty != nil {
		for n := range dirty.nodes.all() {
			node(a, n, a.node(n))
			node(b, n, b.node(n))
		}
		for u := range dirty.users.all() {
			user(a, a.user(u))
			user(b, b.user(u))
		}
		for id := range dirty.orgs.all() {
			add(wOrg, id)
		}
		return out
	}
	if a.cfg != b.cfg {
		// Not one tree's history: only the full comparison would do.
		return out
	}
	b.nodes.Diff(a.nodes, samePtr[nodeRec], func(i int, o, n *nodeRec, _, _ bool) bool {
		node(a, nid(i), o)
		node(b, nid(i), n)
		return !done()
	})
	if done() {
		return out
	}
	b.users.Diff(a.users, samePtr[userRec], func(_ int, o, n *userRec, _, _ bool) bool {
		user(a, o)
		user(b, n)
		return !done()
	})
	b.orgs.Diff(a.orgs, samePtr[orgRec], func(id string, _, _ *orgRec, _, _ bool) bool {
		add(wOrg, id)
		return !done()
	})
	return out
}

// WatchSet is a set of watch channels, as go-memdb's: add the channels of
// everything a read looked at, then wait for the first to close.
type WatchSet map[<-chan struct{}]struct{}

// Add puts ch in the set (a nil channel is ignored).
func (ws WatchSet) Add(ch <-chan struct{}) {
	if ch != nil {
		ws[ch] = struct{}{}
	}
}

// maxWatchSet is the most channels Watch waits on (reflect.Select takes at
// most 65536 cases, one of them the context's).
const maxWatchSet = 65535

// Watch blocks until a channel of the set is closed (nil) or ctx is done
// (its error). It waits in the caller's goroutine and starts none. An
// empty set waits for ctx only. A set larger than 65535 channels is
// refused with ErrLimitExceeded.
func (ws WatchSet) Watch(ctx context.Context) error {
	if len(ws) > maxWatchSet {
		return fmt.Errorf("orgtree: watch: %d channels, at most %d: %w", len(ws), maxWatchSet, ErrLimitExceeded)
	}
	for ch := range ws {
		select {
		case <-ch:
			return nil // already closed: no need to build the select
		default:
		}
	}
	cases := make([]reflect.SelectCase, 0, len(ws)+1)
	cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
	for ch := range ws {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	if i, _, _ := reflect.Select(cases); i == 0 {
		return ctx.Err()
	}
	return nil
}

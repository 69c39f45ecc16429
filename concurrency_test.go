package orgtree

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

var linRounds = flag.Int("lin.rounds", 60, "rounds of TestLinearizable")

// TestConcurrentReadersAndWriters runs writers (moves, deletes, adds,
// member changes, imports) against readers that check every snapshot they
// take: Check passes, two exports of it are identical, search and subtree
// listings agree with its counts. Run it under -race.
func TestConcurrentReadersAndWriters(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := newSample(t, WithLimits(Limits{MaxDepth: -1}))
	tr := s.tr
	iterations := size(120, 300)
	if testing.Short() {
		iterations = 80
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	// Writers.
	for w := range 3 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range iterations {
				d := tr.Snapshot().Dump()
				node := func() string { return d.Nodes[r.IntN(len(d.Nodes))].ID }
				user := func() string { return d.Users[r.IntN(len(d.Users))].ID }
				var err error
				switch r.IntN(6) {
				case 0:
					_, err = tr.MoveNode(node(), node())
				case 1:
					_, err = tr.AddNode(NodeInput{ParentID: node(), Name: fmt.Sprintf("w%d", w)})
				case 2:
					if n := node(); n != s.root {
						err = tr.DeleteNode(n, Cascade)
					}
				case 3:
					err = tr.AddMembers(node(), user())
				case 4:
					err = tr.RemoveMembers(node(), user())
				case 5:
					doc := `[{"name":"imported","children":[{"name":"a"},{"name":"b","members":[{"id":"` + s.alice + `"}]}]}]`
					_, err = tr.ImportJSON(strings.NewReader(doc), ImportOptions{ParentID: s.root})
				}
				if err != nil && !isExpectedRefusal(err) {
					report(fmt.Errorf("writer %d: %w", w, err))
					return
				}
			}
		})
	}
	// Readers.
	for rd := range 3 {
		wg.Go(func() {
			for range iterations {
				snap := tr.Snapshot()
				if err := snap.Check(); err != nil {
					report(fmt.Errorf("reader %d: %w", rd, err))
					return
				}
				var a, b bytes.Buffer
				if err := snap.ExportJSON(&a, "", ExportOptions{}); err != nil {
					report(err)
					return
				}
				if _, err := snap.Search("imp", SearchOptions{}); err != nil {
					report(err)
					return
				}
				total, _ := snap.MemberCount(s.root, true)
				page, err := snap.ListMembers(s.root, ListMembersOptions{IncludeDescendants: true, Limit: 1000})
				if err != nil || page.TotalCount != total {
					report(fmt.Errorf("reader %d: listing says %d members, count %d (%v)", rd, page.TotalCount, total, err))
					return
				}
				if err := snap.ExportJSON(&b, "", ExportOptions{}); err != nil {
					report(err)
					return
				}
				if !bytes.Equal(a.Bytes(), b.Bytes()) {
					report(fmt.Errorf("reader %d: a snapshot changed under it", rd))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	require.NoError(t, tr.Check())
}

// isExpectedRefusal tells the refusals random writers provoke (a node
// deleted by another writer, a cycle) from real failures.
func isExpectedRefusal(err error) bool {
	for _, e := range []error{ErrNotFound, ErrCycle, ErrRootNode, ErrNotMember, ErrLimitExceeded} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// The linearizability check: clients run moves, member adds and removes,
// and reads of parents and subtree member counts concurrently on a
// six-node tree; porcupine searches for a sequential order of the recorded
// calls that the model below explains.

const linNodes, linUsers = 6, 3

type linState struct {
	parent  [linNodes]int8 // -1 for the root
	members [linNodes][linUsers]bool
}

type linInput struct {
	op        string // move, add, remove, parent, count
	node, arg int    // arg: new parent or user
}

func (s linState) under(anc, n int) bool {
	for ; n >= 0; n = int(s.parent[n]) {
		if n == anc {
			return true
		}
	}
	return false
}

// count is the number of distinct users in the subtree of n.
func (s linState) count(n int) int {
	seen := [linUsers]bool{}
	c := 0
	for m := range linNodes {
		if !s.under(n, m) {
			continue
		}
		for u := range linUsers {
			if s.members[m][u] && !seen[u] {
				seen[u] = true
				c++
			}
		}
	}
	return c
}

func (s linState) step(in linInput) (string, linState) {
	switch in.op {
	case "move":
		switch {
		case s.parent[in.node] < 0:
			return "root", s
		case s.under(in.node, in.arg):
			return "cycle", s
		}
		s.parent[in.node] = int8(in.arg)
		return "ok", s
	case "add":
		s.members[in.node][in.arg] = true
		return "ok", s
	case "remove":
		if !s.members[in.node][in.arg] {
			return "notmember", s
		}
		s.members[in.node][in.arg] = false
		return "ok", s
	case "parent":
		return fmt.Sprint(s.parent[in.node]), s
	default:
		return fmt.Sprint(s.count(in.node)), s
	}
}

var linModel = porcupine.Model{
	Init: func() any {
		return linState{parent: [linNodes]int8{-1, 0, 0, 1, 1, 2}}
	},
	Step: func(state, input, output any) (bool, any) {
		want, next := state.(linState).step(input.(linInput))
		return want == output.(string), next
	},
	Equal: func(a, b any) bool { return a.(linState) == b.(linState) },
}

// linClient runs one call on the engine and renders its outcome like the
// model does.
func linCall(tr *Tree, ids, users []string, in linInput) string {
	kind := func(err error) string {
		switch {
		case err == nil:
			return "ok"
		case errors.Is(err, ErrRootNode):
			return "root"
		case errors.Is(err, ErrCycle):
			return "cycle"
		case errors.Is(err, ErrNotMember):
			return "notmember"
		}
		return err.Error()
	}
	switch in.op {
	case "move":
		_, err := tr.MoveNode(ids[in.node], ids[in.arg])
		return kind(err)
	case "add":
		return kind(tr.AddMembers(ids[in.node], users[in.arg]))
	case "remove":
		return kind(tr.RemoveMembers(ids[in.node], users[in.arg]))
	case "parent":
		n, err := tr.Node(ids[in.node])
		if err != nil {
			return err.Error()
		}
		for i, id := range ids {
			if id == n.ParentID {
				return fmt.Sprint(i)
			}
		}
		return "-1"
	default:
		c, err := tr.MemberCount(ids[in.node], true)
		if err != nil {
			return err.Error()
		}
		return fmt.Sprint(c)
	}
}

func linTree(t *testing.T) (*Tree, []string, []string) {
	tr := newTestTree(t)
	org, err := tr.CreateOrg(OrgInput{Name: "root"})
	require.NoError(t, err)
	ids := []string{org.RootID}
	init := linModel.Init().(linState)
	for n := 1; n < linNodes; n++ {
		node, err := tr.AddNode(NodeInput{ParentID: ids[init.parent[n]], Name: fmt.Sprint("n", n)})
		require.NoError(t, err)
		ids = append(ids, node.ID)
	}
	var users []string
	for u := range linUsers {
		usr, err := tr.CreateUser(User{Name: fmt.Sprint("u", u)})
		require.NoError(t, err)
		users = append(users, usr.ID)
	}
	return tr, ids, users
}

// TestLinearizable records concurrent histories and checks each with
// porcupine against the sequential model.
func TestLinearizable(t *testing.T) {
	defer goleak.VerifyNone(t)
	rounds := *linRounds
	if testing.Short() {
		rounds = 15
	}
	ops := []string{"move", "move", "add", "remove", "parent", "count"}
	for round := range rounds {
		tr, ids, users := linTree(t)
		start := time.Now()
		var mu sync.Mutex
		var history []porcupine.Operation
		var wg sync.WaitGroup
		for c := range 4 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(round), uint64(c)))
				for range 12 {
					in := linInput{op: ops[r.IntN(len(ops))], node: r.IntN(linNodes)}
					switch in.op {
					case "move":
						in.arg = r.IntN(linNodes)
					case "add", "remove":
						in.arg = r.IntN(linUsers)
					}
					call := time.Since(start).Nanoseconds()
					out := linCall(tr, ids, users, in)
					ret := time.Since(start).Nanoseconds()
					mu.Lock()
					history = append(history, porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		require.True(t, porcupine.CheckOperations(linModel, history), "round %d: history is not linearizable", round)
	}
}

// TestLinearizabilityCheckerIsNotVacuous feeds porcupine histories that no
// sequential order explains and expects them refused.
func TestLinearizabilityCheckerIsNotVacuous(t *testing.T) {
	op := func(c int, in linInput, out string, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret}
	}
	// A move completes, and a later read still sees the old parent.
	stale := []porcupine.Operation{
		op(0, linInput{op: "move", node: 3, arg: 2}, "ok", 0, 10),
		op(1, linInput{op: "parent", node: 3}, "1", 20, 30),
	}
	require.False(t, porcupine.CheckOperations(linModel, stale))
	// A count that no interleaving of the adds produces.
	phantom := []porcupine.Operation{
		op(0, linInput{op: "add", node: 1, arg: 0}, "ok", 0, 10),
		op(1, linInput{op: "count", node: 0}, "2", 5, 15),
	}
	require.False(t, porcupine.CheckOperations(linModel, phantom))
	// The same shapes with honest outputs pass.
	require.True(t, porcupine.CheckOperations(linModel, []porcupine.Operation{
		op(0, linInput{op: "move", node: 3, arg: 2}, "ok", 0, 10),
		op(1, linInput{op: "parent", node: 3}, "2", 20, 30),
		op(0, linInput{op: "add", node: 1, arg: 0}, "ok", 40, 50),
		op(1, linInput{op: "count", node: 0}, "0", 45, 55), // concurrent: may go first
	}))
}

package replicate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/orgtree/orgtree"
)

// The linearizability check: clients bound to different replicas move
// departments, add and remove members, and read (after Sync) a parent, a
// department's members and a subtree's distinct member count, all at
// once; porcupine then searches for one sequential order of the recorded
// calls, each placed between its call and its return, that the model
// below (the small tree itself) explains.

var linRounds = flag.Int("replicate.linrounds", 3, "rounds of the replicated linearizability check (each a fresh tree)")

const linDepts, linUsers = 6, 3

// linState is the model: each department's parent and members.
type linState struct {
	parent  [linDepts]int8 // -1 for the root
	members [linDepts]uint8
}

// linInit: d0 the root; d1, d2 under it; d3, d4 under d1; d5 under d2;
// u0 in d3, u1 in d5, u2 in d1 and d4.
var linInit = linState{
	parent:  [linDepts]int8{-1, 0, 0, 1, 1, 2},
	members: [linDepts]uint8{0, 0b100, 0, 0b001, 0b100, 0b010},
}

type linOp uint8

const (
	linMove    linOp = iota // node under arg
	linAdd                  // user arg to node
	linRemove               // user arg from node
	linParent               // read: node's parent
	linMembers              // read: node's direct members
	linCount                // read: distinct members of node's subtree
)

var linOpNames = [...]string{"move", "add", "remove", "parent", "members", "count"}

type linInput struct {
	op        linOp
	node, arg int
}

func (in linInput) String() string {
	switch in.op {
	case linMove:
		return fmt.Sprintf("move d%d under d%d", in.node, in.arg)
	case linAdd, linRemove:
		return fmt.Sprintf("%s u%d in d%d", linOpNames[in.op], in.arg, in.node)
	}
	return fmt.Sprintf("%s of d%d", linOpNames[in.op], in.node)
}

// under reports whether n is anc or lies below it.
func (s linState) under(anc, n int) bool {
	for ; n >= 0; n = int(s.parent[n]) {
		if n == anc {
			return true
		}
	}
	return false
}

func (s linState) step(in linInput) (string, linState) {
	switch in.op {
	case linMove:
		switch {
		case s.parent[in.node] < 0:
			return "root", s
		case int(s.parent[in.node]) == in.arg:
			return "ok", s
		case s.under(in.node, in.arg):
			return "cycle", s
		}
		s.parent[in.node] = int8(in.arg)
		return "ok", s
	case linAdd:
		s.members[in.node] |= 1 << in.arg
		return "ok", s
	case linRemove:
		if s.members[in.node]&(1<<in.arg) == 0 {
			return "notmember", s
		}
		s.members[in.node] &^= 1 << in.arg
		return "ok", s
	case linParent:
		return fmt.Sprint(s.parent[in.node]), s
	case linMembers:
		return fmt.Sprintf("%03b", s.members[in.node]), s
	}
	var users uint8
	for m := range linDepts {
		if s.under(in.node, m) {
			users |= s.members[m]
		}
	}
	c := 0
	for ; users != 0; users &= users - 1 {
		c++
	}
	return fmt.Sprint(c), s
}

var linModel = porcupine.Model{
	Init: func() any { return linInit },
	Step: func(state, input, output any) (bool, any) {
		want, next := state.(linState).step(input.(linInput))
		return want == output.(string), next
	},
	Equal: func(a, b any) bool { return a.(linState) == b.(linState) },
	DescribeOperation: func(input, output any) string {
		return fmt.Sprintf("%v -> %v", input, output)
	},
	DescribeState: func(state any) string {
		s := state.(linState)
		var b strings.Builder
		for d := range linDepts {
			fmt.Fprintf(&b, "d%d<d%d %03b ", d, s.parent[d], s.members[d])
		}
		return b.String()
	},
}

func linDept(i int) string { return fmt.Sprint("d", i) }
func linUser(i int) string { return fmt.Sprint("u", i) }

// linOutcome renders a write's result like the model does; an error the
// model does not know is returned as is (the caller fails the test).
func linOutcome(err error) (string, error) {
	switch {
	case err == nil:
		return "ok", nil
	case errors.Is(err, orgtree.ErrRootNode):
		return "root", nil
	case errors.Is(err, orgtree.ErrCycle):
		return "cycle", nil
	case errors.Is(err, orgtree.ErrNotMember):
		return "notmember", nil
	}
	return "", err
}

// linRead answers a read from one snapshot.
func linRead(s orgtree.Snapshot, in linInput) (string, error) {
	id := linDept(in.node)
	switch in.op {
	case linParent:
		n, err := s.Node(id)
		if err != nil {
			return "", err
		}
		if n.ParentID == "" {
			return "-1", nil
		}
		return strings.TrimPrefix(n.ParentID, "d"), nil
	case linMembers:
		var set uint8
		for u := range linUsers {
			ok, err := s.HasMember(id, linUser(u))
			if err != nil {
				return "", err
			}
			if ok {
				set |= 1 << u
			}
		}
		return fmt.Sprintf("%03b", set), nil
	}
	c, err := s.MemberCount(id, true)
	return fmt.Sprint(c), err
}

// linCall runs one operation through r.
func linCall(ctx context.Context, r *Replica, in linInput) (string, error) {
	var fn func(*orgtree.Tx) error
	switch in.op {
	case linMove:
		fn = func(tx *orgtree.Tx) error { _, err := tx.MoveNode(linDept(in.node), linDept(in.arg)); return err }
	case linAdd:
		fn = func(tx *orgtree.Tx) error { return tx.AddMembers(linDept(in.node), linUser(in.arg)) }
	case linRemove:
		fn = func(tx *orgtree.Tx) error { return tx.RemoveMembers(linDept(in.node), linUser(in.arg)) }
	default:
		// A linearizable read: Sync, then the local snapshot.
		if err := r.Sync(ctx); err != nil {
			return "", err
		}
		return linRead(r.Tree().Snapshot(), in)
	}
	return linOutcome(r.Update(ctx, fn))
}

// linSetup writes the model's initial tree through r.
func linSetup(ctx context.Context, r *Replica) error {
	return r.Update(ctx, func(tx *orgtree.Tx) error {
		if _, err := tx.CreateOrg(orgtree.OrgInput{ID: "o", RootID: linDept(0), Name: "root"}); err != nil {
			return err
		}
		for d := 1; d < linDepts; d++ {
			if _, err := tx.AddNode(orgtree.NodeInput{ID: linDept(d), ParentID: linDept(int(linInit.parent[d])), Name: linDept(d)}); err != nil {
				return err
			}
		}
		for u := range linUsers {
			if _, err := tx.CreateUser(orgtree.User{ID: linUser(u), Name: linUser(u)}); err != nil {
				return err
			}
			for d := range linDepts {
				if linInit.members[d]&(1<<u) != 0 {
					if err := tx.AddMembers(linDept(d), linUser(u)); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
}

// linRandom draws one operation: writes and reads about equally, moves
// the most common write (they are where replicas can disagree). Half the
// time it follows up on the client's previous operation instead (the
// parent of the node it moved, the reverse move, the removal of the
// member it added): those are the calls whose answer a stale replica gets
// wrong, and a random pick seldom makes them.
func linRandom(r *rand.Rand, prev *linInput) linInput {
	if prev != nil && r.IntN(2) == 0 {
		n, a := prev.node, prev.arg
		switch pick := r.IntN(3); prev.op {
		case linMove:
			return [...]linInput{{op: linParent, node: n}, {op: linMove, node: a, arg: n}, {op: linCount, node: a}}[pick]
		case linAdd, linRemove:
			undo := linRemove
			if prev.op == linRemove {
				undo = linAdd
			}
			return [...]linInput{{op: undo, node: n, arg: a}, {op: linMembers, node: n}, {op: linCount, node: 0}}[pick]
		}
	}
	in := linInput{node: r.IntN(linDepts)}
	switch k := r.IntN(20); {
	case k < 6:
		in.op, in.arg = linMove, r.IntN(linDepts)
		if in.node == 0 && r.IntN(4) > 0 { // the root refuses; now and then is enough
			in.node = 1 + r.IntN(linDepts-1)
		}
	case k < 9:
		in.op, in.arg = linAdd, r.IntN(linUsers)
	case k < 11:
		in.op, in.arg = linRemove, r.IntN(linUsers)
	case k < 14:
		in.op = linParent
	case k < 17:
		in.op = linMembers
	default:
		in.op = linCount
	}
	return in
}

// linHistory runs clients, each issuing ops random operations in turn
// through every replica of reps, and returns what they recorded.
func linHistory(t *testing.T, reps []*Replica, clients, ops int, seed uint64) []porcupine.Operation {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	var mu sync.Mutex
	var history []porcupine.Operation
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			var prev *linInput
			for i := range ops {
				// Each call goes to the next replica: a call right after
				// the client's own write on another replica is where a
				// replica that answers from a stale state shows.
				rep := reps[(c+i)%len(reps)]
				in := linRandom(rng, prev)
				prev = &in
				cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				call := time.Since(start).Nanoseconds()
				out, err := linCall(cctx, rep, in)
				ret := time.Since(start).Nanoseconds()
				cancel()
				if err != nil {
					// No faults are injected here, so every call has a
					// definite outcome; an unknown one would need a
					// model that accepts both.
					t.Errorf("client %d: %v: %v", c, in, err)
					return
				}
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return history
}

// linCheck fails t when porcupine proves history not linearizable, and
// then writes porcupine's visualisation of the longest partial order it
// found. A search that runs out of time is logged, not failed: it proves
// nothing either way.
func linCheck(t *testing.T, history []porcupine.Operation, what string) {
	t.Helper()
	res, info := porcupine.CheckOperationsVerbose(linModel, history, 10*time.Second)
	switch res {
	case porcupine.Illegal:
		path := filepath.Join(os.TempDir(), fmt.Sprintf("replicate-linearizability-%d.html", time.Now().UnixNano()))
		if err := porcupine.VisualizePath(linModel, info, path); err != nil {
			t.Logf("visualisation: %v", err)
		}
		t.Fatalf("%s: %d operations are not linearizable (see %s)", what, len(history), path)
	case porcupine.Unknown:
		t.Logf("%s: porcupine timed out on %d operations: not checked", what, len(history))
	}
}

// TestLinearizable: moves and member changes issued through three
// replicas at once, with reads after Sync, form a linearizable history of
// the one tree.
func TestLinearizable(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	stats := map[string]int{}
	for round := range *linRounds {
		prefix := fmt.Sprintf("/lin/%d", round)
		var reps []*Replica
		for i := range 3 {
			// Each replica's client prefers another member, so reads and
			// writes reach etcd through different members.
			eps := append(append([]string{}, c.eps[i:]...), c.eps[:i]...)
			reps = append(reps, open(t, client(t, eps...), prefix, WithSnapshotEvery(0)))
		}
		if err := linSetup(ctx, reps[0]); err != nil {
			t.Fatal(err)
		}
		converged(t, reps...) // the history starts from linInit everywhere
		history := linHistory(t, reps, 6, 16, uint64(round))
		if t.Failed() {
			return
		}
		linCheck(t, history, fmt.Sprintf("round %d", round))
		converged(t, reps...)
		for _, op := range history {
			stats[linOpNames[op.Input.(linInput).op]+" "+op.Output.(string)]++
		}
		for _, r := range reps {
			r.Close()
		}
	}
	t.Logf("outcomes: %v", stats)
}

// TestLinearizabilityModel: the model refuses histories no sequential
// order explains, of the kinds a replica that read without Sync, or
// applied a write twice, would produce; and it accepts their honest
// versions.
func TestLinearizabilityModel(t *testing.T) {
	op := func(c int, in linInput, out string, call, ret int64) porcupine.Operation {
		return porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret}
	}
	move := func(n, p int) linInput { return linInput{op: linMove, node: n, arg: p} }
	parent := func(n int) linInput { return linInput{op: linParent, node: n} }
	for _, tc := range []struct {
		name    string
		history []porcupine.Operation
		ok      bool
	}{
		{"a read after a move sees the old parent", []porcupine.Operation{
			op(0, move(3, 2), "ok", 0, 10),
			op(1, parent(3), "1", 20, 30),
		}, false},
		{"a read after a move sees the new parent", []porcupine.Operation{
			op(0, move(3, 2), "ok", 0, 10),
			op(1, parent(3), "2", 20, 30),
		}, true},
		{"a read during a move sees either", []porcupine.Operation{
			op(0, move(3, 2), "ok", 0, 10),
			op(1, parent(3), "1", 5, 30),
		}, true},
		{"crossed moves both applied", []porcupine.Operation{
			op(0, move(1, 2), "ok", 0, 10),
			op(1, move(2, 1), "ok", 0, 10),
		}, false},
		{"crossed moves, one refused", []porcupine.Operation{
			op(0, move(1, 2), "ok", 0, 10),
			op(1, move(2, 1), "cycle", 0, 10),
		}, true},
		{"a removal applied twice", []porcupine.Operation{
			op(0, linInput{op: linAdd, node: 4, arg: 1}, "ok", 0, 10),
			op(0, linInput{op: linRemove, node: 4, arg: 1}, "ok", 20, 30),
			op(1, linInput{op: linRemove, node: 4, arg: 1}, "ok", 40, 50),
		}, false},
		{"a count that misses a member added before it", []porcupine.Operation{
			op(0, linInput{op: linAdd, node: 5, arg: 0}, "ok", 0, 10),
			op(1, linInput{op: linCount, node: 2}, "1", 20, 30),
		}, false},
		{"members and count agree", []porcupine.Operation{
			op(0, linInput{op: linAdd, node: 5, arg: 0}, "ok", 0, 10),
			op(1, linInput{op: linMembers, node: 5}, "011", 20, 30),
			op(2, linInput{op: linCount, node: 2}, "2", 20, 30),
			op(2, linInput{op: linCount, node: 0}, "3", 40, 50), // u2 in d1 and d4: once
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := porcupine.CheckOperations(linModel, tc.history); got != tc.ok {
				t.Fatalf("linearizable = %v, want %v", got, tc.ok)
			}
		})
	}
}

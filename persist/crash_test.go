package persist

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

var crashCycles = flag.Int("crash.cycles", 100, "kill -9 cycles run by TestCrashRecovery")

const (
	crashChildEnv  = "ORGTREE_PERSIST_CRASH_STORE"
	crashPrefixEnv = "ORGTREE_PERSIST_CRASH_PREFIX"
	crashGroupEnv  = "ORGTREE_PERSIST_CRASH_GROUP"
	// crashCompactEnv makes the child compact after every few hundred
	// bytes of deltas, so kills land during compactions too.
	crashCompactEnv = "ORGTREE_PERSIST_CRASH_COMPACT"
)

// crashCompactMin is the compaction threshold of a child with
// crashCompactEnv set: a few ops' worth of deltas.
const crashCompactMin = 512

func withFault(f func() error) Option {
	return func(c *config) { c.fault = f }
}

// crashChild is the workload process of TestCrashRecovery. It writes
// "op JSON" before it applies an op and "ack N" once ops 1..N are
// acknowledged (durable mode: each op on return; group mode: after Sync).
// Each line is one write below the pipe's atomic size, so the parent never
// reads half a line from a killed child.
func crashChild() {
	group := os.Getenv(crashGroupEnv) != ""
	// Every child keeps a change history: it is written in the bbolt
	// transaction of the change, so a kill never separates the two.
	opts := []Option{WithHistory(HistoryOptions{MaxEntries: 200})}
	if group {
		opts = append(opts, WithGroupCommit(2*time.Millisecond))
	}
	if os.Getenv(crashCompactEnv) != "" {
		opts = append(opts, withCompactMin(crashCompactMin))
	}
	db, err := Open(os.Getenv(crashChildEnv), opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(3)
	}
	prefix := os.Getenv(crashPrefixEnv)
	w := &workload{r: rand.New(rand.NewPCG(uint64(len(prefix)), uint64(time.Now().UnixNano()))), prefix: prefix}
	for n := 1; ; n++ {
		o := w.gen(db.Tree().Snapshot().Dump())
		line, _ := json.Marshal(o)
		os.Stdout.Write(append(append([]byte("op "), line...), '\n'))
		_ = o.apply(db.Tree())
		if group {
			if n%4 != 0 {
				continue
			}
			if err := db.Sync(); err != nil {
				fmt.Fprintln(os.Stderr, "child: sync:", err)
				os.Exit(4)
			}
		}
		os.Stdout.WriteString("ack " + strconv.Itoa(n) + "\n")
	}
}

// TestCrashRecovery kills a writing child process with SIGKILL at random
// moments and checks, after every kill, that the store opens, passes Check,
// and holds exactly a prefix of the ops the child started that includes
// every acknowledged op: nothing acknowledged is lost, nothing is partial.
// Every other cycle the child compacts after a few hundred bytes of deltas,
// so that kills also hit compactions (the log says how many cycles ended
// with a new full record).
func TestCrashRecovery(t *testing.T) {
	cycles := *crashCycles
	if testing.Short() {
		cycles = 20
	}
	path := tempPath(t)
	model := orgtree.New()
	r := rand.New(rand.NewPCG(11, 13))
	lostInGroup, compacted := 0, 0
	var base uint64
	for c := range cycles {
		group, compact := c%3 == 2, c%2 == 1
		ops, acked := runCrashChild(t, path, fmt.Sprintf("c%d.", c), group, compact, r)

		// The reopen compacts like the child did, so the cycle after a
		// compacting one starts from a store in either state.
		var opts []Option
		if compact {
			opts = append(opts, withCompactMin(crashCompactMin))
		}
		db, err := Open(path, opts...)
		require.NoError(t, err, "cycle %d: reopen after kill", c)
		require.NoError(t, db.Tree().Check(), "cycle %d", c)
		requireHistoryHead(t, db)
		got := project(db.Tree().Snapshot().Dump())
		if st := readState(t, db); st.base != base {
			compacted++
			base = st.base
		}
		require.NoError(t, db.Close())

		for _, o := range ops[:acked] {
			_ = o.apply(model)
		}
		applied := acked
		for project(model.Snapshot().Dump()) != got {
			if applied == len(ops) {
				t.Fatalf("cycle %d: the store is no prefix of the %d ops started (%d acknowledged):\nstore:\n%s\nmodel:\n%s",
					c, len(ops), acked, got, project(model.Snapshot().Dump()))
			}
			_ = ops[applied].apply(model)
			applied++
		}
		if !group && applied > acked+1 {
			t.Fatalf("cycle %d: durable mode, yet %d ops beyond the acknowledged %d found", c, applied-acked, acked)
		}
		if group {
			lostInGroup += len(ops) - applied
		}
	}
	t.Logf("%d kill cycles; group commit lost %d unacknowledged ops in total, as allowed; %d cycles left a new full record", cycles, lostInGroup, compacted)
}

// runCrashChild starts a child on the store, kills it after a random number
// of acknowledgements or a random time, whichever comes first, and returns
// the ops it started and how many of them were acknowledged.
func runCrashChild(t *testing.T, path, prefix string, group, compact bool, r *rand.Rand) ([]op, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashPrefixEnv+"="+prefix)
	if group {
		cmd.Env = append(cmd.Env, crashGroupEnv+"=1")
	}
	if compact {
		cmd.Env = append(cmd.Env, crashCompactEnv+"=1")
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	killAfterAcks := 1 + r.IntN(40)
	timer := time.AfterFunc(time.Duration(r.IntN(400))*time.Millisecond, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()

	var ops []op
	acked, acks := 0, 0
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "op "):
			var o op
			require.NoError(t, json.Unmarshal([]byte(line[3:]), &o))
			ops = append(ops, o)
		case strings.HasPrefix(line, "ack "):
			n, err := strconv.Atoi(line[4:])
			require.NoError(t, err)
			acked = n
			if acks++; acks == killAfterAcks {
				_ = cmd.Process.Kill()
			}
		}
	}
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code > 0 {
		t.Fatalf("child failed on its own (exit %d): %s", code, stderr.String())
	}
	return ops, acked
}

package persist

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.etcd.io/bbolt"

	"github.com/orgtree/orgtree"
)

var upgradeCycles = flag.Int("upgrade.cycles", 8, "kill -9 cycles run by TestUpgradeCrash")

const upgradeChildEnv = "ORGTREE_PERSIST_UPGRADE_STORE"

func withCompactMin(n uint64) Option {
	return func(c *config) { c.compactMin = n }
}

// writeV1 writes d as a format version 1 store, as the build before format
// version 2 did: one JSON record per org, node and user.
func writeV1(t testing.TB, path string, d *orgtree.Dump) {
	t.Helper()
	b, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, b.Close()) }()
	require.NoError(t, b.Update(func(tx *bbolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		var counts []byte
		for k, name := range recordBuckets {
			bk, err := tx.CreateBucket(name)
			if err != nil {
				return err
			}
			var n int
			put := func(id string, rec any) error {
				v, err := json.Marshal(rec)
				if err != nil {
					return err
				}
				n++
				return bk.Put([]byte(id), seal([]byte(id), v))
			}
			switch kind(k) {
			case kindOrg:
				for _, o := range d.Orgs {
					if err := put(o.ID, o); err != nil {
						return err
					}
				}
			case kindNode:
				for _, o := range d.Nodes {
					if err := put(o.ID, o); err != nil {
						return err
					}
				}
			case kindUser:
				for _, o := range d.Users {
					if err := put(o.ID, o); err != nil {
						return err
					}
				}
			}
			counts = binary.BigEndian.AppendUint64(counts, uint64(n))
		}
		for key, v := range map[string][]byte{
			"format": binary.BigEndian.AppendUint32(nil, 1),
			"seq":    binary.BigEndian.AppendUint64(nil, d.Seq),
			"count":  counts,
		} {
			if err := meta.Put([]byte(key), seal([]byte(key), v)); err != nil {
				return err
			}
		}
		return nil
	}))
}

func TestUpgradeV1(t *testing.T) {
	src := orgtree.New()
	sample(t, src)
	want := src.Snapshot().Dump()
	path := tempPath(t)
	writeV1(t, path, want)

	ro := mustOpen(t, path, WithReadOnly())
	assert.Equal(t, 1, ro.Format(), "read-only: left as it is")
	assert.Equal(t, want, ro.Tree().Snapshot().Dump())
	require.NoError(t, ro.Close())

	db := mustOpen(t, path)
	assert.Equal(t, 2, db.Format())
	assert.Equal(t, want, db.Tree().Snapshot().Dump())
	runWorkload(t, db.Tree(), &workload{r: rand.New(rand.NewPCG(8, 8)), prefix: "up"}, 50)
	want = db.Tree().Snapshot().Dump()
	db = reopen(t, db)
	assert.Equal(t, 2, db.Format())
	assert.Equal(t, want, db.Tree().Snapshot().Dump())
	require.NoError(t, db.bolt.View(func(tx *bbolt.Tx) error {
		for _, name := range recordBuckets {
			assert.Nil(t, tx.Bucket(name), "version 1 bucket %s is gone", name)
		}
		return nil
	}))
	require.NoError(t, db.Close())

	t.Run("damaged version 1 store is refused, not upgraded", func(t *testing.T) {
		bad := *want
		bad.Nodes = bad.Nodes[1:] // a node whose children lose their parent
		p := tempPath(t)
		writeV1(t, p, &bad)
		before, err := os.ReadFile(p)
		require.NoError(t, err)
		_, err = Open(p)
		require.ErrorIs(t, err, ErrCorrupt)
		after, err := os.ReadFile(p)
		require.NoError(t, err)
		assert.Equal(t, before, after, "the file is left as it was")
	})
}

// upgradeChild opens the version 1 store named by the environment (which
// upgrades it), printing "upgrading" just before the rewrite and
// "upgraded" once Open returned.
func upgradeChild() {
	db, err := Open(os.Getenv(upgradeChildEnv), func(c *config) {
		c.beforeUpgrade = func() { os.Stdout.WriteString("upgrading\n") }
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(3)
	}
	os.Stdout.WriteString("upgraded\n")
	_ = db.Close()
}

// TestUpgradeCrash kills a process with SIGKILL while it upgrades a version
// 1 store to version 2, at random moments of the rewrite, and checks that
// the file is then either the version 1 store or the version 2 one, with the
// same content: never neither, never a mix.
func TestUpgradeCrash(t *testing.T) {
	setup := time.Now()
	src := orgtree.New()
	fillTree(t, src, 4000, 4000, 12000)
	want := src.Snapshot().Dump()
	orig := tempPath(t)
	writeV1(t, orig, want)
	data, err := os.ReadFile(orig)
	require.NoError(t, err)

	// One uninterrupted run measures how long the rewrite takes.
	path := tempPath(t)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	took := runUpgradeChild(t, path, -1)
	require.Positive(t, took)

	cycles := *upgradeCycles
	if testing.Short() {
		cycles = 3
	}
	t.Logf("setup and one upgrade: %v", time.Since(setup))
	r := rand.New(rand.NewPCG(17, 19))
	seen := map[int]int{}
	for c := range cycles {
		require.NoError(t, os.WriteFile(path, data, 0o600))
		runUpgradeChild(t, path, time.Duration(r.Int64N(int64(took)+1)))
		db, err := Open(path, WithReadOnly())
		require.NoError(t, err, "cycle %d: open after kill", c)
		seen[db.Format()]++
		require.Equal(t, want, db.Tree().Snapshot().Dump(), "cycle %d: format %d", c, db.Format())
		require.NoError(t, db.Close())
	}
	t.Logf("cycles: %v", time.Since(setup))
	t.Logf("%d kills during an upgrade of %v: left version 1 %d times, version 2 %d times", cycles, took, seen[1], seen[2])
}

// runUpgradeChild runs upgradeChild on path and kills it kill after it
// announced the rewrite (never, when kill < 0: then it returns how long the
// rewrite took).
func runUpgradeChild(t *testing.T, path string, kill time.Duration) time.Duration {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), upgradeChildEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var start time.Time
	var took time.Duration
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		switch sc.Text() {
		case "upgrading":
			start = time.Now()
			if kill >= 0 {
				time.AfterFunc(kill, func() { _ = cmd.Process.Kill() })
			}
		case "upgraded":
			took = time.Since(start)
		}
	}
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code > 0 {
		t.Fatalf("child failed on its own (exit %d): %s", code, stderr.String())
	}
	return took
}

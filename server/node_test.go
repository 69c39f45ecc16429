package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Helpers of the tests that run node scripts (the JS SDK, the
// GraphQL-over-HTTP audit, graphql-js, a browser). Each npm project lives
// in testdata with its package.json and lock file.

// npmDir installs the packages of the npm project in src (its package.json
// and package-lock.json) once per machine into a directory of the user
// cache named name, copies scripts there and returns that directory. It
// skips the test when node or npm is missing or npm ci fails (no registry).
func npmDir(t *testing.T, src, name string, scripts ...string) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: skipping %s (needs node and npm)", tool, t.Name())
		}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "orgtree", name)
	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	require.NoError(t, err)
	// The installed lock file is the marker: a changed lock reinstalls.
	if installed, err := os.ReadFile(filepath.Join(dir, "node_modules", ".package-lock.json")); err != nil || !sameDeps(installed, lock) {
		require.NoError(t, os.MkdirAll(dir, 0o755))
		// The lock file pins every transitive package too, so npm ci
		// installs the same tree on every machine.
		for _, f := range []string{"package.json", "package-lock.json"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		install := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--omit=dev")
		install.Dir = dir
		if out, err := install.CombinedOutput(); err != nil {
			t.Skipf("npm ci in %s failed (no registry?): skipping %s: %v\n%s", src, t.Name(), err, out)
		}
	}
	for _, f := range scripts {
		b, err := os.ReadFile(filepath.Join(src, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	return dir
}

// sameDeps reports whether npm's record of an installed tree
// (node_modules/.package-lock.json) lists the packages of lock, a
// package-lock.json, at the same versions.
func sameDeps(installed, lock []byte) bool {
	type pkgs struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	var a, b pkgs
	if json.Unmarshal(installed, &a) != nil || json.Unmarshal(lock, &b) != nil {
		return false
	}
	for path, p := range b.Packages {
		if path == "" {
			continue
		}
		if a.Packages[path].Version != p.Version {
			return false
		}
	}
	return len(b.Packages) > 1
}

// runNode runs a node script in dir with extra environment variables and
// returns its stdout and stderr; the test fails when the script fails.
func runNode(t *testing.T, dir, script string, timeout time.Duration, env ...string) ([]byte, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node %s: %s\n%s", script, stderr.String(), out)
	return out, stderr.String()
}

// jsonLines decodes a script's output of one JSON value per line.
func jsonLines[T any](t *testing.T, out []byte) []T {
	t.Helper()
	var values []T
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var v T
		require.NoError(t, json.Unmarshal(sc.Bytes(), &v), sc.Text())
		values = append(values, v)
	}
	require.NoError(t, sc.Err())
	return values
}

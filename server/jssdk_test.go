package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

// jsSDKVersion is the authing-js-sdk release testdata/jssdk pins.
const jsSDKVersion = "4.23.55"

// jsSDKDir installs the JS SDK (once per machine, in the user cache) and
// returns the directory to run scripts from. It skips the test when node or
// npm is missing or the package registry cannot be reached.
func jsSDKDir(t *testing.T) string {
	t.Helper()
	return npmDir(t, "testdata/jssdk", "jssdk-"+jsSDKVersion, "run.js")
}

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

type jsStep struct {
	Step   string          `json:"step"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestJSSDKOrganization runs testdata/jssdk/run.js, the organization
// methods of the official JS SDK, against a server and checks each step.
func TestJSSDKOrganization(t *testing.T) {
	if testing.Short() {
		t.Skip("installs and runs the JS SDK")
	}
	dir := jsSDKDir(t)
	ts := startServer(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "run.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ORGTREE_HOST="+ts.http.URL, "ORGTREE_POOL_ID="+ts.pool, "ORGTREE_SECRET="+ts.secret)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "node run.js: %s\n%s", stderr.String(), out)

	steps := map[string]jsStep{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var s jsStep
		require.NoError(t, json.Unmarshal(sc.Bytes(), &s), sc.Text())
		steps[s.Step] = s
		order = append(order, s.Step)
	}
	require.Len(t, order, 37, "every step of run.js reported")

	refused := map[string]string{
		"org.addNode duplicate code": "duplicate code",
		"org.getNodeById unknown":    "not found",
		"org.moveNode cycle":         "cycle",
		"org.startSync":              "orgtree sync --provider",
	}
	for _, name := range order {
		s := steps[name]
		if want, isRefusal := refused[name]; isRefusal {
			require.False(t, s.OK, "%s should be refused", name)
			require.Contains(t, s.Error.Message, want, name)
			continue
		}
		require.True(t, s.OK, "%s: %v %s", name, s.Error.Code, s.Error.Message)
	}
	ts.check()

	for _, name := range []string{"users.create", "users.create with password"} {
		var user struct{ ID string }
		require.NoError(t, json.Unmarshal(steps[name].Result, &user))
		_, err = ts.tree.User(user.ID)
		require.NoError(t, err, name)
	}

	var org struct{ ID string }
	require.NoError(t, json.Unmarshal(steps["org.create"].Result, &org))
	var all struct {
		TotalCount int
		List       []struct{ ID string }
	}
	require.NoError(t, json.Unmarshal(steps["org.getAllOrgs"].Result, &all))
	require.Equal(t, 1, all.TotalCount)
	require.Len(t, all.List, 1)
	require.Equal(t, org.ID, all.List[0].ID)
	var byTenant []struct {
		OrgID, Name string
		Children    []struct{ Name string }
	}
	require.NoError(t, json.Unmarshal(steps["org.getOrgByTenantId"].Result, &byTenant))
	require.Len(t, byTenant, 1)
	require.Equal(t, org.ID, byTenant[0].OrgID)
	require.Equal(t, "JS Org", byTenant[0].Name)
	require.Len(t, byTenant[0].Children, 1, "A, with B moved under it")

	var paths [][]struct{ Type, ID, Name string }
	require.NoError(t, json.Unmarshal(steps["users.listOrgs"].Result, &paths))
	require.Len(t, paths, 1, "one membership: node A")
	require.Len(t, paths[0], 3, "the org, the root, A")
	require.Equal(t, "org", paths[0][0].Type)
	require.Equal(t, org.ID, paths[0][0].ID)
	require.Equal(t, []string{"node", "node"}, []string{paths[0][1].Type, paths[0][2].Type})
	require.Equal(t, []string{"JS Org", "Dept A"}, []string{paths[0][1].Name, paths[0][2].Name})
	var deps struct {
		TotalCount int
		List       []struct {
			IsMainDepartment bool
			Department       struct{ Name string }
		}
	}
	require.NoError(t, json.Unmarshal(steps["users.listDepartment"].Result, &deps))
	require.Equal(t, 1, deps.TotalCount)
	require.True(t, deps.List[0].IsMainDepartment)
	require.Equal(t, "Dept A", deps.List[0].Department.Name)

	var members struct{ TotalCount int }
	require.NoError(t, json.Unmarshal(steps["org.listMembers root with children"].Result, &members))
	require.Equal(t, 1, members.TotalCount)

	var isRoot bool
	require.NoError(t, json.Unmarshal(steps["org.isRootNode"].Result, &isRoot))
	require.True(t, isRoot)

	var hits []struct{ Name string }
	require.NoError(t, json.Unmarshal(steps["org.searchNodes"].Result, &hits))
	require.Len(t, hits, 2)

	var exported struct {
		Name     string
		Children []struct{ Name string }
	}
	require.NoError(t, json.Unmarshal(steps["org.exportByOrgId"].Result, &exported))
	require.Equal(t, "JS Org", exported.Name)
	require.Len(t, exported.Children, 1, "B was moved under A")

	// The scenario ends by deleting its org; the imported one stays.
	found, err := ts.tree.Search("JS Imported", orgtree.SearchOptions{})
	require.NoError(t, err)
	require.Len(t, found, 1)
	require.Equal(t, 1, ts.tree.Snapshot().Stats().Orgs)
	require.False(t, strings.Contains(stderr.String(), "Error"), stderr.String())
}

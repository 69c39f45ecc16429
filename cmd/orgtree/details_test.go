package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/reconcile"
)

func importedStore(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "store.db")
	mustRun(t, "--db", db, "import", "testdata/org.json")
	return db
}

func TestDepartmentReferences(t *testing.T) {
	db := importedStore(t)
	var tree []*treeEntry
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, "--db", db, "--json", "tree")), &tree))
	root := tree[0]
	dev := root.Children[0]
	web := dev.Children[1]

	// Every form names the same department.
	for _, ref := range []string{web.ID, "frontend", "bj/dev/frontend", "北京某某公司/研发/前端", "bj/研发/frontend", "/bj/dev/frontend/"} {
		require.Equal(t, "前端 [frontend] (0 members)\n└── Design <UX> [ux] (0 members)\n", mustRun(t, "--db", db, "tree", ref), ref)
	}
	// An org id and a root code name the org's root.
	want := mustRun(t, "--db", db, "tree")
	require.Equal(t, want, mustRun(t, "--db", db, "tree", root.OrgID))
	require.Equal(t, want, mustRun(t, "--db", db, "tree", "bj"))
	require.Equal(t, want, mustRun(t, "--db", db, "tree", "北京某某公司"))

	for _, ref := range []string{"nope", "bj/nope", "dev/frontend", "bj/dev/frontend/extra"} {
		_, err := run(t, "--db", db, "tree", ref)
		require.ErrorIs(t, err, orgtree.ErrNotFound, ref)
		require.ErrorContains(t, err, "tree --ids", ref)
	}
	// A second org with the same codes makes a bare code ambiguous; the
	// path still works.
	mustRun(t, "--db", db, "import", "testdata/org.json")
	_, err := run(t, "--db", db, "members", "dev")
	require.ErrorIs(t, err, errAmbiguous)
	require.ErrorContains(t, err, dev.ID)
	_, err = run(t, "--db", db, "members", "bj/dev")
	require.ErrorIs(t, err, errAmbiguous, "both roots have code bj")
	require.Contains(t, mustRun(t, "--db", db, "members", dev.ID), "2 of 2")

	// --ids: org and node id on roots, node ids below.
	out := mustRun(t, "--db", db, "tree", "--ids", root.ID)
	require.Contains(t, out, "北京某某公司 [bj] {org "+root.OrgID+", node "+root.ID+"} (4 members)")
	require.Contains(t, out, "研发 [dev] {"+dev.ID+"} (2 members)")

	// export takes an org; a department is refused with the org's id.
	_, err = run(t, "--db", db, "export", dev.ID)
	require.ErrorContains(t, err, "export takes an org")
	require.Contains(t, mustRun(t, "--db", db, "export", root.OrgID), `"研发"`)
	require.Contains(t, mustRun(t, "--db", db, "search", "--org", root.ID, "前"), web.ID)
}

func TestTreeAndChartDepthAndLimit(t *testing.T) {
	db := importedStore(t)
	golden(t, "tree-depth1.txt", mustRun(t, "--db", db, "tree", "--depth", "1"))
	golden(t, "tree-limit1.txt", mustRun(t, "--db", db, "tree", "--limit", "1"))
	golden(t, "chart-depth1.mmd", mustRun(t, "--db", db, "chart", "--depth", "1", "bj/dev"))
	var tree []*treeEntry
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, "--db", db, "--json", "tree", "--depth", "1")), &tree))
	require.Equal(t, 2, tree[0].Children[0].More)
	require.Empty(t, tree[0].Children[0].Children)
	_, err := run(t, "--db", db, "tree", "--depth", "-1")
	require.ErrorContains(t, err, "≥ 0")
}

func TestCommandLineDetails(t *testing.T) {
	db := importedStore(t)
	_, err := run(t, "--db", db, "--json", "chart")
	require.ErrorContains(t, err, "tree --json")
	var check map[string]any
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, "--db", db, "--json", "check")), &check))
	require.Equal(t, map[string]any{"ok": true, "orgs": 1.0, "nodes": 6.0, "users": 4.0, "memberships": 5.0, "format": 2.0}, check)
	_, err = run(t, "--db", db, "members", "bj", "--sort", "name")
	require.ErrorContains(t, err, "CREATEDAT_DESC, CREATEDAT_ASC, UPDATEDAT_DESC or UPDATEDAT_ASC")
	require.Contains(t, mustRun(t, "members", "--help"), "UPDATEDAT_ASC")
	_, err = run(t, "--db", db, "move", "x")
	require.ErrorContains(t, err, "accepts 2 arg(s), received 1")
	require.ErrorContains(t, err, "usage: orgtree move NODE PARENT")
	_, err = run(t, "--db", db, "tree", "--no-such-flag")
	require.ErrorContains(t, err, "usage: orgtree tree [NODE]")
}

func TestSync(t *testing.T) {
	db := filepath.Join(t.TempDir(), "sync.db")
	args := func(provider string, extra ...string) []string {
		return append([]string{"--db", db, "sync", "--provider", provider,
			"--departments", "../../reconcile/testdata/" + provider + "_departments.json",
			"--users", "../../reconcile/testdata/" + provider + "_users.json"}, extra...)
	}
	// A dry run on an empty store plans a new org and leaves no store behind.
	_, err := run(t, args("wecom", "--dry-run")...)
	require.ErrorContains(t, err, "no store at", "a dry run never creates a store")
	out := mustRun(t, args("wecom")...)
	require.Contains(t, out, "created org")
	require.Contains(t, out, "applied:")
	tree := mustRun(t, "--db", db, "tree")
	require.Contains(t, tree, "Acme")
	require.Contains(t, tree, "研发部")
	require.Equal(t, "nothing to do: the org already matches the input\n", mustRun(t, args("wecom")...))

	// The DingTalk files describe the same org with the same ids: the org
	// is found by its root's external id, and only the orders change
	// (DingTalk sorts smaller first, orgtree larger first). Lark's ids
	// differ, so Lark gets an org of its own.
	out = mustRun(t, args("dingtalk")...)
	require.Contains(t, out, "applied: 4 update")
	require.NotContains(t, out, "created org")
	require.Contains(t, mustRun(t, args("dingtalk")...), "nothing to do")
	require.Contains(t, mustRun(t, args("lark")...), "created org")
	require.Contains(t, mustRun(t, args("lark")...), "nothing to do")
	require.Contains(t, mustRun(t, "--db", db, "check"), "ok: 2 orgs")

	// The JSON plan is the reconcile plan.
	var res struct {
		DryRun bool                 `json:"dryRun"`
		Plan   reconcile.ChangePlan `json:"plan"`
	}
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, args("lark", "--json", "--dry-run")...)), &res))
	require.True(t, res.DryRun)
	require.Empty(t, res.Plan.Steps)

	_, err = run(t, args("slack")...)
	require.ErrorContains(t, err, "dingtalk, wecom or lark")
	_, err = run(t, "--db", db, "sync", "--provider", "wecom")
	require.ErrorContains(t, err, "--departments and --users")
	// An empty provider answer is refused, unless the caller says so.
	dir := t.TempDir()
	emptyDepts, emptyUsers := filepath.Join(dir, "d.json"), filepath.Join(dir, "u.json")
	require.NoError(t, os.WriteFile(emptyDepts, []byte(`{"errcode":0,"department":[]}`), 0o644))
	require.NoError(t, os.WriteFile(emptyUsers, []byte(`{"errcode":0,"userlist":[]}`), 0o644))
	empty := []string{"--db", db, "sync", "--provider", "wecom", "--org", "Acme", "--departments", emptyDepts, "--users", emptyUsers}
	_, err = run(t, empty...)
	require.ErrorIs(t, err, reconcile.ErrEmptyInput)
	_, err = run(t, append(empty, "--allow-empty")...)
	require.ErrorIs(t, err, reconcile.ErrTooManyDeletes, "emptying the org is still over the delete limit")
	require.Contains(t, mustRun(t, append(empty, "--allow-empty", "--force", "--dry-run")...), "dry run:")

	// The wrong provider's files are an input error; nothing changes.
	before := mustRun(t, "--db", db, "export")
	_, err = run(t, "--db", db, "sync", "--provider", "wecom", "--org", "Acme",
		"--departments", "../../reconcile/testdata/lark_departments.json", "--users", "../../reconcile/testdata/lark_users.json")
	require.Error(t, err)
	require.Equal(t, before, mustRun(t, "--db", db, "export"))
}

// TestHealthzStartingWhileTheStoreLoads holds serve between opening its
// port and loading the store: /healthz answers 503 "starting" meanwhile.
func TestHealthzStartingWhileTheStoreLoads(t *testing.T) {
	db := importedStore(t)
	o := &options{db: db, lockWait: time.Second}
	so := &serveOptions{addr: "127.0.0.1:0", poolID: "p", secret: "s", shutdown: 5 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release, ready := make(chan struct{}), make(chan string, 1)
	var during string
	var duringCode int
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, o, so, io.Discard, serveHooks{
			listening: func(addr string) {
				resp, err := http.Get("http://" + addr + "/healthz")
				if err == nil {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					during, duringCode = string(body), resp.StatusCode
				}
				close(release)
			},
			ready: func(addr string) { ready <- addr },
		})
	}()
	<-release
	addr := <-ready
	require.Equal(t, http.StatusServiceUnavailable, duringCode)
	require.Contains(t, during, `"starting"`)
	resp, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	cancel()
	require.NoError(t, <-done)
}

// TestOpeningALargeStoreIsAnnounced: commands and serve say that a large
// store is being opened (the threshold is lowered for the test).
func TestOpeningALargeStoreIsAnnounced(t *testing.T) {
	db := importedStore(t)
	defer func(v int64) { largeStore = v }(largeStore)
	largeStore = 1
	var out, errOut strings.Builder
	require.NoError(t, runCLI(context.Background(), []string{"--db", db, "check"}, nil, &out, &errOut))
	require.Regexp(t, `^opening .*store\.db \(0 MB\) … [0-9.]+s\n$`, errOut.String())
	require.Contains(t, out.String(), "ok:")

	var served strings.Builder
	ctx, cancel := context.WithCancel(context.Background())
	o := &options{db: db, lockWait: time.Second, progress: &errOut}
	so := &serveOptions{addr: "127.0.0.1:0", poolID: "p", secret: "s", shutdown: 5 * time.Second}
	require.NoError(t, runServe(ctx, o, so, &served, serveHooks{ready: func(string) { cancel() }}))
	require.Contains(t, served.String(), `/healthz answers "starting" until it is loaded`)
}

// TestStaleSidecarIsIgnored: a sidecar left by a server that was killed
// (nothing answers at its address) does not stop the local commands.
func TestStaleSidecarIsIgnored(t *testing.T) {
	db := importedStore(t)
	require.NoError(t, writeSidecar(db, sidecar{URL: "http://127.0.0.1:1", Token: "x"}))
	fi, err := os.Stat(sidecarPath(db))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	require.Contains(t, mustRun(t, "--db", db, "check"), "ok: 1 orgs")
	require.Contains(t, mustRun(t, "--db", db, "move", "frontend", "ops"), "moved")
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Authing/authing-go-sdk/lib/management"
	"github.com/Authing/authing-go-sdk/lib/model"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/persist"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// run executes the CLI in-process and returns its standard output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := runCLI(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return out.String(), err
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(t, args...)
	require.NoError(t, err, "orgtree %s", strings.Join(args, " "))
	return out
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./cmd/orgtree -update to create it")
	require.Equal(t, string(want), got, "golden file %s (go test ./cmd/orgtree -update after a deliberate change)", path)
}

func TestCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "store.db")
	out := mustRun(t, "--db", db, "import", "testdata/org.json")
	require.Contains(t, out, "1 org(s)")
	require.Contains(t, out, "6 nodes, 4 users")

	golden(t, "tree.txt", mustRun(t, "--db", db, "tree"))
	golden(t, "chart.mmd", mustRun(t, "--db", db, "chart", "--format", "mermaid"))
	golden(t, "chart.dot", mustRun(t, "--db", db, "chart", "-f", "dot"))
	_, err := run(t, "--db", db, "chart", "-f", "png")
	require.ErrorContains(t, err, "mermaid or dot")

	// Find nodes through the JSON output, as a script would.
	var tree []*treeEntry
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, "--db", db, "--json", "tree")), &tree))
	require.Len(t, tree, 1)
	root := tree[0]
	require.Equal(t, 4, root.Members)
	dev, ops := root.Children[0], root.Children[1]
	frontend := dev.Children[1]
	require.Equal(t, "前端", frontend.Name)

	out = mustRun(t, "--db", db, "search", "前")
	require.Equal(t, frontend.ID+"  北京某某公司 / 研发 / 前端\n", out)
	out = mustRun(t, "--db", db, "search", "R&D")
	require.Contains(t, out, dev.ID, "translated names are searched too")

	out = mustRun(t, "--db", db, "members", dev.ID)
	require.Contains(t, out, "2 of 2 member(s)")
	out = mustRun(t, "--db", db, "members", "--descendants", root.ID, "--sort", "createdat_asc")
	require.Contains(t, out, "4 of 4 member(s)")
	var page orgtree.MemberPage
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, "--db", db, "--json", "members", "-d", root.ID, "--limit", "1")), &page))
	require.Equal(t, 4, page.TotalCount)
	require.Len(t, page.List, 1)

	out = mustRun(t, "--db", db, "move", frontend.ID, ops.ID)
	require.Equal(t, "moved: 北京某某公司 / 运营 / 前端\n", out)
	_, err = run(t, "--db", db, "move", dev.ID, dev.Children[0].ID)
	require.ErrorIs(t, err, orgtree.ErrCycle)
	_, err = run(t, "--db", db, "move", "no-such-node", dev.ID)
	require.ErrorIs(t, err, orgtree.ErrNotFound)
	out = mustRun(t, "--db", db, "tree", ops.ID)
	require.Equal(t, "运营 [ops] (1 member)\n└── 前端 [frontend] (0 members)\n    └── Design <UX> [ux] (0 members)\n", out)

	require.Equal(t, "ok: 1 orgs, 6 nodes, 4 users, 5 memberships; store format 2\n", mustRun(t, "--db", db, "check"))

	// export → import into a fresh store gives the same tree.
	exported := filepath.Join(t.TempDir(), "export.json")
	mustRun(t, "--db", db, "export", "-o", exported)
	db2 := filepath.Join(t.TempDir(), "copy.db")
	mustRun(t, "--db", db2, "import", exported)
	require.Equal(t, mustRun(t, "--db", db, "tree"), mustRun(t, "--db", db2, "tree"))
	require.Equal(t, mustRun(t, "--db", db, "chart"), mustRun(t, "--db", db2, "chart"))

	// Read commands never create a store.
	_, err = run(t, "--db", filepath.Join(t.TempDir(), "absent.db"), "tree")
	require.ErrorContains(t, err, "no store at")
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, c := range newRootCommand(&options{}).Commands() {
		out := mustRun(t, c.Name(), "--help")
		require.Contains(t, out, "Usage:", c.Name())
		require.Contains(t, out, "--db", c.Name())
	}
}

// TestServeSDKAndGracefulShutdown runs serve in-process on a store, drives
// it with the Go SDK, stops it as a signal would and checks that every
// acknowledged write is in the store.
func TestServeSDKAndGracefulShutdown(t *testing.T) {
	db := filepath.Join(t.TempDir(), "serve.db")
	o := &options{db: db, lockWait: 100 * time.Millisecond}
	// net/http's Shutdown waits up to 5 s for a connection a client opened
	// but has not sent its request on yet (the writers below may be there
	// when the shutdown starts): the timeout must be longer than that.
	so := &serveOptions{addr: "127.0.0.1:0", seed: "testdata/org.json", poolID: "pool-serve-test", secret: "s3cret", shutdown: 30 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() { done <- runServe(ctx, o, so, &out, serveHooks{ready: func(a string) { addrs <- a }}) }()
	addr := <-addrs

	// The store is held while serving: other commands run in the server.
	got, err := run(t, "--db", db, "--lock-wait", "50ms", "tree")
	require.NoError(t, err)
	require.Contains(t, got, "北京某某公司 [bj] (4 members)")

	c, err := management.NewClientWithError(so.poolID, so.secret, "http://"+addr)
	require.NoError(t, err)
	orgs, err := c.ListOrg(1, 10)
	require.NoError(t, err)
	require.EqualValues(t, 1, orgs.TotalCount, "the seed was imported")
	created, err := c.CreateOrg(&model.CreateOrgRequest{Name: "Written over HTTP"})
	require.NoError(t, err)

	// Writers in flight when the shutdown starts finish and are kept.
	var wg sync.WaitGroup
	added := make(chan string, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			org, err := c.AddOrgNode(&model.AddOrgNodeRequest{OrgId: created.Id, ParentNodeId: created.RootNode.Id, Name: "n"})
			if err == nil && len(org.Nodes) > 0 {
				added <- org.Id
			}
		}()
	}
	time.Sleep(5 * time.Millisecond)
	cancel()
	wg.Wait()
	close(added)
	require.NoError(t, <-done)
	require.Contains(t, out.String(), "shutting down")
	acknowledged := len(added)

	store, err := persist.Open(db)
	require.NoError(t, err)
	defer store.Close()
	require.NoError(t, store.Tree().Check())
	kids, err := store.Tree().ChildIDs(created.RootNode.Id)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(kids), acknowledged, "every acknowledged addNode is on disk")
}

// TestServeBinaryFirstCommand runs what README's first command runs — the
// serve command with no flags, in a fresh directory — as a real process,
// and stops it with SIGTERM.
func TestServeBinaryFirstCommand(t *testing.T) {
	bin := binary(t)
	work := t.TempDir()
	// Port 0 stands in for the default 127.0.0.1:8080, which a developer's
	// machine may be using.
	srv := startServe(t, bin, work, "serve", "--addr", "127.0.0.1:0")

	resp, err := http.Get(srv.url + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	c, err := management.NewClientWithError(srv.pool, srv.secret, srv.url)
	require.NoError(t, err)
	_, err = c.CreateOrg(&model.CreateOrgRequest{Name: "Kept"})
	require.NoError(t, err)
	srv.stop(t)

	store, err := persist.Open(filepath.Join(work, "orgtree.db"))
	require.NoError(t, err)
	defer store.Close()
	require.Equal(t, 1, store.Tree().Snapshot().Stats().Orgs)
}

func TestImportLargeFileShowsProgress(t *testing.T) {
	var doc strings.Builder
	doc.WriteString(`{"name":"Big","children":[`)
	for i := 0; i < 20000; i++ {
		if i > 0 {
			doc.WriteByte(',')
		}
		doc.WriteString(`{"name":"department number ` + strings.Repeat("x", 40) + `","code":"c` + strconv.Itoa(i) + `"}`)
	}
	doc.WriteString(`]}`)
	require.Greater(t, doc.Len(), progressThreshold)
	file := filepath.Join(t.TempDir(), "big.json")
	require.NoError(t, os.WriteFile(file, []byte(doc.String()), 0o644))

	var out, errOut bytes.Buffer
	require.NoError(t, runCLI(context.Background(), []string{"--db", filepath.Join(t.TempDir(), "big.db"), "import", file}, nil, &out, &errOut))
	require.Contains(t, errOut.String(), "reading")
	require.Contains(t, errOut.String(), "parsing 1 MB: done in")
	require.Regexp(t, `validating and applying 20001 nodes: done in [0-9.]+s \([0-9]+ nodes/s\)`, errOut.String())
	require.Contains(t, errOut.String(), "writing to ")
	require.Contains(t, out.String(), "20001 nodes")
}

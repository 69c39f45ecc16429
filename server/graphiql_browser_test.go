package server

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromium finds a Chromium or Chrome executable: $ORGTREE_CHROMIUM, or one
// on the PATH; "" when there is none.
func chromium() string {
	if p := os.Getenv("ORGTREE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestGraphiQLInBrowser opens /graphiql in a headless Chromium through
// testdata/browser/graphiql.js: the docs load before signing in, a wrong
// secret is refused on the page, the right one signs in and the default
// query runs, and the page requests nothing from elsewhere and reports no
// error (a CSP violation would be one). Skipped without a browser, node or
// npm.
func TestGraphiQLInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a browser")
	}
	browser := chromium()
	if browser == "" {
		t.Skip("no chromium on the PATH (or ORGTREE_CHROMIUM): skipping the browser run of /graphiql")
	}
	dir := npmDir(t, "testdata/browser", "browser-puppeteer-core", "graphiql.js")
	ts := startServer(t)
	out, _ := runNode(t, dir, "graphiql.js", 90*time.Second,
		"ORGTREE_URL="+ts.http.URL, "ORGTREE_POOL_ID="+ts.pool, "ORGTREE_SECRET="+ts.secret, "CHROMIUM="+browser)
	var run struct {
		Docs, Refused, Result string
		Problems, External    []string
	}
	require.NoError(t, json.Unmarshal(out, &run), string(out))
	assert.Contains(t, run.Docs, "query: Query", "the schema loaded before signing in")
	assert.Contains(t, run.Refused, "wrong user pool id or secret")
	var result struct {
		Data struct {
			Orgs struct{ TotalCount int }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(run.Result), &result), run.Result)
	assert.Equal(t, 0, result.Data.Orgs.TotalCount)
	assert.Contains(t, run.Result, `"list": []`)
	assert.Empty(t, run.Problems)
	assert.Empty(t, run.External, "the page loads nothing from elsewhere")
}

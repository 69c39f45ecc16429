package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Authing/authing-go-sdk/lib/management"
	"github.com/Authing/authing-go-sdk/lib/model"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree/persist"
)

// TestCredentialsKeptAcrossRestarts: the first serve on a store generates a
// user pool id and secret and keeps them; the next start prints the same
// ones and accepts tokens issued by the first; flags override for one run
// without replacing what is stored.
func TestCredentialsKeptAcrossRestarts(t *testing.T) {
	bin, work := binary(t), t.TempDir()
	first := startServe(t, bin, work, "serve", "--addr", "127.0.0.1:0")
	require.Contains(t, first.poolFrom, "generated, kept in orgtree.db")
	c1, err := management.NewClientWithError(first.pool, first.secret, first.url)
	require.NoError(t, err)
	org, err := c1.CreateOrg(&model.CreateOrgRequest{Name: "Acme"})
	require.NoError(t, err)
	token := bearer(t, first.url, first.pool, first.secret)
	key := wellKnown(t, first.url)
	first.stop(t)

	second := startServe(t, bin, work, "serve", "--addr", "127.0.0.1:0")
	require.Equal(t, first.pool, second.pool)
	require.Equal(t, first.secret, second.secret)
	require.Equal(t, "(kept in orgtree.db)", second.poolFrom)
	require.Equal(t, key, wellKnown(t, second.url), "the password encryption key is kept too")
	// The token of the first run still works: the same secret signs it.
	req, _ := http.NewRequest(http.MethodGet, second.url+"/api/v2/orgs/export", nil)
	req.Header.Set("Authorization", token)
	req.Header.Set("x-authing-userpool-id", second.pool)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var env struct {
		Code int `json:"code"`
		Data []struct {
			ID         string `json:"id"`
			UserPoolID string `json:"userPoolId"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
	resp.Body.Close()
	require.Equal(t, 200, env.Code)
	require.Len(t, env.Data, 1)
	require.Equal(t, org.RootNode.Id, env.Data[0].ID)
	require.Equal(t, first.pool, env.Data[0].UserPoolID, "old data keeps its user pool id")
	second.stop(t)

	third := startServe(t, bin, work, "serve", "--addr", "127.0.0.1:0", "--user-pool-id", "pool-x", "--secret", "secret-x")
	require.Equal(t, "pool-x", third.pool)
	require.Contains(t, third.poolFrom, "not stored")
	third.stop(t)
	fourth := startServe(t, bin, work, "serve", "--addr", "127.0.0.1:0")
	require.Equal(t, first.pool, fourth.pool, "an override is not stored")
	fourth.stop(t)
}

// wellKnown returns what GET /api/v2/.well-known answers: the public key
// the SDKs encrypt passwords with.
func wellKnown(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/api/v2/.well-known")
	require.NoError(t, err)
	defer resp.Body.Close()
	var env struct {
		Data struct {
			PublicKey string `json:"publicKey"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
	require.Contains(t, env.Data.PublicKey, "PUBLIC KEY")
	return env.Data.PublicKey
}

// bearer exchanges credentials for an access token as the SDKs do.
func bearer(t *testing.T, url, pool, secret string) string {
	t.Helper()
	body := `{"query":"query accessToken($userPoolId: String!, $secret: String!) { accessToken(userPoolId: $userPoolId, secret: $secret) { accessToken } }","variables":{"userPoolId":"` + pool + `","secret":"` + secret + `"}}`
	resp, err := http.Post(url+"/graphql/v2", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		Data struct {
			AccessToken struct {
				AccessToken string `json:"accessToken"`
			} `json:"accessToken"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.NotEmpty(t, out.Data.AccessToken.AccessToken)
	return "Bearer " + out.Data.AccessToken.AccessToken
}

// TestCommandsBesideRunningServer runs every store command as a second
// process while serve holds the store: reads see the server's tree, writes
// land in it (and so on disk), files travel both ways.
func TestCommandsBesideRunningServer(t *testing.T) {
	bin, work := binary(t), t.TempDir()
	srv := startServe(t, bin, work, "serve", "--addr", "127.0.0.1:0")
	fi, err := os.Stat(filepath.Join(work, "orgtree.db.serve"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the sidecar holds a token")

	orgJSON, err := filepath.Abs("testdata/org.json")
	require.NoError(t, err)
	out := mustCLI(t, bin, work, "import", orgJSON)
	require.Regexp(t, `imported org [0-9a-f]{24} \(root node [0-9a-f]{24}\)  北京某某公司`, out)
	golden(t, "tree.txt", mustCLI(t, bin, work, "tree"))
	// Standard input travels too.
	piped := exec.Command(bin, "import", "-")
	piped.Dir, piped.Stdin = work, strings.NewReader(`{"name":"Piped","code":"piped"}`)
	pipedOut, err := piped.CombinedOutput()
	require.NoError(t, err, string(pipedOut))
	require.Contains(t, string(pipedOut), "Piped")
	require.Contains(t, mustCLI(t, bin, work, "tree", "piped"), "Piped [piped] (0 members)")
	_, _, err = cli(t, bin, work, "--json", "chart")
	require.Error(t, err)
	golden(t, "chart.mmd", mustCLI(t, bin, work, "chart", "bj"))
	require.Contains(t, mustCLI(t, bin, work, "search", "前"), "北京某某公司 / 研发 / 前端")
	require.Contains(t, mustCLI(t, bin, work, "members", "bj/dev"), "2 of 2 member(s)")
	require.Equal(t, "moved: 北京某某公司 / 运营 / 前端\n", mustCLI(t, bin, work, "move", "frontend", "bj/ops"))
	_, errOut, err := cli(t, bin, work, "move", "dev", "backend")
	require.Error(t, err)
	require.Contains(t, errOut, "cycle")
	require.Equal(t, "ok: 2 orgs, 7 nodes, 4 users, 5 memberships; store format 2\n", mustCLI(t, bin, work, "check"))
	// The server's store keeps the history; log reads it there.
	require.Contains(t, mustCLI(t, bin, work, "log", "--node", "frontend"), "department.moved")

	// The write went through the server: SDK clients see it.
	c, err := management.NewClientWithError(srv.pool, srv.secret, srv.url)
	require.NoError(t, err)
	hits, err := c.SearchNodes("前端")
	require.NoError(t, err)
	require.Len(t, *hits, 1)

	// export -o writes the file on the client's side.
	require.Empty(t, mustCLI(t, bin, work, "export", "bj", "-o", "out.json"))
	exported, err := os.ReadFile(filepath.Join(work, "out.json"))
	require.NoError(t, err)
	require.Contains(t, string(exported), `"前端"`)

	// sync from the provider files, also through the server.
	wd, err := filepath.Abs("../../reconcile/testdata")
	require.NoError(t, err)
	syncArgs := []string{"sync", "--provider", "wecom",
		"--departments", filepath.Join(wd, "wecom_departments.json"), "--users", filepath.Join(wd, "wecom_users.json")}
	out = mustCLI(t, bin, work, append(syncArgs, "--dry-run")...)
	require.Contains(t, out, "would create org")
	require.Contains(t, out, "dry run:")
	require.Contains(t, mustCLI(t, bin, work, "check"), "2 orgs", "a dry run changes nothing")
	out = mustCLI(t, bin, work, syncArgs...)
	require.Contains(t, out, "applied:")
	require.Contains(t, mustCLI(t, bin, work, append(syncArgs, "--dry-run")...), "nothing to do")

	// backup beside the server: the server copies, the client verifies and
	// installs the copy; restore refuses to replace a store the server holds.
	out = mustCLI(t, bin, work, "backup", "copy.db")
	require.Regexp(t, `^backed up orgtree.db to copy.db: \d+ bytes, format 2, version \d+: 3 orgs, 12 nodes, 7 users, 9 memberships\n$`, out)
	_, errOut, err = cli(t, bin, work, "restore", "--force", "--lock-wait", "50ms", "copy.db")
	require.Error(t, err)
	require.Contains(t, errOut, "stop it first")
	remoteDir := t.TempDir()
	out = mustCLI(t, bin, remoteDir, "--server", srv.url, "--token", srv.secret, "backup", "remote.db")
	require.Contains(t, out, "backed up "+srv.url+" to remote.db")
	require.Contains(t, mustCLI(t, bin, remoteDir, "--db", "remote.db", "check"), "ok: 3 orgs, 12 nodes")

	// A bad token is refused.
	_, errOut, err = cli(t, bin, work, "--server", srv.url, "--token", "wrong", "tree")
	require.Error(t, err)
	require.Contains(t, errOut, "401")
	// --server with the user pool secret reaches it without the sidecar.
	require.Contains(t, mustCLI(t, bin, t.TempDir(), "--server", srv.url, "--token", srv.secret, "tree", "--depth", "1"), "Acme")

	srv.stop(t)
	_, err = os.Stat(filepath.Join(work, "orgtree.db.serve"))
	require.ErrorIs(t, err, os.ErrNotExist, "the sidecar goes with the server")
	// Everything is on disk: the local commands see it.
	require.Equal(t, "ok: 3 orgs, 12 nodes, 7 users, 9 memberships; store format 2\n", mustCLI(t, bin, work, "check"))
	require.Equal(t, mustCLI(t, bin, work, "tree"), mustCLI(t, bin, work, "--db", "copy.db", "tree"), "the backup holds the same tree")
	db, err := persist.Open(filepath.Join(work, "orgtree.db"), persist.WithReadOnly())
	require.NoError(t, err)
	require.NoError(t, db.Tree().Check())
	require.NoError(t, db.Close())
	require.Contains(t, mustCLI(t, bin, work, "log", "--since", "1"), "department.moved", "and so does the local command")
}

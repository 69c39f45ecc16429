package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

// uiOrg builds root → 研发部 (leader 王伟) → {后端, 前端}, root → 市场部,
// with members so that subtree counts differ from direct ones (u1 sits in
// two departments of 研发部's subtree and counts once).
func uiOrg(t *testing.T, ts *testServer) (org orgtree.Org, ids map[string]string) {
	t.Helper()
	ids = map[string]string{}
	require.NoError(t, ts.tree.Update(func(tx *orgtree.Tx) error {
		var err error
		if org, err = tx.CreateOrg(orgtree.OrgInput{Name: "公司"}); err != nil {
			return err
		}
		for _, u := range []orgtree.User{{ID: "u1", Name: "王伟"}, {ID: "u2", Name: "李娜"}, {ID: "u3", Username: "zhang"}} {
			if _, err := tx.CreateUser(u); err != nil {
				return err
			}
		}
		add := func(key, parent, name string, leader string, members ...string) {
			if err != nil {
				return
			}
			var n orgtree.Node
			if n, err = tx.AddNode(orgtree.NodeInput{ParentID: parent, Name: name, Code: key, LeaderUserID: leader}); err == nil {
				ids[key] = n.ID
				err = tx.AddMembers(n.ID, members...)
			}
		}
		add("rd", org.RootID, "研发部", "u1", "u1")
		add("be", ids["rd"], "后端", "", "u1", "u2")
		add("fe", ids["rd"], "前端", "")
		add("mk", org.RootID, "市场部", "", "u3")
		return err
	}))
	ids["root"] = org.RootID
	return org, ids
}

// getREST GETs a REST endpoint with a valid token and decodes the envelope.
func (ts *testServer) getREST(path string, data any) (code int, msg string) {
	ts.t.Helper()
	status, body := ts.do(http.MethodGet, path, ts.token(), nil)
	require.Equal(ts.t, http.StatusOK, status, string(body))
	var env struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	require.NoError(ts.t, json.Unmarshal(body, &env), string(body))
	if env.Code == 200 && data != nil {
		require.NoError(ts.t, json.Unmarshal(env.Data, data), string(env.Data))
	}
	return env.Code, env.Message
}

func TestUIChildren(t *testing.T) {
	ts := startServer(t)
	_, ids := uiOrg(t, ts)
	var lvl struct {
		Node     uiNode
		Children []uiNode
	}
	code, msg := ts.getREST("/api/v2/ui/children?nodeId="+ids["rd"], &lvl)
	require.Equal(t, 200, code, msg)
	assert.Equal(t, uiNode{ID: ids["rd"], ParentID: ids["root"], Name: "研发部", Code: "rd", Leader: "王伟", Children: 2, Members: 1, Subtree: 2}, lvl.Node)
	require.Len(t, lvl.Children, 2)
	byName := map[string]uiNode{}
	for _, c := range lvl.Children {
		byName[c.Name] = c
	}
	assert.Equal(t, uiNode{ID: ids["be"], ParentID: ids["rd"], Name: "后端", Code: "be", Members: 2, Subtree: 2}, byName["后端"])
	assert.Equal(t, 0, byName["前端"].Subtree)

	code, _ = ts.getREST("/api/v2/ui/children?nodeId=nope", nil)
	assert.Equal(t, 404, code)
	status, body := ts.do(http.MethodGet, "/api/v2/ui/children?nodeId="+ids["rd"], "", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, string(body), `"code":401`, "a token is required")
}

// TestUIChildrenPages: offset and limit cut a page of summaries out of the
// child order, ids=true adds every child's id, and bad paging is refused.
func TestUIChildrenPages(t *testing.T) {
	ts := startServer(t)
	org, _ := uiOrg(t, ts)
	parent, err := ts.tree.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "宽部门"})
	require.NoError(t, err)
	for i := range 25 {
		_, err := ts.tree.AddNode(orgtree.NodeInput{ParentID: parent.ID, Name: fmt.Sprintf("组 %02d", i)})
		require.NoError(t, err)
	}
	all, err := ts.tree.ChildIDs(parent.ID)
	require.NoError(t, err)
	type level struct {
		Node     uiNode
		Total    int
		Offset   int
		Children []uiNode
		IDs      []string
	}
	idsOf := func(l level) []string {
		out := make([]string, len(l.Children))
		for i, c := range l.Children {
			out[i] = c.ID
		}
		return out
	}
	for _, tc := range []struct {
		query      string
		from, to   int
		wantIDs    bool
		wantOffset int
	}{
		{"", 0, 25, false, 0},
		{"&offset=10&limit=5", 10, 15, false, 10},
		{"&offset=20&limit=10&ids=true", 20, 25, true, 20},
		{"&offset=0&limit=3&ids=1", 0, 3, true, 0},
		{"&offset=30&limit=3", 25, 25, false, 30},
		{"&offset=7", 7, 25, false, 7},
	} {
		t.Run(tc.query, func(t *testing.T) {
			var l level
			code, msg := ts.getREST("/api/v2/ui/children?nodeId="+parent.ID+tc.query, &l)
			require.Equal(t, 200, code, msg)
			assert.Equal(t, 25, l.Total)
			assert.Equal(t, 25, l.Node.Children)
			assert.Equal(t, tc.wantOffset, l.Offset)
			assert.Equal(t, all[tc.from:tc.to], idsOf(l))
			if tc.wantIDs {
				assert.Equal(t, all, l.IDs)
			} else {
				assert.Nil(t, l.IDs)
			}
		})
	}
	for _, bad := range []string{"&offset=-1", "&offset=x", "&limit=0", "&limit=-3"} {
		code, _ := ts.getREST("/api/v2/ui/children?nodeId="+parent.ID+bad, nil)
		assert.Equal(t, 400, code, bad)
	}
}

// BenchmarkUIChildren: a level of 10,000 children in one answer, against
// its first page of 100 with every id (what a windowed level asks for).
func BenchmarkUIChildren(b *testing.B) {
	ts := startServer(b)
	org, err := ts.tree.CreateOrg(orgtree.OrgInput{Name: "公司"})
	require.NoError(b, err)
	var wide string
	require.NoError(b, ts.tree.Update(func(tx *orgtree.Tx) error {
		n, err := tx.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "万子部"})
		if err != nil {
			return err
		}
		wide = n.ID
		for i := range 10_000 {
			if _, err := tx.AddNode(orgtree.NodeInput{ParentID: n.ID, Name: fmt.Sprintf("子部门 %d", i)}); err != nil {
				return err
			}
		}
		return nil
	}))
	tok := ts.token()
	for _, q := range []string{"", "&offset=0&limit=100&ids=true"} {
		b.Run("q="+q, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				status, body := ts.do(http.MethodGet, "/api/v2/ui/children?nodeId="+wide+q, tok, nil)
				if status != http.StatusOK {
					b.Fatal(status)
				}
				size = len(body)
			}
			b.ReportMetric(float64(size), "bytes/answer")
		})
	}
}

func TestUISubtree(t *testing.T) {
	ts := startServer(t)
	_, ids := uiOrg(t, ts)
	var sub struct {
		Nodes     []uiNode
		Truncated bool
	}
	code, msg := ts.getREST("/api/v2/ui/subtree?nodeId="+ids["root"], &sub)
	require.Equal(t, 200, code, msg)
	assert.False(t, sub.Truncated)
	names := []string{}
	for _, n := range sub.Nodes {
		names = append(names, n.Name)
	}
	assert.Equal(t, "公司", names[0], "the node first, then breadth first")
	assert.ElementsMatch(t, []string{"公司", "研发部", "市场部", "后端", "前端"}, names)
	assert.Equal(t, 3, sub.Nodes[0].Subtree)

	code, _ = ts.getREST("/api/v2/ui/subtree?nodeId="+ids["root"]+"&depth=1", &sub)
	require.Equal(t, 200, code)
	assert.Len(t, sub.Nodes, 3, "depth 1: the node and its children")
	code, _ = ts.getREST("/api/v2/ui/subtree?nodeId="+ids["root"]+"&max=2", &sub)
	require.Equal(t, 200, code)
	assert.Len(t, sub.Nodes, 2)
	assert.True(t, sub.Truncated)
	for _, bad := range []string{"depth=0", "max=-1", "depth=x"} {
		code, _ = ts.getREST("/api/v2/ui/subtree?nodeId="+ids["root"]+"&"+bad, nil)
		assert.Equal(t, 400, code, bad)
	}
}

func TestUISearch(t *testing.T) {
	ts := startServer(t)
	org, ids := uiOrg(t, ts)
	_, err := ts.tree.CreateOrg(orgtree.OrgInput{Name: "别的研发"})
	require.NoError(t, err)
	var hits []uiSearchHit
	code, msg := ts.getREST("/api/v2/ui/search?orgId="+org.ID+"&q=%E7%A0%94%E5%8F%91", &hits) // 研发
	require.Equal(t, 200, code, msg)
	require.Len(t, hits, 1, "only this org's departments")
	assert.Equal(t, ids["rd"], hits[0].ID)
	assert.Equal(t, []string{"公司", "研发部"}, hits[0].NamePath)
	assert.Equal(t, []string{ids["root"], ids["rd"]}, hits[0].Path)
	assert.Equal(t, 2, hits[0].Subtree)

	code, _ = ts.getREST("/api/v2/ui/search?orgId="+org.ID+"&q=%E7%AB%AF&limit=1", &hits) // 端
	require.Equal(t, 200, code)
	assert.Len(t, hits, 1, "limit")
	code, _ = ts.getREST("/api/v2/ui/search?orgId="+org.ID+"&q=", &hits)
	require.Equal(t, 200, code)
	assert.Empty(t, hits)
	code, _ = ts.getREST("/api/v2/ui/search?orgId=nope&q=x", nil)
	assert.Equal(t, 404, code)
}

func TestUIAssets(t *testing.T) {
	ts := startServer(t)
	for _, path := range []string{"/ui/", "/ui/app.js", "/ui/app.css"} {
		resp, err := http.Get(ts.http.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		csp := resp.Header.Get("Content-Security-Policy")
		assert.Contains(t, csp, "default-src 'self'", path)
		assert.NotContains(t, csp, "unsafe-inline", path)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(ts.http.URL + "/ui")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
	assert.Equal(t, "ui/", resp.Header.Get("Location"), "relative: works under a prefix")

	// The assets load nothing from elsewhere: no absolute URL but the SVG
	// namespace.
	for _, name := range []string{"webui/index.html", "webui/app.js", "webui/app.css"} {
		b, err := webuiFiles.ReadFile(name)
		require.NoError(t, err)
		text := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "")
		assert.NotContains(t, text, "http://", name)
		assert.NotContains(t, text, "https://", name)
	}
}

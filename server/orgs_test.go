package server

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtree/orgtree"
)

// restData GETs path with a token and returns the envelope's code, message
// and data.
func (ts *testServer) restData(method, path, token string, body []byte) (int, string, json.RawMessage) {
	ts.t.Helper()
	status, raw := ts.do(method, path, token, body)
	require.Equal(ts.t, http.StatusOK, status, string(raw))
	var r struct {
		Code    int
		Message string
		Data    json.RawMessage
	}
	require.NoError(ts.t, json.Unmarshal(raw, &r), string(raw))
	return r.Code, r.Message, r.Data
}

const createOrgWithTenant = `mutation createOrg($name: String!, $code: String, $tenantId: String) {
  createOrg(name: $name, code: $code, tenantId: $tenantId) { id tenantId rootNode { id name } }
}`

func TestOrgsByTenantAndAllOrgs(t *testing.T) {
	ts := startServer(t)
	token := ts.token()
	var ids []string
	for _, o := range []struct{ name, tenant string }{{"A", "t1"}, {"B", ""}, {"C", "t1"}} {
		vars := map[string]any{"name": o.name, "code": "c" + o.name}
		if o.tenant != "" {
			vars["tenantId"] = o.tenant
		}
		r := ts.gql(createOrgWithTenant, vars)
		require.Empty(t, r.Errors, r.raw)
		org := r.Data["createOrg"].(map[string]any)
		if o.tenant == "" {
			assert.Nil(t, org["tenantId"])
		} else {
			assert.Equal(t, o.tenant, org["tenantId"])
		}
		ids = append(ids, org["id"].(string))
	}
	got, err := ts.tree.Org(ids[2])
	require.NoError(t, err)
	assert.Equal(t, "t1", got.TenantID)
	r := ts.gql(`query { org(id: "`+ids[0]+`") { tenantId } orgs { list { id tenantId } } }`, nil)
	require.Empty(t, r.Errors, r.raw)
	assert.Equal(t, "t1", r.Data["org"].(map[string]any)["tenantId"])

	// getAllOrgs: GET /api/v2/orgs/count, then GET /api/v2/orgs?page&limit.
	code, _, data := ts.restData(http.MethodGet, "/api/v2/orgs/count", token, nil)
	require.Equal(t, 200, code)
	assert.JSONEq(t, `{"count":3}`, string(data))
	code, _, data = ts.restData(http.MethodGet, "/api/v2/orgs?page=1&limit=2", token, nil)
	require.Equal(t, 200, code, string(data))
	var list []struct {
		ID, UserPoolID       string
		TenantID             *string
		CreatedAt, UpdatedAt string
		RootNode             struct {
			ID, Name string
			Root     bool
		}
	}
	require.NoError(t, json.Unmarshal(data, &list), string(data))
	require.Len(t, list, 2)
	assert.Equal(t, ids[2], list[0].ID, "newest first, as the orgs query")
	assert.Equal(t, "C", list[0].RootNode.Name)
	assert.True(t, list[0].RootNode.Root)
	assert.Equal(t, "t1", *list[0].TenantID)
	assert.Nil(t, list[1].TenantID)
	assert.Equal(t, ts.pool, list[0].UserPoolID)
	assert.NotEmpty(t, list[0].CreatedAt)
	assert.NotContains(t, string(data), `"nodes"`)
	code, _, data = ts.restData(http.MethodGet, "/api/v2/orgs?page=2&limit=2", token, nil)
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(data, &list))
	require.Len(t, list, 1)
	assert.Equal(t, ids[0], list[0].ID)
	code, _, _ = ts.restData(http.MethodGet, "/api/v2/orgs?page=x", token, nil)
	assert.Equal(t, 400, code)
	code, _, _ = ts.restData(http.MethodGet, "/api/v2/orgs/count", "", nil)
	assert.Equal(t, 401, code)

	// getOrgByTenantId: the tenant's orgs, oldest first, as export documents.
	code, _, data = ts.restData(http.MethodGet, "/api/v2/orgs/by-tenant?tenant_id=t1", token, nil)
	require.Equal(t, 200, code, string(data))
	var docs []struct {
		ID, OrgID, Name, TenantID string
		Members, Children         []any
	}
	require.NoError(t, json.Unmarshal(data, &docs), string(data))
	require.Len(t, docs, 2)
	assert.Equal(t, ids[0], docs[0].OrgID)
	assert.Equal(t, "A", docs[0].Name)
	assert.Equal(t, "t1", docs[0].TenantID)
	assert.Equal(t, ids[2], docs[1].OrgID)
	assert.NotNil(t, docs[0].Members)
	assert.NotNil(t, docs[0].Children)
	code, _, data = ts.restData(http.MethodGet, "/api/v2/orgs/by-tenant?tenant_id=nobody", token, nil)
	require.Equal(t, 200, code)
	assert.JSONEq(t, `[]`, string(data))
	code, _, _ = ts.restData(http.MethodGet, "/api/v2/orgs/by-tenant", token, nil)
	assert.Equal(t, 400, code)

	// The export carries the tenant, so an import through REST keeps it.
	_, _, data = ts.restData(http.MethodGet, "/api/v2/orgs/export?org_id="+ids[0], token, nil)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc))
	assert.Equal(t, "t1", doc["tenantId"])
	doc["code"] = "reimported"
	body, err := json.Marshal(map[string]any{"filetype": "json", "file": doc})
	require.NoError(t, err)
	code, msg, _ := ts.restData(http.MethodPost, "/api/v2/orgs/import", token, body)
	require.Equal(t, 200, code, msg)
	assert.Len(t, ts.tree.OrgsByTenant("t1"), 3)
	ts.check()
}

func TestStartSyncAnswersHowToSyncOffline(t *testing.T) {
	ts := startServer(t)
	token := ts.token()
	for _, path := range []string{"/connections/enterprise/dingtalk/start-sync", "/connections/enterprise/wechatwork/start-sync", "/api/v2/ad/sync"} {
		code, msg, data := ts.restData(http.MethodPost, path, token, []byte(`{}`))
		assert.Equal(t, 501, code, path)
		assert.Contains(t, msg, "orgtree sync --provider", path)
		assert.JSONEq(t, `null`, string(data), path)
		code, _, _ = ts.restData(http.MethodPost, path, "", []byte(`{}`))
		assert.Equal(t, 401, code, path)
	}
}

func TestUserOrgs(t *testing.T) {
	ts := startServer(t)
	token := ts.token()
	a, err := ts.tree.CreateOrg(orgtree.OrgInput{Name: "A", TenantID: "t"})
	require.NoError(t, err)
	b, err := ts.tree.CreateOrg(orgtree.OrgInput{Name: "B"})
	require.NoError(t, err)
	dept, err := ts.tree.AddNode(orgtree.NodeInput{ParentID: a.RootID, Name: "Dept"})
	require.NoError(t, err)
	team, err := ts.tree.AddNode(orgtree.NodeInput{ParentID: dept.ID, Name: "Team"})
	require.NoError(t, err)
	u, err := ts.tree.CreateUser(orgtree.User{Username: "u"})
	require.NoError(t, err)
	require.NoError(t, ts.tree.AddMembers(team.ID, u.ID))
	require.NoError(t, ts.tree.AddMembers(b.RootID, u.ID))

	code, msg, data := ts.restData(http.MethodGet, "/api/v2/users/"+u.ID+"/orgs", token, nil)
	require.Equal(t, 200, code, msg)
	var paths [][]map[string]any
	require.NoError(t, json.Unmarshal(data, &paths), string(data))
	require.Len(t, paths, 2, "one path per membership, in join order")
	names := func(p []map[string]any) []any {
		var out []any
		for _, item := range p[1:] {
			assert.Equal(t, "node", item["type"])
			out = append(out, item["name"])
		}
		return out
	}
	assert.Equal(t, map[string]any{"type": "org", "id": a.ID, "tenantId": "t", "userPoolId": ts.pool, "rootNodeId": a.RootID,
		"createdAt": wireTime(a.CreatedAt), "updatedAt": wireTime(a.UpdatedAt)}, paths[0][0])
	assert.Equal(t, []any{"A", "Dept", "Team"}, names(paths[0]))
	assert.Equal(t, b.ID, paths[1][0]["id"])
	assert.Nil(t, paths[1][0]["tenantId"])
	assert.Equal(t, []any{"B"}, names(paths[1]))

	lonely, err := ts.tree.CreateUser(orgtree.User{Username: "lonely"})
	require.NoError(t, err)
	code, _, data = ts.restData(http.MethodGet, "/api/v2/users/"+lonely.ID+"/orgs", token, nil)
	require.Equal(t, 200, code)
	assert.JSONEq(t, `[]`, string(data))
	code, _, _ = ts.restData(http.MethodGet, "/api/v2/users/nobody/orgs", token, nil)
	assert.Equal(t, 404, code)
}

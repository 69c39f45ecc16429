package server

import (
	"encoding/json"
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

	out, stderr := runNode(t, dir, "run.js", 2*time.Minute,
		"ORGTREE_HOST="+ts.http.URL, "ORGTREE_POOL_ID="+ts.pool, "ORGTREE_SECRET="+ts.secret)

	steps := map[string]jsStep{}
	var order []string
	for _, s := range jsonLines[jsStep](t, out) {
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
		_, err := ts.tree.User(user.ID)
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
	require.False(t, strings.Contains(stderr, "Error"), stderr)
}

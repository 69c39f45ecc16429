package server

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntrospectionMatchesGraphQLJS has graphql-js rebuild the schema from
// the server's introspection and compares it with graphql-js's reading of
// schema.graphql: the two printed schemas must be equal.
func TestIntrospectionMatchesGraphQLJS(t *testing.T) {
	if testing.Short() {
		t.Skip("installs and runs graphql-js")
	}
	dir := npmDir(t, "testdata/graphqlhttp", "graphql-http-"+graphqlHTTPVersion, "introspect.js")
	ts := startServer(t)
	sdl, err := filepath.Abs("schema.graphql")
	require.NoError(t, err)
	out, stderr := runNode(t, dir, "introspect.js", time.Minute,
		"ORGTREE_URL="+ts.http.URL+"/graphql/v2", "ORGTREE_POOL_ID="+ts.pool, "ORGTREE_TOKEN="+ts.token(), "ORGTREE_SDL="+sdl)
	var printed struct {
		FromIntrospection, FromSource string
		Defer                         bool
	}
	require.NoError(t, json.Unmarshal(out, &printed), "stdout %d bytes, stderr: %s", len(out), stderr)
	require.Greater(t, len(printed.FromSource), 10000, "the whole schema was printed")
	assert.True(t, printed.Defer, "gqlparser's @defer is introspected (and left out of the comparison)")
	if printed.FromSource != printed.FromIntrospection {
		// assert.Equal would print both 60 kB schemas; show the first difference.
		a, b := strings.Split(printed.FromSource, "\n"), strings.Split(printed.FromIntrospection, "\n")
		for i := 0; i < min(len(a), len(b)); i++ {
			if a[i] != b[i] {
				t.Fatalf("introspection differs from schema.graphql at line %d:\n  source:        %s\n  introspection: %s", i+1, a[i], b[i])
			}
		}
		t.Fatalf("introspection differs from schema.graphql in length: %d vs %d lines", len(a), len(b))
	}
}

// introspect runs the standard full introspection query.
func introspect(t *testing.T, ts *testServer) map[string]any {
	t.Helper()
	r := ts.gql(introspection.NewQuery(introspection.QueryOptions{}), nil)
	require.Empty(t, r.Errors, r.raw)
	return r.Data["__schema"].(map[string]any)
}

func findByName(t *testing.T, list any, name string) map[string]any {
	t.Helper()
	for _, item := range list.([]any) {
		if m := item.(map[string]any); m["name"] == name {
			return m
		}
	}
	t.Fatalf("no %q", name)
	return nil
}

func TestIntrospection(t *testing.T) {
	ts := startServer(t)
	schema := introspect(t, ts)
	assert.Equal(t, map[string]any{"name": "Query"}, schema["queryType"])
	assert.Equal(t, map[string]any{"name": "Mutation"}, schema["mutationType"])
	assert.Nil(t, schema["subscriptionType"])

	types := schema["types"].([]any)
	byName := map[string]map[string]any{}
	for _, ty := range types {
		m := ty.(map[string]any)
		byName[m["name"].(string)] = m
	}
	for _, name := range []string{"Query", "Mutation", "Org", "Node", "User", "SortByEnum", "CreateUserInput", "String", "Boolean", "__Schema", "__Type"} {
		require.Contains(t, byName, name)
	}
	// Every type reference names a type of the list.
	var refs func(ref map[string]any)
	refs = func(ref map[string]any) {
		if of, ok := ref["ofType"].(map[string]any); ok {
			assert.Contains(t, []any{"LIST", "NON_NULL"}, ref["kind"])
			refs(of)
			return
		}
		assert.Contains(t, byName, ref["name"], "a reference to an unknown type")
	}
	for _, ty := range byName {
		for _, key := range []string{"fields", "inputFields"} {
			list, _ := ty[key].([]any)
			for _, f := range list {
				refs(f.(map[string]any)["type"].(map[string]any))
				args, _ := f.(map[string]any)["args"].([]any)
				for _, a := range args {
					refs(a.(map[string]any)["type"].(map[string]any))
				}
			}
		}
	}

	// Kinds and the null of fields that do not apply to a kind.
	org := byName["Org"]
	assert.Equal(t, "OBJECT", org["kind"])
	assert.Nil(t, org["inputFields"])
	assert.Nil(t, org["enumValues"])
	assert.Equal(t, []any{}, org["interfaces"])
	assert.NotContains(t, []string{"__schema", "__type"}, findByName(t, byName["Query"]["fields"], "org")["name"])
	for _, f := range byName["Query"]["fields"].([]any) {
		assert.False(t, strings.HasPrefix(f.(map[string]any)["name"].(string), "__"), "meta fields are not listed")
	}
	tenant := findByName(t, org["fields"], "tenantId")
	assert.Equal(t, map[string]any{"kind": "SCALAR", "name": "String", "ofType": nil}, tenant["type"])
	rootNode := findByName(t, org["fields"], "rootNode")
	assert.Equal(t, "NON_NULL", rootNode["type"].(map[string]any)["kind"])
	assert.Equal(t, "Node", rootNode["type"].(map[string]any)["ofType"].(map[string]any)["name"])

	str := byName["String"]
	assert.Equal(t, "SCALAR", str["kind"])
	assert.Nil(t, str["fields"])
	sortBy := byName["SortByEnum"]
	assert.Equal(t, "ENUM", sortBy["kind"])
	assert.Nil(t, sortBy["fields"])
	findByName(t, sortBy["enumValues"], "CREATEDAT_DESC")
	input := byName["CreateUserInput"]
	assert.Equal(t, "INPUT_OBJECT", input["kind"])
	assert.Nil(t, input["fields"])
	findByName(t, input["inputFields"], "password")

	// Arguments and their defaults, printed as GraphQL literals.
	users := findByName(t, byName["Node"]["fields"], "users")
	assert.Equal(t, "true", findByName(t, users["args"], "includeChildrenNodes")["defaultValue"])
	assert.Equal(t, "CREATEDAT_DESC", findByName(t, users["args"], "sortBy")["defaultValue"])
	assert.Nil(t, findByName(t, findByName(t, byName["Query"]["fields"], "org")["args"], "id")["defaultValue"])

	// Directives: the built-in ones and the schema's own.
	for _, name := range []string{"skip", "include", "deprecated", "specifiedBy", "oneOf", "date", "constraint"} {
		findByName(t, schema["directives"], name)
	}
	skip := findByName(t, schema["directives"], "skip")
	assert.ElementsMatch(t, []any{"FIELD", "FRAGMENT_SPREAD", "INLINE_FRAGMENT"}, skip["locations"])

	// __type, __typename inside introspection, aliases and fragments.
	r := ts.gql(`query($n: String!) {
	  t: __type(name: $n) { __typename kind name ...F }
	  none: __type(name: "NoSuchType") { name }
	}
	fragment F on __Type { fields(includeDeprecated: true) { __typename name } }`, map[string]any{"n": "Org"})
	require.Empty(t, r.Errors, r.raw)
	typ := r.Data["t"].(map[string]any)
	assert.Equal(t, "__Type", typ["__typename"])
	assert.Equal(t, "OBJECT", typ["kind"])
	assert.Equal(t, map[string]any{"__typename": "__Field", "name": "id"}, typ["fields"].([]any)[0])
	assert.Nil(t, r.Data["none"])

	// __typename anywhere: roots, objects, lists of objects, mutations.
	r = ts.gql(`{ __typename orgs { __typename list { __typename } } }`, nil)
	require.Empty(t, r.Errors, r.raw)
	assert.Equal(t, map[string]any{"__typename": "Query", "orgs": map[string]any{"__typename": "PaginatedOrgs", "list": []any{}}}, r.Data)
	r = ts.gql(`mutation { __typename createOrg(name: "X") { __typename rootNode { __typename } } }`, nil)
	require.Empty(t, r.Errors, r.raw)
	assert.Equal(t, map[string]any{"__typename": "Mutation", "createOrg": map[string]any{"__typename": "Org", "rootNode": map[string]any{"__typename": "Node"}}}, r.Data)
}

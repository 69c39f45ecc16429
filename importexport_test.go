package orgtree

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// golden compares got (JSON) with testdata/name, indented for review.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var pretty bytes.Buffer
	require.NoError(t, json.Indent(&pretty, got, "", "  "))
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, pretty.Bytes(), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create %s", path)
	assert.Equal(t, string(want), pretty.String())
}

// seedImport is the import document of the reference SDKs' examples.
const seedImport = `{
	"name": "北京某某公司有限公司",
	"code": "example",
	"children": [
		{"code": "operation", "name": "运营", "description": "商业化部门"},
		{"code": "dev", "name": "研发", "description": "研发部门",
		 "children": [{"code": "backend", "name": "后端", "description": "后端研发部门"}]}
	]
}`

func TestImportSeedExample(t *testing.T) {
	tr := newTestTree(t)
	orgs, err := tr.ImportJSON(strings.NewReader(seedImport), ImportOptions{})
	require.NoError(t, err)
	require.Len(t, orgs, 1)
	checked(t, tr)
	backend, err := tr.NodeByCode(orgs[0].ID, "backend")
	require.NoError(t, err)
	names, _ := tr.NamePath(backend.ID)
	assert.Equal(t, []string{"北京某某公司有限公司", "研发", "后端"}, names)
	kids, _ := tr.Children(orgs[0].RootID, 1)
	assert.Equal(t, []string{"运营", "研发"}, []string{kids[0].Name, kids[1].Name}, "document order survives")
	var buf bytes.Buffer
	require.NoError(t, tr.ExportJSON(&buf, orgs[0].ID, ExportOptions{}))
	golden(t, "seed_import_export.json", buf.Bytes())
}

func TestExportAllGolden(t *testing.T) {
	s := newSample(t)
	require.NoError(t, s.tr.SetMainDepartment(s.bob, s.backend))
	require.NoError(t, s.tr.GrantResource(s.dev, Resource{Namespace: "app", Code: "books:1", Type: ResourceData, Actions: []string{"books:read"}}))
	_, err := s.tr.UpdateNode(s.ops, NodeUpdate{NameI18n: map[string]string{"en-US": "Operations", "zh-CN": "运营"}, Description: Ptr("line1\nline2 \"quoted\" / \\")})
	require.NoError(t, err)
	_, err = s.tr.CreateOrg(OrgInput{Name: "Second", ExternalID: "ding-1"})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, s.tr.ExportJSON(&buf, "", ExportOptions{}))
	golden(t, "export_all.json", buf.Bytes())
	// The standard library reads it back the same way our decoder does.
	var generic []map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &generic))
	require.Len(t, generic, 2)
}

var idOrTime = regexp.MustCompile(`"(id|orgId|mainDepartmentId|createdAt|updatedAt)":"[^"]*"|"path":\[[^\]]*\]`)

// normalise drops ids and timestamps, which an import makes anew.
func normalise(b []byte) string { return idOrTime.ReplaceAllString(string(b), `"$1":_`) }

func TestExportImportRoundTrip(t *testing.T) {
	s := newSample(t)
	require.NoError(t, s.tr.SetMainDepartment(s.bob, s.ops))
	require.NoError(t, s.tr.GrantResource(s.backend, Resource{Namespace: "n", Code: "c", Type: ResourceAPI, Actions: []string{"read", "write"}}))
	_, err := s.tr.UpdateNode(s.frontend, NodeUpdate{Order: Ptr(3), ExternalID: Ptr("fe"), LeaderUserID: Ptr(s.alice), DescriptionI18n: map[string]string{"en": "Front"}})
	require.NoError(t, err)
	var first bytes.Buffer
	require.NoError(t, s.tr.ExportJSON(&first, "", ExportOptions{}))

	// Into a fresh tree: users are created from the member objects.
	fresh := newTestTree(t, WithIDGenerator(SequentialIDs("new")))
	_, err = fresh.ImportJSON(bytes.NewReader(first.Bytes()), ImportOptions{})
	require.NoError(t, err)
	checked(t, fresh)
	var second bytes.Buffer
	require.NoError(t, fresh.ExportJSON(&second, "", ExportOptions{}))
	assert.Equal(t, normalise(first.Bytes()), normalise(second.Bytes()))
	bob, err := fresh.User(s.bob)
	require.NoError(t, err)
	ops, _ := fresh.Search("ops", SearchOptions{})
	require.Len(t, ops, 1)
	assert.Equal(t, ops[0].Node.ID, bob.MainDepartmentID, "the main department is restored")

	// With KeepIDs into a fresh tree the ids survive too.
	kept := newTestTree(t)
	_, err = kept.ImportJSON(bytes.NewReader(first.Bytes()), ImportOptions{KeepIDs: true})
	require.NoError(t, err)
	var third bytes.Buffer
	require.NoError(t, kept.ExportJSON(&third, "", ExportOptions{}))
	stamps := regexp.MustCompile(`"(createdAt|updatedAt)":"[^"]*"`)
	assert.Equal(t, stamps.ReplaceAllString(first.String(), "_"), stamps.ReplaceAllString(third.String(), "_"))

	// Importing again into the same tree with KeepIDs collides.
	unchanged(t, kept, ErrExists, func() error {
		_, err := kept.ImportJSON(bytes.NewReader(first.Bytes()), ImportOptions{KeepIDs: true})
		return err
	})
}

func TestImportUnderParent(t *testing.T) {
	s := newSample(t)
	doc := `[{"name":"a","code":"a","members":["` + s.alice + `"]},{"name":"b","children":[{"name":"c"}]}]`
	orgs, err := s.tr.ImportJSON(strings.NewReader(doc), ImportOptions{ParentID: s.ops})
	require.NoError(t, err)
	assert.Empty(t, orgs)
	checked(t, s.tr)
	kids, _ := s.tr.Children(s.ops, 2)
	assert.Equal(t, []string{"a", "b", "c"}, []string{kids[0].Name, kids[1].Name, kids[2].Name})
	// An import larger than the tree it joins (its counts are rebuilt for
	// the whole tree, not added up the path), with users already members.
	var big strings.Builder
	big.WriteString(`[`)
	for i := range 40 {
		if i > 0 {
			big.WriteString(`,`)
		}
		fmt.Fprintf(&big, `{"name":"big %d","members":["%s","%s"]}`, i, s.alice, s.bob)
	}
	big.WriteString(`]`)
	_, err = s.tr.ImportJSON(strings.NewReader(big.String()), ImportOptions{ParentID: s.dev})
	require.NoError(t, err)
	checked(t, s.tr)
	// Codes must be free in the target org.
	unchanged(t, s.tr, ErrDuplicateCode, func() error {
		_, err := s.tr.ImportJSON(strings.NewReader(`{"name":"x","code":"dev"}`), ImportOptions{ParentID: s.ops})
		return err
	})
}

func TestImportErrors(t *testing.T) {
	tr := newTestTree(t, WithLimits(Limits{MaxDepth: 5, MaxImportNodes: 50}))
	_, err := tr.CreateUser(User{ID: "u1"})
	require.NoError(t, err)
	deep := strings.Repeat(`{"name":"x","children":[`, 10) + strings.Repeat(`]}`, 10)
	for _, tc := range []struct {
		name, doc string
		want      error
		path      string
	}{
		{"empty", ``, ErrInvalidJSON, "$"},
		{"not an object", `"x"`, ErrInvalidJSON, "$"},
		{"truncated", `{"name":"a","children":[{"name":"b"}`, ErrInvalidJSON, "$.children[1]"},
		{"trailing garbage", `{"name":"a"} x`, ErrInvalidJSON, "$"},
		{"second document", `{"name":"a"}{"name":"b"}`, ErrInvalidJSON, "$"},
		{"duplicate key", `{"name":"a","name":"b"}`, ErrInvalidJSON, "$.name"},
		{"wrong type name", `{"name":5}`, ErrInvalidJSON, "$.name"},
		{"wrong type children", `{"name":"a","children":{}}`, ErrInvalidJSON, "$.children"},
		{"child not object", `{"name":"a","children":[1]}`, ErrInvalidJSON, "$.children[0]"},
		{"order not int", `{"name":"a","order":1.5}`, ErrInvalidJSON, "$.order"},
		{"order too big", `{"name":"a","order":99999999999}`, ErrInvalidJSON, "$.order"},
		{"bad time", `{"name":"a","createdAt":"yesterday"}`, ErrInvalidJSON, "$.createdAt"},
		{"i18n not strings", `{"name":"a","nameI18n":{"en":1}}`, ErrInvalidJSON, "$.nameI18n.en"},
		{"too deep", deep, ErrLimitExceeded, "$.children[0].children[0].children[0].children[0].children[0].children[0]"},
		{"too many nodes", `{"name":"a","children":[` + strings.TrimSuffix(strings.Repeat(`{"name":"b"},`, 60), ",") + `]}`, ErrLimitExceeded, "$.children[49]"},
		{"empty name", `{"name":"a","children":[{"name":"ok"},{"name":" "}]}`, ErrInvalidName, "$.children[1]"},
		{"missing name", `{"code":"a"}`, ErrInvalidName, "$"},
		{"duplicate code", `{"name":"a","code":"c","children":[{"name":"b","code":"c"}]}`, ErrDuplicateCode, "$.children[0].code"},
		{"reserved code", `{"name":"a","children":[{"name":"b","code":"sys:x"}]}`, ErrInvalidCode, "$.children[0]"},
		{"unknown member", `{"name":"a","members":["u1","ghost"]}`, ErrNotFound, "$.members[1]"},
		{"member twice", `{"name":"a","members":["u1","u1"]}`, ErrInvalidArgument, "$.members[1]"},
		{"member without id", `{"name":"a","members":[{"name":"x"}]}`, ErrInvalidArgument, "$.members[0].id"},
		{"bad resource", `{"name":"a","resources":[{"code":"x","type":"WIDGET"}]}`, ErrInvalidArgument, "$.resources[0]"},
		{"deep unknown field", `{"name":"a","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, ErrInvalidJSON, "$.x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unchanged(t, tr, tc.want, func() error {
				_, err := tr.ImportJSON(strings.NewReader(tc.doc), ImportOptions{})
				if err != nil {
					assert.Contains(t, err.Error(), tc.path+":")
				}
				return err
			})
		})
	}
	// Several problems are reported at once.
	_, err = tr.ImportJSON(strings.NewReader(`{"name":"a","children":[{"name":""},{"name":"b","code":"sys:1"}]}`), ImportOptions{})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalidName)
	assert.ErrorIs(t, err, ErrInvalidCode)
	// Unknown fields of the reference service's exports are skipped.
	_, err = tr.ImportJSON(strings.NewReader(`{"name":"a","userPoolId":"p","__id":null,"source":[],"sourceData":{"x":[1,{"y":2}]},"members":[{"id":"u1","registerSource":["basic:email"],"photo":"x"}]}`), ImportOptions{})
	require.NoError(t, err)
	checked(t, tr)
}

func TestTreeNodeJSON(t *testing.T) {
	s := newSample(t)
	exp, err := s.tr.ExportOrg(s.org.ID, ExportOptions{})
	require.NoError(t, err)
	b, err := json.Marshal(exp)
	require.NoError(t, err)
	var back TreeNode
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, *exp, back)
	tree, err := s.tr.OrgTree(s.org.ID)
	require.NoError(t, err)
	assert.Nil(t, tree.Members)
	assert.Len(t, tree.Children, 2)
	assert.Equal(t, []string{s.root, s.dev, s.backend}, tree.Children[0].Children[0].Path)
	require.Error(t, json.Unmarshal([]byte(`[{"name":"a"}]`), &back))
}

// TestMillionDeepChain builds a chain of 1,000,000 nodes and runs path,
// move, export, Check and delete on it: nothing may recurse.
// TestMillionDeepChain builds a chain of 100,000 nodes (1,000,000 with
// -long) and walks, moves, exports and deletes it: every walk is iterative.
func TestMillionDeepChain(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a deep chain")
	}
	depth := size(100000, 1000000)
	tr := New(WithLimits(Limits{MaxDepth: -1, MaxImportNodes: -1}), WithIDGenerator(SequentialIDs("c")))
	// A nested document that deep is built iteratively as TreeNodes.
	root := &TreeNode{Name: "n"}
	cur := root
	for i := 1; i < depth; i++ {
		next := &TreeNode{Name: "n"}
		cur.Children = []*TreeNode{next}
		cur = next
	}
	orgs, err := tr.Import([]*TreeNode{root}, ImportOptions{})
	require.NoError(t, err)
	require.NoError(t, tr.Check())
	deepest := "c" + formatUint(uint64(depth)+1) // c1 is the org; nodes are c2…
	d, err := tr.Depth(deepest)
	require.NoError(t, err)
	require.Equal(t, depth-1, d)
	path, err := tr.Path(deepest)
	require.NoError(t, err)
	require.Len(t, path, depth)
	// Moving the top of the chain under its bottom is a cycle.
	top := path[1]
	_, err = tr.MoveNode(top, deepest)
	require.ErrorIs(t, err, ErrCycle)
	// Moving the bottom to the root is fine.
	_, err = tr.MoveNode(deepest, orgs[0].RootID)
	require.NoError(t, err)
	var out countingWriter
	require.NoError(t, tr.ExportJSON(&out, orgs[0].ID, ExportOptions{OmitPaths: true}))
	require.Greater(t, int(out), depth*10)
	require.NoError(t, tr.DeleteNode(top, Cascade))
	require.NoError(t, tr.Check())
	require.Equal(t, Stats{Orgs: 1, Nodes: 2}, tr.Snapshot().Stats())
}

// countingWriter counts and drops what is written.
type countingWriter int

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

// TestDeepParse decodes a document nested far deeper than any recursive
// decoder would survive.
func TestDeepParse(t *testing.T) {
	const depth = 100000
	doc := strings.Repeat(`{"name":"n","children":[`, depth) + strings.Repeat(`]}`, depth)
	trees, _, err := ParseTreeJSON(strings.NewReader(doc), Limits{MaxDepth: -1})
	require.NoError(t, err)
	n := 0
	for cur := trees[0]; cur != nil; n++ {
		if len(cur.Children) == 0 {
			break
		}
		cur = cur.Children[0]
	}
	require.Equal(t, depth-1, n)
	_, _, err = ParseTreeJSON(strings.NewReader(doc), Limits{})
	require.ErrorIs(t, err, ErrLimitExceeded)
	require.Contains(t, err.Error(), "more levels", "deep paths are elided in messages")
}

// TestExportJSONStreamsWhatExportOrgBuilds checks that the streaming export
// writes exactly the bytes of the built TreeNodes, for one org and for all,
// with and without members and paths.
func TestExportJSONStreamsWhatExportOrgBuilds(t *testing.T) {
	tr := New(WithIDGenerator(SequentialIDs("x")), frozenClock)
	rng := rand.New(rand.NewPCG(4, 2))
	for range 3 {
		require.NoError(t, tr.Update(func(tx *Tx) error {
			if len(tx.Orgs()) == 0 {
				seedOrg(t, tx)
				_, err := tx.CreateOrg(OrgInput{Name: "second"})
				require.NoError(t, err)
			}
			randomOps(t, tx, rng, 80)
			return nil
		}))
	}
	s := tr.Snapshot()
	for _, opt := range []ExportOptions{{}, {OmitMembers: true}, {OmitPaths: true}, {OmitMembers: true, OmitPaths: true}} {
		var streamed, built bytes.Buffer
		require.NoError(t, s.ExportJSON(&streamed, "", opt))
		require.NoError(t, WriteTreeJSON(&built, s.ExportAll(opt), true, opt))
		require.Equal(t, built.String(), streamed.String(), "all orgs, %+v", opt)
		streamed.Reset()
		built.Reset()
		require.NoError(t, s.ExportJSON(&streamed, "org", opt))
		one, err := s.ExportOrg("org", opt)
		require.NoError(t, err)
		require.NoError(t, WriteTreeJSON(&built, []*TreeNode{one}, false, opt))
		require.Equal(t, built.String(), streamed.String(), "org, %+v", opt)
		if !opt.OmitMembers {
			require.Contains(t, streamed.String(), `"members":[{`)
		}
	}
}

// TestImportProgress checks that Progress counts every node, in order.
func TestImportProgress(t *testing.T) {
	var doc strings.Builder
	doc.WriteString(`{"name":"root","children":[`)
	for i := range 3000 {
		if i > 0 {
			doc.WriteString(",")
		}
		fmt.Fprintf(&doc, `{"name":"d%d"}`, i)
	}
	doc.WriteString(`]}`)
	var calls [][2]int
	_, err := New().ImportJSON(strings.NewReader(doc.String()), ImportOptions{Progress: func(applied, total int) {
		calls = append(calls, [2]int{applied, total})
	}})
	require.NoError(t, err)
	require.Equal(t, [][2]int{{0, 3001}, {1024, 3001}, {2048, 3001}, {3001, 3001}}, calls)
}

// TestMainDepartmentInAnotherOrg: a one-org export names a member's main
// department in another org. Importing it where that department does not
// exist is refused (naming the member) unless dropping was asked for; a
// whole-tree export keeps it; importing back where the user already has
// it needs nothing.
func TestMainDepartmentInAnotherOrg(t *testing.T) {
	tr := newTestTree(t)
	a, err := tr.CreateOrg(OrgInput{Name: "A"})
	require.NoError(t, err)
	b, err := tr.CreateOrg(OrgInput{Name: "B"})
	require.NoError(t, err)
	a1, err := tr.AddNode(NodeInput{ParentID: a.RootID, Name: "a1"})
	require.NoError(t, err)
	b1, err := tr.AddNode(NodeInput{ParentID: b.RootID, Name: "b1"})
	require.NoError(t, err)
	u, err := tr.CreateUser(User{Name: "u"})
	require.NoError(t, err)
	require.NoError(t, tr.AddMembers(a1.ID, u.ID))
	require.NoError(t, tr.AddMembers(b1.ID, u.ID))
	require.NoError(t, tr.SetMainDepartment(u.ID, b1.ID))

	var one bytes.Buffer
	require.NoError(t, tr.ExportJSON(&one, a.ID, ExportOptions{}))

	fresh := newTestTree(t)
	unchanged(t, fresh, ErrNotFound, func() error {
		_, err := fresh.ImportJSON(bytes.NewReader(one.Bytes()), ImportOptions{})
		if err != nil {
			assert.Contains(t, err.Error(), ".members[0].mainDepartmentId")
			assert.Contains(t, err.Error(), b1.ID)
		}
		return err
	})
	_, err = fresh.ImportJSON(bytes.NewReader(one.Bytes()), ImportOptions{DropMissingMainDepartments: true})
	require.NoError(t, err)
	got, err := fresh.User(u.ID)
	require.NoError(t, err)
	assert.Empty(t, got.MainDepartmentID, "dropped, as asked")
	checked(t, fresh)

	// Back into the tree it came from: the user keeps its main department.
	_, err = tr.ImportJSON(bytes.NewReader(one.Bytes()), ImportOptions{})
	require.NoError(t, err)
	got, err = tr.User(u.ID)
	require.NoError(t, err)
	assert.Equal(t, b1.ID, got.MainDepartmentID)
	checked(t, tr)

	// The whole tree round-trips with the main department.
	var all bytes.Buffer
	require.NoError(t, WriteTreeJSON(&all, tr.ExportAll(ExportOptions{}), true, ExportOptions{}))
	whole := newTestTree(t)
	_, err = whole.ImportJSON(bytes.NewReader(all.Bytes()), ImportOptions{KeepIDs: true})
	require.NoError(t, err)
	got, err = whole.User(u.ID)
	require.NoError(t, err)
	assert.Equal(t, b1.ID, got.MainDepartmentID)
	// And with new ids, to the copy of b1.
	renamed := newTestTree(t)
	_, err = renamed.ImportJSON(bytes.NewReader(all.Bytes()), ImportOptions{})
	require.NoError(t, err)
	got, err = renamed.User(u.ID)
	require.NoError(t, err)
	require.NotEmpty(t, got.MainDepartmentID)
	main, err := renamed.Node(got.MainDepartmentID)
	require.NoError(t, err)
	assert.Equal(t, "b1", main.Name)
	checked(t, renamed)
}

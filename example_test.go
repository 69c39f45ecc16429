package orgtree_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/orgtree/orgtree"
)

// newTree returns a tree with a fixed clock and readable ids, as fixtures want.
func newTree() *orgtree.Tree {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return orgtree.New(
		orgtree.WithClock(func() time.Time { return t0 }),
		orgtree.WithIDGenerator(orgtree.SequentialIDs("id")),
	)
}

func Example() {
	t := newTree()
	org, _ := t.CreateOrg(orgtree.OrgInput{Name: "Acme", Code: "acme"})
	dev, _ := t.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "R&D", Code: "dev"})
	web, _ := t.AddNode(orgtree.NodeInput{ParentID: dev.ID, Name: "Web/Mobile"})

	names, _ := t.NamePath(web.ID)
	fmt.Println(orgtree.FormatPath(names))
	codes, _ := t.CodePath(dev.ID)
	fmt.Println(codes)

	_, err := t.MoveNode(dev.ID, web.ID)
	fmt.Println(errors.Is(err, orgtree.ErrCycle))
	// Output:
	// Acme/R&D/Web\/Mobile
	// [acme dev]
	// true
}

func ExampleTree_Update() {
	t := newTree()
	org, _ := t.CreateOrg(orgtree.OrgInput{Name: "Acme"})
	// Both nodes are added, or neither: the second fails, so nothing commits.
	err := t.Update(func(tx *orgtree.Tx) error {
		if _, err := tx.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "Sales", Code: "sales"}); err != nil {
			return err
		}
		_, err := tx.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "Sales 2", Code: "sales"})
		return err
	})
	fmt.Println(errors.Is(err, orgtree.ErrDuplicateCode))
	kids, _ := t.Children(org.RootID, 1)
	fmt.Println(len(kids))
	// Output:
	// true
	// 0
}

func ExampleTree_ListMembers() {
	t := newTree()
	org, _ := t.CreateOrg(orgtree.OrgInput{Name: "Acme"})
	dev, _ := t.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "R&D"})
	ops, _ := t.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "Ops"})
	for _, name := range []string{"ann", "bob", "cid"} {
		u, _ := t.CreateUser(orgtree.User{ID: name, Name: name})
		_ = t.AddMembers(dev.ID, u.ID)
	}
	_ = t.AddMembers(ops.ID, "bob") // bob is in two departments
	_ = t.SetMainDepartment("bob", ops.ID)

	page, _ := t.ListMembers(org.RootID, orgtree.ListMembersOptions{
		IncludeDescendants: true, SortBy: orgtree.SortCreatedAtAsc, Limit: 2,
	})
	fmt.Println(page.TotalCount, page.List[0].ID, page.List[1].ID)
	next, _ := t.ListMembers(org.RootID, orgtree.ListMembersOptions{
		IncludeDescendants: true, SortBy: orgtree.SortCreatedAtAsc, Limit: 2, Cursor: page.NextCursor,
	})
	fmt.Println(next.List[0].ID, next.NextCursor == "")
	bob, _ := t.User("bob")
	fmt.Println(bob.MainDepartmentID == ops.ID)
	// Output:
	// 3 ann bob
	// cid true
	// true
}

func ExampleTree_Search() {
	t := newTree()
	org, _ := t.CreateOrg(orgtree.OrgInput{Name: "北京某某公司有限公司"})
	dev, _ := t.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "研发"})
	_, _ = t.AddNode(orgtree.NodeInput{ParentID: dev.ID, Name: "后端研发", NameI18n: map[string]string{"en-US": "Backend"}})
	for _, kw := range []string{"研发", "BACK"} {
		hits, _ := t.Search(kw, orgtree.SearchOptions{})
		for _, h := range hits {
			fmt.Println(kw, "→", orgtree.FormatPath(h.NamePath))
		}
	}
	// Output:
	// 研发 → 北京某某公司有限公司/研发
	// 研发 → 北京某某公司有限公司/研发/后端研发
	// BACK → 北京某某公司有限公司/研发/后端研发
}

func ExampleTree_ImportJSON() {
	t := newTree()
	doc := `{
		"name": "北京某某公司有限公司", "code": "example",
		"children": [
			{"code": "operation", "name": "运营", "description": "商业化部门"},
			{"code": "dev", "name": "研发", "children": [{"code": "backend", "name": "后端"}]}
		]
	}`
	orgs, err := t.ImportJSON(strings.NewReader(doc), orgtree.ImportOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	backend, _ := t.NodeByCode(orgs[0].ID, "backend")
	codes, _ := t.CodePath(backend.ID)
	fmt.Println(codes)

	_, err = t.ImportJSON(strings.NewReader(`{"name":"x","children":[{"name":""}]}`), orgtree.ImportOptions{})
	fmt.Println(err)
	// Output:
	// [example dev backend]
	// orgtree: import: $.children[0]: name is empty: invalid name
}

func ExampleSnapshot_ExportJSON() {
	t := newTree()
	org, _ := t.CreateOrg(orgtree.OrgInput{Name: "Acme"})
	_, _ = t.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "R&D"})
	snap := t.Snapshot() // a consistent view: later writes do not show in it
	_, _ = t.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "Later"})
	_ = snap.ExportJSON(os.Stdout, org.ID, orgtree.ExportOptions{OmitMembers: true, OmitPaths: true})
	// Output:
	// {"id":"id2","orgId":"id1","name":"Acme","nameI18n":null,"description":"","descriptionI18n":null,"code":null,"order":0,"externalId":null,"leaderUserId":null,"depth":0,"root":true,"createdAt":"2024-01-01T00:00:00Z","updatedAt":"2024-01-01T00:00:00Z","resources":[],"children":[{"id":"id3","orgId":"id1","name":"R&D","nameI18n":null,"description":"","descriptionI18n":null,"code":null,"order":0,"externalId":null,"leaderUserId":null,"depth":1,"root":false,"createdAt":"2024-01-01T00:00:00.000000001Z","updatedAt":"2024-01-01T00:00:00.000000001Z","resources":[],"children":[]}]}
}

func ExampleTree_GrantResource() {
	t := newTree()
	org, _ := t.CreateOrg(orgtree.OrgInput{Name: "Acme", Code: "acme"})
	_ = t.GrantResource(org.RootID, orgtree.Resource{Namespace: "books", Code: "books:1", Type: orgtree.ResourceData, Actions: []string{"books:read"}})
	_ = t.GrantResource(org.RootID, orgtree.Resource{Namespace: "books", Code: "menu_a", Type: orgtree.ResourceMenu})
	list, _ := t.AuthorizedResourcesByCode(org.ID, "acme", orgtree.ResourceFilter{Type: orgtree.ResourceData})
	fmt.Println(list.TotalCount, list.List[0].Code, list.List[0].Actions)
	// Output:
	// 1 books:1 [books:read]
}

func ExampleTree_Fork() {
	t := newTree()
	org, _ := t.CreateOrg(orgtree.OrgInput{Name: "Acme"})
	dev, _ := t.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "R&D"})

	fork := t.Fork() // O(1): shares everything, copies what it changes
	_, _ = fork.UpdateNode(dev.ID, orgtree.NodeUpdate{Name: orgtree.Ptr("Research")})
	_, _ = t.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "Ops"})

	mine, _ := t.ChildIDs(org.RootID)
	theirs, _ := fork.Node(dev.ID)
	fmt.Println(len(mine), theirs.Name)
	still, _ := t.Node(dev.ID)
	fmt.Println(still.Name)
	// Output:
	// 2 Research
	// R&D
}

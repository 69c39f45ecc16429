// Command quickstart builds a small org with orgtree, moves a department,
// lists members across a subtree, searches, and prints the org as JSON.
package main

import (
	"fmt"
	"log"
	"os"

	"github.com/orgtree/orgtree"
)

func main() {
	t := orgtree.New()
	org, err := t.CreateOrg(orgtree.OrgInput{Name: "北京某某公司有限公司", Code: "example"})
	if err != nil {
		log.Fatal(err)
	}
	dev, _ := t.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "研发", Code: "dev", Description: "研发部门"})
	ops, _ := t.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "运营", Code: "operation"})
	backend, _ := t.AddNode(orgtree.NodeInput{ParentID: dev.ID, Name: "后端", Code: "backend"})

	alice, _ := t.CreateUser(orgtree.User{Name: "Alice", Email: "alice@example.com"})
	bob, _ := t.CreateUser(orgtree.User{Name: "Bob", Email: "bob@example.com"})
	must(t.AddMembers(backend.ID, alice.ID, bob.ID))
	must(t.AddMembers(ops.ID, bob.ID))
	must(t.SetMainDepartment(bob.ID, backend.ID))

	// Moving "研发" under its own child "后端" would be a cycle: the move is refused.
	if _, err := t.MoveNode(dev.ID, backend.ID); err != nil {
		fmt.Println("refused:", err)
	}
	names, _ := t.NamePath(backend.ID)
	fmt.Println("path:", orgtree.FormatPath(names))

	page, _ := t.ListMembers(org.RootID, orgtree.ListMembersOptions{IncludeDescendants: true, SortBy: orgtree.SortCreatedAtAsc})
	fmt.Printf("members of the whole org: %d\n", page.TotalCount)
	for _, u := range page.List {
		fmt.Println(" -", u.Name, u.Email)
	}

	hits, _ := t.Search("研", orgtree.SearchOptions{})
	for _, h := range hits {
		fmt.Println("search hit:", orgtree.FormatPath(h.NamePath))
	}
	if err := t.Check(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("export:")
	must(t.ExportJSON(os.Stdout, org.ID, orgtree.ExportOptions{OmitPaths: true}))
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

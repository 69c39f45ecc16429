// Command tour is the README's tour of the engine: build an org, move,
// list, search, update atomically, export.
package main

import (
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/orgtree/orgtree"
)

func main() {
	t := orgtree.New() // options: WithClock, WithIDGenerator, WithLimits, WithCommitHook
	org, err := t.CreateOrg(orgtree.OrgInput{Name: "Acme", Code: "acme"})
	if err != nil {
		log.Fatal(err)
	}
	dev, _ := t.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "R&D", Code: "dev"})
	web, _ := t.AddNode(orgtree.NodeInput{ParentID: dev.ID, Name: "Web", Code: "web"})

	u, _ := t.CreateUser(orgtree.User{Name: "Ann", Email: "ann@example.com"})
	_ = t.AddMembers(web.ID, u.ID)
	_ = t.SetMainDepartment(u.ID, web.ID)

	names, _ := t.NamePath(web.ID)
	fmt.Println(names) // [Acme R&D Web]
	page, _ := t.ListMembers(org.RootID, orgtree.ListMembersOptions{IncludeDescendants: true})
	fmt.Println(page.TotalCount, page.List[0].Name) // 1 Ann
	hits, _ := t.Search("we", orgtree.SearchOptions{})
	fmt.Println(hits[0].NamePath) // [Acme R&D Web]

	_, err = t.MoveNode(dev.ID, web.ID) // under its own child
	fmt.Println(errors.Is(err, orgtree.ErrCycle))

	err = t.Update(func(tx *orgtree.Tx) error { // all or nothing
		ops, err := tx.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "Ops"})
		if err != nil {
			return err
		}
		return tx.AddMembers(ops.ID, u.ID)
	})
	if err != nil {
		log.Fatal(err)
	}

	snap := t.Snapshot() // consistent, lock-free, for as long as you keep it
	fmt.Printf("%+v\n", snap.Stats())
	// Export writes the nested JSON of ImportNodeByJSON (to a file, a response…).
	if err := snap.ExportJSON(io.Discard, org.ID, orgtree.ExportOptions{}); err != nil {
		log.Fatal(err)
	}
}

// Command persisted is the README's durable tree: open a store, write,
// back it up, reopen.
package main

import (
	"fmt"
	"log"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/persist"
)

func main() {
	db, err := persist.Open("org.db") // creates or loads; ErrLocked if another process has it
	if err != nil {
		log.Fatal(err)
	}
	t := db.Tree() // the ordinary in-memory tree: every write is on disk when it returns
	if t.Snapshot().Stats().Orgs == 0 {
		org, err := t.CreateOrg(orgtree.OrgInput{Name: "Acme", Code: "acme"})
		if err != nil {
			log.Fatal(err)
		}
		if _, err := t.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "R&D", Code: "dev"}); err != nil {
			log.Fatal(err)
		}
	}

	// A consistent copy while writes go on, verified before it replaces the
	// file (persist.Restore puts one back; db.Backup(w) writes to any writer).
	if _, err := db.BackupFile("org-backup.db"); err != nil {
		log.Fatal(err)
	}
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}

	copy, err := persist.Open("org-backup.db", persist.WithReadOnly())
	if err != nil {
		log.Fatal(err)
	}
	defer copy.Close()
	fmt.Printf("%+v\n", copy.Tree().Snapshot().Stats())
}

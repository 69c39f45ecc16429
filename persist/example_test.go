package persist_test

import (
	"bytes"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/persist"
)

// Open a store, write to its tree, back it up while it is open, and read
// the backup like the original.
func Example() {
	dir, err := os.MkdirTemp("", "orgtree-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "org.db")

	db, err := persist.Open(path) // created when absent
	if err != nil {
		log.Fatal(err)
	}
	t := db.Tree() // an ordinary tree: every write is on disk when it returns
	org, err := t.CreateOrg(orgtree.OrgInput{Name: "Acme", Code: "acme"})
	if err != nil {
		log.Fatal(err)
	}
	err = t.Update(func(tx *orgtree.Tx) error { // one bbolt transaction
		dev, err := tx.AddNode(orgtree.NodeInput{ParentID: org.RootID, Name: "R&D", Code: "dev"})
		if err != nil {
			return err
		}
		_, err = tx.AddNode(orgtree.NodeInput{ParentID: dev.ID, Name: "Web", Code: "web"})
		return err
	})
	if err != nil {
		log.Fatal(err)
	}

	// A consistent copy while the store stays open for writes.
	var backup bytes.Buffer
	if _, err := db.Backup(&backup); err != nil {
		log.Fatal(err)
	}
	if err := db.Close(); err != nil {
		log.Fatal(err)
	}
	copyPath := filepath.Join(dir, "copy.db")
	if err := os.WriteFile(copyPath, backup.Bytes(), 0o600); err != nil {
		log.Fatal(err)
	}

	restored, err := persist.Open(copyPath, persist.WithReadOnly())
	if err != nil {
		log.Fatal(err)
	}
	defer restored.Close()
	web, err := restored.Tree().NodeByCode(org.ID, "web")
	if err != nil {
		log.Fatal(err)
	}
	names, _ := restored.Tree().NamePath(web.ID)
	fmt.Println(names, restored.Tree().Snapshot().Stats().Nodes)
	// Output: [Acme R&D Web] 3
}

// Settings keep values that belong with the store, such as credentials a
// server generates on its first start.
func ExampleDB_SettingOrCreate() {
	dir, err := os.MkdirTemp("", "orgtree-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "org.db")

	for range 2 {
		db, err := persist.Open(path)
		if err != nil {
			log.Fatal(err)
		}
		secret, created, err := db.SettingOrCreate("app/secret", func() ([]byte, error) {
			return []byte("generated-once"), nil
		})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(secret), created)
		db.Close()
	}
	// Output:
	// generated-once true
	// generated-once false
}

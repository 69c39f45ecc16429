package main

import (
	"os"
	"testing"
)

// TestMain runs the example in a temporary directory: it writes org.db.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "orgtree-persisted-")
	if err != nil {
		panic(err)
	}
	if err := os.Chdir(dir); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// The README shows this program; its output is checked here.
func Example() {
	main()
	main() // a second run loads what the first wrote
	// Output:
	// {Orgs:1 Nodes:2 Users:0 Memberships:0}
	// {Orgs:1 Nodes:2 Users:0 Memberships:0}
}

package main

import (
	"fmt"
	"os"

	"github.com/orgtree/orgtree/internal/etcdtest"
)

// The README shows this program; here it runs against an etcd started
// in-process, and its output is checked.
func Example() {
	ep, stop, err := etcdtest.Start()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	os.Setenv("ORGTREE_ETCD", ep)
	main()
	// Output:
	// one move refused: true
	// children of root: 1 in sync: true entries: 2
}

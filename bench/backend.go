package main

import (
	"io"
)

// backend is one implementation of the workload. Every method answers the
// same question the same way on every backend (bench_test.go checks that):
// children sort by order desc then creation; member pages list distinct
// users by creation ascending; search is a case-insensitive substring
// match on names.
type backend interface {
	name() string
	load(o *synthOrg) error
	lookupID(id string) (string, bool) // the node's name
	lookupCode(code string) (string, bool)
	path(id string) []string // ids, root first
	children(id string) []string
	move(id, parent string) error // errCycle when parent is id or below it
	subtreeCount(id string) int   // distinct members of the subtree
	firstPage(id string, limit int) []string
	search(q string) []string // matching node ids, any order
	addMember(node, user string) error
	removeMember(node, user string) error
	rename(id, name string) error
	exportJSON(w io.Writer) error // the org as nested JSON (nodes only)
	importJSON(r io.Reader) error // into a fresh, empty instance of the backend
	close() error
}

type cycleError struct{}

func (cycleError) Error() string { return "move would create a cycle" }

var errCycle error = cycleError{}

package orgtree

import (
	"strconv"
	"strings"
)

// jpath is the JSON path of a node in an import document, linked to its
// parent's so that a node costs O(1) however deep it sits. It is rendered
// only when an error is reported.
type jpath struct {
	parent *jpath
	index  int // position in the parent's array; -1 for a top-level object
}

// rootPath is "$" for a single document or "$[i]" for the i-th of an array.
func rootPath(i int) *jpath { return &jpath{index: i} }

// child returns the path of the i-th entry of p's children array.
func (p *jpath) child(i int) *jpath { return &jpath{parent: p, index: i} }

// maxPathElems bounds a rendered path: deeper paths keep their first and
// last elements around an elision, so error messages stay small.
const maxPathElems = 32

func (p *jpath) String() string {
	var idx []int
	top := p
	for ; top.parent != nil; top = top.parent {
		idx = append(idx, top.index)
	}
	var b strings.Builder
	b.WriteByte('$')
	if top.index >= 0 {
		b.WriteString("[" + strconv.Itoa(top.index) + "]")
	}
	for k := len(idx) - 1; k >= 0; k-- {
		if n := len(idx); n > maxPathElems && k == n-maxPathElems/2-1 {
			b.WriteString(".…(" + strconv.Itoa(n-maxPathElems) + " more levels)…")
			k = maxPathElems/2 - 1
		}
		b.WriteString(".children[" + strconv.Itoa(idx[k]) + "]")
	}
	return b.String()
}

// Package examples holds no code of its own: its programs are the
// directories below it, and its test keeps README.md's Go snippets
// identical to them (go test ./examples -update rewrites the README's copies
// from the files).
package examples

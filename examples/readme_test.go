package examples

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite README.md's snippets from the example files")

// snippet is a Go block of the README with the marker naming its file:
//
//	<!-- examples/NAME/main.go -->
//	```go
//	...
//	```
var snippet = regexp.MustCompile("(?s)(<!-- (examples/[^ ]+\\.go) -->\n```go\n)(.*?)(```)")

// TestReadmeSnippetsAreTheExamples: every Go block of the README is a
// whole program from examples/ (built by go vet and go build, run by its
// Example test), so what the README shows compiles and runs as pasted.
func TestReadmeSnippetsAreTheExamples(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	text := string(readme)
	blocks := strings.Count(text, "```go\n")
	matches := snippet.FindAllStringSubmatch(text, -1)
	require.Equal(t, blocks, len(matches), "every ```go block of README.md needs a <!-- examples/NAME/main.go --> line before it")
	require.NotEmpty(t, matches)
	if *update {
		text = snippet.ReplaceAllStringFunc(text, func(block string) string {
			m := snippet.FindStringSubmatch(block)
			file, err := os.ReadFile(filepath.Join("..", m[2]))
			require.NoError(t, err)
			return m[1] + string(file) + m[4]
		})
		require.NoError(t, os.WriteFile("../README.md", []byte(text), 0o644))
		return
	}
	for _, m := range matches {
		file, err := os.ReadFile(filepath.Join("..", m[2]))
		require.NoError(t, err, m[2])
		require.Equal(t, string(file), m[3], "README.md's copy of %s (go test ./examples -update)", m[2])
		_, err = os.Stat(filepath.Join("..", filepath.Dir(m[2]), "main_test.go"))
		require.NoError(t, err, "%s needs an Example test that runs it", m[2])
	}
}

// TestReadmeStandsAlone: the README's links lead to files of the
// repository, never outside it.
func TestReadmeStandsAlone(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	require.NotContains(t, string(readme), "../")
	for _, m := range regexp.MustCompile(`\]\(([^)#]+)\)`).FindAllStringSubmatch(string(readme), -1) {
		if strings.Contains(m[1], "://") {
			continue
		}
		_, err := os.Stat(filepath.Join("..", m[1]))
		require.NoError(t, err, "README links to %s", m[1])
	}
	for _, path := range regexp.MustCompile("`((?:examples|docs|server|persist|reconcile|bench|fuzz|cmd)/[A-Za-z0-9_./-]+)`").FindAllStringSubmatch(string(readme), -1) {
		p := strings.TrimSuffix(path[1], "/")
		if strings.ContainsAny(p, "{}") {
			continue
		}
		_, err := os.Stat(filepath.Join("..", p))
		require.NoError(t, err, "README names %s", p)
	}
}

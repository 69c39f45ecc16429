package orgtree

import (
	"fmt"
	"strings"
)

// FormatPath joins a name or code path with "/" so that it can be split back
// exactly: a "/" inside an element is written "\/" and a "\" is written "\\".
// Paths have at least one element, so "" stands for the path of one empty
// element (a root without code in a CodePath).
func FormatPath(elems []string) string {
	var b strings.Builder
	for i, e := range elems {
		if i > 0 {
			b.WriteByte('/')
		}
		for j := 0; j < len(e); j++ {
			if c := e[j]; c == '/' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(e[j])
		}
	}
	return b.String()
}

// ParsePath splits a path made by FormatPath. It fails with
// ErrInvalidArgument on a dangling or unknown escape.
func ParsePath(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '/' && s[i+1] != '\\') {
				return nil, fmt.Errorf("orgtree: parse path: bad escape at byte %d: %w", i, ErrInvalidArgument)
			}
			i++
			cur.WriteByte(s[i])
		case '/':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String()), nil
}

package orgtree

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// tokKind is the kind of a JSON token.
type tokKind uint8

const (
	tokEOF tokKind = iota
	tokObjectStart
	tokObjectEnd
	tokArrayStart
	tokArrayEnd
	tokString
	tokNumber
	tokTrue
	tokFalse
	tokNull
)

// token is one JSON token. For an object key, kind is tokString and key is
// true. str holds a string's unescaped text or a number's literal.
type token struct {
	kind tokKind
	key  bool
	str  string
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of document"
	case tokObjectStart:
		return "{"
	case tokObjectEnd:
		return "}"
	case tokArrayStart:
		return "["
	case tokArrayEnd:
		return "]"
	case tokString:
		return strconv.Quote(t.str)
	case tokNumber:
		return t.str
	case tokTrue:
		return "true"
	case tokFalse:
		return "false"
	}
	return "null"
}

// scanner tokenizes a JSON document held in memory. It checks the grammar
// (commas, colons, nesting, literals, numbers, string escapes) with an
// explicit stack, so any depth is fine, and it never allocates for
// punctuation or numbers.
type scanner struct {
	data  []byte
	pos   int
	stack []byte // '{' or '[' per open container
	// state after the previous token
	afterValue bool // a value (or container end) was just read
	afterKey   bool // an object key was just read (colon consumed)
	done       bool // the top-level value is complete
}

var errSyntax = errors.New("syntax error")

func (s *scanner) offset() int { return s.pos }

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errSyntax)...)
}

// next returns the next token. At the end of the document it returns
// tokEOF; data after a complete top-level value is an error.
func (s *scanner) next() (token, error) {
	s.skipSpace()
	if s.done {
		if s.pos < len(s.data) {
			return token{}, s.errorf("invalid character %q after top-level value", s.data[s.pos])
		}
		return token{kind: tokEOF}, nil
	}
	if s.pos >= len(s.data) {
		return token{}, s.errorf("unexpected end of document")
	}
	c := s.data[s.pos]
	inObject := len(s.stack) > 0 && s.stack[len(s.stack)-1] == '{'
	// Closing brackets and separators.
	if c == '}' || c == ']' {
		want := byte('{')
		if c == ']' {
			want = '['
		}
		if len(s.stack) == 0 || s.stack[len(s.stack)-1] != want || s.afterKey {
			return token{}, s.errorf("unexpected %q", c)
		}
		// Here the previous token was a value or the opening bracket: a
		// comma is consumed together with the value after it.
		s.pos++
		s.stack = s.stack[:len(s.stack)-1]
		s.afterValue = true
		s.done = len(s.stack) == 0
		if c == '}' {
			return token{kind: tokObjectEnd}, nil
		}
		return token{kind: tokArrayEnd}, nil
	}
	if s.afterValue {
		if len(s.stack) == 0 || c != ',' {
			return token{}, s.errorf("invalid character %q, expected ',' or a closing bracket", c)
		}
		s.pos++
		s.skipSpace()
		s.afterValue = false
		if s.pos >= len(s.data) {
			return token{}, s.errorf("unexpected end of document")
		}
		c = s.data[s.pos]
		if c == '}' || c == ']' {
			return token{}, s.errorf("unexpected %q after ','", c)
		}
	}
	if inObject && !s.afterKey {
		// An object key.
		if c != '"' {
			return token{}, s.errorf("invalid character %q, expected an object key", c)
		}
		str, err := s.readString()
		if err != nil {
			return token{}, err
		}
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return token{}, s.errorf("expected ':' after object key")
		}
		s.pos++
		s.afterKey = true
		return token{kind: tokString, key: true, str: str}, nil
	}
	s.afterKey = false
	return s.value(c)
}

func (s *scanner) value(c byte) (token, error) {
	switch {
	case c == '{' || c == '[':
		s.pos++
		s.stack = append(s.stack, c)
		if c == '{' {
			return token{kind: tokObjectStart}, nil
		}
		return token{kind: tokArrayStart}, nil
	case c == '"':
		str, err := s.readString()
		if err != nil {
			return token{}, err
		}
		s.endValue()
		return token{kind: tokString, str: str}, nil
	case c == '-' || ('0' <= c && c <= '9'):
		lit, err := s.readNumber()
		if err != nil {
			return token{}, err
		}
		s.endValue()
		return token{kind: tokNumber, str: lit}, nil
	}
	for _, l := range [...]struct {
		lit  string
		kind tokKind
	}{{"true", tokTrue}, {"false", tokFalse}, {"null", tokNull}} {
		if len(s.data)-s.pos >= len(l.lit) && string(s.data[s.pos:s.pos+len(l.lit)]) == l.lit {
			s.pos += len(l.lit)
			if s.pos < len(s.data) && isIdentByte(s.data[s.pos]) {
				return token{}, s.errorf("invalid literal")
			}
			s.endValue()
			return token{kind: l.kind}, nil
		}
	}
	return token{}, s.errorf("invalid character %q looking for a value", c)
}

func isIdentByte(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func (s *scanner) endValue() {
	s.afterValue = true
	s.done = len(s.stack) == 0
}

// readNumber reads a number literal per the JSON grammar.
func (s *scanner) readNumber() (string, error) {
	start := s.pos
	d := s.data
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	default:
		return "", s.errorf("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return "", s.errorf("invalid number")
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return "", s.errorf("invalid number")
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && isIdentByte(d[i]) {
		return "", s.errorf("invalid number")
	}
	s.pos = i
	return string(d[start:i]), nil
}

// readString reads a quoted string at s.pos and returns its text. RFC 8259
// text is UTF-8: invalid UTF-8 and a \u escape of a lone surrogate are
// refused (encoding/json would turn both into U+FFFD, silently garbling a
// Latin-1 file and making two different bad strings equal). On an error
// s.pos is left at the offending byte.
func (s *scanner) readString() (string, error) {
	d := s.data
	i := s.pos + 1
	// Fast path: no escapes, ASCII or valid UTF-8, no control characters.
	for i < len(d) {
		c := d[i]
		if c == '"' {
			str := string(d[s.pos+1 : i])
			if !utf8.ValidString(str) {
				break
			}
			s.pos = i + 1
			return str, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		i++
	}
	// Slow path.
	var b []byte
	i = s.pos + 1
	for {
		if i >= len(d) {
			return "", s.errorf("unterminated string")
		}
		c := d[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return string(b), nil
		case c < 0x20:
			s.pos = i
			return "", s.errorf("control character %#x in string", c)
		case c == '\\':
			if i+1 >= len(d) {
				return "", s.errorf("unterminated string")
			}
			i++
			switch e := d[i]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := hex4(d, i+1)
				if !ok {
					s.pos = i - 1
					return "", s.errorf("invalid \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2, ok2 := rune(-1), false
					if i+6 < len(d) && d[i+5] == '\\' && d[i+6] == 'u' {
						r2, ok2 = hex4(d, i+7)
					}
					dec := utf16.DecodeRune(r, r2)
					if !ok2 || dec == utf8.RuneError {
						s.pos = i - 1
						return "", s.errorf("lone surrogate \\u%04x in string", r)
					}
					r = dec
					i += 6
				}
				i += 4
				b = utf8.AppendRune(b, r)
			default:
				s.pos = i - 1
				return "", s.errorf("invalid escape \\%c", e)
			}
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size == 1 {
				s.pos = i
				return "", s.errorf("invalid UTF-8 byte %#x in string", c)
			}
			b = append(b, d[i:i+size]...)
			i += size
		}
	}
}

func hex4(d []byte, i int) (rune, bool) {
	if i+4 > len(d) {
		return 0, false
	}
	var r rune
	for _, c := range d[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

package orgtree

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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
// true. raw holds a string's unescaped text or a number's literal; it points
// into the scanner's buffers and is valid only until the next call to next,
// so a caller that keeps it copies it (string(raw)), and a key is matched
// as bytes without a copy.
type token struct {
	kind tokKind
	key  bool
	raw  []byte
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
		return strconv.Quote(string(t.raw))
	case tokNumber:
		return string(t.raw)
	case tokTrue:
		return "true"
	case tokFalse:
		return "false"
	}
	return "null"
}

// readBlock is how much of the document the scanner holds at a time (it
// grows only for a token longer than half of it).
const readBlock = 256 << 10

// scanner tokenizes a JSON document. It checks the grammar (commas, colons,
// nesting, literals, numbers, string escapes) with an explicit stack, so
// any depth is fine, and it never allocates for punctuation, numbers, keys
// or strings without escapes. It reads r in blocks; with r nil, data is the
// whole document.
type scanner struct {
	r     io.Reader
	rerr  error // the read error that ended r, other than io.EOF
	more  bool  // r may hold more of the document after data
	block int   // read size
	data  []byte
	pos   int
	base  int    // offset in the document of data[0]
	esc   []byte // unescaped text of the last string with escapes
	stack []byte // '{' or '[' per open container
	// state after the previous token
	afterValue bool // a value (or container end) was just read
	afterKey   bool // an object key was just read (colon consumed)
	done       bool // the top-level value is complete
}

var errSyntax = errors.New("syntax error")

// errMore is how the token readers say that the token may go on past the
// data read so far: next reads more and starts the token again.
var errMore = errors.New("more data needed")

// newScanner returns a scanner reading r in blocks of size bytes.
func newScanner(r io.Reader, size int) *scanner {
	s := &scanner{r: r, more: true, block: size, data: make([]byte, 0, size)}
	s.fill(0)
	return s
}

// fill drops data[:keep] and reads more after the rest, until the buffer is
// full or r ends. A rest longer than half the buffer doubles it, so a long
// token costs amortised O(its length).
func (s *scanner) fill(keep int) {
	rest := len(s.data) - keep
	buf := s.data[:cap(s.data)]
	if rest > len(buf)/2 {
		buf = make([]byte, 2*len(buf)+s.block)
	}
	copy(buf, s.data[keep:])
	s.base += keep
	s.pos -= keep
	n := rest
	for n < len(buf) {
		m, err := s.r.Read(buf[n:])
		n += m
		if err != nil {
			s.more = false
			if err != io.EOF {
				s.rerr = err
			}
			break
		}
	}
	s.data = buf[:n]
}

func (s *scanner) offset() int { return s.base + s.pos }

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

// short reports whether data ends before index i while r has more.
func (s *scanner) short(i int) bool { return i > len(s.data) && s.more }

// nextKey reads the next token if it is the object key whose quoted form
// with its colon is quoted (`"name":`), as an export writes it, and
// reports whether it was; otherwise it reads nothing, and next reads the
// token. It spares a parser expecting keys in a known order the scanning
// and matching of each.
func (s *scanner) nextKey(quoted string) bool {
	if s.afterKey || len(s.stack) == 0 || s.stack[len(s.stack)-1] != '{' {
		return false
	}
	d, i := s.data, s.pos
	if s.afterValue {
		for i < len(d) && isSpace(d[i]) {
			i++
		}
		if i >= len(d) || d[i] != ',' {
			return false
		}
		i++
	}
	for i < len(d) && isSpace(d[i]) {
		i++
	}
	if len(d)-i < len(quoted) || string(d[i:i+len(quoted)]) != quoted {
		return false
	}
	s.pos = i + len(quoted)
	s.afterValue, s.afterKey = false, true
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errSyntax)...)
}

// next returns the next token. At the end of the document it returns
// tokEOF; data after a complete top-level value is an error. A token cut by
// the end of the data read so far is read again from its start once more
// data is in: the readers change no state before they have the whole token.
func (s *scanner) next() (token, error) {
	if s.afterKey && s.pos < len(s.data) {
		// The value right after a key's colon (what an export writes):
		// read it without the general path's checks, which cannot apply
		// here; if it fails (space, a bracket, a token cut by the end of
		// the data, an error), the general path reads it again.
		if c := s.data[s.pos]; !isSpace(c) && c != '}' && c != ']' {
			pos := s.pos
			s.afterKey = false
			if tok, err := s.value(c); err == nil {
				return tok, nil
			}
			s.pos, s.afterKey = pos, true
		}
	}
	for {
		if s.rerr != nil {
			return token{}, fmt.Errorf("read: %w", s.rerr)
		}
		pos, afterValue, afterKey := s.pos, s.afterValue, s.afterKey
		tok, err := s.next1()
		if err != errMore {
			return tok, err
		}
		s.pos, s.afterValue, s.afterKey = pos, afterValue, afterKey
		s.fill(pos)
	}
}

func (s *scanner) next1() (token, error) {
	s.skipSpace()
	if s.short(s.pos + 1) {
		return token{}, errMore
	}
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
		if s.short(s.pos + 1) {
			return token{}, errMore
		}
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
		if s.short(s.pos + 1) {
			return token{}, errMore
		}
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return token{}, s.errorf("expected ':' after object key")
		}
		s.pos++
		s.afterKey = true
		return token{kind: tokString, key: true, raw: str}, nil
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
		return token{kind: tokString, raw: str}, nil
	case c == '-' || ('0' <= c && c <= '9'):
		// The whole literal, and the byte after it, must be in.
		i := s.pos
		for i < len(s.data) && isNumberByte(s.data[i]) {
			i++
		}
		if s.short(i + 1) {
			return token{}, errMore
		}
		lit, err := s.readNumber()
		if err != nil {
			return token{}, err
		}
		s.endValue()
		return token{kind: tokNumber, raw: lit}, nil
	}
	if s.short(s.pos + len("false") + 1) {
		return token{}, errMore
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

// isNumberByte reports whether c can continue a number literal, or be the
// identifier byte after one that makes it invalid.
func isNumberByte(c byte) bool { return isIdentByte(c) || c == '-' || c == '+' || c == '.' }

func (s *scanner) endValue() {
	s.afterValue = true
	s.done = len(s.stack) == 0
}

// readNumber reads a number literal per the JSON grammar.
func (s *scanner) readNumber() ([]byte, error) {
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
		return nil, s.errorf("invalid number")
	}
	if i < len(d) && d[i] == '.' {
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			return nil, s.errorf("invalid number")
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
			return nil, s.errorf("invalid number")
		}
		for i < len(d) && '0' <= d[i] && d[i] <= '9' {
			i++
		}
	}
	if i < len(d) && isIdentByte(d[i]) {
		return nil, s.errorf("invalid number")
	}
	s.pos = i
	return d[start:i], nil
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainWord reports whether none of the 8 bytes of w ends or escapes a
// string or needs a UTF-8 check: no '"', '\\', control or non-ASCII byte.
func plainWord(w uint64) bool {
	quote := w ^ (ones * '"')
	bslash := w ^ (ones * '\\')
	special := (quote - ones) &^ quote
	special |= (bslash - ones) &^ bslash
	special |= w - ones*0x20 // a byte below 0x20 borrows into its high bit
	special |= w             // as does a non-ASCII byte
	return special&highs == 0
}

// readString reads a quoted string at s.pos and returns its text. RFC 8259
// text is UTF-8: invalid UTF-8 and a \u escape of a lone surrogate are
// refused (encoding/json would turn both into U+FFFD, silently garbling a
// Latin-1 file and making two different bad strings equal). On an error
// s.pos is left at the offending byte.
func (s *scanner) readString() ([]byte, error) {
	d := s.data
	i := s.pos + 1
	// Fast path: no escapes and no control characters, 8 bytes at a time
	// while they are plain ASCII; the text is d itself.
	ascii := true
	for {
		for i+8 <= len(d) && plainWord(binary.LittleEndian.Uint64(d[i:])) {
			i += 8
		}
		if i >= len(d) {
			if s.more {
				return nil, errMore
			}
			break
		}
		c := d[i]
		if c == '"' {
			str := d[s.pos+1 : i]
			if !ascii && !utf8.Valid(str) {
				break
			}
			s.pos = i + 1
			return str, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
		i++
	}
	// Slow path.
	b := s.esc[:0]
	defer func() { s.esc = b }()
	i = s.pos + 1
	for {
		if i >= len(d) {
			if s.more {
				return nil, errMore
			}
			return nil, s.errorf("unterminated string")
		}
		c := d[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return b, nil
		case c < 0x20:
			s.pos = i
			return nil, s.errorf("control character %#x in string", c)
		case c == '\\':
			// An escape is at most \uXXXX\uXXXX: have all of it in.
			if s.short(i + 12) {
				return nil, errMore
			}
			if i+1 >= len(d) {
				return nil, s.errorf("unterminated string")
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
					return nil, s.errorf("invalid \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2, ok2 := rune(-1), false
					if i+6 < len(d) && d[i+5] == '\\' && d[i+6] == 'u' {
						r2, ok2 = hex4(d, i+7)
					}
					dec := utf16.DecodeRune(r, r2)
					if !ok2 || dec == utf8.RuneError {
						s.pos = i - 1
						return nil, s.errorf("lone surrogate \\u%04x in string", r)
					}
					r = dec
					i += 6
				}
				i += 4
				b = utf8.AppendRune(b, r)
			default:
				s.pos = i - 1
				return nil, s.errorf("invalid escape \\%c", e)
			}
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			if s.more && !utf8.FullRune(d[i:]) {
				return nil, errMore
			}
			r, size := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && size == 1 {
				s.pos = i
				return nil, s.errorf("invalid UTF-8 byte %#x in string", c)
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

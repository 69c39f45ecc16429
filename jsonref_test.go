package orgtree

// The decoder as it was before it read in blocks and matched keys as
// bytes: kept as the reference the fast decoder must agree with (see
// TestParseTreeJSONMatchesReference and FuzzParseTreeJSONReference).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// refToken is one JSON refToken. For an object key, kind is tokString and key is
// true. str holds a string's unescaped text or a number's literal.
type refToken struct {
	kind tokKind
	key  bool
	str  string
}

func (t refToken) String() string {
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

// refScanner tokenizes a JSON document held in memory. It checks the grammar
// (commas, colons, nesting, literals, numbers, string escapes) with an
// explicit stack, so any depth is fine, and it never allocates for
// punctuation or numbers.
type refScanner struct {
	data  []byte
	pos   int
	stack []byte // '{' or '[' per open container
	// state after the previous refToken
	afterValue bool // a value (or container end) was just read
	afterKey   bool // an object key was just read (colon consumed)
	done       bool // the top-level value is complete
}

func (s *refScanner) offset() int { return s.pos }

func (s *refScanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *refScanner) errorf(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errSyntax)...)
}

// next returns the next refToken. At the end of the document it returns
// tokEOF; data after a complete top-level value is an error.
func (s *refScanner) next() (refToken, error) {
	s.skipSpace()
	if s.done {
		if s.pos < len(s.data) {
			return refToken{}, s.errorf("invalid character %q after top-level value", s.data[s.pos])
		}
		return refToken{kind: tokEOF}, nil
	}
	if s.pos >= len(s.data) {
		return refToken{}, s.errorf("unexpected end of document")
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
			return refToken{}, s.errorf("unexpected %q", c)
		}
		// Here the previous refToken was a value or the opening bracket: a
		// comma is consumed together with the value after it.
		s.pos++
		s.stack = s.stack[:len(s.stack)-1]
		s.afterValue = true
		s.done = len(s.stack) == 0
		if c == '}' {
			return refToken{kind: tokObjectEnd}, nil
		}
		return refToken{kind: tokArrayEnd}, nil
	}
	if s.afterValue {
		if len(s.stack) == 0 || c != ',' {
			return refToken{}, s.errorf("invalid character %q, expected ',' or a closing bracket", c)
		}
		s.pos++
		s.skipSpace()
		s.afterValue = false
		if s.pos >= len(s.data) {
			return refToken{}, s.errorf("unexpected end of document")
		}
		c = s.data[s.pos]
		if c == '}' || c == ']' {
			return refToken{}, s.errorf("unexpected %q after ','", c)
		}
	}
	if inObject && !s.afterKey {
		// An object key.
		if c != '"' {
			return refToken{}, s.errorf("invalid character %q, expected an object key", c)
		}
		str, err := s.readString()
		if err != nil {
			return refToken{}, err
		}
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return refToken{}, s.errorf("expected ':' after object key")
		}
		s.pos++
		s.afterKey = true
		return refToken{kind: tokString, key: true, str: str}, nil
	}
	s.afterKey = false
	return s.value(c)
}

func (s *refScanner) value(c byte) (refToken, error) {
	switch {
	case c == '{' || c == '[':
		s.pos++
		s.stack = append(s.stack, c)
		if c == '{' {
			return refToken{kind: tokObjectStart}, nil
		}
		return refToken{kind: tokArrayStart}, nil
	case c == '"':
		str, err := s.readString()
		if err != nil {
			return refToken{}, err
		}
		s.endValue()
		return refToken{kind: tokString, str: str}, nil
	case c == '-' || ('0' <= c && c <= '9'):
		lit, err := s.readNumber()
		if err != nil {
			return refToken{}, err
		}
		s.endValue()
		return refToken{kind: tokNumber, str: lit}, nil
	}
	for _, l := range [...]struct {
		lit  string
		kind tokKind
	}{{"true", tokTrue}, {"false", tokFalse}, {"null", tokNull}} {
		if len(s.data)-s.pos >= len(l.lit) && string(s.data[s.pos:s.pos+len(l.lit)]) == l.lit {
			s.pos += len(l.lit)
			if s.pos < len(s.data) && refIsIdentByte(s.data[s.pos]) {
				return refToken{}, s.errorf("invalid literal")
			}
			s.endValue()
			return refToken{kind: l.kind}, nil
		}
	}
	return refToken{}, s.errorf("invalid character %q looking for a value", c)
}

func refIsIdentByte(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func (s *refScanner) endValue() {
	s.afterValue = true
	s.done = len(s.stack) == 0
}

// readNumber reads a number literal per the JSON grammar.
func (s *refScanner) readNumber() (string, error) {
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
	if i < len(d) && refIsIdentByte(d[i]) {
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
func (s *refScanner) readString() (string, error) {
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
				r, ok := refHex4(d, i+1)
				if !ok {
					s.pos = i - 1
					return "", s.errorf("invalid \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2, ok2 := rune(-1), false
					if i+6 < len(d) && d[i+5] == '\\' && d[i+6] == 'u' {
						r2, ok2 = refHex4(d, i+7)
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

func refHex4(d []byte, i int) (rune, bool) {
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

// refParser decodes nested documents with the refScanner's tokens and an
// explicit stack: no recursion, whatever the depth.
type refParser struct {
	sc    refScanner
	lim   Limits
	nodes int
}

func (p *refParser) fail(node *jpath, suffix string, format string, args ...any) error {
	return &parseError{path: at(node, suffix), err: fmt.Errorf(format+" (at byte %d): %w", append(args, p.sc.offset(), ErrInvalidJSON)...)}
}

func (p *refParser) refToken(node *jpath, path string) (refToken, error) {
	tok, err := p.sc.next()
	if err != nil {
		return tok, p.fail(node, path, "%v", err)
	}
	if tok.kind == tokEOF {
		return tok, p.fail(node, path, "unexpected end of document")
	}
	return tok, nil
}

// refParseTreeJSON is the old ParseTreeJSON: it decodes a document holding one tree (an object) or several
// (an array of objects). It enforces lim.MaxDepth, lim.MaxImportNodes and
// rejects wrong types, duplicate keys and trailing data; every error names
// the JSON path of the bad element and its byte offset, and wraps
// ErrInvalidJSON or ErrLimitExceeded. The document must be UTF-8 (RFC 8259):
// invalid UTF-8 and \u escapes of lone surrogates are refused with
// ErrInvalidJSON, never replaced; one leading byte order mark is allowed.
// Unknown fields are skipped, so exports of the reference service import as
// they are.
func refParseTreeJSON(r io.Reader, lim Limits) (trees []*TreeNode, array bool, err error) {
	lim = lim.withDefaults()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, false, fmt.Errorf("orgtree: parse: read: %w", err)
	}
	p := &refParser{sc: refScanner{data: data}, lim: lim}
	// A UTF-8 byte order mark, which some editors write, is skipped;
	// offsets in errors still count from the start of the file.
	if bytes.HasPrefix(data, utf8BOM) {
		p.sc.pos = len(utf8BOM)
	}
	top := rootPath(-1)
	tok, err := p.refToken(top, "")
	if err != nil {
		return nil, false, err
	}
	switch tok.kind {
	case tokObjectStart:
		t, err := p.tree(top)
		if err != nil {
			return nil, false, err
		}
		trees = append(trees, t)
	case tokArrayStart:
		array = true
		for i := 0; ; i++ {
			path := rootPath(i)
			tok, err := p.refToken(path, "")
			if err != nil {
				return nil, false, err
			}
			if tok.kind == tokArrayEnd {
				break
			}
			if tok.kind != tokObjectStart {
				return nil, false, p.fail(path, "", "expected an object, found %v", tok)
			}
			t, err := p.tree(path)
			if err != nil {
				return nil, false, err
			}
			trees = append(trees, t)
		}
	default:
		return nil, false, p.fail(top, "", "expected an object or an array, found %v", tok)
	}
	if tok, err := p.sc.next(); err != nil || tok.kind != tokEOF {
		return nil, false, p.fail(top, "", "trailing data after the document")
	}
	return trees, array, nil
}

// tree decodes one node object (its '{' already read) with its subtree.
func (p *refParser) tree(path *jpath) (*TreeNode, error) {
	type frame struct {
		t          *TreeNode
		path       *jpath
		depth      int
		seen       refKeySet
		inChildren bool
	}
	root := &TreeNode{}
	stack := []*frame{{t: root, path: path}}
	p.nodes++
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		if f.inChildren {
			cpath := f.path.child(len(f.t.Children))
			tok, err := p.refToken(cpath, "")
			if err != nil {
				return nil, err
			}
			if tok.kind == tokArrayEnd {
				f.inChildren = false
				continue
			}
			if tok.kind != tokObjectStart {
				return nil, p.fail(cpath, "", "expected a node object, found %v", tok)
			}
			if f.depth+1 > p.lim.MaxDepth {
				return nil, &parseError{cpath.String(), fmt.Errorf("nesting deeper than %d: %w", p.lim.MaxDepth, ErrLimitExceeded)}
			}
			if p.nodes++; p.nodes > p.lim.MaxImportNodes {
				return nil, &parseError{cpath.String(), fmt.Errorf("more than %d nodes: %w", p.lim.MaxImportNodes, ErrLimitExceeded)}
			}
			child := &TreeNode{}
			f.t.Children = append(f.t.Children, child)
			stack = append(stack, &frame{t: child, path: cpath, depth: f.depth + 1})
			continue
		}
		tok, err := p.refToken(f.path, "")
		if err != nil {
			return nil, err
		}
		if tok.kind == tokObjectEnd {
			stack = stack[:len(stack)-1]
			continue
		}
		key := tok.str
		if !f.seen.add(key) {
			return nil, p.fail(f.path, "."+key, "duplicate key %q", key)
		}
		if key == "children" {
			tok, err := p.refToken(f.path, ".children")
			if err != nil {
				return nil, err
			}
			switch tok.kind {
			case tokNull:
			case tokArrayStart:
				f.inChildren = true
			default:
				return nil, p.fail(f.path, ".children", "expected an array of nodes, found %v", tok)
			}
			continue
		}
		if err := p.field(f.t, key, f.path); err != nil {
			return nil, err
		}
	}
	return root, nil
}

// field decodes the value of one non-children key of a node object.
func (p *refParser) field(t *TreeNode, key string, node *jpath) error {
	var err error
	path := "." + key
	switch key {
	case "id":
		t.ID, err = p.str(node, path)
	case "orgId":
		t.OrgID, err = p.str(node, path)
	case "tenantId":
		t.TenantID, err = p.str(node, path)
	case "name":
		t.Name, err = p.str(node, path)
	case "description":
		t.Description, err = p.str(node, path)
	case "code":
		t.Code, err = p.str(node, path)
	case "externalId":
		t.ExternalID, err = p.str(node, path)
	case "leaderUserId":
		t.LeaderUserID, err = p.str(node, path)
	case "nameI18n":
		t.NameI18n, err = p.i18n(node, path)
	case "descriptionI18n":
		t.DescriptionI18n, err = p.i18n(node, path)
	case "order":
		t.Order, err = p.int(node, path)
	case "depth":
		t.Depth, err = p.int(node, path)
	case "createdAt":
		t.CreatedAt, err = p.time(node, path)
	case "updatedAt":
		t.UpdatedAt, err = p.time(node, path)
	case "root":
		var tok refToken
		if tok, err = p.refToken(node, path); err == nil {
			if tok.kind != tokTrue && tok.kind != tokFalse && tok.kind != tokNull {
				return p.fail(node, path, "expected true or false, found %v", tok)
			}
			t.Root = tok.kind == tokTrue
		}
	case "path":
		t.Path, err = p.strings(node, path)
	case "members":
		t.Members, err = p.members(node, path)
	case "resources":
		t.Resources, err = p.resources(node, path)
	default:
		err = p.skip(node, path)
	}
	return err
}

// str decodes a string or null ("").
func (p *refParser) str(node *jpath, path string) (string, error) {
	tok, err := p.refToken(node, path)
	if err != nil {
		return "", err
	}
	switch tok.kind {
	case tokNull:
		return "", nil
	case tokString:
		return tok.str, nil
	}
	return "", p.fail(node, path, "expected a string, found %v", tok)
}

func (p *refParser) int(node *jpath, path string) (int, error) {
	tok, err := p.refToken(node, path)
	if err != nil {
		return 0, err
	}
	switch tok.kind {
	case tokNull:
		return 0, nil
	case tokNumber:
		n, err := strconv.ParseInt(tok.str, 10, 32)
		if err != nil {
			return 0, p.fail(node, path, "expected a 32-bit integer, found %s", tok.str)
		}
		return int(n), nil
	}
	return 0, p.fail(node, path, "expected an integer, found %v", tok)
}

func (p *refParser) time(node *jpath, path string) (time.Time, error) {
	s, err := p.str(node, path)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	t, perr := time.Parse(time.RFC3339Nano, s)
	if perr != nil {
		return time.Time{}, p.fail(node, path, "expected an RFC 3339 time, found %q", s)
	}
	return t, nil
}

// strings decodes an array of strings or null.
func (p *refParser) strings(node *jpath, path string) ([]string, error) {
	tok, err := p.refToken(node, path)
	if err != nil || tok.kind == tokNull {
		return nil, err
	}
	if tok.kind != tokArrayStart {
		return nil, p.fail(node, path, "expected an array of strings, found %v", tok)
	}
	out := []string{}
	for i := 0; ; i++ {
		tok, err := p.refToken(node, path)
		if err != nil {
			return nil, err
		}
		if tok.kind == tokArrayEnd {
			return out, nil
		}
		if tok.kind != tokString {
			return nil, p.fail(node, path+"["+strconv.Itoa(i)+"]", "expected a string, found %v", tok)
		}
		out = append(out, tok.str)
	}
}

// i18n decodes a locale → text object, null, or a string holding such an
// object (the reference service stores i18n as a JSON string).
func (p *refParser) i18n(node *jpath, path string) (map[string]string, error) {
	tok, err := p.refToken(node, path)
	if err != nil {
		return nil, err
	}
	switch tok.kind {
	case tokNull:
		return nil, nil
	case tokString:
		if tok.str == "" {
			return nil, nil
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(tok.str), &m); err != nil {
			return nil, p.fail(node, path, "string does not hold a JSON object of strings")
		}
		return m, nil
	case tokObjectStart:
		m := map[string]string{}
		for {
			tok, err := p.refToken(node, path)
			if err != nil {
				return nil, err
			}
			if tok.kind == tokObjectEnd {
				return m, nil
			}
			k := tok.str
			if _, dup := m[k]; dup {
				return nil, p.fail(node, path+"."+k, "duplicate key %q", k)
			}
			if m[k], err = p.str(node, path+"."+k); err != nil {
				return nil, err
			}
		}
	}
	return nil, p.fail(node, path, "expected an object of strings, found %v", tok)
}

// members decodes an array whose entries are user ids or user objects.
func (p *refParser) members(node *jpath, path string) ([]User, error) {
	tok, err := p.refToken(node, path)
	if err != nil || tok.kind == tokNull {
		return nil, err
	}
	if tok.kind != tokArrayStart {
		return nil, p.fail(node, path, "expected an array of users, found %v", tok)
	}
	out := []User{}
	for i := 0; ; i++ {
		ipath := path + "[" + strconv.Itoa(i) + "]"
		tok, err := p.refToken(node, ipath)
		if err != nil {
			return nil, err
		}
		switch tok.kind {
		case tokString:
			out = append(out, User{ID: tok.str})
			continue
		case tokArrayEnd:
			return out, nil
		case tokObjectStart:
			u, err := p.user(node, ipath)
			if err != nil {
				return nil, err
			}
			out = append(out, u)
			continue
		}
		return nil, p.fail(node, ipath, "expected a user id or a user object, found %v", tok)
	}
}

func (p *refParser) user(node *jpath, path string) (User, error) {
	var u User
	seen := map[string]bool{}
	for {
		tok, err := p.refToken(node, path)
		if err != nil {
			return u, err
		}
		if tok.kind == tokObjectEnd {
			return u, nil
		}
		key := tok.str
		kpath := path + "." + key
		if seen[key] {
			return u, p.fail(node, kpath, "duplicate key %q", key)
		}
		seen[key] = true
		var dst *string
		switch key {
		case "id":
			dst = &u.ID
		case "name":
			dst = &u.Name
		case "username":
			dst = &u.Username
		case "email":
			dst = &u.Email
		case "phone":
			dst = &u.Phone
		case "externalId":
			dst = &u.ExternalID
		case "mainDepartmentId":
			dst = &u.MainDepartmentID
		case "createdAt":
			u.CreatedAt, err = p.time(node, kpath)
		case "updatedAt":
			u.UpdatedAt, err = p.time(node, kpath)
		default:
			err = p.skip(node, kpath)
		}
		if dst != nil {
			*dst, err = p.str(node, kpath)
		}
		if err != nil {
			return u, err
		}
	}
}

func (p *refParser) resources(node *jpath, path string) ([]Resource, error) {
	tok, err := p.refToken(node, path)
	if err != nil || tok.kind == tokNull {
		return nil, err
	}
	if tok.kind != tokArrayStart {
		return nil, p.fail(node, path, "expected an array of resources, found %v", tok)
	}
	var out []Resource
	for i := 0; ; i++ {
		ipath := path + "[" + strconv.Itoa(i) + "]"
		tok, err := p.refToken(node, ipath)
		if err != nil {
			return nil, err
		}
		if tok.kind == tokArrayEnd {
			return out, nil
		}
		if tok.kind != tokObjectStart {
			return nil, p.fail(node, ipath, "expected a resource object, found %v", tok)
		}
		var r Resource
		seen := map[string]bool{}
		for {
			tok, err := p.refToken(node, ipath)
			if err != nil {
				return nil, err
			}
			if tok.kind == tokObjectEnd {
				break
			}
			key := tok.str
			kpath := ipath + "." + key
			if seen[key] {
				return nil, p.fail(node, kpath, "duplicate key %q", key)
			}
			seen[key] = true
			switch key {
			case "namespace":
				r.Namespace, err = p.str(node, kpath)
			case "code":
				r.Code, err = p.str(node, kpath)
			case "type":
				var s string
				s, err = p.str(node, kpath)
				r.Type = ResourceType(s)
			case "actions":
				r.Actions, err = p.strings(node, kpath)
			default:
				err = p.skip(node, kpath)
			}
			if err != nil {
				return nil, err
			}
		}
		out = append(out, r)
	}
}

// skip reads and drops one value of any shape, nesting at most maxSkipDepth.
func (p *refParser) skip(node *jpath, path string) error {
	depth := 0
	for {
		tok, err := p.refToken(node, path)
		if err != nil {
			return err
		}
		switch tok.kind {
		case tokObjectStart, tokArrayStart:
			if depth++; depth > maxSkipDepth {
				return p.fail(node, path, "value nested deeper than %d", maxSkipDepth)
			}
		case tokObjectEnd, tokArrayEnd:
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// refNodeKeys are the keys of a node object that the decoder knows.
var refNodeKeys = map[string]uint32{}

func init() {
	for i, k := range []string{"id", "orgId", "name", "description", "code", "externalId", "leaderUserId",
		"nameI18n", "descriptionI18n", "order", "depth", "createdAt", "updatedAt", "root", "path",
		"members", "resources", "children", "tenantId"} {
		refNodeKeys[k] = 1 << i
	}
}

// refKeySet records the keys seen in one object: a bit per known key, a map
// only for unknown ones, so the common case allocates nothing.
type refKeySet struct {
	known uint32
	other map[string]bool
}

// add reports whether key is new.
func (k *refKeySet) add(key string) bool {
	if bit, ok := refNodeKeys[key]; ok {
		if k.known&bit != 0 {
			return false
		}
		k.known |= bit
		return true
	}
	if k.other[key] {
		return false
	}
	if k.other == nil {
		k.other = map[string]bool{}
	}
	k.other[key] = true
	return true
}

package orgtree

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// jsonTime is the timestamp format of exports: RFC 3339 in UTC with as many
// fractional digits as needed, so stored nanoseconds survive a round trip.
const jsonTime = time.RFC3339Nano

// WriteTreeJSON writes trees as JSON: one object when asArray is false and
// there is exactly one tree, an array otherwise. It never recurses, so trees
// of any depth are written with constant stack.
func WriteTreeJSON(w io.Writer, trees []*TreeNode, asArray bool, opt ExportOptions) error {
	if !asArray && len(trees) != 1 {
		return fmt.Errorf("orgtree: write JSON: %d trees need an array: %w", len(trees), ErrInvalidArgument)
	}
	// The stack holds the nodes still to write; a nil entry closes the
	// children array and object of the node that opened it.
	type item struct {
		t     *TreeNode
		first bool // first element of its array
	}
	return writeForest(w, len(trees), asArray, func(jw *jsonWriter, ti int) {
		stack := []item{{trees[ti], ti == 0}}
		for len(stack) > 0 && jw.err == nil {
			it := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if it.t == nil {
				jw.raw("]}")
				continue
			}
			if !it.first {
				jw.raw(",")
			}
			jw.nodeHead(it.t, opt)
			jw.raw(`,"children":[`)
			stack = append(stack, item{})
			for i := len(it.t.Children) - 1; i >= 0; i-- {
				stack = append(stack, item{it.t.Children[i], i == 0})
			}
		}
	})
}

// writeForest writes n trees, each by writeTree, as one object or an
// array, through one buffered writer.
func writeForest(w io.Writer, n int, asArray bool, writeTree func(jw *jsonWriter, i int)) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	jw := jsonWriter{w: bw}
	if asArray {
		jw.raw("[")
	}
	for i := 0; i < n && jw.err == nil; i++ {
		writeTree(&jw, i)
	}
	if asArray {
		jw.raw("]")
	}
	jw.raw("\n")
	if jw.err != nil {
		return jw.err
	}
	return bw.Flush()
}

type jsonWriter struct {
	w   *bufio.Writer
	buf []byte
	err error
}

func (j *jsonWriter) raw(s string) {
	if j.err == nil {
		_, j.err = j.w.WriteString(s)
	}
}

func (j *jsonWriter) flush() {
	if j.err == nil {
		_, j.err = j.w.Write(j.buf)
	}
	j.buf = j.buf[:0]
}

// nodeHead writes a node object up to (not including) its children.
func (j *jsonWriter) nodeHead(t *TreeNode, opt ExportOptions) {
	b := j.buf[:0]
	b = append(b, `{"id":`...)
	b = appendJSONString(b, t.ID)
	b = append(b, `,"orgId":`...)
	b = appendJSONString(b, t.OrgID)
	if t.TenantID != "" {
		b = append(b, `,"tenantId":`...)
		b = appendJSONString(b, t.TenantID)
	}
	b = append(b, `,"name":`...)
	b = appendJSONString(b, t.Name)
	b = append(b, `,"nameI18n":`...)
	b = appendI18n(b, t.NameI18n)
	b = append(b, `,"description":`...)
	b = appendJSONString(b, t.Description)
	b = append(b, `,"descriptionI18n":`...)
	b = appendI18n(b, t.DescriptionI18n)
	b = append(b, `,"code":`...)
	b = appendOptString(b, t.Code)
	b = append(b, `,"order":`...)
	b = strconv.AppendInt(b, int64(t.Order), 10)
	b = append(b, `,"externalId":`...)
	b = appendOptString(b, t.ExternalID)
	b = append(b, `,"leaderUserId":`...)
	b = appendOptString(b, t.LeaderUserID)
	b = append(b, `,"depth":`...)
	b = strconv.AppendInt(b, int64(t.Depth), 10)
	if !opt.OmitPaths {
		b = append(b, `,"path":[`...)
		for i, id := range t.Path {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, id)
		}
		b = append(b, ']')
	}
	b = append(b, `,"root":`...)
	b = strconv.AppendBool(b, t.Root)
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, t.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendTime(b, t.UpdatedAt)
	if !opt.OmitMembers {
		b = append(b, `,"members":[`...)
		for i := range t.Members {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendUser(b, &t.Members[i])
		}
		b = append(b, ']')
	}
	b = append(b, `,"resources":[`...)
	for i, r := range t.Resources {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"namespace":`...)
		b = appendJSONString(b, r.Namespace)
		b = append(b, `,"code":`...)
		b = appendJSONString(b, r.Code)
		b = append(b, `,"type":`...)
		b = appendJSONString(b, string(r.Type))
		b = append(b, `,"actions":[`...)
		for k, a := range r.Actions {
			if k > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, a)
		}
		b = append(b, "]}"...)
	}
	b = append(b, ']')
	j.buf = b
	j.flush()
}

func appendUser(b []byte, u *User) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, u.ID)
	for _, f := range [...]struct{ k, v string }{
		{`,"name":`, u.Name}, {`,"username":`, u.Username}, {`,"email":`, u.Email}, {`,"phone":`, u.Phone},
		{`,"externalId":`, u.ExternalID}, {`,"mainDepartmentId":`, u.MainDepartmentID},
	} {
		b = append(b, f.k...)
		b = appendOptString(b, f.v)
	}
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, u.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendTime(b, u.UpdatedAt)
	return append(b, '}')
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, jsonTime)
	return append(b, '"')
}

func appendOptString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, s)
}

func appendI18n(b []byte, m map[string]string) []byte {
	if len(m) == 0 {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// control characters and U+2028/U+2029 are escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// maxSkipDepth bounds the nesting of values the decoder skips (unknown fields).
const maxSkipDepth = 64

// treeParser decodes nested documents with the scanner's tokens and an
// explicit stack: no recursion, whatever the depth.
type treeParser struct {
	sc    scanner
	lim   Limits
	nodes int
}

type parseError struct {
	path string
	err  error
}

// at renders a node path plus a suffix (".name", ".members[2]") for an error.
func at(node *jpath, suffix string) string { return node.String() + suffix }

func (e *parseError) Error() string { return "orgtree: parse: " + e.path + ": " + e.err.Error() }
func (e *parseError) Unwrap() error { return e.err }

func (p *treeParser) fail(node *jpath, suffix string, format string, args ...any) error {
	return &parseError{path: at(node, suffix), err: fmt.Errorf(format+" (at byte %d): %w", append(args, p.sc.offset(), ErrInvalidJSON)...)}
}

func (p *treeParser) token(node *jpath, path string) (token, error) {
	tok, err := p.sc.next()
	if err != nil {
		return tok, p.fail(node, path, "%v", err)
	}
	if tok.kind == tokEOF {
		return tok, p.fail(node, path, "unexpected end of document")
	}
	return tok, nil
}

// ParseTreeJSON decodes a document holding one tree (an object) or several
// (an array of objects). It enforces lim.MaxDepth, lim.MaxImportNodes and
// rejects wrong types, duplicate keys and trailing data; every error names
// the JSON path of the bad element and its byte offset, and wraps
// ErrInvalidJSON or ErrLimitExceeded. The document must be UTF-8 (RFC 8259):
// invalid UTF-8 and \u escapes of lone surrogates are refused with
// ErrInvalidJSON, never replaced; one leading byte order mark is allowed.
// Unknown fields are skipped, so exports of the reference service import as
// they are.
func ParseTreeJSON(r io.Reader, lim Limits) (trees []*TreeNode, array bool, err error) {
	lim = lim.withDefaults()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, false, fmt.Errorf("orgtree: parse: read: %w", err)
	}
	p := &treeParser{sc: scanner{data: data}, lim: lim}
	// A UTF-8 byte order mark, which some editors write, is skipped;
	// offsets in errors still count from the start of the file.
	if bytes.HasPrefix(data, utf8BOM) {
		p.sc.pos = len(utf8BOM)
	}
	top := rootPath(-1)
	tok, err := p.token(top, "")
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
			tok, err := p.token(path, "")
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
func (p *treeParser) tree(path *jpath) (*TreeNode, error) {
	type frame struct {
		t          *TreeNode
		path       *jpath
		depth      int
		seen       keySet
		inChildren bool
	}
	root := &TreeNode{}
	stack := []*frame{{t: root, path: path}}
	p.nodes++
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		if f.inChildren {
			cpath := f.path.child(len(f.t.Children))
			tok, err := p.token(cpath, "")
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
		tok, err := p.token(f.path, "")
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
			tok, err := p.token(f.path, ".children")
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
func (p *treeParser) field(t *TreeNode, key string, node *jpath) error {
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
		var tok token
		if tok, err = p.token(node, path); err == nil {
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
func (p *treeParser) str(node *jpath, path string) (string, error) {
	tok, err := p.token(node, path)
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

func (p *treeParser) int(node *jpath, path string) (int, error) {
	tok, err := p.token(node, path)
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

func (p *treeParser) time(node *jpath, path string) (time.Time, error) {
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
func (p *treeParser) strings(node *jpath, path string) ([]string, error) {
	tok, err := p.token(node, path)
	if err != nil || tok.kind == tokNull {
		return nil, err
	}
	if tok.kind != tokArrayStart {
		return nil, p.fail(node, path, "expected an array of strings, found %v", tok)
	}
	out := []string{}
	for i := 0; ; i++ {
		tok, err := p.token(node, path)
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
func (p *treeParser) i18n(node *jpath, path string) (map[string]string, error) {
	tok, err := p.token(node, path)
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
			tok, err := p.token(node, path)
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
func (p *treeParser) members(node *jpath, path string) ([]User, error) {
	tok, err := p.token(node, path)
	if err != nil || tok.kind == tokNull {
		return nil, err
	}
	if tok.kind != tokArrayStart {
		return nil, p.fail(node, path, "expected an array of users, found %v", tok)
	}
	out := []User{}
	for i := 0; ; i++ {
		ipath := path + "[" + strconv.Itoa(i) + "]"
		tok, err := p.token(node, ipath)
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

func (p *treeParser) user(node *jpath, path string) (User, error) {
	var u User
	seen := map[string]bool{}
	for {
		tok, err := p.token(node, path)
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

func (p *treeParser) resources(node *jpath, path string) ([]Resource, error) {
	tok, err := p.token(node, path)
	if err != nil || tok.kind == tokNull {
		return nil, err
	}
	if tok.kind != tokArrayStart {
		return nil, p.fail(node, path, "expected an array of resources, found %v", tok)
	}
	var out []Resource
	for i := 0; ; i++ {
		ipath := path + "[" + strconv.Itoa(i) + "]"
		tok, err := p.token(node, ipath)
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
			tok, err := p.token(node, ipath)
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
func (p *treeParser) skip(node *jpath, path string) error {
	depth := 0
	for {
		tok, err := p.token(node, path)
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

// nodeKeys are the keys of a node object that the decoder knows.
var nodeKeys = map[string]uint32{}

func init() {
	for i, k := range []string{"id", "orgId", "name", "description", "code", "externalId", "leaderUserId",
		"nameI18n", "descriptionI18n", "order", "depth", "createdAt", "updatedAt", "root", "path",
		"members", "resources", "children", "tenantId"} {
		nodeKeys[k] = 1 << i
	}
}

// keySet records the keys seen in one object: a bit per known key, a map
// only for unknown ones, so the common case allocates nothing.
type keySet struct {
	known uint32
	other map[string]bool
}

// add reports whether key is new.
func (k *keySet) add(key string) bool {
	if bit, ok := nodeKeys[key]; ok {
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

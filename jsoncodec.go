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
	sc    *scanner
	lim   Limits
	nodes int
	// Scratch space reused from node to node: the children of the open
	// nodes (a stack, each node's run on top while it is open) and the
	// members of the current list, copied out at the right size.
	kids    []*TreeNode
	members []User
	slab    []TreeNode // nodes are allocated a slab at a time
	orgID   string     // the last orgId, shared by the nodes that repeat it
}

type parseError struct {
	path string
	err  error
}

// at renders a node path plus a suffix (".name", ".members[2]") for an error.
func at(node *jpath, suffix string) string { return node.String() + suffix }

func (e *parseError) Error() string { return "orgtree: parse: " + e.path + ": " + e.err.Error() }
func (e *parseError) Unwrap() error { return e.err }

// loc is where in a node object the parser is: a field, an index in it and
// a key below that (".members[2].name"). It is rendered only for an error,
// so reading a member costs no string building.
type loc struct {
	field string // ".members"; "" for the node itself
	index int    // 1 + the index in field's array; 0 for none
	sub   string // ".name"
}

func field(f string) loc { return loc{field: f} }

// item is the location of the i-th element of l's array.
func (l loc) item(i int) loc { return loc{field: l.field, index: i + 1} }

// key is the location of a key below l.
func (l loc) key(k string) loc { l.sub += k; return l }

func (l loc) String() string {
	if l.index == 0 {
		return l.field + l.sub
	}
	return l.field + "[" + strconv.Itoa(l.index-1) + "]" + l.sub
}

func (p *treeParser) fail(node *jpath, l loc, format string, args ...any) error {
	return &parseError{path: at(node, l.String()), err: fmt.Errorf(format+" (at byte %d): %w", append(args, p.sc.offset(), ErrInvalidJSON)...)}
}

func (p *treeParser) token(node *jpath, l loc) (token, error) {
	tok, err := p.sc.next()
	if err != nil {
		if p.sc.rerr != nil {
			return tok, fmt.Errorf("orgtree: parse: read: %w", p.sc.rerr)
		}
		return tok, p.fail(node, l, "%v", err)
	}
	if tok.kind == tokEOF {
		return tok, p.fail(node, l, "unexpected end of document")
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
// they are. r is read in blocks, not copied whole.
func ParseTreeJSON(r io.Reader, lim Limits) (trees []*TreeNode, array bool, err error) {
	return parseTreeJSON(r, lim, readBlock)
}

// parseTreeJSON is ParseTreeJSON reading block bytes at a time (tests make
// blocks tiny to cut every token somewhere).
func parseTreeJSON(r io.Reader, lim Limits, block int) (trees []*TreeNode, array bool, err error) {
	lim = lim.withDefaults()
	sc := newScanner(r, block)
	p := &treeParser{sc: sc, lim: lim}
	// A UTF-8 byte order mark, which some editors write, is skipped;
	// offsets in errors still count from the start of the file.
	for len(sc.data) < len(utf8BOM) && sc.more {
		sc.fill(0)
	}
	if bytes.HasPrefix(sc.data, utf8BOM) {
		sc.pos = len(utf8BOM)
	}
	top := rootPath(-1)
	tok, err := p.token(top, loc{})
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
			tok, err := p.token(path, loc{})
			if err != nil {
				return nil, false, err
			}
			if tok.kind == tokArrayEnd {
				break
			}
			if tok.kind != tokObjectStart {
				return nil, false, p.fail(path, loc{}, "expected an object, found %v", tok)
			}
			t, err := p.tree(path)
			if err != nil {
				return nil, false, err
			}
			trees = append(trees, t)
		}
	default:
		return nil, false, p.fail(top, loc{}, "expected an object or an array, found %v", tok)
	}
	if tok, err := p.sc.next(); err != nil || tok.kind != tokEOF {
		if p.sc.rerr != nil {
			return nil, false, fmt.Errorf("orgtree: parse: read: %w", p.sc.rerr)
		}
		return nil, false, p.fail(top, loc{}, "trailing data after the document")
	}
	return trees, array, nil
}

// newNode returns a zero TreeNode from the current slab: one allocation
// per 64 nodes instead of one each. A caller that keeps one node of a
// parsed tree and drops the rest keeps its slab alive, at most 63 other
// nodes' worth: a parsed tree is normally imported whole and dropped.
func (p *treeParser) newNode() *TreeNode {
	if len(p.slab) == 0 {
		p.slab = make([]TreeNode, 64)
	}
	t := &p.slab[0]
	p.slab = p.slab[1:]
	return t
}

// tree decodes one node object (its '{' already read) with its subtree.
func (p *treeParser) tree(path *jpath) (*TreeNode, error) {
	type frame struct {
		t          *TreeNode
		path       *jpath
		depth      int
		seen       keySet
		next       int // the key expected next, in export order
		kids       int // where this node's children start in p.kids
		inChildren bool
	}
	root := p.newNode()
	stack := []frame{{t: root, path: path}}
	p.nodes++
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.inChildren {
			cpath := f.path.child(len(p.kids) - f.kids)
			tok, err := p.token(cpath, loc{})
			if err != nil {
				return nil, err
			}
			if tok.kind == tokArrayEnd {
				f.inChildren = false
				if kids := p.kids[f.kids:]; len(kids) > 0 {
					f.t.Children = slices.Clone(kids)
					clear(kids)
					p.kids = p.kids[:f.kids]
				}
				continue
			}
			if tok.kind != tokObjectStart {
				return nil, p.fail(cpath, loc{}, "expected a node object, found %v", tok)
			}
			if f.depth+1 > p.lim.MaxDepth {
				return nil, &parseError{cpath.String(), fmt.Errorf("nesting deeper than %d: %w", p.lim.MaxDepth, ErrLimitExceeded)}
			}
			if p.nodes++; p.nodes > p.lim.MaxImportNodes {
				return nil, &parseError{cpath.String(), fmt.Errorf("more than %d nodes: %w", p.lim.MaxImportNodes, ErrLimitExceeded)}
			}
			child := p.newNode()
			p.kids = append(p.kids, child)
			stack = append(stack, frame{t: child, path: cpath, depth: f.depth + 1})
			continue
		}
		// The key an export writes next, or the one after it (tenantId
		// and path are often left out).
		k := f.next
		if k < nodeKeyCount && !p.sc.nextKey(nodeKeyQuoted[k]) {
			if k++; k < nodeKeyCount && !p.sc.nextKey(nodeKeyQuoted[k]) {
				k = nodeKeyCount
			}
		}
		if k >= nodeKeyCount {
			tok, err := p.token(f.path, loc{})
			if err != nil {
				return nil, err
			}
			if tok.kind == tokObjectEnd {
				stack = stack[:len(stack)-1]
				continue
			}
			if k = lookupKey(nodeKeyNames[:], tok.raw); k < 0 {
				key := string(tok.raw)
				if !f.seen.addOther(key) {
					return nil, p.fail(f.path, field("."+key), "duplicate key %q", key)
				}
				if err := p.skip(f.path, field("."+key)); err != nil {
					return nil, err
				}
				continue
			}
		}
		if !f.seen.add(k) {
			return nil, p.fail(f.path, field(nodeKeyPaths[k]), "duplicate key %q", nodeKeyNames[k])
		}
		f.next = k + 1
		if k == keyChildren {
			tok, err := p.token(f.path, field(".children"))
			if err != nil {
				return nil, err
			}
			switch tok.kind {
			case tokNull:
			case tokArrayStart:
				f.inChildren = true
				f.kids = len(p.kids)
			default:
				return nil, p.fail(f.path, field(".children"), "expected an array of nodes, found %v", tok)
			}
			continue
		}
		if err := p.field(f.t, k, f.path); err != nil {
			return nil, err
		}
	}
	return root, nil
}

// The keys of a node object that the decoder knows, in the order exports
// write them.
const (
	keyID = iota
	keyOrgID
	keyTenantID
	keyName
	keyNameI18n
	keyDescription
	keyDescriptionI18n
	keyCode
	keyOrder
	keyExternalID
	keyLeaderUserID
	keyDepth
	keyPath
	keyRoot
	keyCreatedAt
	keyUpdatedAt
	keyMembers
	keyResources
	keyChildren
	nodeKeyCount
)

var nodeKeyNames = [nodeKeyCount]string{
	"id", "orgId", "tenantId", "name", "nameI18n", "description", "descriptionI18n", "code", "order",
	"externalId", "leaderUserId", "depth", "path", "root", "createdAt", "updatedAt", "members", "resources", "children",
}

// The keys of a member object, in export order.
const (
	userKeyID = iota
	userKeyName
	userKeyUsername
	userKeyEmail
	userKeyPhone
	userKeyExternalID
	userKeyMainDepartmentID
	userKeyCreatedAt
	userKeyUpdatedAt
	userKeyCount
)

var userKeyNames = [userKeyCount]string{
	"id", "name", "username", "email", "phone", "externalId", "mainDepartmentId", "createdAt", "updatedAt",
}

// The error-path suffixes of the known keys (".name"), and the keys as an
// export writes them (`"name":`), made once.
var (
	nodeKeyPaths, userKeyPaths   = affixed(nodeKeyNames[:], ".", ""), affixed(userKeyNames[:], ".", "")
	nodeKeyQuoted, userKeyQuoted = affixed(nodeKeyNames[:], `"`, `":`), affixed(userKeyNames[:], `"`, `":`)
)

func affixed(keys []string, prefix, suffix string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = prefix + k + suffix
	}
	return out
}

// lookupKey returns the index of key in names, or -1: for a key not where
// an export puts it.
func lookupKey(names []string, key []byte) int {
	for i, n := range names {
		if string(key) == n {
			return i
		}
	}
	return -1
}

// field decodes the value of one non-children key of a node object.
func (p *treeParser) field(t *TreeNode, k int, node *jpath) error {
	var err error
	path := field(nodeKeyPaths[k])
	switch k {
	case keyID:
		t.ID, err = p.str(node, path)
	case keyOrgID:
		var tok token
		if tok, err = p.strToken(node, path); err == nil && tok.kind == tokString {
			if string(tok.raw) != p.orgID {
				p.orgID = string(tok.raw)
			}
			t.OrgID = p.orgID
		}
	case keyTenantID:
		t.TenantID, err = p.str(node, path)
	case keyName:
		t.Name, err = p.str(node, path)
	case keyDescription:
		t.Description, err = p.str(node, path)
	case keyCode:
		t.Code, err = p.str(node, path)
	case keyExternalID:
		t.ExternalID, err = p.str(node, path)
	case keyLeaderUserID:
		t.LeaderUserID, err = p.str(node, path)
	case keyNameI18n:
		t.NameI18n, err = p.i18n(node, path)
	case keyDescriptionI18n:
		t.DescriptionI18n, err = p.i18n(node, path)
	case keyOrder:
		t.Order, err = p.int(node, path)
	case keyDepth:
		t.Depth, err = p.int(node, path)
	case keyCreatedAt:
		t.CreatedAt, err = p.time(node, path)
	case keyUpdatedAt:
		t.UpdatedAt, err = p.time(node, path)
	case keyRoot:
		var tok token
		if tok, err = p.token(node, path); err == nil {
			if tok.kind != tokTrue && tok.kind != tokFalse && tok.kind != tokNull {
				return p.fail(node, path, "expected true or false, found %v", tok)
			}
			t.Root = tok.kind == tokTrue
		}
	case keyPath:
		t.Path, err = p.strings(node, path)
	case keyMembers:
		t.Members, err = p.parseMembers(node, path)
	case keyResources:
		t.Resources, err = p.resources(node, path)
	}
	return err
}

// strToken reads a string or null token; its text is valid until the next
// token.
func (p *treeParser) strToken(node *jpath, path loc) (token, error) {
	tok, err := p.token(node, path)
	if err != nil {
		return tok, err
	}
	if tok.kind != tokNull && tok.kind != tokString {
		return tok, p.fail(node, path, "expected a string, found %v", tok)
	}
	return tok, nil
}

// str decodes a string or null ("").
func (p *treeParser) str(node *jpath, path loc) (string, error) {
	tok, err := p.strToken(node, path)
	if err != nil || tok.kind == tokNull {
		return "", err
	}
	return string(tok.raw), nil
}

func (p *treeParser) int(node *jpath, path loc) (int, error) {
	tok, err := p.token(node, path)
	if err != nil {
		return 0, err
	}
	switch tok.kind {
	case tokNull:
		return 0, nil
	case tokNumber:
		if n, ok := smallInt(tok.raw); ok {
			return n, nil
		}
		n, err := strconv.ParseInt(string(tok.raw), 10, 32)
		if err != nil {
			return 0, p.fail(node, path, "expected a 32-bit integer, found %s", tok.raw)
		}
		return int(n), nil
	}
	return 0, p.fail(node, path, "expected an integer, found %v", tok)
}

// smallInt parses a literal of at most 9 digits with an optional minus,
// which always fits 32 bits; anything else is left to strconv.
func smallInt(b []byte) (int, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func (p *treeParser) time(node *jpath, path loc) (time.Time, error) {
	tok, err := p.strToken(node, path)
	if err != nil || tok.kind == tokNull || len(tok.raw) == 0 {
		return time.Time{}, err
	}
	if t, ok := parseExportTime(tok.raw); ok {
		return t, nil
	}
	s := string(tok.raw)
	t, perr := time.Parse(time.RFC3339Nano, s)
	if perr != nil {
		return time.Time{}, p.fail(node, path, "expected an RFC 3339 time, found %q", s)
	}
	return t, nil
}

// parseExportTime parses the timestamps exports write, "2006-01-02T15:04:05Z"
// with 0 to 9 fractional digits, without time.Parse and its string. It
// refuses (false) anything else, valid or not, for time.Parse to judge; what
// it accepts it reads as time.Parse does.
func parseExportTime(b []byte) (time.Time, bool) {
	n := len(b)
	if n < len("2006-01-02T15:04:05Z") || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[n-1] != 'Z' {
		return time.Time{}, false
	}
	num := func(b []byte) int {
		v := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(b[0:4]), num(b[5:7]), num(b[8:10])
	hour, minute, sec := num(b[11:13]), num(b[14:16]), num(b[17:19])
	nsec := 0
	if frac := b[19 : n-1]; len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		if nsec = num(frac[1:]); nsec < 0 {
			return time.Time{}, false
		}
		for k := len(frac) - 1; k < 9; k++ {
			nsec *= 10
		}
	}
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// strings decodes an array of strings or null.
func (p *treeParser) strings(node *jpath, path loc) ([]string, error) {
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
			return nil, p.fail(node, path.item(i), "expected a string, found %v", tok)
		}
		out = append(out, string(tok.raw))
	}
}

// i18n decodes a locale → text object, null, or a string holding such an
// object (the reference service stores i18n as a JSON string).
func (p *treeParser) i18n(node *jpath, path loc) (map[string]string, error) {
	tok, err := p.token(node, path)
	if err != nil {
		return nil, err
	}
	switch tok.kind {
	case tokNull:
		return nil, nil
	case tokString:
		if len(tok.raw) == 0 {
			return nil, nil
		}
		var m map[string]string
		if err := json.Unmarshal(tok.raw, &m); err != nil {
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
			k := string(tok.raw)
			if _, dup := m[k]; dup {
				return nil, p.fail(node, path.key("."+k), "duplicate key %q", k)
			}
			if m[k], err = p.str(node, path.key("."+k)); err != nil {
				return nil, err
			}
		}
	}
	return nil, p.fail(node, path, "expected an object of strings, found %v", tok)
}

// parseMembers decodes an array whose entries are user ids or user objects.
func (p *treeParser) parseMembers(node *jpath, path loc) ([]User, error) {
	tok, err := p.token(node, path)
	if err != nil || tok.kind == tokNull {
		return nil, err
	}
	if tok.kind != tokArrayStart {
		return nil, p.fail(node, path, "expected an array of users, found %v", tok)
	}
	out := p.members[:0]
	defer func() { clear(out); p.members = out[:0] }()
	for i := 0; ; i++ {
		ipath := path.item(i)
		tok, err := p.token(node, ipath)
		if err != nil {
			return nil, err
		}
		switch tok.kind {
		case tokString:
			out = append(out, User{ID: string(tok.raw)})
			continue
		case tokArrayEnd:
			if len(out) == 0 {
				return []User{}, nil
			}
			return slices.Clone(out), nil
		case tokObjectStart:
			out = append(out, User{})
			if err := p.user(&out[len(out)-1], node, ipath); err != nil {
				return nil, err
			}
			continue
		}
		return nil, p.fail(node, ipath, "expected a user id or a user object, found %v", tok)
	}
}

func (p *treeParser) user(u *User, node *jpath, path loc) error {
	var seen keySet
	next := 0
	for {
		k := next
		if k >= userKeyCount || !p.sc.nextKey(userKeyQuoted[k]) {
			tok, err := p.token(node, path)
			if err != nil {
				return err
			}
			if tok.kind == tokObjectEnd {
				return nil
			}
			if k = lookupKey(userKeyNames[:], tok.raw); k < 0 {
				key := string(tok.raw)
				kpath := path.key("." + key)
				if !seen.addOther(key) {
					return p.fail(node, kpath, "duplicate key %q", key)
				}
				if err := p.skip(node, kpath); err != nil {
					return err
				}
				continue
			}
		}
		kpath := path.key(userKeyPaths[k])
		if !seen.add(k) {
			return p.fail(node, kpath, "duplicate key %q", userKeyNames[k])
		}
		next = k + 1
		var err error
		var dst *string
		switch k {
		case userKeyID:
			dst = &u.ID
		case userKeyName:
			dst = &u.Name
		case userKeyUsername:
			dst = &u.Username
		case userKeyEmail:
			dst = &u.Email
		case userKeyPhone:
			dst = &u.Phone
		case userKeyExternalID:
			dst = &u.ExternalID
		case userKeyMainDepartmentID:
			dst = &u.MainDepartmentID
		case userKeyCreatedAt:
			u.CreatedAt, err = p.time(node, kpath)
		case userKeyUpdatedAt:
			u.UpdatedAt, err = p.time(node, kpath)
		}
		if dst != nil {
			*dst, err = p.str(node, kpath)
		}
		if err != nil {
			return err
		}
	}
}

func (p *treeParser) resources(node *jpath, path loc) ([]Resource, error) {
	tok, err := p.token(node, path)
	if err != nil || tok.kind == tokNull {
		return nil, err
	}
	if tok.kind != tokArrayStart {
		return nil, p.fail(node, path, "expected an array of resources, found %v", tok)
	}
	var out []Resource
	for i := 0; ; i++ {
		ipath := path.item(i)
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
			key := string(tok.raw)
			kpath := ipath.key("." + key)
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
				// Rare: the path of an action is rendered as it comes.
				r.Actions, err = p.strings(node, field(kpath.String()))
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
func (p *treeParser) skip(node *jpath, path loc) error {
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

// keySet records the keys seen in one object: a bit per known key, a map
// only for unknown ones, so the common case allocates nothing.
type keySet struct {
	known uint32
	other map[string]bool
}

// add reports whether known key k is new.
func (s *keySet) add(k int) bool {
	bit := uint32(1) << k
	if s.known&bit != 0 {
		return false
	}
	s.known |= bit
	return true
}

// addOther reports whether the unknown key is new.
func (s *keySet) addOther(key string) bool {
	if s.other[key] {
		return false
	}
	if s.other == nil {
		s.other = map[string]bool{}
	}
	s.other[key] = true
	return true
}

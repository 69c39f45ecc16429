// Package recordcodec is the binary encoding of orgtree records (orgs,
// nodes with their resources, users with their memberships) that package
// persist writes to its log and package replicate to its snapshots: ids
// and names front-coded, references numbered, times as varint deltas. A
// record is a header and chunks of ChunkSize entities, each decodable on
// its own core. Encoding never fails; decoding checks every length, count
// and reference against the bytes it has, so damaged bytes yield an error
// wrapping ErrRecord, never a panic or a huge allocation.
//
// The bytes are persist's on-disk format version 2 (its package
// documentation describes the layout): they must not change.
package recordcodec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
	"unsafe"

	"github.com/orgtree/orgtree"
)

// Record kinds.
const (
	KindFull  = 1 // the whole content at its sequence number
	KindDelta = 2 // one committed ChangeSet
)

// Chunk kinds.
const (
	chunkNodes = 'n'
	chunkUsers = 'u'
)

// ChunkSize is the number of nodes or users in one chunk, the unit that is
// decoded on one core; partSize bounds the bytes of one part (a bbolt
// value in persist).
const (
	ChunkSize = 1024
	partSize  = 256 << 10
)

// Node flags: which optional fields follow.
const (
	nfParent = 1 << iota
	nfNameI18n
	nfDescription
	nfDescriptionI18n
	nfCode
	nfExternalID
	nfLeader
	nfResources
	nfOrder
)

// User flags.
const (
	ufName = 1 << iota
	ufUsername
	ufEmail
	ufPhone
	ufExternalID
	ufMain
)

// ErrRecord is what every decoding error wraps.
var ErrRecord = errors.New("malformed record")

// The fewest bytes an encoded node and user take (id, flags, org, name,
// times; id, flags, times, membership count): they bound what a damaged
// count can make the decoder allocate.
const (
	minNodeBytes = 9
	minUserBytes = 6
)

// Enc appends the primitive values of the format.
// B is the encoding so far.
type Enc struct{ B []byte }

// Uvarint appends v as a varint.
func (e *Enc) Uvarint(v uint64) { e.B = binary.AppendUvarint(e.B, v) }

// Varint appends v zig-zag encoded.
func (e *Enc) Varint(v int64) { e.B = binary.AppendVarint(e.B, v) }

// Str appends the length of s and its bytes.
func (e *Enc) Str(s string) { e.Uvarint(uint64(len(s))); e.B = append(e.B, s...) }

// Front writes s as the length of its common prefix with prev and the rest:
// sorted ids and the names of neighbours share long prefixes.
func (e *Enc) Front(prev, s string) {
	n := 0
	for n < len(prev) && n < len(s) && prev[n] == s[n] {
		n++
	}
	e.Uvarint(uint64(n))
	e.Str(s[n:])
}

// strMap appends m's size and its entries sorted by key.
func (e *Enc) strMap(m map[string]string) {
	e.Uvarint(uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		e.Str(k)
		e.Str(m[k])
	}
}

// Nanos is the engine's representation of a time: 0 for the zero time.
func Nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// TimeOf undoes Nanos, in UTC.
func TimeOf(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// refs numbers the ids a record refers to: its own records first, in
// order, then the others (extra) in order of first use.
type refs struct {
	index map[string]int
	own   int
	extra []string
}

func newRefs(n int, id func(int) string) *refs {
	r := &refs{index: make(map[string]int, n), own: n}
	for i := range n {
		r.index[id(i)] = i
	}
	return r
}

func (r *refs) of(id string) uint64 {
	i, ok := r.index[id]
	if !ok {
		i = r.own + len(r.extra)
		r.index[id] = i
		r.extra = append(r.extra, id)
	}
	return uint64(i)
}

// EncodeRecord returns the payloads of the parts of one record: part 0
// starts with the header, every part then holds whole chunks.
func EncodeRecord(kind byte, orgs []orgtree.OrgRecord, nodes []orgtree.NodeRecord, users []orgtree.UserRecord, deleted [3][]string) [][]byte {
	nodeRefs := newRefs(len(nodes), func(i int) string { return nodes[i].ID })
	userRefs := newRefs(len(users), func(i int) string { return users[i].ID })
	var chunks [][]byte
	for lo := 0; lo < len(nodes); lo += ChunkSize {
		chunks = append(chunks, encodeNodes(nodes[lo:min(lo+ChunkSize, len(nodes))], nodeRefs, userRefs))
	}
	nodeChunks := len(chunks)
	for lo := 0; lo < len(users); lo += ChunkSize {
		chunks = append(chunks, encodeUsers(users[lo:min(lo+ChunkSize, len(users))], nodeRefs))
	}
	h := &Enc{}
	h.B = append(h.B, kind)
	h.Uvarint(uint64(len(nodes)))
	h.Uvarint(uint64(len(users)))
	h.Uvarint(uint64(nodeChunks))
	h.Uvarint(uint64(len(chunks) - nodeChunks))
	h.Uvarint(uint64(len(orgs)))
	var prevCreated int64
	for _, o := range orgs {
		h.Str(o.ID)
		h.Str(o.RootID)
		h.Str(o.TenantID)
		c := Nanos(o.CreatedAt)
		h.Varint(c - prevCreated)
		h.Varint(Nanos(o.UpdatedAt) - c)
		prevCreated = c
	}
	for _, list := range [][]string{nodeRefs.extra, userRefs.extra, deleted[0], deleted[1], deleted[2]} {
		h.Uvarint(uint64(len(list)))
		prev := ""
		for _, id := range list {
			h.Front(prev, id)
			prev = id
		}
	}
	parts := [][]byte{h.B}
	for _, c := range chunks {
		last := &parts[len(parts)-1]
		if len(*last) > 0 && len(*last)+len(c) > partSize {
			parts = append(parts, nil)
			last = &parts[len(parts)-1]
		}
		*last = append(*last, c...)
	}
	return parts
}

// chunkHeader frames a chunk body: kind, entity count, body length.
func chunkHeader(kind byte, n int, body []byte) []byte {
	out := make([]byte, 0, len(body)+12)
	out = append(out, kind)
	out = binary.AppendUvarint(out, uint64(n))
	out = binary.AppendUvarint(out, uint64(len(body)))
	return append(out, body...)
}

func encodeNodes(nodes []orgtree.NodeRecord, nodeRefs, userRefs *refs) []byte {
	e := &Enc{B: make([]byte, 0, 64*len(nodes))}
	var prev orgtree.Node
	var prevCreated int64
	for i := range nodes {
		n := &nodes[i]
		flags := 0
		set := func(bit int, on bool) {
			if on {
				flags |= bit
			}
		}
		set(nfParent, n.ParentID != "")
		set(nfNameI18n, len(n.NameI18n) > 0)
		set(nfDescription, n.Description != "")
		set(nfDescriptionI18n, len(n.DescriptionI18n) > 0)
		set(nfCode, n.Code != "")
		set(nfExternalID, n.ExternalID != "")
		set(nfLeader, n.LeaderUserID != "")
		set(nfResources, len(n.Resources) > 0)
		set(nfOrder, n.Order != 0)
		e.Front(prev.ID, n.ID)
		e.Uvarint(uint64(flags))
		e.Front(prev.OrgID, n.OrgID)
		if n.ParentID != "" {
			e.Uvarint(nodeRefs.of(n.ParentID))
		}
		e.Front(prev.Name, n.Name)
		if len(n.NameI18n) > 0 {
			e.strMap(n.NameI18n)
		}
		if n.Description != "" {
			e.Str(n.Description)
		}
		if len(n.DescriptionI18n) > 0 {
			e.strMap(n.DescriptionI18n)
		}
		if n.Code != "" {
			e.Front(prev.Code, n.Code)
		}
		if n.ExternalID != "" {
			e.Front(prev.ExternalID, n.ExternalID)
		}
		if n.LeaderUserID != "" {
			e.Uvarint(userRefs.of(n.LeaderUserID))
		}
		if n.Order != 0 {
			e.Varint(int64(n.Order))
		}
		c := Nanos(n.CreatedAt)
		e.Varint(c - prevCreated)
		e.Varint(Nanos(n.UpdatedAt) - c)
		prevCreated = c
		if len(n.Resources) > 0 {
			e.Uvarint(uint64(len(n.Resources)))
			for _, r := range n.Resources {
				e.Str(r.Namespace)
				e.Str(r.Code)
				e.Str(string(r.Type))
				e.Uvarint(uint64(len(r.Actions)))
				for _, a := range r.Actions {
					e.Str(a)
				}
			}
		}
		// Keep the previous value of a field that is empty here, so that a
		// run of nodes with and without codes still shares prefixes.
		next := n.Node
		if next.Code == "" {
			next.Code = prev.Code
		}
		if next.ExternalID == "" {
			next.ExternalID = prev.ExternalID
		}
		prev = next
	}
	return chunkHeader(chunkNodes, len(nodes), e.B)
}

func encodeUsers(users []orgtree.UserRecord, nodeRefs *refs) []byte {
	e := &Enc{B: make([]byte, 0, 48*len(users))}
	var prev orgtree.User
	var prevCreated int64
	for i := range users {
		u := &users[i]
		flags := 0
		set := func(bit int, on bool) {
			if on {
				flags |= bit
			}
		}
		set(ufName, u.Name != "")
		set(ufUsername, u.Username != "")
		set(ufEmail, u.Email != "")
		set(ufPhone, u.Phone != "")
		set(ufExternalID, u.ExternalID != "")
		set(ufMain, u.MainDepartmentID != "")
		e.Front(prev.ID, u.ID)
		e.Uvarint(uint64(flags))
		next := u.User
		for _, f := range []struct {
			bit        int
			prev, this *string
		}{{ufName, &prev.Name, &next.Name}, {ufUsername, &prev.Username, &next.Username}, {ufEmail, &prev.Email, &next.Email},
			{ufPhone, &prev.Phone, &next.Phone}, {ufExternalID, &prev.ExternalID, &next.ExternalID}} {
			if flags&f.bit != 0 {
				e.Front(*f.prev, *f.this)
			} else {
				*f.this = *f.prev
			}
		}
		if u.MainDepartmentID != "" {
			e.Uvarint(nodeRefs.of(u.MainDepartmentID))
		}
		c := Nanos(u.CreatedAt)
		e.Varint(c - prevCreated)
		e.Varint(Nanos(u.UpdatedAt) - c)
		prevCreated = c
		e.Uvarint(uint64(len(u.Memberships)))
		var prevRef, prevJoined int64 = 0, c
		for _, m := range u.Memberships {
			ref := int64(nodeRefs.of(m.NodeID))
			e.Varint(ref - prevRef)
			j := Nanos(m.JoinedAt)
			e.Varint(j - prevJoined)
			prevRef, prevJoined = ref, j
		}
		prev = next
	}
	return chunkHeader(chunkUsers, len(users), e.B)
}

// Dec reads the primitive values of the format. The first failure sticks:
// every later read returns zero values, and Err says what went wrong.
type Dec struct {
	b   []byte
	err error
	a   *arena
}

// NewDec returns a decoder of b whose strings are allocated in blocks of
// about hint bytes.
func NewDec(b []byte, hint int) *Dec {
	return &Dec{b: b, a: &arena{buf: make([]byte, 0, hint)}}
}

// Err returns the first failure, wrapping ErrRecord, or nil.
func (d *Dec) Err() error { return d.err }

// Len returns how many bytes are left to read.
func (d *Dec) Len() int { return len(d.b) }

// Fail records that what was malformed and stops every later read.
func (d *Dec) Fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrRecord, what)
	}
	d.b = nil
}

// Byte reads one byte.
func (d *Dec) Byte() byte {
	if len(d.b) == 0 {
		d.Fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// Uvarint reads a varint.
func (d *Dec) Uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.Fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Varint undoes the zig-zag encoding binary.AppendVarint writes.
func (d *Dec) Varint() int64 {
	u := d.Uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// Count reads a number of elements that each take at least one byte, so a
// damaged count cannot make the decoder allocate more than the record holds.
func (d *Dec) Count() int {
	n := d.Uvarint()
	if n > uint64(len(d.b)) {
		d.Fail("count beyond the record")
		return 0
	}
	return int(n)
}

// Bytes reads a length and that many bytes, not copied.
func (d *Dec) Bytes() []byte {
	n := d.Count()
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

// Str reads what Enc.Str wrote.
func (d *Dec) Str() string { return d.a.concat("", d.Bytes()) }

// Front reads what Enc.Front wrote after prev.
func (d *Dec) Front(prev string) string {
	n := d.Uvarint()
	if n > uint64(len(prev)) {
		d.Fail("prefix longer than the previous value")
		return ""
	}
	return d.a.concat(prev[:n], d.Bytes())
}

// strMap reads what Enc.strMap wrote.
func (d *Dec) strMap() map[string]string {
	n := d.Count()
	m := make(map[string]string, n)
	for range n {
		k := d.Str()
		m[k] = d.Str()
	}
	return m
}

// arena holds the bytes of decoded strings in large blocks: one allocation
// for many strings instead of one each. A block is never written again once
// a string points into it, and a string keeps its block alive.
type arena struct{ buf []byte }

func (a *arena) concat(p string, s []byte) string {
	n := len(p) + len(s)
	if n == 0 {
		return ""
	}
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(n, 32<<10))
	}
	start := len(a.buf)
	a.buf = append(a.buf, p...)
	a.buf = append(a.buf, s...)
	return unsafe.String(&a.buf[start], n)
}

// Record is one decoded log record. The records' references (parents,
// leaders, main departments, memberships) are numbers until Resolve turns
// them into ids: the ids may be in another chunk.
type Record struct {
	Seq     uint64
	Kind    byte // KindFull or KindDelta
	Orgs    []orgtree.OrgRecord
	Nodes   []orgtree.NodeRecord
	Users   []orgtree.UserRecord
	Deleted [3][]string // ids of deleted orgs, nodes and users
	Chunks  []*Chunk
	Size    int // bytes of the record's parts

	extraNodes []string
	extraUsers []string
}

// Chunk is one encoded chunk of a record and, once decoded, the references
// of its entities. Chunks of one record decode independently (each into
// its own entities of Rec), so they may be decoded on all cores at once.
type Chunk struct {
	Rec  *Record
	kind byte
	off  int // index of its first entity in Rec.Nodes or Rec.Users
	n    int
	body []byte
	// refs: for nodes, parent+1 and leader+1 per node (0: none); for users,
	// main+1 per user then every membership's node.
	refs []uint64
}

// ParseRecord reads the header of a record and splits its parts into
// chunks; the chunks are decoded by Chunk.Decode, then Chunk.Resolve.
func ParseRecord(seq uint64, parts [][]byte) (*Record, error) {
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	p, _, err := newParser(seq, parts[0], total)
	if err != nil {
		return nil, err
	}
	for _, part := range parts[1:] {
		if _, err := p.add(part); err != nil {
			return nil, err
		}
	}
	return p.finish()
}

// parser reads a record whose parts arrive one at a time (from the network):
// each part's chunks can be decoded while the next part is on its way.
type parser struct {
	r                      *Record
	d                      *Dec
	nodes, users           uint64
	nodeChunks, userChunks uint64
	offs                   [2]int
	size                   int
}

// newParser reads the header of a record from its first part and returns
// the chunks that part holds. total bounds the bytes of all the record's
// parts: the entities the header announces are allocated at once, and
// each takes some bytes, so a damaged count cannot make the parser
// allocate more than total bytes could hold.
func newParser(seq uint64, head []byte, total int) (*parser, []*Chunk, error) {
	r := &Record{Seq: seq}
	d := &Dec{b: head, a: &arena{}}
	r.Kind = d.Byte()
	if r.Kind != KindFull && r.Kind != KindDelta {
		d.Fail(fmt.Sprintf("record kind %d", r.Kind))
	}
	p := &parser{r: r, d: d}
	// Counts of what the later parts hold: checked against their size below.
	p.nodes, p.users = d.Uvarint(), d.Uvarint()
	p.nodeChunks, p.userChunks = d.Uvarint(), d.Uvarint()
	r.Orgs = make([]orgtree.OrgRecord, d.Count())
	var prevCreated int64
	for i := range r.Orgs {
		o := &r.Orgs[i]
		o.ID, o.RootID, o.TenantID = d.Str(), d.Str(), d.Str()
		c := prevCreated + d.Varint()
		o.CreatedAt, o.UpdatedAt = TimeOf(c), TimeOf(c+d.Varint())
		prevCreated = c
	}
	lists := []*[]string{&r.extraNodes, &r.extraUsers, &r.Deleted[0], &r.Deleted[1], &r.Deleted[2]}
	for _, list := range lists {
		*list = make([]string, d.Count())
		prev := ""
		for i := range *list {
			(*list)[i] = d.Front(prev)
			prev = (*list)[i]
		}
	}
	if d.err != nil {
		return nil, nil, d.err
	}
	// An encoded node takes at least minNodeBytes, a user minUserBytes,
	// so the counts are bounded by the record's size before anything is
	// allocated for them.
	nodes, users := p.nodes, p.users
	if total < 0 || nodes > uint64(total)/minNodeBytes || users > uint64(total)/minUserBytes ||
		nodes*minNodeBytes+users*minUserBytes > uint64(total) || p.nodeChunks+p.userChunks > uint64(total) {
		return nil, nil, fmt.Errorf("%w: %d nodes and %d users in %d bytes", ErrRecord, nodes, users, total)
	}
	r.Nodes = make([]orgtree.NodeRecord, nodes)
	r.Users = make([]orgtree.UserRecord, users)
	p.size = len(head)
	chunks, err := p.split()
	if err != nil {
		return nil, nil, err
	}
	return p, chunks, nil
}

// add splits the next part of the record into its chunks.
func (p *parser) add(part []byte) ([]*Chunk, error) {
	p.d.b = part
	p.size += len(part)
	return p.split()
}

func (p *parser) split() ([]*Chunk, error) {
	r, d := p.r, p.d
	first := len(r.Chunks)
	for len(d.b) > 0 {
		kind := d.Byte()
		n := d.Count()
		body := d.Bytes()
		if d.err != nil {
			return nil, d.err
		}
		c := &Chunk{Rec: r, kind: kind, n: n, body: body}
		switch {
		case kind == chunkNodes && uint64(len(r.Chunks)) < p.nodeChunks && uint64(p.offs[0]+n) <= p.nodes:
			c.off = p.offs[0]
			p.offs[0] += n
		case kind == chunkUsers && uint64(len(r.Chunks)) >= p.nodeChunks && uint64(p.offs[1]+n) <= p.users:
			c.off = p.offs[1]
			p.offs[1] += n
		default:
			return nil, fmt.Errorf("%w: chunk %d of kind %q out of place", ErrRecord, len(r.Chunks), kind)
		}
		r.Chunks = append(r.Chunks, c)
	}
	return r.Chunks[first:], nil
}

// finish checks that the parts held every chunk the header announced and
// returns the record; its chunks still need Decode and Resolve.
func (p *parser) finish() (*Record, error) {
	r := p.r
	if uint64(len(r.Chunks)) != p.nodeChunks+p.userChunks || uint64(p.offs[0]) != p.nodes || uint64(p.offs[1]) != p.users {
		return nil, fmt.Errorf("%w: chunks hold %d nodes and %d users in %d chunks, the header says %d, %d, %d",
			ErrRecord, p.offs[0], p.offs[1], len(r.Chunks), p.nodes, p.users, p.nodeChunks+p.userChunks)
	}
	r.Size = p.size
	return r, nil
}

// Decode decodes the entities of c into its record's lists.
func (c *Chunk) Decode() error {
	d := &Dec{b: c.body, a: &arena{buf: make([]byte, 0, min(len(c.body)*2, 64<<10))}}
	if c.kind == chunkNodes {
		decodeNodes(d, c, c.Rec.Nodes[c.off:c.off+c.n])
	} else {
		decodeUsers(d, c, c.Rec.Users[c.off:c.off+c.n])
	}
	if d.err == nil && len(d.b) > 0 {
		d.Fail("bytes after the last record of a chunk")
	}
	return d.err
}

func decodeNodes(d *Dec, c *Chunk, nodes []orgtree.NodeRecord) {
	c.refs = make([]uint64, 2*len(nodes))
	var prev orgtree.Node
	var prevCreated int64
	for i := range nodes {
		n := &nodes[i].Node
		n.ID = d.Front(prev.ID)
		flags := d.Uvarint()
		n.OrgID = d.Front(prev.OrgID)
		if flags&nfParent != 0 {
			c.refs[2*i] = d.Uvarint() + 1
		}
		n.Name = d.Front(prev.Name)
		if flags&nfNameI18n != 0 {
			n.NameI18n = d.strMap()
		}
		if flags&nfDescription != 0 {
			n.Description = d.Str()
		}
		if flags&nfDescriptionI18n != 0 {
			n.DescriptionI18n = d.strMap()
		}
		if flags&nfCode != 0 {
			n.Code = d.Front(prev.Code)
		}
		if flags&nfExternalID != 0 {
			n.ExternalID = d.Front(prev.ExternalID)
		}
		if flags&nfLeader != 0 {
			c.refs[2*i+1] = d.Uvarint() + 1
		}
		if flags&nfOrder != 0 {
			n.Order = int(d.Varint())
		}
		created := prevCreated + d.Varint()
		n.CreatedAt, n.UpdatedAt = TimeOf(created), TimeOf(created+d.Varint())
		prevCreated = created
		if flags&nfResources != 0 {
			res := make([]orgtree.Resource, d.Count())
			for j := range res {
				r := &res[j]
				r.Namespace, r.Code, r.Type = d.Str(), d.Str(), orgtree.ResourceType(d.Str())
				if k := d.Count(); k > 0 {
					r.Actions = make([]string, k)
					for a := range r.Actions {
						r.Actions[a] = d.Str()
					}
				}
			}
			nodes[i].Resources = res
		}
		if d.err != nil {
			return
		}
		next := *n
		if next.Code == "" {
			next.Code = prev.Code
		}
		if next.ExternalID == "" {
			next.ExternalID = prev.ExternalID
		}
		prev = next
	}
}

func decodeUsers(d *Dec, c *Chunk, users []orgtree.UserRecord) {
	c.refs = make([]uint64, len(users), len(users)*4)
	var prev orgtree.User
	var prevCreated int64
	var ms []orgtree.Membership
	for i := range users {
		u := &users[i].User
		u.ID = d.Front(prev.ID)
		flags := d.Uvarint()
		next := *u
		for _, f := range []struct {
			bit        uint64
			prev, this *string
			out        *string
		}{{ufName, &prev.Name, &next.Name, &u.Name}, {ufUsername, &prev.Username, &next.Username, &u.Username},
			{ufEmail, &prev.Email, &next.Email, &u.Email}, {ufPhone, &prev.Phone, &next.Phone, &u.Phone},
			{ufExternalID, &prev.ExternalID, &next.ExternalID, &u.ExternalID}} {
			if flags&f.bit != 0 {
				*f.out = d.Front(*f.prev)
				*f.this = *f.out
			} else {
				*f.this = *f.prev
			}
		}
		if flags&ufMain != 0 {
			c.refs[i] = d.Uvarint() + 1
		}
		created := prevCreated + d.Varint()
		u.CreatedAt, u.UpdatedAt = TimeOf(created), TimeOf(created+d.Varint())
		prevCreated = created
		n := d.Count()
		if n > 0 {
			if cap(ms)-len(ms) < n {
				ms = make([]orgtree.Membership, 0, max(n, 3*(len(users)-i)))
			}
			start := len(ms)
			var ref, joined int64 = 0, created
			for range n {
				ref += d.Varint()
				joined += d.Varint()
				if ref < 0 {
					d.Fail("negative node reference")
				}
				c.refs = append(c.refs, uint64(ref))
				ms = append(ms, orgtree.Membership{JoinedAt: TimeOf(joined)})
			}
			users[i].Memberships = ms[start:len(ms):len(ms)]
		}
		if d.err != nil {
			return
		}
		prev = next
	}
}

// Decode decodes every chunk of r, then resolves their references, on the
// calling goroutine: for records too small to share out.
func (r *Record) Decode() error {
	for _, ch := range r.Chunks {
		if err := ch.Decode(); err != nil {
			return err
		}
	}
	for _, ch := range r.Chunks {
		if err := ch.Resolve(); err != nil {
			return err
		}
	}
	return nil
}

// Resolve turns the references of a decoded chunk into ids; every chunk
// of the record must be decoded first (a reference may point into any).
func (c *Chunk) Resolve() error {
	r := c.Rec
	node := func(ref uint64) (string, bool) {
		switch {
		case ref < uint64(len(r.Nodes)):
			return r.Nodes[ref].ID, true
		case ref-uint64(len(r.Nodes)) < uint64(len(r.extraNodes)):
			return r.extraNodes[ref-uint64(len(r.Nodes))], true
		}
		return "", false
	}
	user := func(ref uint64) (string, bool) {
		switch {
		case ref < uint64(len(r.Users)):
			return r.Users[ref].ID, true
		case ref-uint64(len(r.Users)) < uint64(len(r.extraUsers)):
			return r.extraUsers[ref-uint64(len(r.Users))], true
		}
		return "", false
	}
	bad := func(what string, ref uint64) error {
		return fmt.Errorf("%w: %s reference %d out of range", ErrRecord, what, ref)
	}
	if c.kind == chunkNodes {
		for i := range c.n {
			n := &r.Nodes[c.off+i]
			if ref := c.refs[2*i]; ref > 0 {
				id, ok := node(ref - 1)
				if !ok {
					return bad("parent", ref-1)
				}
				n.ParentID = id
			}
			if ref := c.refs[2*i+1]; ref > 0 {
				id, ok := user(ref - 1)
				if !ok {
					return bad("leader", ref-1)
				}
				n.LeaderUserID = id
			}
		}
		return nil
	}
	ms := c.refs[c.n:]
	for i := range c.n {
		u := &r.Users[c.off+i]
		if ref := c.refs[i]; ref > 0 {
			id, ok := node(ref - 1)
			if !ok {
				return bad("main department", ref-1)
			}
			u.MainDepartmentID = id
		}
		for j := range u.Memberships {
			id, ok := node(ms[j])
			if !ok {
				return bad("membership", ms[j])
			}
			u.Memberships[j].NodeID = id
		}
		ms = ms[len(u.Memberships):]
	}
	return nil
}

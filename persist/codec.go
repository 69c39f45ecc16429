package persist

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

// This file is the binary encoding of a log record (format version 2); the
// package documentation describes the layout. Encoding never fails; decoding
// checks every length, count and reference against the bytes it has, so a
// damaged record that passed its checksum still yields an error, not a panic
// or a huge allocation.

// Record kinds.
const (
	kindFull  = 1 // the whole content at its sequence number
	kindDelta = 2 // one committed ChangeSet
)

// Chunk kinds.
const (
	chunkNodes = 'n'
	chunkUsers = 'u'
)

// chunkSize is the number of nodes or users in one chunk, the unit that is
// decoded on one core; partSize bounds the bytes of one bbolt value.
const (
	chunkSize = 1024
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

var errRecord = errors.New("malformed record")

// The fewest bytes an encoded node and user take (id, flags, org, name,
// times; id, flags, times, membership count): they bound what a damaged
// count can make the decoder allocate.
const (
	minNodeBytes = 9
	minUserBytes = 6
)

// enc appends the primitive values of the format.
type enc struct{ b []byte }

func (e *enc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *enc) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }

// front writes s as the length of its common prefix with prev and the rest:
// sorted ids and the names of neighbours share long prefixes.
func (e *enc) front(prev, s string) {
	n := 0
	for n < len(prev) && n < len(s) && prev[n] == s[n] {
		n++
	}
	e.uvarint(uint64(n))
	e.str(s[n:])
}

func (e *enc) strMap(m map[string]string) {
	e.uvarint(uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		e.str(k)
		e.str(m[k])
	}
}

// nanos is the engine's representation of a time: 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func timeOf(ns int64) time.Time {
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

// encodeRecord returns the payloads of the parts of one record: part 0
// starts with the header, every part then holds whole chunks.
func encodeRecord(kind byte, orgs []orgtree.OrgRecord, nodes []orgtree.NodeRecord, users []orgtree.UserRecord, deleted [3][]string) [][]byte {
	nodeRefs := newRefs(len(nodes), func(i int) string { return nodes[i].ID })
	userRefs := newRefs(len(users), func(i int) string { return users[i].ID })
	var chunks [][]byte
	for lo := 0; lo < len(nodes); lo += chunkSize {
		chunks = append(chunks, encodeNodes(nodes[lo:min(lo+chunkSize, len(nodes))], nodeRefs, userRefs))
	}
	nodeChunks := len(chunks)
	for lo := 0; lo < len(users); lo += chunkSize {
		chunks = append(chunks, encodeUsers(users[lo:min(lo+chunkSize, len(users))], nodeRefs))
	}
	h := &enc{}
	h.b = append(h.b, kind)
	h.uvarint(uint64(len(nodes)))
	h.uvarint(uint64(len(users)))
	h.uvarint(uint64(nodeChunks))
	h.uvarint(uint64(len(chunks) - nodeChunks))
	h.uvarint(uint64(len(orgs)))
	var prevCreated int64
	for _, o := range orgs {
		h.str(o.ID)
		h.str(o.RootID)
		h.str(o.TenantID)
		c := nanos(o.CreatedAt)
		h.varint(c - prevCreated)
		h.varint(nanos(o.UpdatedAt) - c)
		prevCreated = c
	}
	for _, list := range [][]string{nodeRefs.extra, userRefs.extra, deleted[0], deleted[1], deleted[2]} {
		h.uvarint(uint64(len(list)))
		prev := ""
		for _, id := range list {
			h.front(prev, id)
			prev = id
		}
	}
	parts := [][]byte{h.b}
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
	e := &enc{b: make([]byte, 0, 64*len(nodes))}
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
		e.front(prev.ID, n.ID)
		e.uvarint(uint64(flags))
		e.front(prev.OrgID, n.OrgID)
		if n.ParentID != "" {
			e.uvarint(nodeRefs.of(n.ParentID))
		}
		e.front(prev.Name, n.Name)
		if len(n.NameI18n) > 0 {
			e.strMap(n.NameI18n)
		}
		if n.Description != "" {
			e.str(n.Description)
		}
		if len(n.DescriptionI18n) > 0 {
			e.strMap(n.DescriptionI18n)
		}
		if n.Code != "" {
			e.front(prev.Code, n.Code)
		}
		if n.ExternalID != "" {
			e.front(prev.ExternalID, n.ExternalID)
		}
		if n.LeaderUserID != "" {
			e.uvarint(userRefs.of(n.LeaderUserID))
		}
		if n.Order != 0 {
			e.varint(int64(n.Order))
		}
		c := nanos(n.CreatedAt)
		e.varint(c - prevCreated)
		e.varint(nanos(n.UpdatedAt) - c)
		prevCreated = c
		if len(n.Resources) > 0 {
			e.uvarint(uint64(len(n.Resources)))
			for _, r := range n.Resources {
				e.str(r.Namespace)
				e.str(r.Code)
				e.str(string(r.Type))
				e.uvarint(uint64(len(r.Actions)))
				for _, a := range r.Actions {
					e.str(a)
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
	return chunkHeader(chunkNodes, len(nodes), e.b)
}

func encodeUsers(users []orgtree.UserRecord, nodeRefs *refs) []byte {
	e := &enc{b: make([]byte, 0, 48*len(users))}
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
		e.front(prev.ID, u.ID)
		e.uvarint(uint64(flags))
		next := u.User
		for _, f := range []struct {
			bit        int
			prev, this *string
		}{{ufName, &prev.Name, &next.Name}, {ufUsername, &prev.Username, &next.Username}, {ufEmail, &prev.Email, &next.Email},
			{ufPhone, &prev.Phone, &next.Phone}, {ufExternalID, &prev.ExternalID, &next.ExternalID}} {
			if flags&f.bit != 0 {
				e.front(*f.prev, *f.this)
			} else {
				*f.this = *f.prev
			}
		}
		if u.MainDepartmentID != "" {
			e.uvarint(nodeRefs.of(u.MainDepartmentID))
		}
		c := nanos(u.CreatedAt)
		e.varint(c - prevCreated)
		e.varint(nanos(u.UpdatedAt) - c)
		prevCreated = c
		e.uvarint(uint64(len(u.Memberships)))
		var prevRef, prevJoined int64 = 0, c
		for _, m := range u.Memberships {
			ref := int64(nodeRefs.of(m.NodeID))
			e.varint(ref - prevRef)
			j := nanos(m.JoinedAt)
			e.varint(j - prevJoined)
			prevRef, prevJoined = ref, j
		}
		prev = next
	}
	return chunkHeader(chunkUsers, len(users), e.b)
}

// dec reads the primitive values of the format. The first failure sticks:
// every later read returns zero values, and err says what went wrong.
type dec struct {
	b   []byte
	err error
	a   *arena
}

func (d *dec) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errRecord, what)
	}
	d.b = nil
}

func (d *dec) byte() byte {
	if len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *dec) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// varint undoes the zig-zag encoding binary.AppendVarint writes.
func (d *dec) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// count reads a number of elements that each take at least one byte, so a
// damaged count cannot make the decoder allocate more than the record holds.
func (d *dec) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("count beyond the record")
		return 0
	}
	return int(n)
}

func (d *dec) bytes() []byte {
	n := d.count()
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *dec) str() string { return d.a.concat("", d.bytes()) }

func (d *dec) front(prev string) string {
	n := d.uvarint()
	if n > uint64(len(prev)) {
		d.fail("prefix longer than the previous value")
		return ""
	}
	return d.a.concat(prev[:n], d.bytes())
}

func (d *dec) strMap() map[string]string {
	n := d.count()
	m := make(map[string]string, n)
	for range n {
		k := d.str()
		m[k] = d.str()
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

// record is one decoded log record. The records' references (parents,
// leaders, main departments, memberships) are numbers until resolve turns
// them into ids: the ids may be in another chunk.
type record struct {
	seq        uint64
	kind       byte
	orgs       []orgtree.OrgRecord
	nodes      []orgtree.NodeRecord
	users      []orgtree.UserRecord
	deleted    [3][]string
	extraNodes []string
	extraUsers []string
	chunks     []*chunk
	size       int // bytes of the record's parts
}

// chunk is one encoded chunk of a record and, once decoded, the references
// of its entities.
type chunk struct {
	rec  *record
	kind byte
	off  int // index of its first entity in rec.nodes or rec.users
	n    int
	body []byte
	// refs: for nodes, parent+1 and leader+1 per node (0: none); for users,
	// main+1 per user then every membership's node.
	refs []uint64
}

// parseRecord reads the header of a record and splits its parts into
// chunks; the chunks are decoded by decodeChunk.
func parseRecord(seq uint64, parts [][]byte) (*record, error) {
	r := &record{seq: seq}
	d := &dec{b: parts[0], a: &arena{}}
	r.kind = d.byte()
	if r.kind != kindFull && r.kind != kindDelta {
		d.fail(fmt.Sprintf("record kind %d", r.kind))
	}
	// Counts of what the later parts hold: checked against their size below.
	nodes, users := d.uvarint(), d.uvarint()
	nodeChunks, userChunks := d.uvarint(), d.uvarint()
	r.orgs = make([]orgtree.OrgRecord, d.count())
	var prevCreated int64
	for i := range r.orgs {
		o := &r.orgs[i]
		o.ID, o.RootID, o.TenantID = d.str(), d.str(), d.str()
		c := prevCreated + d.varint()
		o.CreatedAt, o.UpdatedAt = timeOf(c), timeOf(c+d.varint())
		prevCreated = c
	}
	lists := []*[]string{&r.extraNodes, &r.extraUsers, &r.deleted[0], &r.deleted[1], &r.deleted[2]}
	for _, list := range lists {
		*list = make([]string, d.count())
		prev := ""
		for i := range *list {
			(*list)[i] = d.front(prev)
			prev = (*list)[i]
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	// Nodes and users: at least one byte each, so the counts are bounded
	// by the record's size before anything is allocated for them.
	total := 0
	for _, p := range parts {
		total += len(p)
	}
	r.size = total
	// An encoded node takes at least minNodeBytes, a user minUserBytes.
	if nodes > uint64(total)/minNodeBytes || users > uint64(total)/minUserBytes ||
		nodes*minNodeBytes+users*minUserBytes > uint64(total) || nodeChunks+userChunks > uint64(total) {
		return nil, fmt.Errorf("%w: %d nodes and %d users in %d bytes", errRecord, nodes, users, total)
	}
	r.nodes = make([]orgtree.NodeRecord, nodes)
	r.users = make([]orgtree.UserRecord, users)
	offs := [2]int{}
	for i, p := range parts {
		if i > 0 {
			d.b = p
		}
		for len(d.b) > 0 {
			kind := d.byte()
			n := d.count()
			body := d.bytes()
			if d.err != nil {
				return nil, d.err
			}
			c := &chunk{rec: r, kind: kind, n: n, body: body}
			switch {
			case kind == chunkNodes && uint64(len(r.chunks)) < nodeChunks:
				c.off = offs[0]
				offs[0] += n
			case kind == chunkUsers && uint64(len(r.chunks)) >= nodeChunks:
				c.off = offs[1]
				offs[1] += n
			default:
				return nil, fmt.Errorf("%w: chunk %d of kind %q out of place", errRecord, len(r.chunks), kind)
			}
			r.chunks = append(r.chunks, c)
		}
	}
	if uint64(len(r.chunks)) != nodeChunks+userChunks || uint64(offs[0]) != nodes || uint64(offs[1]) != users {
		return nil, fmt.Errorf("%w: chunks hold %d nodes and %d users in %d chunks, the header says %d, %d, %d",
			errRecord, offs[0], offs[1], len(r.chunks), nodes, users, nodeChunks+userChunks)
	}
	return r, nil
}

// decodeChunk decodes the entities of c into its record's lists.
func decodeChunk(c *chunk) error {
	d := &dec{b: c.body, a: &arena{buf: make([]byte, 0, min(len(c.body)*2, 64<<10))}}
	if c.kind == chunkNodes {
		decodeNodes(d, c, c.rec.nodes[c.off:c.off+c.n])
	} else {
		decodeUsers(d, c, c.rec.users[c.off:c.off+c.n])
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail("bytes after the last record of a chunk")
	}
	return d.err
}

func decodeNodes(d *dec, c *chunk, nodes []orgtree.NodeRecord) {
	c.refs = make([]uint64, 2*len(nodes))
	var prev orgtree.Node
	var prevCreated int64
	for i := range nodes {
		n := &nodes[i].Node
		n.ID = d.front(prev.ID)
		flags := d.uvarint()
		n.OrgID = d.front(prev.OrgID)
		if flags&nfParent != 0 {
			c.refs[2*i] = d.uvarint() + 1
		}
		n.Name = d.front(prev.Name)
		if flags&nfNameI18n != 0 {
			n.NameI18n = d.strMap()
		}
		if flags&nfDescription != 0 {
			n.Description = d.str()
		}
		if flags&nfDescriptionI18n != 0 {
			n.DescriptionI18n = d.strMap()
		}
		if flags&nfCode != 0 {
			n.Code = d.front(prev.Code)
		}
		if flags&nfExternalID != 0 {
			n.ExternalID = d.front(prev.ExternalID)
		}
		if flags&nfLeader != 0 {
			c.refs[2*i+1] = d.uvarint() + 1
		}
		if flags&nfOrder != 0 {
			n.Order = int(d.varint())
		}
		created := prevCreated + d.varint()
		n.CreatedAt, n.UpdatedAt = timeOf(created), timeOf(created+d.varint())
		prevCreated = created
		if flags&nfResources != 0 {
			res := make([]orgtree.Resource, d.count())
			for j := range res {
				r := &res[j]
				r.Namespace, r.Code, r.Type = d.str(), d.str(), orgtree.ResourceType(d.str())
				if k := d.count(); k > 0 {
					r.Actions = make([]string, k)
					for a := range r.Actions {
						r.Actions[a] = d.str()
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

func decodeUsers(d *dec, c *chunk, users []orgtree.UserRecord) {
	c.refs = make([]uint64, len(users), len(users)*4)
	var prev orgtree.User
	var prevCreated int64
	var ms []orgtree.Membership
	for i := range users {
		u := &users[i].User
		u.ID = d.front(prev.ID)
		flags := d.uvarint()
		next := *u
		for _, f := range []struct {
			bit        uint64
			prev, this *string
			out        *string
		}{{ufName, &prev.Name, &next.Name, &u.Name}, {ufUsername, &prev.Username, &next.Username, &u.Username},
			{ufEmail, &prev.Email, &next.Email, &u.Email}, {ufPhone, &prev.Phone, &next.Phone, &u.Phone},
			{ufExternalID, &prev.ExternalID, &next.ExternalID, &u.ExternalID}} {
			if flags&f.bit != 0 {
				*f.out = d.front(*f.prev)
				*f.this = *f.out
			} else {
				*f.this = *f.prev
			}
		}
		if flags&ufMain != 0 {
			c.refs[i] = d.uvarint() + 1
		}
		created := prevCreated + d.varint()
		u.CreatedAt, u.UpdatedAt = timeOf(created), timeOf(created+d.varint())
		prevCreated = created
		n := d.count()
		if n > 0 {
			if cap(ms)-len(ms) < n {
				ms = make([]orgtree.Membership, 0, max(n, 3*(len(users)-i)))
			}
			start := len(ms)
			var ref, joined int64 = 0, created
			for range n {
				ref += d.varint()
				joined += d.varint()
				if ref < 0 {
					d.fail("negative node reference")
				}
				c.refs = append(c.refs, uint64(ref))
				ms = append(ms, orgtree.Membership{JoinedAt: timeOf(joined)})
			}
			users[i].Memberships = ms[start:len(ms):len(ms)]
		}
		if d.err != nil {
			return
		}
		prev = next
	}
}

// resolve turns the references of a decoded chunk into ids.
func resolve(c *chunk) error {
	r := c.rec
	node := func(ref uint64) (string, bool) {
		switch {
		case ref < uint64(len(r.nodes)):
			return r.nodes[ref].ID, true
		case ref-uint64(len(r.nodes)) < uint64(len(r.extraNodes)):
			return r.extraNodes[ref-uint64(len(r.nodes))], true
		}
		return "", false
	}
	user := func(ref uint64) (string, bool) {
		switch {
		case ref < uint64(len(r.users)):
			return r.users[ref].ID, true
		case ref-uint64(len(r.users)) < uint64(len(r.extraUsers)):
			return r.extraUsers[ref-uint64(len(r.users))], true
		}
		return "", false
	}
	bad := func(what string, ref uint64) error {
		return fmt.Errorf("%w: %s reference %d out of range", errRecord, what, ref)
	}
	if c.kind == chunkNodes {
		for i := range c.n {
			n := &r.nodes[c.off+i]
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
		u := &r.users[c.off+i]
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

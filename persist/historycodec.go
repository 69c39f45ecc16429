package persist

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/orgtree/orgtree"
)

// The body of a history entry (what follows its time and node ids) comes
// in two encodings:
//
//   - JSON of the HistoryEntry, as the first builds wrote it: it starts
//     with '{'. Such entries stay readable; none is written any more.
//   - binary, marked by the byte entryBinary: the records of the change
//     (old and new orgs, nodes and users) in the log's record codec
//     (codec.go), which front-codes ids and names and numbers references,
//     plus a flag byte per change. About a third of the JSON's size
//     (BenchmarkHistoryEntrySize).
//
// Binary layout, after entryBinary:
//
//	str actor, str reason, uvarint from, uvarint to
//	uvarint orgs,  per org change:  byte flags [str id]
//	uvarint nodes, per node change: byte flags [str id, str orgId]
//	uvarint users, per user change: byte flags [str id]
//	the old records, then the new ones: each uvarint parts, then each part
//	  as uvarint length and bytes (encodeRecord's parts)
//	uvarint members, each: front nodeId, front userId, byte joined, varint joinedAt
//	uvarint main departments, each: front userId, str old, str new
//
// A change's flags are its kind (bits 0-1), whether it has an old (ecOld)
// and a new record (ecNew), moved and renamed; ecIDs says its ids are
// written out, because no record carries them or the record's differ (a
// change the engine never makes, but one that must not be lost). The
// entry's time is the one in its header (so the history's never goes
// back).

const entryBinary = 0x01

// Change flags.
const (
	ecKind    = 0x03
	ecOld     = 1 << 2
	ecNew     = 1 << 3
	ecMoved   = 1 << 4
	ecRenamed = 1 << 5
	ecIDs     = 1 << 6
)

// errEntry is what a malformed entry body wraps (with ErrCorrupt).
var errEntry = errors.New("malformed history entry")

// encodeEntryBody encodes e in the binary encoding. e.Seq and e.Time are
// not in it: the entry's key and header hold them.
func encodeEntryBody(e HistoryEntry) []byte {
	c := e.Changes
	if c == nil {
		c = &orgtree.Changes{}
	}
	en := &enc{b: make([]byte, 0, 64)}
	en.b = append(en.b, entryBinary)
	en.str(e.Actor)
	en.str(e.Reason)
	en.uvarint(c.From)
	en.uvarint(c.To)
	var olds, news struct {
		orgs  []orgtree.OrgRecord
		nodes []orgtree.NodeRecord
		users []orgtree.UserRecord
	}
	flags := func(kind orgtree.ChangeKind, hasOld, hasNew bool) byte {
		f := byte(kind) & ecKind
		if hasOld {
			f |= ecOld
		}
		if hasNew {
			f |= ecNew
		}
		return f
	}
	en.uvarint(uint64(len(c.Orgs)))
	for _, o := range c.Orgs {
		f := flags(o.Kind, o.Old != nil, o.New != nil)
		if rec := cmpOr(o.New, o.Old); rec == nil || rec.ID != o.ID || (o.Old != nil && o.New != nil && o.Old.ID != o.New.ID) {
			f |= ecIDs
		}
		en.b = append(en.b, f)
		if f&ecIDs != 0 {
			en.str(o.ID)
		}
		if o.Old != nil {
			olds.orgs = append(olds.orgs, *o.Old)
		}
		if o.New != nil {
			news.orgs = append(news.orgs, *o.New)
		}
	}
	en.uvarint(uint64(len(c.Nodes)))
	for _, n := range c.Nodes {
		f := flags(n.Kind, n.Old != nil, n.New != nil)
		if n.Moved {
			f |= ecMoved
		}
		if n.Renamed {
			f |= ecRenamed
		}
		if !nodeIDsImplied(n) {
			f |= ecIDs
		}
		en.b = append(en.b, f)
		if f&ecIDs != 0 {
			en.str(n.ID)
			en.str(n.OrgID)
		}
		if n.Old != nil {
			olds.nodes = append(olds.nodes, *n.Old)
		}
		if n.New != nil {
			news.nodes = append(news.nodes, *n.New)
		}
	}
	en.uvarint(uint64(len(c.Users)))
	for _, u := range c.Users {
		f := flags(u.Kind, u.Old != nil, u.New != nil)
		if rec := cmpOr(u.New, u.Old); rec == nil || rec.ID != u.ID || (u.Old != nil && u.New != nil && u.Old.ID != u.New.ID) {
			f |= ecIDs
		}
		en.b = append(en.b, f)
		if f&ecIDs != 0 {
			en.str(u.ID)
		}
		if u.Old != nil {
			olds.users = append(olds.users, orgtree.UserRecord{User: *u.Old})
		}
		if u.New != nil {
			news.users = append(news.users, orgtree.UserRecord{User: *u.New})
		}
	}
	for _, r := range []struct {
		orgs  []orgtree.OrgRecord
		nodes []orgtree.NodeRecord
		users []orgtree.UserRecord
	}{olds, news} {
		parts := encodeRecord(kindDelta, r.orgs, r.nodes, r.users, [3][]string{})
		en.uvarint(uint64(len(parts)))
		for _, p := range parts {
			en.uvarint(uint64(len(p)))
			en.b = append(en.b, p...)
		}
	}
	en.uvarint(uint64(len(c.Members)))
	var prevNode, prevUser string
	for _, m := range c.Members {
		en.front(prevNode, m.NodeID)
		en.front(prevUser, m.UserID)
		prevNode, prevUser = m.NodeID, m.UserID
		joined := byte(0)
		if m.Joined {
			joined = 1
		}
		en.b = append(en.b, joined)
		en.varint(nanos(m.JoinedAt))
	}
	en.uvarint(uint64(len(c.MainDepartments)))
	prevUser = ""
	for _, m := range c.MainDepartments {
		en.front(prevUser, m.UserID)
		prevUser = m.UserID
		en.str(m.OldNodeID)
		en.str(m.NewNodeID)
	}
	return en.b
}

// nodeIDsImplied tells whether a node change's ids are its records'.
func nodeIDsImplied(n orgtree.NodeChange) bool {
	for _, r := range []*orgtree.NodeRecord{n.Old, n.New} {
		if r != nil && (r.ID != n.ID || r.OrgID != n.OrgID) {
			return false
		}
	}
	return n.Old != nil || n.New != nil
}

// cmpOr returns the first of a and b that is not nil.
func cmpOr[T any](a, b *T) *T {
	if a != nil {
		return a
	}
	return b
}

// decodeEntryBody decodes an entry body of either encoding; seq and t are
// the entry's version and header time. Its errors wrap errEntry (or
// errRecord) and say where; decodeEntry adds ErrCorrupt.
func decodeEntryBody(seq uint64, t int64, body []byte) (HistoryEntry, error) {
	if len(body) > 0 && body[0] == '{' {
		var e HistoryEntry
		if err := json.Unmarshal(body, &e); err != nil {
			return e, fmt.Errorf("%w: %w", errEntry, err)
		}
		if e.Seq != seq {
			return e, fmt.Errorf("%w: entry says version %d", errEntry, e.Seq)
		}
		if e.Changes == nil {
			// Every entry has its changes; readers count on them.
			return e, fmt.Errorf("%w: entry without changes", errEntry)
		}
		return e, checkKinds(e.Changes)
	}
	if len(body) == 0 || body[0] != entryBinary {
		return HistoryEntry{}, fmt.Errorf("%w: unknown encoding", errEntry)
	}
	d := &dec{b: body[1:], a: &arena{buf: make([]byte, 0, min(2*len(body), 32<<10))}}
	e := HistoryEntry{Seq: seq, Time: time.Unix(0, t).UTC(), Changes: &orgtree.Changes{}}
	c := e.Changes
	e.Actor, e.Reason = d.str(), d.str()
	c.From, c.To = d.uvarint(), d.uvarint()
	// Each change takes at least its flag byte: count bounds what the
	// lists allocate by the bytes left.
	orgFlags := make([]byte, d.count())
	c.Orgs = make([]orgtree.OrgChange, len(orgFlags))
	for i := range c.Orgs {
		orgFlags[i] = d.byte()
		c.Orgs[i].Kind = orgtree.ChangeKind(orgFlags[i] & ecKind)
		if orgFlags[i]&ecIDs != 0 {
			c.Orgs[i].ID = d.str()
		}
	}
	nodeFlags := make([]byte, d.count())
	c.Nodes = make([]orgtree.NodeChange, len(nodeFlags))
	for i := range c.Nodes {
		f := d.byte()
		nodeFlags[i] = f
		c.Nodes[i] = orgtree.NodeChange{Kind: orgtree.ChangeKind(f & ecKind), Moved: f&ecMoved != 0, Renamed: f&ecRenamed != 0}
		if f&ecIDs != 0 {
			c.Nodes[i].ID, c.Nodes[i].OrgID = d.str(), d.str()
		}
	}
	userFlags := make([]byte, d.count())
	c.Users = make([]orgtree.UserChange, len(userFlags))
	for i := range c.Users {
		userFlags[i] = d.byte()
		c.Users[i].Kind = orgtree.ChangeKind(userFlags[i] & ecKind)
		if userFlags[i]&ecIDs != 0 {
			c.Users[i].ID = d.str()
		}
	}
	var recs [2]*record
	for i := range recs {
		parts := make([][]byte, d.count())
		for j := range parts {
			parts[j] = d.bytes()
		}
		if d.err != nil {
			return e, d.err
		}
		if len(parts) == 0 {
			return e, fmt.Errorf("%w: a record without parts", errEntry)
		}
		r, err := parseRecord(seq, parts)
		if err != nil {
			return e, err
		}
		for _, ch := range r.chunks {
			if err := decodeChunk(ch); err != nil {
				return e, err
			}
		}
		for _, ch := range r.chunks {
			if err := resolve(ch); err != nil {
				return e, err
			}
		}
		recs[i] = r
	}
	if err := placeRecords(c, recs, orgFlags, nodeFlags, userFlags); err != nil {
		return e, err
	}
	c.Members = make([]orgtree.MemberChange, d.count())
	var prevNode, prevUser string
	for i := range c.Members {
		m := &c.Members[i]
		m.NodeID, m.UserID = d.front(prevNode), d.front(prevUser)
		prevNode, prevUser = m.NodeID, m.UserID
		switch d.byte() {
		case 0:
		case 1:
			m.Joined = true
		default:
			d.fail("member joined flag")
		}
		m.JoinedAt = timeOf(d.varint())
	}
	c.MainDepartments = make([]orgtree.MainDepartmentChange, d.count())
	prevUser = ""
	for i := range c.MainDepartments {
		m := &c.MainDepartments[i]
		m.UserID = d.front(prevUser)
		prevUser = m.UserID
		m.OldNodeID, m.NewNodeID = d.str(), d.str()
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail("bytes after the entry")
	}
	if d.err != nil {
		return e, d.err
	}
	if err := checkKinds(c); err != nil {
		return e, err
	}
	// What JSON leaves out (omitempty) decodes as nil: the same here.
	if len(c.Orgs) == 0 {
		c.Orgs = nil
	}
	if len(c.Nodes) == 0 {
		c.Nodes = nil
	}
	if len(c.Users) == 0 {
		c.Users = nil
	}
	if len(c.Members) == 0 {
		c.Members = nil
	}
	if len(c.MainDepartments) == 0 {
		c.MainDepartments = nil
	}
	return e, nil
}

// checkKinds refuses a change of no kind the engine makes: readers
// (orgtree log --json, the change events) could not name it.
func checkKinds(c *orgtree.Changes) error {
	ok := func(k orgtree.ChangeKind) bool {
		return k == orgtree.Added || k == orgtree.Removed || k == orgtree.Updated
	}
	for _, o := range c.Orgs {
		if !ok(o.Kind) {
			return fmt.Errorf("%w: org change of kind %d", errEntry, o.Kind)
		}
	}
	for _, n := range c.Nodes {
		if !ok(n.Kind) {
			return fmt.Errorf("%w: node change of kind %d", errEntry, n.Kind)
		}
	}
	for _, u := range c.Users {
		if !ok(u.Kind) {
			return fmt.Errorf("%w: user change of kind %d", errEntry, u.Kind)
		}
	}
	return nil
}

// placeRecords gives the changes their old (recs[0]) and new (recs[1])
// records, in order, and the ids those imply.
func placeRecords(c *orgtree.Changes, recs [2]*record, orgFlags, nodeFlags, userFlags []byte) error {
	var next [2]struct{ orgs, nodes, users int }
	take := func(have int, n *int) (int, bool) {
		if *n >= have {
			return 0, false
		}
		*n++
		return *n - 1, true
	}
	bits := [2]byte{ecOld, ecNew}
	for i := range c.Orgs {
		o := &c.Orgs[i]
		for w, r := range recs {
			if orgFlags[i]&bits[w] == 0 {
				continue
			}
			j, ok := take(len(r.orgs), &next[w].orgs)
			if !ok {
				return fmt.Errorf("%w: more org changes than records", errEntry)
			}
			rec := r.orgs[j]
			if w == 0 {
				o.Old = &rec
			} else {
				o.New = &rec
			}
			if orgFlags[i]&ecIDs == 0 {
				o.ID = rec.ID
			}
		}
		if orgFlags[i]&(ecOld|ecNew|ecIDs) == 0 {
			return fmt.Errorf("%w: an org change with no id", errEntry)
		}
	}
	for i := range c.Nodes {
		n := &c.Nodes[i]
		for w, r := range recs {
			if nodeFlags[i]&bits[w] == 0 {
				continue
			}
			j, ok := take(len(r.nodes), &next[w].nodes)
			if !ok {
				return fmt.Errorf("%w: more node changes than records", errEntry)
			}
			rec := r.nodes[j]
			if w == 0 {
				n.Old = &rec
			} else {
				n.New = &rec
			}
			if nodeFlags[i]&ecIDs == 0 {
				n.ID, n.OrgID = rec.ID, rec.OrgID
			}
		}
		if nodeFlags[i]&(ecOld|ecNew|ecIDs) == 0 {
			return fmt.Errorf("%w: a node change with no id", errEntry)
		}
	}
	for i := range c.Users {
		u := &c.Users[i]
		for w, r := range recs {
			if userFlags[i]&bits[w] == 0 {
				continue
			}
			j, ok := take(len(r.users), &next[w].users)
			if !ok {
				return fmt.Errorf("%w: more user changes than records", errEntry)
			}
			if len(r.users[j].Memberships) > 0 {
				return fmt.Errorf("%w: a user change with memberships", errEntry)
			}
			rec := r.users[j].User
			if w == 0 {
				u.Old = &rec
			} else {
				u.New = &rec
			}
			if userFlags[i]&ecIDs == 0 {
				u.ID = rec.ID
			}
		}
		if userFlags[i]&(ecOld|ecNew|ecIDs) == 0 {
			return fmt.Errorf("%w: a user change with no id", errEntry)
		}
	}
	for w, r := range recs {
		if next[w].orgs != len(r.orgs) || next[w].nodes != len(r.nodes) || next[w].users != len(r.users) {
			return fmt.Errorf("%w: records no change names", errEntry)
		}
	}
	return nil
}

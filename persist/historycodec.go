package persist

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/orgtree/orgtree"
	"github.com/orgtree/orgtree/internal/recordcodec"
)

// The body of a history entry (what follows its time and node ids) comes
// in two encodings:
//
//   - JSON of the HistoryEntry, as the first builds wrote it: it starts
//     with '{'. Such entries stay readable; none is written any more.
//   - binary, marked by the byte entryBinary: the records of the change
//     (old and new orgs, nodes and users) in the log's record codec
//     (internal/recordcodec), which front-codes ids and names and numbers
//     references, plus a flag byte per change. About a third of the JSON's size
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

// appendEntryBody appends e in the binary encoding to dst (the entry's
// header, so the body is not copied after it). e.Seq and e.Time are not
// in it: the entry's key and header hold them.
func appendEntryBody(dst []byte, e HistoryEntry) []byte {
	c := e.Changes
	if c == nil {
		c = &orgtree.Changes{}
	}
	en := &recordcodec.Enc{B: dst}
	en.B = append(en.B, entryBinary)
	en.Str(e.Actor)
	en.Str(e.Reason)
	en.Uvarint(c.From)
	en.Uvarint(c.To)
	// The old records (recs[0]) and the new ones (recs[1]), in change order.
	var recs [2]struct {
		orgs  []orgtree.OrgRecord
		nodes []orgtree.NodeRecord
		users []orgtree.UserRecord
	}
	en.Uvarint(uint64(len(c.Orgs)))
	for _, o := range c.Orgs {
		putChange(en, o.Kind, 0, o.Old, o.New, func(r *orgtree.OrgRecord) bool { return r.ID == o.ID }, &recs[0].orgs, &recs[1].orgs, o.ID)
	}
	en.Uvarint(uint64(len(c.Nodes)))
	for _, n := range c.Nodes {
		var extra byte
		if n.Moved {
			extra |= ecMoved
		}
		if n.Renamed {
			extra |= ecRenamed
		}
		putChange(en, n.Kind, extra, n.Old, n.New, func(r *orgtree.NodeRecord) bool { return r.ID == n.ID && r.OrgID == n.OrgID },
			&recs[0].nodes, &recs[1].nodes, n.ID, n.OrgID)
	}
	en.Uvarint(uint64(len(c.Users)))
	var users [2][]orgtree.User
	for _, u := range c.Users {
		putChange(en, u.Kind, 0, u.Old, u.New, func(r *orgtree.User) bool { return r.ID == u.ID }, &users[0], &users[1], u.ID)
	}
	for w, r := range recs {
		for _, u := range users[w] {
			r.users = append(r.users, orgtree.UserRecord{User: u})
		}
		parts := recordcodec.EncodeRecord(recordcodec.KindDelta, r.orgs, r.nodes, r.users, [3][]string{})
		en.Uvarint(uint64(len(parts)))
		for _, p := range parts {
			en.Uvarint(uint64(len(p)))
			en.B = append(en.B, p...)
		}
	}
	en.Uvarint(uint64(len(c.Members)))
	var prevNode, prevUser string
	for _, m := range c.Members {
		en.Front(prevNode, m.NodeID)
		en.Front(prevUser, m.UserID)
		prevNode, prevUser = m.NodeID, m.UserID
		joined := byte(0)
		if m.Joined {
			joined = 1
		}
		en.B = append(en.B, joined)
		en.Varint(recordcodec.Nanos(m.JoinedAt))
	}
	en.Uvarint(uint64(len(c.MainDepartments)))
	prevUser = ""
	for _, m := range c.MainDepartments {
		en.Front(prevUser, m.UserID)
		prevUser = m.UserID
		en.Str(m.OldNodeID)
		en.Str(m.NewNodeID)
	}
	return en.B
}

// putChange writes one change's flags (its kind, which records it has,
// extra, and ecIDs unless every record it has carries its ids: matches)
// and then, with ecIDs, its ids; its records go to olds and news.
func putChange[R any](en *recordcodec.Enc, kind orgtree.ChangeKind, extra byte, old, new *R, matches func(*R) bool, olds, news *[]R, ids ...string) {
	f := byte(kind)&ecKind | extra
	if old == nil && new == nil {
		f |= ecIDs
	}
	if old != nil {
		f |= ecOld
		*olds = append(*olds, *old)
		if !matches(old) {
			f |= ecIDs
		}
	}
	if new != nil {
		f |= ecNew
		*news = append(*news, *new)
		if !matches(new) {
			f |= ecIDs
		}
	}
	en.B = append(en.B, f)
	if f&ecIDs != 0 {
		for _, id := range ids {
			en.Str(id)
		}
	}
}

// decodeEntryBody decodes an entry body of either encoding; seq and t are
// the entry's version and header time. Its errors wrap errEntry (or
// recordcodec.ErrRecord) and say where; decodeEntry adds ErrCorrupt.
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
	d := recordcodec.NewDec(body[1:], min(2*len(body), 32<<10))
	e := HistoryEntry{Seq: seq, Time: time.Unix(0, t).UTC(), Changes: &orgtree.Changes{}}
	c := e.Changes
	e.Actor, e.Reason = d.Str(), d.Str()
	c.From, c.To = d.Uvarint(), d.Uvarint()
	orgFlags, orgIDs := getChanges(d, 1)
	c.Orgs = make([]orgtree.OrgChange, len(orgFlags))
	for i, f := range orgFlags {
		c.Orgs[i] = orgtree.OrgChange{Kind: orgtree.ChangeKind(f & ecKind), ID: orgIDs[i][0]}
	}
	nodeFlags, nodeIDs := getChanges(d, 2)
	c.Nodes = make([]orgtree.NodeChange, len(nodeFlags))
	for i, f := range nodeFlags {
		c.Nodes[i] = orgtree.NodeChange{Kind: orgtree.ChangeKind(f & ecKind), ID: nodeIDs[i][0], OrgID: nodeIDs[i][1],
			Moved: f&ecMoved != 0, Renamed: f&ecRenamed != 0}
	}
	userFlags, userIDs := getChanges(d, 1)
	c.Users = make([]orgtree.UserChange, len(userFlags))
	for i, f := range userFlags {
		c.Users[i] = orgtree.UserChange{Kind: orgtree.ChangeKind(f & ecKind), ID: userIDs[i][0]}
	}
	var recs [2]*recordcodec.Record
	for i := range recs {
		parts := make([][]byte, d.Count())
		for j := range parts {
			parts[j] = d.Bytes()
		}
		if d.Err() != nil {
			return e, d.Err()
		}
		if len(parts) == 0 {
			return e, fmt.Errorf("%w: a record without parts", errEntry)
		}
		r, err := recordcodec.ParseRecord(seq, parts)
		if err != nil {
			return e, err
		}
		if err := r.Decode(); err != nil {
			return e, err
		}
		recs[i] = r
	}
	if err := placeRecords(c, recs, orgFlags, nodeFlags, userFlags); err != nil {
		return e, err
	}
	c.Members = make([]orgtree.MemberChange, d.Count())
	var prevNode, prevUser string
	for i := range c.Members {
		m := &c.Members[i]
		m.NodeID, m.UserID = d.Front(prevNode), d.Front(prevUser)
		prevNode, prevUser = m.NodeID, m.UserID
		switch d.Byte() {
		case 0:
		case 1:
			m.Joined = true
		default:
			d.Fail("member joined flag")
		}
		m.JoinedAt = recordcodec.TimeOf(d.Varint())
	}
	c.MainDepartments = make([]orgtree.MainDepartmentChange, d.Count())
	prevUser = ""
	for i := range c.MainDepartments {
		m := &c.MainDepartments[i]
		m.UserID = d.Front(prevUser)
		prevUser = m.UserID
		m.OldNodeID, m.NewNodeID = d.Str(), d.Str()
	}
	if d.Err() == nil && d.Len() > 0 {
		d.Fail("bytes after the entry")
	}
	if d.Err() != nil {
		return e, d.Err()
	}
	if err := checkKinds(c); err != nil {
		return e, err
	}
	// What JSON leaves out (omitempty) decodes as nil: the same here.
	c.Orgs, c.Nodes, c.Users = nilIfEmpty(c.Orgs), nilIfEmpty(c.Nodes), nilIfEmpty(c.Users)
	c.Members, c.MainDepartments = nilIfEmpty(c.Members), nilIfEmpty(c.MainDepartments)
	return e, nil
}

// getChanges reads a list of changes: each one's flags and, when they
// say ecIDs, its n ids (n is 1 or 2). Each change takes at least its flag
// byte, so the count bounds what the lists allocate by the bytes left.
func getChanges(d *recordcodec.Dec, n int) ([]byte, [][2]string) {
	flags := make([]byte, d.Count())
	ids := make([][2]string, len(flags))
	for i := range flags {
		flags[i] = d.Byte()
		if flags[i]&ecIDs != 0 {
			for j := range n {
				ids[i][j] = d.Str()
			}
		}
	}
	return flags, ids
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
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
func placeRecords(c *orgtree.Changes, recs [2]*recordcodec.Record, orgFlags, nodeFlags, userFlags []byte) error {
	err := place("org", orgFlags, recs[0].Orgs, recs[1].Orgs, func(i int, old, new *orgtree.OrgRecord) {
		o := &c.Orgs[i]
		o.Old, o.New = old, new
		if orgFlags[i]&ecIDs == 0 {
			o.ID = cmp.Or(new, old).ID
		}
	})
	if err != nil {
		return err
	}
	err = place("node", nodeFlags, recs[0].Nodes, recs[1].Nodes, func(i int, old, new *orgtree.NodeRecord) {
		n := &c.Nodes[i]
		n.Old, n.New = old, new
		if nodeFlags[i]&ecIDs == 0 {
			r := cmp.Or(new, old)
			n.ID, n.OrgID = r.ID, r.OrgID
		}
	})
	if err != nil {
		return err
	}
	var users [2][]orgtree.User
	for w, r := range recs {
		for _, u := range r.Users {
			if len(u.Memberships) > 0 {
				return fmt.Errorf("%w: a user change with memberships", errEntry)
			}
			users[w] = append(users[w], u.User)
		}
	}
	return place("user", userFlags, users[0], users[1], func(i int, old, new *orgtree.User) {
		u := &c.Users[i]
		u.Old, u.New = old, new
		if userFlags[i]&ecIDs == 0 {
			u.ID = cmp.Or(new, old).ID
		}
	})
}

// place hands the records of one kind to its changes, in order: change i
// takes the next old record when its flags say ecOld and the next new one
// when they say ecNew, and set stores them. Every record goes to a change,
// and a change without records has its ids written out.
func place[R any](what string, flags []byte, olds, news []R, set func(i int, old, new *R)) error {
	var next [2]int
	lists := [2][]R{olds, news}
	for i, f := range flags {
		var got [2]*R
		for w, bit := range [2]byte{ecOld, ecNew} {
			if f&bit == 0 {
				continue
			}
			if next[w] >= len(lists[w]) {
				return fmt.Errorf("%w: more %s changes than records", errEntry, what)
			}
			got[w] = &lists[w][next[w]]
			next[w]++
		}
		if f&(ecOld|ecNew|ecIDs) == 0 {
			return fmt.Errorf("%w: a %s change with no id", errEntry, what)
		}
		set(i, got[0], got[1])
	}
	if next[0] != len(olds) || next[1] != len(news) {
		return fmt.Errorf("%w: %s records no change names", errEntry, what)
	}
	return nil
}

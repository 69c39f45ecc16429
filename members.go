package orgtree

import (
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// User is the light user record orgtree keeps so that member listings return
// people, not bare ids. Users live outside orgs: one user may be a member of
// several nodes in several orgs.
type User struct {
	ID         string `json:"id"`
	Name       string `json:"name,omitempty"`
	Username   string `json:"username,omitempty"`
	Email      string `json:"email,omitempty"`
	Phone      string `json:"phone,omitempty"`
	ExternalID string `json:"externalId,omitempty"` // unique among users when set
	// MainDepartmentID is the node set with SetMainDepartment, if any. It is
	// read-only here: CreateUser refuses it.
	MainDepartmentID string    `json:"mainDepartmentId,omitempty"`
	CreatedAt        time.Time `json:"createdAt"`
	UpdatedAt        time.Time `json:"updatedAt"`
}

// UserUpdate is a partial update of a user: nil fields are left as they are.
type UserUpdate struct {
	Name, Username, Email, Phone, ExternalID *string
}

// Department is one membership of a user, as UserDepartments lists it.
type Department struct {
	Node     Node      `json:"node"`
	IsMain   bool      `json:"isMain"`
	JoinedAt time.Time `json:"joinedAt"`
}

// SortBy orders member listings. Ties are broken by user id, ascending.
type SortBy int

const (
	// SortCreatedAtDesc lists the newest users first (the reference service's default).
	SortCreatedAtDesc SortBy = iota
	// SortCreatedAtAsc lists the oldest users first.
	SortCreatedAtAsc
	// SortUpdatedAtDesc lists the most recently updated users first.
	SortUpdatedAtDesc
	// SortUpdatedAtAsc lists the least recently updated users first.
	SortUpdatedAtAsc
)

// String returns the reference service's name of the order.
func (o SortBy) String() string {
	switch o {
	case SortCreatedAtDesc:
		return "CREATEDAT_DESC"
	case SortCreatedAtAsc:
		return "CREATEDAT_ASC"
	case SortUpdatedAtDesc:
		return "UPDATEDAT_DESC"
	case SortUpdatedAtAsc:
		return "UPDATEDAT_ASC"
	}
	return "SortBy(" + strconv.Itoa(int(o)) + ")"
}

// ParseSortBy returns the order a reference-service name (CREATEDAT_DESC,
// CREATEDAT_ASC, UPDATEDAT_DESC, UPDATEDAT_ASC; any case) stands for.
func ParseSortBy(name string) (SortBy, error) {
	for o := SortCreatedAtDesc; o <= SortUpdatedAtAsc; o++ {
		if strings.EqualFold(o.String(), name) {
			return o, nil
		}
	}
	return 0, fmt.Errorf("orgtree: unknown sort order %q: %w", name, ErrInvalidArgument)
}

// ListMembersOptions selects and pages a member listing.
type ListMembersOptions struct {
	// IncludeDescendants lists the members of every node of the subtree; a
	// user in several of them appears once.
	IncludeDescendants bool
	// Page (from 1) and Limit (page size); 0 means 1 and 10.
	Page, Limit int
	SortBy      SortBy
	// Cursor continues after the last user of an earlier page (its
	// NextCursor). Unlike Page it stays correct while others add or remove
	// members. Use it with Page 0 or 1.
	Cursor string
}

// MemberPage is one page of a member listing.
type MemberPage struct {
	// TotalCount is the number of distinct users the whole listing has.
	TotalCount int    `json:"totalCount"`
	List       []User `json:"list"`
	// NextCursor continues the listing after List; empty on the last page.
	NextCursor string `json:"nextCursor,omitempty"`
}

func validateUser(u *User) error {
	if u.ID != "" {
		if err := checkID(u.ID); err != nil {
			return fmt.Errorf("user id %q: %w", u.ID, err)
		}
	}
	for _, f := range []struct{ what, v string }{
		{"name", u.Name}, {"username", u.Username}, {"email", u.Email}, {"phone", u.Phone},
	} {
		if err := checkText(f.what, f.v, maxFieldLength); err != nil {
			return err
		}
	}
	return checkRef("externalId", u.ExternalID)
}

func (st *state) userValue(r *userRec) User {
	u := User{
		ID: r.id, Name: r.name, Username: r.username, Email: r.email, Phone: r.phone,
		ExternalID: r.externalID, CreatedAt: timeOf(r.created), UpdatedAt: timeOf(r.updated),
	}
	if r.main != 0 {
		u.MainDepartmentID = st.node(r.main).id
	}
	return u
}

// insertUser adds a valid user whose id (if any) is free.
func (tx *Tx) insertUser(u *User, created, updated int64) (uid, error) {
	n, err := tx.placeUser(u, created, updated)
	if err == nil {
		tx.orderUser(n, tx.st.user(n))
	}
	return n, err
}

// placeUser is insertUser without the user order (see orderUsers).
func (tx *Tx) placeUser(u *User, created, updated int64) (uid, error) {
	st := tx.st
	if u.ExternalID != "" {
		if _, ok := st.userExt.Get(u.ExternalID); ok {
			return 0, fmt.Errorf("user externalId %q: %w", u.ExternalID, ErrExists)
		}
	}
	id, err := tx.pickID("create user", "user", u.ID, func(id string) bool { _, ok := st.userIDs.Get(id); return ok })
	if err != nil {
		return 0, err
	}
	return tx.insertUserAs(id, u, created, updated), nil
}

// insertUserAs adds a valid user under id, which is free, and whose
// external id is free, to every index but the user order (orderUser).
func (tx *Tx) insertUserAs(id string, u *User, created, updated int64) uid {
	st := tx.st
	r := &userRec{
		edit: tx.edit, own: ownDepts | ownListed, id: id, name: u.Name, username: u.Username, email: u.Email,
		phone: u.Phone, externalID: u.ExternalID, created: created, updated: updated,
	}
	n := uid(st.users.Len())
	st.users = st.users.Append(tx.edit, r)
	if st.userCount-tx.base.userCount == bulkEntries {
		st.userIDs = st.userIDs.Own(tx.edit) // a bulk load: write the index in place from now on
	}
	st.userIDs = st.userIDs.Set(tx.edit, id, n)
	if r.externalID != "" {
		st.userExt = st.userExt.Set(tx.edit, r.externalID, n)
	}
	st.userCount++
	tx.dirty.user(n)
	return n
}

// CreateUser adds a user record. ID is generated when empty; CreatedAt and
// UpdatedAt default to now (set them to keep a provider's timestamps).
func (tx *Tx) CreateUser(u User) (User, error) {
	const op = "create user"
	if err := tx.writable(op); err != nil {
		return User{}, err
	}
	if u.MainDepartmentID != "" {
		return User{}, fmt.Errorf("orgtree: %s: mainDepartmentId is set with SetMainDepartment: %w", op, ErrInvalidArgument)
	}
	if err := validateUser(&u); err != nil {
		return User{}, fmt.Errorf("orgtree: %s: %w", op, err)
	}
	created, updated := u.CreatedAt.UnixNano(), u.UpdatedAt.UnixNano()
	if u.CreatedAt.IsZero() {
		created = tx.now()
	}
	if u.UpdatedAt.IsZero() {
		updated = created
	}
	n, err := tx.insertUser(&u, created, updated)
	if err != nil {
		return User{}, fmt.Errorf("orgtree: %s: %w", op, err)
	}
	return tx.st.userValue(tx.st.user(n)), nil
}

// UpdateUser changes the given fields of a user.
func (tx *Tx) UpdateUser(id string, upd UserUpdate) (User, error) {
	const op = "update user"
	if err := tx.writable(op); err != nil {
		return User{}, err
	}
	u, r, err := tx.lookupUser(op, id)
	if err != nil {
		return User{}, err
	}
	v := tx.st.userValue(r)
	next := v
	for _, f := range []struct {
		dst *string
		src *string
	}{{&next.Name, upd.Name}, {&next.Username, upd.Username}, {&next.Email, upd.Email}, {&next.Phone, upd.Phone}, {&next.ExternalID, upd.ExternalID}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	if next == v {
		return v, nil
	}
	if err := validateUser(&next); err != nil {
		return User{}, fmt.Errorf("orgtree: %s: %w", op, err)
	}
	if next.ExternalID != v.ExternalID && next.ExternalID != "" {
		if _, ok := tx.st.userExt.Get(next.ExternalID); ok {
			return User{}, fmt.Errorf("orgtree: %s: externalId %q: %w", op, next.ExternalID, ErrExists)
		}
	}
	if next.ExternalID != v.ExternalID {
		if v.ExternalID != "" {
			tx.st.userExt = tx.st.userExt.Delete(tx.edit, v.ExternalID)
		}
		if next.ExternalID != "" {
			tx.st.userExt = tx.st.userExt.Set(tx.edit, next.ExternalID, u)
		}
	}
	w := tx.mutUser(u)
	tx.unorderUser(u, w)
	w.name, w.username, w.email, w.phone, w.externalID = next.Name, next.Username, next.Email, next.Phone, next.ExternalID
	w.updated = tx.now()
	tx.orderUser(u, w)
	return tx.st.userValue(w), nil
}

// DeleteUser deletes a user and all its memberships.
func (tx *Tx) DeleteUser(id string) error {
	const op = "delete user"
	if err := tx.writable(op); err != nil {
		return err
	}
	u, r, err := tx.lookupUser(op, id)
	if err != nil {
		return err
	}
	for _, n := range slices.Clone(r.depts) {
		tx.unlink(n, u)
	}
	tx.clearLeads(tx.st.user(u))
	if r.externalID != "" {
		tx.st.userExt = tx.st.userExt.Delete(tx.edit, r.externalID)
	}
	tx.unorderUser(u, r)
	tx.st.userIDs = tx.st.userIDs.Delete(tx.edit, id)
	tx.st.users = tx.st.users.Set(tx.edit, int(u), nil)
	tx.st.userCount--
	tx.dirty.user(u)
	return nil
}

func (r *nodeRec) memberIndex(u uid) (int, bool) {
	return slices.BinarySearchFunc(r.members, u, func(m member, u uid) int { return cmp.Compare(m.user, u) })
}

func (r *nodeRec) hasMember(u uid) bool {
	_, ok := r.memberIndex(u)
	return ok
}

func (r *nodeRec) memberJoined(u uid) int64 {
	if i, ok := r.memberIndex(u); ok {
		return r.members[i].joined
	}
	return 0
}

// link makes u a member of n; the caller made sure it is not one yet.
func (tx *Tx) link(n nid, u uid, joined int64) {
	if !tx.bulk {
		tx.countLink()
		tx.coverChange(n, u, +1)
	}
	tx.linkOnly(n, u, joined)
}

// linkOnly links both sides without touching the rollups.
func (tx *Tx) linkOnly(n nid, u uid, joined int64) {
	nr := tx.mutNode(n)
	ownSlice(&nr.own, ownMembers, &nr.members)
	i, _ := nr.memberIndex(u)
	nr.members = slices.Insert(nr.members, i, member{user: u, joined: joined})
	ur := tx.mutUser(u)
	ownSlice(&ur.own, ownDepts, &ur.depts)
	j, _ := slices.BinarySearch(ur.depts, n)
	ur.depts = slices.Insert(ur.depts, j, n)
	tx.st.memberships++
}

// unlinkUser removes n from u's departments (the node side is the caller's).
func (tx *Tx) unlinkUser(u uid, n nid) {
	ur := tx.mutUser(u)
	ownSlice(&ur.own, ownDepts, &ur.depts)
	if j, ok := slices.BinarySearch(ur.depts, n); ok {
		ur.depts = slices.Delete(ur.depts, j, j+1)
	}
	if ur.main == n {
		ur.main = 0
	}
	tx.st.memberships--
}

// unlink ends the membership of u in n, both sides.
func (tx *Tx) unlink(n nid, u uid) {
	nr := tx.mutNode(n)
	ownSlice(&nr.own, ownMembers, &nr.members)
	if i, ok := nr.memberIndex(u); ok {
		nr.members = slices.Delete(nr.members, i, i+1)
	}
	tx.unlinkUser(u, n)
	tx.coverChange(n, u, -1)
}

// resolveUsers maps user ids to handles; every id must exist and appear
// once. The rule for duplicates is the same everywhere a list of users is
// given (AddMembers, RemoveMembers, MoveMembers, an import's members list):
// a user listed twice is a mistake of the caller, refused with
// ErrInvalidArgument before anything changes, not silently merged.
func (tx *Tx) resolveUsers(op string, ids []string) ([]uid, error) {
	out := make([]uid, 0, len(ids))
	var seen map[uid]int // only for long lists: a short one is searched
	if len(ids) > 8 {
		seen = make(map[uid]int, len(ids))
	}
	for i, id := range ids {
		u, _, err := tx.lookupUser(op, id)
		if err != nil {
			return nil, err
		}
		first := -1
		if seen == nil {
			first = slices.Index(out, u)
		} else if j, dup := seen[u]; dup {
			first = j
		} else {
			seen[u] = i
		}
		if first >= 0 {
			return nil, fmt.Errorf("orgtree: %s: user %q listed twice (arguments %d and %d): %w", op, id, first, i, ErrInvalidArgument)
		}
		out = append(out, u)
	}
	return out, nil
}

// AddMembers makes the users members of node nodeID. Users that already are
// members are left as they are. Every user must exist (ErrNotFound) and be
// listed once (ErrInvalidArgument); otherwise nothing changes.
func (tx *Tx) AddMembers(nodeID string, userIDs ...string) error {
	const op = "add members"
	if err := tx.writable(op); err != nil {
		return err
	}
	n, _, err := tx.lookupNode(op, nodeID)
	if err != nil {
		return err
	}
	us, err := tx.resolveUsers(op, userIDs)
	if err != nil {
		return err
	}
	for _, u := range us {
		if !tx.st.node(n).hasMember(u) {
			tx.link(n, u, tx.now())
		}
	}
	return nil
}

// requireMembers fails unless every user is a member of n.
func (tx *Tx) requireMembers(op string, n nid, us []uid) error {
	r := tx.st.node(n)
	for _, u := range us {
		if !r.hasMember(u) {
			return fmt.Errorf("orgtree: %s: user %q of node %q: %w", op, tx.st.user(u).id, r.id, ErrNotMember)
		}
	}
	return nil
}

// membersOf resolves a node and users that must all be its members.
func (tx *Tx) membersOf(op, nodeID string, userIDs []string) (nid, []uid, error) {
	if err := tx.writable(op); err != nil {
		return 0, nil, err
	}
	n, _, err := tx.lookupNode(op, nodeID)
	if err != nil {
		return 0, nil, err
	}
	us, err := tx.resolveUsers(op, userIDs)
	if err != nil {
		return 0, nil, err
	}
	if err := tx.requireMembers(op, n, us); err != nil {
		return 0, nil, err
	}
	return n, us, nil
}

// RemoveMembers ends the users' memberships of node nodeID. Every user must
// be a member (ErrNotMember) and be listed once (ErrInvalidArgument);
// otherwise nothing is removed.
func (tx *Tx) RemoveMembers(nodeID string, userIDs ...string) error {
	n, us, err := tx.membersOf("remove members", nodeID, userIDs)
	if err != nil {
		return err
	}
	for _, u := range us {
		tx.unlink(n, u)
	}
	return nil
}

// MoveMembers moves the users from node fromID to node toID. Every user must
// be a member of fromID and be listed once (ErrInvalidArgument). A user who already is a member of toID keeps that
// membership; a user whose main department was fromID gets toID instead.
func (tx *Tx) MoveMembers(fromID, toID string, userIDs ...string) error {
	const op = "move members"
	if err := tx.writable(op); err != nil {
		return err
	}
	from, _, err := tx.lookupNode(op, fromID)
	if err != nil {
		return err
	}
	to, _, err := tx.lookupNode(op, toID)
	if err != nil {
		return err
	}
	us, err := tx.resolveUsers(op, userIDs)
	if err != nil {
		return err
	}
	if err := tx.requireMembers(op, from, us); err != nil {
		return err
	}
	if from == to {
		return nil
	}
	for _, u := range us {
		wasMain := tx.st.user(u).main == from
		tx.unlink(from, u)
		if !tx.st.node(to).hasMember(u) {
			tx.link(to, u, tx.now())
		}
		if wasMain {
			tx.mutUser(u).main = to
		}
	}
	return nil
}

// SetMainDepartment makes nodeID the main department of user userID, who
// must be a member of it. An empty nodeID clears the main department.
func (tx *Tx) SetMainDepartment(userID, nodeID string) error {
	const op = "set main department"
	if err := tx.writable(op); err != nil {
		return err
	}
	u, ur, err := tx.lookupUser(op, userID)
	if err != nil {
		return err
	}
	var n nid
	if nodeID != "" {
		if n, _, err = tx.lookupNode(op, nodeID); err != nil {
			return err
		}
		if err := tx.requireMembers(op, n, []uid{u}); err != nil {
			return err
		}
	}
	if ur.main != n {
		tx.mutUser(u).main = n
	}
	return nil
}

// User returns the user with the given id.
func (s Snapshot) User(id string) (User, error) {
	_, r, err := s.lookupUser("get user", id)
	if err != nil {
		return User{}, err
	}
	return s.st.userValue(r), nil
}

// UserByExternalID returns the user with the given external id.
func (s Snapshot) UserByExternalID(externalID string) (User, error) {
	u, ok := s.st.userExt.Get(externalID)
	if !ok {
		return User{}, fmt.Errorf("orgtree: user by external id %q: %w", externalID, ErrNotFound)
	}
	return s.st.userValue(s.st.user(u)), nil
}

// UserDepartments lists the nodes user userID is a member of, in the order
// they were joined.
func (s Snapshot) UserDepartments(userID string) ([]Department, error) {
	u, r, err := s.lookupUser("user departments", userID)
	if err != nil {
		return nil, err
	}
	out := make([]Department, 0, len(r.depts))
	for _, n := range r.depts {
		nr := s.st.node(n)
		out = append(out, Department{Node: s.st.nodeValue(nr), IsMain: r.main == n, JoinedAt: timeOf(nr.memberJoined(u))})
	}
	slices.SortFunc(out, func(a, b Department) int {
		return cmp.Or(a.JoinedAt.Compare(b.JoinedAt), cmp.Compare(a.Node.ID, b.Node.ID))
	})
	return out, nil
}

// HasMember reports whether user userID is a direct member of node nodeID.
func (s Snapshot) HasMember(nodeID, userID string) (bool, error) {
	_, nr, err := s.lookupNode("has member", nodeID)
	if err != nil {
		return false, err
	}
	u, _, err := s.lookupUser("has member", userID)
	if err != nil {
		return false, err
	}
	return nr.hasMember(u), nil
}

// memberSet returns the distinct members of n, or of its whole subtree.
func (st *state) memberSet(n nid, subtree bool) []uid {
	r := st.node(n)
	if !subtree {
		out := make([]uid, len(r.members))
		for i, m := range r.members {
			out[i] = m.user
		}
		return out
	}
	return st.subtreeUsers(n)
}

// MemberCount returns the number of distinct members of node nodeID, or of
// its whole subtree (root included) when includeDescendants is set.
func (s Snapshot) MemberCount(nodeID string, includeDescendants bool) (int, error) {
	n, r, err := s.lookupNode("member count", nodeID)
	if err != nil {
		return 0, err
	}
	if !includeDescendants {
		return len(r.members), nil
	}
	return s.st.distinct(n), nil
}

// memberKey is a user's position in a listing order.
type memberKey struct {
	at int64
	id string
}

func (o SortBy) key(r *userRec) memberKey {
	if o == SortUpdatedAtAsc || o == SortUpdatedAtDesc {
		return memberKey{r.updated, r.id}
	}
	return memberKey{r.created, r.id}
}

func (o SortBy) cmp(a, b memberKey) int {
	if o == SortCreatedAtDesc || o == SortUpdatedAtDesc {
		return cmp.Or(cmp.Compare(b.at, a.at), cmp.Compare(a.id, b.id))
	}
	return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.id, b.id))
}

// encodeCursor and decodeCursor make an opaque, self-checking position.
func encodeCursor(o SortBy, k memberKey) string {
	return base64.RawURLEncoding.EncodeToString([]byte("m1:" + strconv.Itoa(int(o)) + ":" + strconv.FormatInt(k.at, 10) + ":" + k.id))
}

func decodeCursor(c string, o SortBy) (memberKey, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return memberKey{}, fmt.Errorf("cursor is not base64: %w", ErrInvalidArgument)
	}
	parts := strings.SplitN(string(raw), ":", 4)
	if len(parts) != 4 || parts[0] != "m1" {
		return memberKey{}, fmt.Errorf("malformed cursor: %w", ErrInvalidArgument)
	}
	if parts[1] != strconv.Itoa(int(o)) {
		return memberKey{}, fmt.Errorf("cursor was made for another sort order: %w", ErrInvalidArgument)
	}
	at, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || parts[3] == "" {
		return memberKey{}, fmt.Errorf("malformed cursor: %w", ErrInvalidArgument)
	}
	return memberKey{at, parts[3]}, nil
}

// ListMembers lists the members of node nodeID (or of its subtree), sorted
// and paged; see ListMembersOptions.
func (s Snapshot) ListMembers(nodeID string, opt ListMembersOptions) (MemberPage, error) {
	return s.ListMembersContext(context.Background(), nodeID, opt)
}

// ListMembersContext is ListMembers that stops when ctx ends: it looks at
// ctx before it starts, between its phases and every few hundred members
// it keys or skips, and then returns an error wrapping ctx.Err() and no
// page. (One phase, the walk of a subtree that collects its distinct
// members, is not cut: it reads each node and membership once, tens of
// milliseconds at a million memberships.)
func (s Snapshot) ListMembersContext(ctx context.Context, nodeID string, opt ListMembersOptions) (MemberPage, error) {
	const op = "list members"
	c := newCanceller(ctx, op)
	if c.now() {
		return MemberPage{}, c.stopped()
	}
	if opt.SortBy < SortCreatedAtDesc || opt.SortBy > SortUpdatedAtAsc {
		return MemberPage{}, fmt.Errorf("orgtree: %s: unknown sort order %d: %w", op, opt.SortBy, ErrInvalidArgument)
	}
	offset, limit, err := s.pageWindow(op, opt.Page, opt.Limit)
	if err != nil {
		return MemberPage{}, err
	}
	var after *memberKey
	if opt.Cursor != "" {
		if offset != 0 {
			return MemberPage{}, fmt.Errorf("orgtree: %s: cursor and page %d together: %w", op, opt.Page, ErrInvalidArgument)
		}
		k, err := decodeCursor(opt.Cursor, opt.SortBy)
		if err != nil {
			return MemberPage{}, fmt.Errorf("orgtree: %s: %w", op, err)
		}
		after = &k
	}
	n, r, err := s.lookupNode(op, nodeID)
	if err != nil {
		return MemberPage{}, err
	}
	total := len(r.members)
	if opt.IncludeDescendants {
		total = s.st.distinct(n)
	}
	page := MemberPage{TotalCount: total, List: []User{}}
	var keys []memberKey
	var more bool
	if total > scanThreshold && offset < total/2 {
		// Few pages deep into a large listing: walk the global user order.
		keys, more = s.st.pageByScan(c, n, opt.IncludeDescendants, opt.SortBy, after, offset, limit)
	} else {
		us := s.st.memberSet(n, opt.IncludeDescendants)
		keys = make([]memberKey, len(us))
		for i, u := range us {
			if c.stop() {
				return MemberPage{}, c.stopped()
			}
			keys[i] = opt.SortBy.key(s.st.user(u))
		}
		if c.now() {
			return MemberPage{}, c.stopped()
		}
		slices.SortFunc(keys, opt.SortBy.cmp)
		if after != nil {
			i, found := slices.BinarySearchFunc(keys, *after, opt.SortBy.cmp)
			if found {
				i++
			}
			keys = keys[i:]
		} else {
			keys = window(keys, offset, len(keys))
		}
		more = len(keys) > limit
		keys = keys[:min(limit, len(keys))]
	}
	if c.now() {
		return MemberPage{}, c.stopped()
	}
	for _, k := range keys {
		_, r, _ := s.st.userByID(k.id)
		page.List = append(page.List, s.st.userValue(r))
	}
	if more && len(keys) > 0 {
		page.NextCursor = encodeCursor(opt.SortBy, keys[len(keys)-1])
	}
	return page, nil
}

// User returns the user with the given id.
func (t *Tree) User(id string) (User, error) { return t.Snapshot().User(id) }

// UserByExternalID returns the user with the given external id.
func (t *Tree) UserByExternalID(externalID string) (User, error) {
	return t.Snapshot().UserByExternalID(externalID)
}

// UserDepartments lists the nodes a user is a member of.
func (t *Tree) UserDepartments(userID string) ([]Department, error) {
	return t.Snapshot().UserDepartments(userID)
}

// HasMember reports whether a user is a direct member of a node.
func (t *Tree) HasMember(nodeID, userID string) (bool, error) {
	return t.Snapshot().HasMember(nodeID, userID)
}

// MemberCount counts the distinct members of a node or its subtree.
func (t *Tree) MemberCount(nodeID string, includeDescendants bool) (int, error) {
	return t.Snapshot().MemberCount(nodeID, includeDescendants)
}

// ListMembers lists members sorted and paged; see Snapshot.ListMembers.
func (t *Tree) ListMembers(nodeID string, opt ListMembersOptions) (MemberPage, error) {
	return t.Snapshot().ListMembers(nodeID, opt)
}

// ListMembersContext lists members until ctx ends; see
// Snapshot.ListMembersContext.
func (t *Tree) ListMembersContext(ctx context.Context, nodeID string, opt ListMembersOptions) (MemberPage, error) {
	return t.Snapshot().ListMembersContext(ctx, nodeID, opt)
}

// CreateUser adds a user record; see Tx.CreateUser.
func (t *Tree) CreateUser(u User) (User, error) {
	return update1(t, func(tx *Tx) (User, error) { return tx.CreateUser(u) })
}

// UpdateUser changes the given fields of a user.
func (t *Tree) UpdateUser(id string, u UserUpdate) (User, error) {
	return update1(t, func(tx *Tx) (User, error) { return tx.UpdateUser(id, u) })
}

// DeleteUser deletes a user and all its memberships.
func (t *Tree) DeleteUser(id string) error {
	return t.Update(func(tx *Tx) error { return tx.DeleteUser(id) })
}

// AddMembers makes users members of a node; see Tx.AddMembers.
func (t *Tree) AddMembers(nodeID string, userIDs ...string) error {
	return t.Update(func(tx *Tx) error { return tx.AddMembers(nodeID, userIDs...) })
}

// RemoveMembers ends memberships; see Tx.RemoveMembers.
func (t *Tree) RemoveMembers(nodeID string, userIDs ...string) error {
	return t.Update(func(tx *Tx) error { return tx.RemoveMembers(nodeID, userIDs...) })
}

// MoveMembers moves users from one node to another; see Tx.MoveMembers.
func (t *Tree) MoveMembers(fromID, toID string, userIDs ...string) error {
	return t.Update(func(tx *Tx) error { return tx.MoveMembers(fromID, toID, userIDs...) })
}

// SetMainDepartment sets (or with an empty nodeID clears) a user's main department.
func (t *Tree) SetMainDepartment(userID, nodeID string) error {
	return t.Update(func(tx *Tx) error { return tx.SetMainDepartment(userID, nodeID) })
}

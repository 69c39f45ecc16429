package reconcile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// The decoders read the JSON a provider's department and user list APIs
// return: either the whole response (with its errcode/code envelope) or the
// bare list, and, since clients page through users, several user pages
// concatenated as a JSON array of responses. Ids that are numbers in one
// provider and strings in another all become strings.

// flexID accepts a JSON number or string.
type flexID string

func (f *flexID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("id %s is neither a string nor a number", b)
	}
	*f = flexID(n.String())
	return nil
}

// flexInt accepts a JSON number or a string holding one (Lark's order).
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	var id flexID
	if err := id.UnmarshalJSON(b); err != nil {
		return err
	}
	if id == "" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(string(id), 10, 64)
	if err != nil {
		return fmt.Errorf("order %s is not an integer", b)
	}
	*f = flexInt(n)
	return nil
}

// flexIDs accepts a list of ids or a single one (WeCom's user/list_id
// gives one department per entry).
type flexIDs []flexID

func (f *flexIDs) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		return json.Unmarshal(b, (*[]flexID)(f))
	}
	var one flexID
	if err := one.UnmarshalJSON(b); err != nil {
		return err
	}
	*f = nil
	if one != "" {
		*f = flexIDs{one}
	}
	return nil
}

func ids(in []flexID) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

// decodeDoc reads one JSON document (or a JSON array of documents, for
// concatenated pages) and hands each to fn.
func decodeDoc(r io.Reader, what string, fn func(json.RawMessage) error) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("reconcile: %s: %w", what, err)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return fmt.Errorf("reconcile: %s: empty document: %w", what, ErrInvalidInput)
	}
	if data[0] == '[' {
		var pages []json.RawMessage
		if err := json.Unmarshal(data, &pages); err == nil && len(pages) > 0 && bytes.HasPrefix(bytes.TrimSpace(pages[0]), []byte("{")) && !looksLikeItem(pages[0]) {
			for _, p := range pages {
				if err := fn(p); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return fn(data)
}

// looksLikeItem tells a bare list of departments or users (whose elements
// carry ids) from a list of API responses (whose elements carry a result).
func looksLikeItem(doc json.RawMessage) bool {
	var probe map[string]json.RawMessage
	if json.Unmarshal(doc, &probe) != nil {
		return false
	}
	for _, k := range []string{"result", "department", "userlist", "data", "errcode", "code"} {
		if _, ok := probe[k]; ok {
			return false
		}
	}
	return true
}

func decodeErr(what string, err error) error {
	return fmt.Errorf("reconcile: %s: %w: %w", what, ErrInvalidInput, err)
}

// unwrapList finds the list in a response: the document itself when it is
// an array, else the first of the given paths that holds one.
func unwrapList(doc json.RawMessage, paths ...[]string) (json.RawMessage, error) {
	doc = bytes.TrimSpace(doc)
	if len(doc) > 0 && doc[0] == '[' {
		return doc, nil
	}
	var env struct {
		ErrCode *int   `json:"errcode"`
		Code    *int   `json:"code"`
		ErrMsg  string `json:"errmsg"`
		Msg     string `json:"msg"`
	}
	if err := json.Unmarshal(doc, &env); err != nil {
		return nil, err
	}
	if env.ErrCode != nil && *env.ErrCode != 0 {
		return nil, fmt.Errorf("provider error %d: %s", *env.ErrCode, env.ErrMsg)
	}
	if env.Code != nil && *env.Code != 0 {
		return nil, fmt.Errorf("provider error %d: %s", *env.Code, env.Msg)
	}
	for _, path := range paths {
		cur := doc
		ok := true
		for _, key := range path {
			var obj map[string]json.RawMessage
			if json.Unmarshal(cur, &obj) != nil {
				ok = false
				break
			}
			if cur, ok = obj[key]; !ok {
				break
			}
		}
		if ok && len(bytes.TrimSpace(cur)) > 0 && bytes.TrimSpace(cur)[0] == '[' {
			return cur, nil
		}
	}
	return nil, fmt.Errorf("no department or user list found")
}

// hasMore reports whether a response page says more pages follow: a true
// has_more at its top level or under data or result (Lark, DingTalk), or,
// where there is no has_more, a non-empty next_cursor (WeCom's list_id).
func hasMore(doc json.RawMessage) bool {
	type paging struct {
		HasMore    *bool           `json:"has_more"`
		NextCursor json.RawMessage `json:"next_cursor"` // a string (WeCom) or a number (DingTalk)
	}
	var env struct {
		paging
		Data   json.RawMessage `json:"data"`
		Result json.RawMessage `json:"result"`
	}
	if json.Unmarshal(doc, &env) != nil {
		return false
	}
	levels := []paging{env.paging}
	for _, inner := range []json.RawMessage{env.Data, env.Result} {
		var pg paging
		if len(inner) > 0 && inner[0] == '{' && json.Unmarshal(inner, &pg) == nil {
			levels = append(levels, pg)
		}
	}
	for _, pg := range levels {
		if pg.HasMore != nil {
			if *pg.HasMore {
				return true
			}
		} else if c := string(bytes.TrimSpace(pg.NextCursor)); c != "" && c != `""` && c != "null" {
			return true
		}
	}
	return false
}

// readList decodes every item of the list found at one of paths in r (a
// response, a bare list, or an array of response pages) and hands it to
// each with its index. A nil r reads nothing and reports false. A last
// page that says more pages follow is refused with ErrTruncated.
func readList[T any](r io.Reader, what string, paths [][]string, each func(int, T) error) (bool, error) {
	if r == nil {
		return false, nil
	}
	n, more := 0, false
	err := decodeDoc(r, what, func(doc json.RawMessage) error {
		list, err := unwrapList(doc, paths...)
		if err != nil {
			return decodeErr(what, err)
		}
		var items []T
		if err := json.Unmarshal(list, &items); err != nil {
			return decodeErr(what, err)
		}
		for _, it := range items {
			if err := each(n, it); err != nil {
				return decodeErr(what, err)
			}
			n++
		}
		more = hasMore(doc)
		return nil
	})
	if err == nil && more {
		err = fmt.Errorf("reconcile: %s: the last page says more follow (has_more or next_cursor): %w: %w", what, ErrInvalidInput, ErrTruncated)
	}
	return true, err
}

// needID refuses a list item without an id: a shape the decoder does not
// know (the wrong API, an older version) would otherwise decode silently
// into entries without ids.
func needID(what string, i int, id flexID) error {
	if id == "" {
		return fmt.Errorf("%s #%d has no id (is this the list the decoder expects?)", what, i)
	}
	return nil
}

// addUser adds a user list item; the JSON names differ per provider, so
// each decoder maps its own item type onto these arguments.
func (ms *members) addUser(id flexID, name, email, mobile string, depts []flexID, main flexID) {
	ms.add(Member{ExternalID: string(id), Name: name, Email: email, Phone: mobile, DepartmentIDs: ids(depts), MainDepartmentID: string(main)})
}

// smallerFirst maps the order of a provider whose siblings sort by smaller
// order first (DingTalk, Lark) onto orgtree's larger-first order.
func smallerFirst(o flexInt) int {
	if o == math.MinInt {
		return math.MaxInt
	}
	return -int(o)
}

type dingTalkDept struct {
	ID       flexID   `json:"dept_id"`
	Parent   flexID   `json:"parent_id"`
	OldID    flexID   `json:"id"`       // the legacy department/list shape
	OldPar   flexID   `json:"parentid"` // ditto
	Name     string   `json:"name"`
	Order    flexInt  `json:"order"`
	Code     string   `json:"code"`
	Managers []flexID `json:"dept_manager_userid_list"`
}

type dingTalkUser struct {
	ID     flexID   `json:"userid"`
	Name   string   `json:"name"`
	Email  string   `json:"email"`
	Mobile string   `json:"mobile"`
	Depts  []flexID `json:"dept_id_list"`
	Main   flexID   `json:"main_dept_id"`
}

// DecodeDingTalk reads DingTalk department and user lists (departments:
// dept_id, parent_id, name, order, dept_manager_userid_list, or the legacy
// department/list's id and parentid; users: userid, name, dept_id_list,
// email, mobile, and the optional main_dept_id). The department without a
// parent_id (or with parent_id 0) is the root, DingTalk's dept_id 1; when
// the list leaves it out, it is added without a name (the org root keeps
// its own). DingTalk sorts siblings by smaller order first; Order is the
// negated order, so they keep that order in orgtree. A nil departments
// reader is a company of only its root; a nil users reader sets
// KeepMembers.
func DecodeDingTalk(departments, users io.Reader) (Input, error) {
	var d decoded
	_, err := readList(departments, "DingTalk departments", [][]string{{"result"}, {"department"}, {"result", "list"}}, func(i int, it dingTalkDept) error {
		if it.ID == "" {
			it.ID, it.Parent = it.OldID, it.OldPar
		}
		d.dept(Department{ExternalID: string(it.ID), ParentExternalID: rootParent(string(it.Parent)),
			Name: it.Name, Order: smallerFirst(it.Order), Code: it.Code}, it.Managers)
		return needID("department", i, it.ID)
	})
	if err == nil {
		d.listed, err = readList(users, "DingTalk users", [][]string{{"result", "list"}, {"userlist"}, {"result"}}, func(i int, it dingTalkUser) error {
			d.ms.addUser(it.ID, it.Name, it.Email, it.Mobile, it.Depts, it.Main)
			return needID("user", i, it.ID)
		})
	}
	return d.finish("1", err)
}

type weComDept struct {
	ID      flexID   `json:"id"`
	Parent  flexID   `json:"parentid"`
	Name    string   `json:"name"`
	Order   flexInt  `json:"order"`
	Leaders []flexID `json:"department_leader"`
}

type weComUser struct {
	ID     flexID  `json:"userid"`
	Name   string  `json:"name"`
	Email  string  `json:"email"`
	Mobile string  `json:"mobile"`
	Depts  flexIDs `json:"department"`
	Main   flexID  `json:"main_department"`
}

// DecodeWeCom reads WeCom (WeChat Work) department and user lists
// (departments: id, parentid, name, order, department_leader; users: userid,
// name, department, main_department, email, mobile). parentid 0 marks the
// root, WeCom's id 1 (added without a name when missing). WeCom sorts
// siblings by larger order first, as orgtree does: Order is order. A nil
// departments reader is a company of only its root; a nil users reader
// sets KeepMembers.
func DecodeWeCom(departments, users io.Reader) (Input, error) {
	var d decoded
	_, err := readList(departments, "WeCom departments", [][]string{{"department"}, {"department_id"}}, func(i int, it weComDept) error {
		d.dept(Department{ExternalID: string(it.ID), ParentExternalID: rootParent(string(it.Parent)),
			Name: it.Name, Order: int(it.Order)}, it.Leaders)
		return needID("department", i, it.ID)
	})
	if err == nil {
		d.listed, err = readList(users, "WeCom users", [][]string{{"userlist"}, {"dept_user"}}, func(i int, it weComUser) error {
			d.ms.addUser(it.ID, it.Name, it.Email, it.Mobile, it.Depts, it.Main)
			return needID("user", i, it.ID)
		})
	}
	return d.finish("1", err)
}

type larkDept struct {
	ID     flexID  `json:"open_department_id"`
	Parent flexID  `json:"parent_department_id"`
	Name   string  `json:"name"`
	Order  flexInt `json:"order"`
	Leader flexID  `json:"leader_user_id"`
	// Leaders lists every leader: leaderType 1 is the main one (the same
	// as leader_user_id when both are given), 2 a deputy.
	Leaders []struct {
		Type int    `json:"leaderType"`
		ID   flexID `json:"leaderID"`
	} `json:"leaders"`
}

type larkUser struct {
	ID     flexID   `json:"open_id"`
	Name   string   `json:"name"`
	Email  string   `json:"email"`
	Mobile string   `json:"mobile"`
	Depts  []flexID `json:"department_ids"`
	Orders []struct {
		Department flexID `json:"department_id"`
		Primary    bool   `json:"is_primary_dept"`
	} `json:"orders"`
}

// DecodeLark reads Lark/Feishu department and user lists (departments:
// open_department_id, parent_department_id, name, order (a string),
// leader_user_id and leaders; users: open_id, name, email, mobile, department_ids, and
// orders, whose is_primary_dept entry is the main department). Lark's
// department lists leave out the root, "0"; DecodeLark adds it without a
// name, so the org root keeps its own. Lark sorts siblings by smaller order
// first; Order is the negated order. A nil departments reader is a company
// of only its root; a nil users reader sets KeepMembers.
func DecodeLark(departments, users io.Reader) (Input, error) {
	var d decoded
	_, err := readList(departments, "Lark departments", [][]string{{"data", "items"}, {"data", "department_list"}}, func(i int, it larkDept) error {
		parent := string(it.Parent)
		if parent == "" {
			parent = "0"
		}
		if it.ID == "0" {
			parent = ""
		}
		// Candidates in rank: leader_user_id, the main leader, deputies.
		var leaders []flexID
		if it.Leader != "" {
			leaders = append(leaders, it.Leader)
		}
		for _, main := range []bool{true, false} {
			for _, l := range it.Leaders {
				if (l.Type == 1) == main && l.ID != "" && !slices.Contains(leaders, l.ID) {
					leaders = append(leaders, l.ID)
				}
			}
		}
		d.dept(Department{ExternalID: string(it.ID), ParentExternalID: parent, Name: it.Name, Order: smallerFirst(it.Order)}, leaders)
		return needID("department", i, it.ID)
	})
	if err == nil {
		d.listed, err = readList(users, "Lark users", [][]string{{"data", "items"}, {"data", "user_list"}}, func(i int, it larkUser) error {
			var main flexID
			for _, o := range it.Orders {
				if o.Primary {
					main = o.Department
				}
			}
			d.ms.addUser(it.ID, it.Name, it.Email, it.Mobile, it.Depts, main)
			return needID("user", i, it.ID)
		})
	}
	return d.finish("0", err)
}

// decoded collects what a decoder reads.
type decoded struct {
	in      Input
	leaders [][]flexID // per department, every leader the provider names
	ms      members
	listed  bool // a users reader was given
}

func (d *decoded) dept(dep Department, leaders []flexID) {
	d.in.Departments = append(d.in.Departments, dep)
	d.leaders = append(d.leaders, leaders)
}

// finish picks each department's leader (the first one the user list
// includes, else the first), adds the root when the list leaves it out,
// and sets KeepMembers when no user list was given.
func (d *decoded) finish(rootID string, err error) (Input, error) {
	if err != nil {
		return Input{}, err
	}
	for i, leaders := range d.leaders {
		if len(leaders) == 0 {
			continue
		}
		pick := string(leaders[0])
		for _, l := range leaders {
			if _, ok := d.ms.at[string(l)]; ok {
				pick = string(l)
				break
			}
		}
		d.in.Departments[i].LeaderExternalID = pick
	}
	ensureRoot(&d.in, rootID)
	d.in.Members = d.ms.list
	d.in.KeepMembers = !d.listed
	return d.in, nil
}

// rootParent maps the providers' "no parent" markers to "".
func rootParent(p string) string {
	if p == "0" {
		return ""
	}
	return p
}

// members collects users; user lists are fetched per department, so a
// user in two departments arrives twice (or, paged per department, once
// per page) and its entries are merged.
type members struct {
	list []Member
	at   map[string]int
}

func (ms *members) add(m Member) {
	if ms.at == nil {
		ms.at = map[string]int{}
	}
	if i, ok := ms.at[m.ExternalID]; ok && m.ExternalID != "" {
		for _, d := range m.DepartmentIDs {
			if !slices.Contains(ms.list[i].DepartmentIDs, d) {
				ms.list[i].DepartmentIDs = append(ms.list[i].DepartmentIDs, d)
			}
		}
		if ms.list[i].MainDepartmentID == "" {
			ms.list[i].MainDepartmentID = m.MainDepartmentID
		}
		return
	}
	m.DepartmentIDs = dedupe(m.DepartmentIDs)
	ms.at[m.ExternalID] = len(ms.list)
	ms.list = append(ms.list, m)
}

// dedupe drops repeated ids, keeping the first of each.
func dedupe(ids []string) []string {
	out := ids[:0:0]
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// ensureRoot adds the provider's root department when the list leaves it
// out (Lark always does; an empty list or no list at all means a company
// of only its root), without a name: the org root keeps its own. Whether
// an input with nothing else is acceptable is Plan's question (see
// Options.AllowEmpty).
func ensureRoot(in *Input, rootID string) {
	for _, d := range in.Departments {
		if d.ExternalID == rootID || d.ParentExternalID == "" {
			return
		}
	}
	in.Departments = append(in.Departments, Department{ExternalID: rootID})
}

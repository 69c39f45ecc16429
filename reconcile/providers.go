package reconcile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
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

// readList decodes every item of the list found at one of paths in r (a
// response, a bare list, or an array of response pages) and hands it to
// each. A nil r reads nothing.
func readList[T any](r io.Reader, what string, paths [][]string, each func(T)) error {
	if r == nil {
		return nil
	}
	return decodeDoc(r, what, func(doc json.RawMessage) error {
		list, err := unwrapList(doc, paths...)
		if err != nil {
			return decodeErr(what, err)
		}
		var items []T
		if err := json.Unmarshal(list, &items); err != nil {
			return decodeErr(what, err)
		}
		for _, it := range items {
			each(it)
		}
		return nil
	})
}

// addUser adds a user list item; the JSON names differ per provider, so
// each decoder maps its own item type onto these arguments.
func (ms *members) addUser(id flexID, name, email, mobile string, depts []flexID, main flexID) {
	ms.add(Member{ExternalID: string(id), Name: name, Email: email, Phone: mobile, DepartmentIDs: ids(depts), MainDepartmentID: string(main)})
}

func first(ids []flexID) string {
	if len(ids) == 0 {
		return ""
	}
	return string(ids[0])
}

type dingTalkDept struct {
	ID       flexID   `json:"dept_id"`
	Parent   flexID   `json:"parent_id"`
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
// dept_id, parent_id, name, order, dept_manager_userid_list; users: userid,
// name, dept_id_list, email, mobile, and the optional main_dept_id). The
// department without a parent_id (or with parent_id 0) is the root,
// DingTalk's dept_id 1; when the list leaves dept 1 out, it is added without
// a name (the org root keeps its own). Either reader may be nil.
func DecodeDingTalk(departments, users io.Reader) (Input, error) {
	var in Input
	var ms members
	err := readList(departments, "DingTalk departments", [][]string{{"result"}, {"department"}, {"result", "list"}}, func(it dingTalkDept) {
		in.Departments = append(in.Departments, Department{ExternalID: string(it.ID), ParentExternalID: rootParent(string(it.Parent)),
			Name: it.Name, Order: int(it.Order), Code: it.Code, LeaderExternalID: first(it.Managers)})
	})
	if err == nil {
		err = readList(users, "DingTalk users", [][]string{{"result", "list"}, {"userlist"}, {"result"}}, func(it dingTalkUser) {
			ms.addUser(it.ID, it.Name, it.Email, it.Mobile, it.Depts, it.Main)
		})
	}
	return finish(in, ms, "1", err)
}

type weComDept struct {
	ID      flexID   `json:"id"`
	Parent  flexID   `json:"parentid"`
	Name    string   `json:"name"`
	Order   flexInt  `json:"order"`
	Leaders []flexID `json:"department_leader"`
}

type weComUser struct {
	ID     flexID   `json:"userid"`
	Name   string   `json:"name"`
	Email  string   `json:"email"`
	Mobile string   `json:"mobile"`
	Depts  []flexID `json:"department"`
	Main   flexID   `json:"main_department"`
}

// DecodeWeCom reads WeCom (WeChat Work) department and user lists
// (departments: id, parentid, name, order, department_leader; users: userid,
// name, department, main_department, email, mobile). parentid 0 marks the
// root, WeCom's id 1 (added without a name when missing). Either reader may
// be nil.
func DecodeWeCom(departments, users io.Reader) (Input, error) {
	var in Input
	var ms members
	err := readList(departments, "WeCom departments", [][]string{{"department"}, {"department_id"}}, func(it weComDept) {
		in.Departments = append(in.Departments, Department{ExternalID: string(it.ID), ParentExternalID: rootParent(string(it.Parent)),
			Name: it.Name, Order: int(it.Order), LeaderExternalID: first(it.Leaders)})
	})
	if err == nil {
		err = readList(users, "WeCom users", [][]string{{"userlist"}}, func(it weComUser) {
			ms.addUser(it.ID, it.Name, it.Email, it.Mobile, it.Depts, it.Main)
		})
	}
	return finish(in, ms, "1", err)
}

type larkDept struct {
	ID     flexID  `json:"open_department_id"`
	Parent flexID  `json:"parent_department_id"`
	Name   string  `json:"name"`
	Order  flexInt `json:"order"`
	Leader flexID  `json:"leader_user_id"`
}

type larkUser struct {
	ID     flexID   `json:"open_id"`
	Name   string   `json:"name"`
	Email  string   `json:"email"`
	Mobile string   `json:"mobile"`
	Depts  []flexID `json:"department_ids"`
}

// DecodeLark reads Lark/Feishu department and user lists (departments:
// open_department_id, parent_department_id, name, order (a string),
// leader_user_id; users: open_id, name, email, mobile, department_ids).
// Lark's department lists leave out the root, "0"; DecodeLark adds it
// without a name, so the org root keeps its own. Either reader may be nil.
func DecodeLark(departments, users io.Reader) (Input, error) {
	var in Input
	var ms members
	err := readList(departments, "Lark departments", [][]string{{"data", "items"}, {"data", "department_list"}}, func(it larkDept) {
		parent := string(it.Parent)
		if parent == "" {
			parent = "0"
		}
		if it.ID == "0" {
			parent = ""
		}
		in.Departments = append(in.Departments, Department{ExternalID: string(it.ID), ParentExternalID: parent, Name: it.Name,
			Order: int(it.Order), LeaderExternalID: string(it.Leader)})
	})
	if err == nil {
		err = readList(users, "Lark users", [][]string{{"data", "items"}, {"data", "user_list"}}, func(it larkUser) {
			ms.addUser(it.ID, it.Name, it.Email, it.Mobile, it.Depts, "")
		})
	}
	return finish(in, ms, "0", err)
}

// finish adds the root when departments name it without listing it.
func finish(in Input, ms members, rootID string, err error) (Input, error) {
	if err != nil {
		return Input{}, err
	}
	ensureRoot(&in, rootID)
	in.Members = ms.list
	return in, nil
}

// rootParent maps the providers' "no parent" markers to "".
func rootParent(p string) string {
	if p == "0" {
		return ""
	}
	return p
}

// members collects users; user lists are fetched per department, so a
// user in two departments arrives twice and its entries are merged.
type members struct {
	list []Member
	at   map[string]int
}

func (ms *members) add(m Member) {
	if ms.at == nil {
		ms.at = map[string]int{}
	}
	if i, ok := ms.at[m.ExternalID]; ok && m.ExternalID != "" {
		ms.list[i].DepartmentIDs = append(ms.list[i].DepartmentIDs, m.DepartmentIDs...)
		if ms.list[i].MainDepartmentID == "" {
			ms.list[i].MainDepartmentID = m.MainDepartmentID
		}
		return
	}
	ms.at[m.ExternalID] = len(ms.list)
	ms.list = append(ms.list, m)
}

// ensureRoot adds the provider's root department when the list leaves it
// out but departments name it as their parent.
func ensureRoot(in *Input, rootID string) {
	referenced := false
	for _, d := range in.Departments {
		if d.ExternalID == rootID {
			return
		}
		referenced = referenced || d.ParentExternalID == rootID
	}
	if referenced {
		in.Departments = append(in.Departments, Department{ExternalID: rootID}) // no name: the org root keeps its own
	}
}

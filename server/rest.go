package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/orgtree/orgtree"
)

func (s *Server) routes() {
	s.mux.HandleFunc("/graphql/v2", s.serveGraphQL)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeREST(w, http.StatusOK, 200, "ok", nil)
	})
	s.mux.HandleFunc("GET /api/v2/orgs/export", s.rest(s.exportOrgs))
	s.mux.HandleFunc("GET /api/v2/orgs/children", s.rest(s.restChildren))
	s.mux.HandleFunc("GET /api/v2/orgs/pagination", s.rest(s.restOrgPage))
	s.mux.HandleFunc("POST /api/v2/orgs/import", s.rest(s.restImport))
	s.mux.HandleFunc("GET /api/v2/users/{id}", s.rest(s.restUser))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, req *http.Request) {
		writeREST(w, http.StatusNotFound, 404, fmt.Sprintf("no endpoint %s %s in orgtree", req.Method, req.URL.Path), nil)
	})
}

// rest wraps a REST endpoint: authentication, then the {code, message,
// data} envelope for its answer or its error.
func (s *Server) rest(fn func(*http.Request) (string, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		if err := s.authenticate(req); err != nil {
			writeREST(w, http.StatusOK, 401, err.Error(), nil)
			return
		}
		msg, data, err := fn(req)
		if err != nil {
			code, text := codeOf(err)
			if code >= 500 {
				s.cfg.Logger.Error("rest endpoint failed", "path", req.URL.Path, "err", err)
			}
			// Errors travel in the envelope with status 200, as the
			// service answers them (see writeGraphQLError).
			writeREST(w, http.StatusOK, code, text, nil)
			return
		}
		writeREST(w, http.StatusOK, 200, msg, data)
	}
}

// exportOrgs answers GET /api/v2/orgs/export: every org as an array, or
// the org named by org_id as one object (what the Go SDK decodes).
func (s *Server) exportOrgs(req *http.Request) (string, any, error) {
	snap := s.tree.Snapshot()
	if orgID := req.URL.Query().Get("org_id"); orgID != "" {
		t, err := snap.ExportOrg(orgID, orgtree.ExportOptions{OmitPaths: true})
		if err != nil {
			return "", nil, err
		}
		return "导出数据成功", s.exportDoc(t), nil
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, t := range snap.ExportAll(orgtree.ExportOptions{OmitPaths: true}) {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(s.exportDoc(t))
	}
	buf.WriteByte(']')
	return "导出数据成功", json.RawMessage(buf.Bytes()), nil
}

// exportDoc writes a nested org in the service's export shape. The walk
// is iterative: exports of very deep trees must not grow the stack.
func (s *Server) exportDoc(root *orgtree.TreeNode) json.RawMessage {
	var b bytes.Buffer
	type frame struct {
		n    *orgtree.TreeNode
		next int // index of the next child to write
	}
	orgID := root.OrgID
	stack := []frame{{n: root}}
	s.openExportNode(&b, root, orgID)
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next == len(top.n.Children) {
			b.WriteString("]}")
			stack = stack[:len(stack)-1]
			continue
		}
		if top.next > 0 {
			b.WriteByte(',')
		}
		child := top.n.Children[top.next]
		top.next++
		s.openExportNode(&b, child, orgID)
		stack = append(stack, frame{n: child})
	}
	return json.RawMessage(b.Bytes())
}

// openExportNode writes a node's fields up to the opening of its children
// array.
func (s *Server) openExportNode(b *bytes.Buffer, n *orgtree.TreeNode, orgID string) {
	members := make([]any, len(n.Members))
	for i, u := range n.Members {
		members[i] = s.plainUser(u)
	}
	fields, _ := json.Marshal(map[string]any{
		"id": n.ID, "orgId": orgID, "userPoolId": s.cfg.UserPoolID, "name": n.Name,
		"nameI18n": wireI18n(n.NameI18n), "description": nullable(n.Description),
		"descriptionI18n": wireI18n(n.DescriptionI18n), "order": n.Order, "code": nullable(n.Code),
		"leaderUserId": nullable(n.LeaderUserID), "createdAt": wireTime(n.CreatedAt),
		"updatedAt": wireTime(n.UpdatedAt), "members": members,
	})
	b.Write(fields[:len(fields)-1])
	b.WriteString(`,"children":[`)
}

// plainUser is a user for REST answers: the GraphQL value without the
// fields that take arguments.
func (s *Server) plainUser(u orgtree.User) obj {
	o := s.userValue(orgtree.Snapshot{}, u)
	delete(o, "departments")
	return o
}

// plainNode is a node for REST answers: every field of the schema's Node
// that takes no arguments, computed.
func (s *Server) plainNode(snap orgtree.Snapshot, n orgtree.Node) (obj, error) {
	return flatten(s.nodeValue(snap, n))
}

// flatten computes the lazy fields of a node value and drops the ones that
// take arguments (members, grants), which REST answers do not carry.
func flatten(o obj) (obj, error) {
	delete(o, "users")
	delete(o, "authorizedResources")
	for k, v := range o {
		if l, isLazy := v.(lazy); isLazy {
			val, err := l(nil)
			if err != nil {
				return nil, err
			}
			o[k] = val
		}
	}
	return o, nil
}

// restChildren answers GET /api/v2/orgs/children?nodeId=&depth=: the
// nodes below nodeId down to depth levels (default 1), each with its depth
// counted from nodeId.
func (s *Server) restChildren(req *http.Request) (string, any, error) {
	q := req.URL.Query()
	nodeID := q.Get("nodeId")
	depth := 1
	if d := q.Get("depth"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 {
			return "", nil, fmt.Errorf("%w: depth must be a positive integer", orgtree.ErrInvalidArgument)
		}
		depth = n
	}
	snap := s.tree.Snapshot()
	base, err := snap.Depth(nodeID)
	if err != nil {
		return "", nil, err
	}
	kids, err := snap.Children(nodeID, depth)
	if err != nil {
		return "", nil, err
	}
	out := make([]any, len(kids))
	for i, k := range kids {
		o, err := s.plainNode(snap, k)
		if err != nil {
			return "", nil, err
		}
		o["depth"] = o["depth"].(int) - base
		out[i] = o
	}
	return "获取成功", out, nil
}

// restOrgPage answers GET /api/v2/orgs/pagination?page=&limit=&sortBy=.
func (s *Server) restOrgPage(req *http.Request) (string, any, error) {
	q := req.URL.Query()
	args := map[string]any{}
	for _, name := range []string{"page", "limit"} {
		if v := q.Get(name); v != "" && v != "0" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return "", nil, fmt.Errorf("%w: %s must be an integer", orgtree.ErrInvalidArgument, name)
			}
			args[name] = n
		}
	}
	if v := q.Get("sortBy"); v != "" {
		args["sortBy"] = v
	}
	v, err := s.orgs(nil, args)
	if err != nil {
		return "", nil, err
	}
	page := v.(obj)
	list := page["list"].([]any)
	for i, o := range list {
		org := o.(obj)
		plain := obj{"id": org["id"]}
		for _, k := range []string{"rootNode", "nodes"} {
			val, err := org[k].(lazy)(nil)
			if err != nil {
				return "", nil, err
			}
			plain[k] = val
		}
		if err := s.flattenNodes(plain); err != nil {
			return "", nil, err
		}
		list[i] = plain
	}
	return "获取成功", page, nil
}

// flattenNodes computes the lazy fields of the node values in an org value.
func (s *Server) flattenNodes(org obj) error {
	root, err := flatten(org["rootNode"].(obj))
	if err != nil {
		return err
	}
	org["rootNode"] = root
	for _, n := range org["nodes"].([]any) {
		if _, err := flatten(n.(obj)); err != nil {
			return err
		}
	}
	return nil
}

// importBody is the body of POST /api/v2/orgs/import.
type importBody struct {
	FileType string `json:"filetype"`
	File     any    `json:"file"`
}

// restImport answers POST /api/v2/orgs/import with {filetype: "json",
// file}: file is the nested document as a JSON string (what the SDKs send)
// or inline JSON.
func (s *Server) restImport(req *http.Request) (string, any, error) {
	var body importBody
	if err := decodeJSON(req.Body, &body); err != nil {
		return "", nil, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	if ft := strings.ToLower(body.FileType); ft != "" && ft != "json" {
		return "", nil, fmt.Errorf("%w: filetype %q: orgtree imports json", errBadRequest, body.FileType)
	}
	var doc []byte
	switch f := body.File.(type) {
	case string:
		doc = []byte(f)
	case nil:
		return "", nil, fmt.Errorf("%w: no file in the request", errBadRequest)
	default:
		var err error
		if doc, err = json.Marshal(f); err != nil {
			return "", nil, fmt.Errorf("%w: file: %v", errBadRequest, err)
		}
	}
	orgs, err := s.tree.ImportJSON(bytes.NewReader(doc), orgtree.ImportOptions{})
	if err != nil {
		return "", nil, err
	}
	ids := make([]string, len(orgs))
	for i, o := range orgs {
		ids[i] = o.ID
	}
	return "导入成功", map[string]any{"orgIds": ids}, nil
}

// restUser answers GET /api/v2/users/{id}.
func (s *Server) restUser(req *http.Request) (string, any, error) {
	snap := s.tree.Snapshot()
	u, err := snap.User(req.PathValue("id"))
	if err != nil {
		return "", nil, err
	}
	return "获取成功", s.plainUser(u), nil
}

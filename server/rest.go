package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
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
	s.mux.HandleFunc("GET /api/v2/orgs/count", s.rest(s.restOrgCount))
	s.mux.HandleFunc("GET /api/v2/orgs", s.rest(s.restOrgList))
	s.mux.HandleFunc("GET /api/v2/orgs/by-tenant", s.rest(s.restOrgsByTenant))
	s.mux.HandleFunc("GET /api/v2/.well-known", s.wellKnown)
	s.graphiqlRoutes()
	s.webuiRoutes()
	for _, path := range []string{"/connections/enterprise/dingtalk/start-sync", "/connections/enterprise/wechatwork/start-sync", "/api/v2/ad/sync"} {
		s.mux.HandleFunc("POST "+path, s.rest(s.restStartSync))
	}
	s.mux.HandleFunc("POST /api/v2/orgs/import", s.rest(s.restImport))
	s.mux.HandleFunc("GET /api/v2/users/{id}", s.rest(s.restUser))
	s.mux.HandleFunc("GET /api/v2/users/{id}/orgs", s.rest(s.restUserOrgs))
	s.mux.HandleFunc("GET "+eventsPath, s.serveEvents) // events.go
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
		release, err := s.admit(req.Context())
		if err != nil {
			s.writeBusy(w, mediaJSON, map[string]any{"code": 503, "message": message(err), "data": nil})
			return
		}
		defer release()
		msg, data, err := fn(req)
		var answer []byte
		if err == nil {
			answer, err = s.restAnswer(msg, data)
		}
		if err != nil {
			code, text := codeOf(err)
			s.logFailure("rest endpoint failed", req, code, err)
			if errors.Is(err, orgtree.ErrUnavailable) {
				writeUnavailable(w, mediaJSON, map[string]any{"code": code, "message": text, "data": nil})
				return
			}
			// Errors travel in the envelope with status 200, as the
			// service answers them (see writeGraphQLError).
			writeREST(w, http.StatusOK, code, text, nil)
			return
		}
		w.Header().Set("Content-Type", string(mediaJSON)+"; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(answer)
	}
}

// restAnswer encodes a REST answer in the service's envelope, refused when
// over MaxAnswerBytes: the last check on every endpoint, whether or not it
// could tell earlier.
func (s *Server) restAnswer(msg string, data any) ([]byte, error) {
	b, err := json.Marshal(map[string]any{"code": 200, "message": msg, "data": data})
	if err != nil {
		return nil, fmt.Errorf("%w: answer not encodable: %v", errInternal, err)
	}
	if len(b) > s.cfg.MaxAnswerBytes {
		return nil, s.tooLarge("ask for less (one org, fewer levels, smaller pages)")
	}
	return append(b, '\n'), nil
}

// askExport is how to ask for less than a whole export.
const askExport = "export one org at a time (GET /api/v2/orgs/export?org_id=ID), " +
	"or walk the tree a level at a time (GET /api/v2/orgs/children?nodeId=ID)"

// exportOrgs answers GET /api/v2/orgs/export: every org as an array, or
// the org named by org_id as one object (what the Go SDK decodes).
// Orgs are exported one at a time, each written as JSON as it is read, so
// an export holds one org's copy and the answer so far, and is refused as
// soon as its node count, or then its size, passes MaxAnswerBytes.
func (s *Server) exportOrgs(req *http.Request) (string, any, error) {
	snap := s.tree.Snapshot()
	b := s.newAnswerBuffer(askExport)
	if orgID := req.URL.Query().Get("org_id"); orgID != "" {
		org, err := snap.Org(orgID)
		if err != nil {
			return "", nil, err
		}
		b.ask = "walk the org a level at a time (GET /api/v2/orgs/children?nodeId=" + org.RootID + ")"
		if err := s.exportOrg(req.Context(), b, snap, org); err != nil {
			return "", nil, err
		}
		return "导出数据成功", json.RawMessage(b.Bytes()), nil
	}
	if n := snap.Stats().Nodes; n > s.cfg.MaxAnswerBytes/minExportNode() {
		return "", nil, s.tooLarge(fmt.Sprintf("the tree's %d nodes take at least %d bytes; %s", n, n*minExportNode(), askExport))
	}
	b.WriteByte('[')
	for i, org := range snap.Orgs() {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := s.exportOrg(req.Context(), b, snap, org); err != nil {
			return "", nil, err
		}
	}
	b.WriteByte(']')
	return "导出数据成功", json.RawMessage(b.Bytes()), nil
}

// exportOrg appends one org's export document to b: refused before the
// org is copied when its node count alone passes the cap, stopped when
// the request ends.
func (s *Server) exportOrg(ctx context.Context, b *answerBuffer, snap orgtree.Snapshot, org orgtree.Org) error {
	room := (b.max - b.Len()) / minExportNode()
	if n, err := countNodes(snap, org.RootID, math.MaxInt, true, room); err != nil {
		return err
	} else if n > room {
		return s.tooLarge(fmt.Sprintf("org %s has more than %d nodes, which take at least %d bytes; %s", org.ID, room, n*minExportNode(), b.ask))
	}
	t, err := snap.ExportOrgContext(ctx, org.ID, orgtree.ExportOptions{OmitPaths: true})
	if err != nil {
		return s.stopped(ctx, err)
	}
	return s.exportDoc(ctx, b, snap, t)
}

// stopped turns an engine error that wraps the request context's end into
// the request's own (errTimeout: code 503, saying why).
func (s *Server) stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return contextError(ctx, s.cfg.RequestTimeout)
	}
	return err
}

// exportDoc appends a nested org in the service's export shape to b. The
// walk is iterative: exports of very deep trees must not grow the stack.
// It stops when ctx ends (the client left, or the deadline passed) or b
// outgrows its cap.
func (s *Server) exportDoc(ctx context.Context, b *answerBuffer, snap orgtree.Snapshot, root *orgtree.TreeNode) error {
	type frame struct {
		n    *orgtree.TreeNode
		next int // index of the next child to write
	}
	orgID := root.OrgID
	stack := []frame{{n: root}}
	steps := 0
	if err := s.openExportNode(&b.Buffer, snap, root, orgID); err != nil {
		return err
	}
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
		if steps++; steps%ctxCheckEvery == 0 && ctx.Err() != nil {
			return contextError(ctx, s.cfg.RequestTimeout)
		}
		if err := s.openExportNode(&b.Buffer, snap, child, orgID); err != nil {
			return err
		}
		if b.over() {
			return s.tooLarge(b.ask)
		}
		stack = append(stack, frame{n: child})
	}
	if b.over() {
		return s.tooLarge(b.ask)
	}
	return nil
}

// exportNode is a node of the service's export document, without its
// children (written after it by exportDoc).
type exportNode struct {
	ID              string `json:"id"`
	OrgID           string `json:"orgId"`
	TenantID        string `json:"tenantId,omitempty"` // the root's, when its org has one
	UserPoolID      string `json:"userPoolId"`
	Name            string `json:"name"`
	NameI18n        any    `json:"nameI18n"`
	Description     any    `json:"description"`
	DescriptionI18n any    `json:"descriptionI18n"`
	Order           int    `json:"order"`
	Code            any    `json:"code"`
	LeaderUserID    any    `json:"leaderUserId"`
	CreatedAt       any    `json:"createdAt"`
	UpdatedAt       any    `json:"updatedAt"`
	Members         []any  `json:"members"`
}

// openExportNode writes a node's fields up to the opening of its children
// array.
func (s *Server) openExportNode(b *bytes.Buffer, snap orgtree.Snapshot, n *orgtree.TreeNode, orgID string) error {
	members := make([]any, len(n.Members))
	for i, u := range n.Members {
		var err error
		if members[i], err = s.plain(s.userValue(snap, u), "User"); err != nil {
			return err
		}
	}
	fields, err := json.Marshal(exportNode{
		ID: n.ID, OrgID: orgID, TenantID: n.TenantID, UserPoolID: s.cfg.UserPoolID, Name: n.Name,
		NameI18n: wireI18n(n.NameI18n), Description: nullable(n.Description),
		DescriptionI18n: wireI18n(n.DescriptionI18n), Order: n.Order, Code: nullable(n.Code),
		LeaderUserID: nullable(n.LeaderUserID), CreatedAt: wireTime(n.CreatedAt),
		UpdatedAt: wireTime(n.UpdatedAt), Members: members,
	})
	if err != nil {
		return err
	}
	b.Write(fields[:len(fields)-1])
	b.WriteString(`,"children":[`)
	return nil
}

// plain turns a value of schema type typeName into a REST answer: lazy
// fields without arguments are computed, fields that take arguments
// (members, grants, departments) are left out, the same down nested objects
// and lists. Values are never deeper than the schema's types.
func (s *Server) plain(v any, typeName string) (any, error) {
	switch x := v.(type) {
	case iter.Seq[any]:
		list := []any{}
		for item := range x {
			list = append(list, item)
		}
		return s.plain(list, typeName)
	case []any:
		for i, item := range x {
			var err error
			if x[i], err = s.plain(item, typeName); err != nil {
				return nil, err
			}
		}
		return x, nil
	case obj:
		def := s.schema.Types[typeName]
		for k, val := range x {
			field := def.Fields.ForName(k)
			if field == nil {
				continue
			}
			if len(field.Arguments) > 0 {
				delete(x, k)
				continue
			}
			if l, isLazy := val.(lazy); isLazy {
				var err error
				if val, err = l(nil); err != nil {
					return nil, err
				}
			}
			val, err := s.plain(val, field.Type.Name())
			if err != nil {
				return nil, err
			}
			x[k] = val
		}
		return x, nil
	}
	return v, nil
}

// restChildren answers GET /api/v2/orgs/children?nodeId=&depth=: the
// nodes below nodeId down to depth levels (default 1), each with its depth
// counted from nodeId.
func (s *Server) restChildren(req *http.Request) (string, any, error) {
	q := req.URL.Query()
	nodeID := q.Get("nodeId")
	if nodeID == "" {
		return "", nil, fmt.Errorf("%w: nodeId is required: GET /api/v2/orgs/children?nodeId=ID[&depth=N]", errBadRequest)
	}
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
	ask := "ask for fewer levels (depth), or list a level at a time, each child's children with its own nodeId"
	room := s.cfg.MaxAnswerBytes / minRESTNode()
	if n, err := countNodes(snap, nodeID, depth, false, room); err != nil {
		return "", nil, err
	} else if n > room {
		return "", nil, s.tooLarge(fmt.Sprintf("the %d levels below %s hold more than %d nodes, which take at least %d bytes; %s", depth, nodeID, room, n*minRESTNode(), ask))
	}
	ctx := req.Context()
	kids, err := snap.ChildrenContext(ctx, nodeID, depth)
	if err != nil {
		return "", nil, s.stopped(ctx, err)
	}
	b := s.newAnswerBuffer(ask)
	b.WriteByte('[')
	for i, k := range kids {
		if i%ctxCheckEvery == 0 && ctx.Err() != nil {
			return "", nil, contextError(ctx, s.cfg.RequestTimeout)
		}
		v, err := s.plain(s.nodeValue(snap, k), "Node")
		if err != nil {
			return "", nil, err
		}
		o := v.(obj)
		o["depth"] = o["depth"].(int) - base
		if i > 0 {
			b.WriteByte(',')
		}
		if err := s.appendJSON(b, o); err != nil {
			return "", nil, err
		}
	}
	b.WriteByte(']')
	return "获取成功", json.RawMessage(b.Bytes()), nil
}

// restOrgPage answers GET /api/v2/orgs/pagination?page=&limit=&sortBy=.
func (s *Server) restOrgPage(req *http.Request) (string, any, error) {
	args, err := pagingQuery(req)
	if err != nil {
		return "", nil, err
	}
	v, err := s.orgs(args)
	if err != nil {
		return "", nil, err
	}
	page, err := s.plain(v, "PaginatedOrgs")
	if err != nil {
		return "", nil, err
	}
	return "获取成功", page, nil
}

// pagingQuery reads page, limit and sortBy from a query string into
// GraphQL-style arguments (absent or 0: the defaults).
func pagingQuery(req *http.Request) (map[string]any, error) {
	q := req.URL.Query()
	args := map[string]any{}
	for _, name := range []string{"page", "limit"} {
		if v := q.Get(name); v != "" && v != "0" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("%w: %s must be an integer", orgtree.ErrInvalidArgument, name)
			}
			args[name] = n
		}
	}
	if v := q.Get("sortBy"); v != "" {
		args["sortBy"] = v
	}
	return args, nil
}

// restOrgCount answers GET /api/v2/orgs/count with {count}, the first call
// of the JS SDK's getAllOrgs.
func (s *Server) restOrgCount(*http.Request) (string, any, error) {
	return "获取成功", map[string]any{"count": len(s.tree.Snapshot().Orgs())}, nil
}

// restOrgList answers GET /api/v2/orgs?page=&limit=&sortBy= (the second
// call of getAllOrgs) with an array of orgs: id, tenantId, userPoolId,
// createdAt, updatedAt and rootNode (a Node), without the full node list
// that the GraphQL orgs query can select. Order and defaults are those of
// the orgs query (newest first, 10 a page).
func (s *Server) restOrgList(req *http.Request) (string, any, error) {
	args, err := pagingQuery(req)
	if err != nil {
		return "", nil, err
	}
	page, limit, sortBy, err := paging(args)
	if err != nil {
		return "", nil, err
	}
	snap := s.tree.Snapshot()
	ids, _, err := pageOrgs(snap, page, limit, sortBy)
	if err != nil {
		return "", nil, err
	}
	list := make([]any, 0, len(ids))
	for _, id := range ids {
		org, err := snap.Org(id)
		if err != nil {
			return "", nil, err
		}
		v, err := s.orgValue(snap, id)
		if err != nil {
			return "", nil, err
		}
		delete(v, "nodes")
		item, err := s.plain(v, "Org")
		if err != nil {
			return "", nil, err
		}
		o := item.(obj)
		o["userPoolId"] = s.cfg.UserPoolID
		o["createdAt"] = wireTime(org.CreatedAt)
		o["updatedAt"] = wireTime(org.UpdatedAt)
		list = append(list, o)
	}
	return "获取成功", list, nil
}

// restOrgsByTenant answers GET /api/v2/orgs/by-tenant?tenant_id= with the
// tenant's orgs, oldest first, each as its nested export document (the
// shape of GET /api/v2/orgs/export?org_id=), as the service does. An
// unknown tenant has no orgs: an empty array.
func (s *Server) restOrgsByTenant(req *http.Request) (string, any, error) {
	tenant := req.URL.Query().Get("tenant_id")
	if tenant == "" {
		return "", nil, fmt.Errorf("%w: tenant_id is required", orgtree.ErrInvalidArgument)
	}
	snap := s.tree.Snapshot()
	b := s.newAnswerBuffer(askExport)
	b.WriteByte('[')
	for i, org := range snap.OrgsByTenant(tenant) {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := s.exportOrg(req.Context(), b, snap, org); err != nil {
			return "", nil, err
		}
	}
	b.WriteByte(']')
	return "获取成功", json.RawMessage(b.Bytes()), nil
}

// startSyncMessage is the answer to the JS SDK's startSync.
const startSyncMessage = "orgtree holds no connections to DingTalk, WeCom or AD, so it cannot start a sync: " +
	"sync offline from the provider's department and user files with " +
	"`orgtree sync --provider dingtalk|wecom|lark --departments departments.json --users users.json` " +
	"(or, in Go, the reconcile package: Plan, then Apply)"

// restStartSync answers the JS SDK's startSync (POST
// /connections/enterprise/{dingtalk,wechatwork}/start-sync, POST
// /api/v2/ad/sync) with code 501 and the way to sync offline, which the SDK
// throws as its error.
func (s *Server) restStartSync(*http.Request) (string, any, error) {
	return "", nil, fmt.Errorf("%w: %s", errUnsupported, startSyncMessage)
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
	// Parsed before the transaction, so the writer lock is not held
	// while the document is read (as Tree.ImportJSON does).
	roots, _, err := orgtree.ParseTreeJSON(bytes.NewReader(doc), s.tree.Limits())
	if err != nil {
		return "", nil, err
	}
	who := actorOf(req.Context())
	var orgs []orgtree.Org
	err = s.updateAs(who.name, who.reason, func(tx *orgtree.Tx) error {
		var err error
		orgs, err = tx.Import(roots, orgtree.ImportOptions{})
		return err
	})
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
	user, err := s.plain(s.userValue(snap, u), "User")
	if err != nil {
		return "", nil, err
	}
	return "获取成功", user, nil
}

// restUserOrgs answers GET /api/v2/users/{id}/orgs (the JS SDK's
// users.listOrgs): for each node the user is a member of, in the order they
// were joined, the path to it as the service gives it: the org ({type:
// "org", id, tenantId, userPoolId, rootNodeId, createdAt, updatedAt}), then
// every node from the root down to the member's node ({type: "node", …Node
// fields}).
func (s *Server) restUserOrgs(req *http.Request) (string, any, error) {
	snap := s.tree.Snapshot()
	deps, err := snap.UserDepartments(req.PathValue("id"))
	if err != nil {
		return "", nil, err
	}
	paths := make([]any, 0, len(deps))
	for _, d := range deps {
		org, err := snap.Org(d.Node.OrgID)
		if err != nil {
			return "", nil, err
		}
		ids, err := snap.Path(d.Node.ID)
		if err != nil {
			return "", nil, err
		}
		path := make([]any, 0, len(ids)+1)
		path = append(path, obj{
			"type": "org", "id": org.ID, "tenantId": nullable(org.TenantID), "userPoolId": s.cfg.UserPoolID,
			"rootNodeId": org.RootID, "createdAt": wireTime(org.CreatedAt), "updatedAt": wireTime(org.UpdatedAt),
		})
		for _, id := range ids {
			n, err := snap.Node(id)
			if err != nil {
				return "", nil, err
			}
			v, err := s.plain(s.nodeValue(snap, n), "Node")
			if err != nil {
				return "", nil, err
			}
			item := v.(obj)
			item["type"] = "node"
			path = append(path, item)
		}
		paths = append(paths, path)
	}
	return "获取成功", paths, nil
}

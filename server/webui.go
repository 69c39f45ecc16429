package server

import (
	"embed"
	"fmt"
	"net/http"
	"strconv"

	"github.com/orgtree/orgtree"
)

// The web UI at /ui/: plain HTML, CSS and JavaScript in webui/ (no build
// step, no third-party code), embedded so that `orgtree serve` needs nothing
// else at run time. The page signs in with the user pool id and secret
// through the accessToken query, keeps the token in sessionStorage and then
// uses the same API as the SDKs: GraphQL for details, members, resources
// and every change, plus the three read endpoints below, which answer what
// a lazily opened tree needs in one request per level:
//
//	GET /api/v2/ui/children?nodeId=&offset=&limit=&ids=  the node and (a page of) its direct children, each with counts
//	GET /api/v2/ui/subtree?nodeId=&depth=&max=  a flat, parent-first slice of the subtree (org chart)
//	GET /api/v2/ui/search?orgId=&q=&limit= hits with their name and id paths (to reveal them)
//
// The page follows the event stream (GET /api/v2/events, read with fetch
// so that it can send the token, reconnecting with Last-Event-ID): a change
// made anywhere shows in the open tree, its counts and the open panel
// without a reload; a stream.reset reloads the org. Its own writes carry
// X-Orgtree-Actor: ui.
//
// The counts of a summary (children, direct and distinct subtree members)
// come from the engine's rollups: O(1) each, so a level of 1,000 children
// costs one snapshot and 1,000 map lookups. A level of more than 200
// children is windowed in the page (only the rows in view are in the
// document) and asks for a page of summaries with every child's id
// (offset, limit, ids=true): 10,000 children cost 3 ms and ~280 kB instead
// of 18 ms and 1.4 MB (BenchmarkUIChildren).

//go:embed webui
var webuiFiles embed.FS

// webuiCSP lets the page load only its own files and talk only to this
// server: no CDN, no inline script. img-src data:/blob: serves the PNG
// export.
const webuiCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) webuiRoutes() {
	// A relative Location keeps a server mounted under a prefix working
	// (http.RedirectHandler would make it absolute).
	s.mux.HandleFunc("GET /ui", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", "ui/")
		w.WriteHeader(http.StatusMovedPermanently)
	})
	s.mux.HandleFunc("GET /ui/", assets(webuiFiles, "webui", "/ui/", webuiCSP, true))
	s.mux.HandleFunc("GET /api/v2/ui/children", s.rest(s.uiChildren))
	s.mux.HandleFunc("GET /api/v2/ui/subtree", s.rest(s.uiSubtree))
	s.mux.HandleFunc("GET /api/v2/ui/search", s.rest(s.uiSearch))
}

// uiNode is the summary of a node the tree and the chart show.
type uiNode struct {
	ID       string `json:"id"`
	ParentID string `json:"parentId,omitempty"`
	Name     string `json:"name"`
	Code     string `json:"code,omitempty"`
	Leader   string `json:"leader,omitempty"` // the leader's display name, or id
	Children int    `json:"childCount"`
	Members  int    `json:"memberCount"`  // direct members
	Subtree  int    `json:"subtreeCount"` // distinct members of the subtree
}

func uiSummary(snap orgtree.Snapshot, n orgtree.Node) (uiNode, error) {
	kids, err := snap.ChildIDs(n.ID)
	if err != nil {
		return uiNode{}, err
	}
	direct, err := snap.MemberCount(n.ID, false)
	if err != nil {
		return uiNode{}, err
	}
	all, err := snap.MemberCount(n.ID, true)
	if err != nil {
		return uiNode{}, err
	}
	out := uiNode{ID: n.ID, ParentID: n.ParentID, Name: n.Name, Code: n.Code, Children: len(kids), Members: direct, Subtree: all}
	if n.LeaderUserID != "" {
		out.Leader = n.LeaderUserID
		if u, err := snap.User(n.LeaderUserID); err == nil {
			out.Leader = userLabel(u)
		}
	}
	return out, nil
}

// userLabel is the name a person is shown by: name, username, email, phone
// or, failing all, the id.
func userLabel(u orgtree.User) string {
	for _, s := range []string{u.Name, u.Username, u.Email, u.Phone} {
		if s != "" {
			return s
		}
	}
	return u.ID
}

// uiChildren answers GET /api/v2/ui/children?nodeId=&offset=&limit=&ids=:
// {node, total, offset, children[, ids]}, summaries in the engine's child
// order. Without limit every child comes; with it, the children
// [offset, offset+limit) (limit at most 5,000), and ids=true adds the ids
// of all the children. That is what a windowed level of 10,000 needs: every
// id (keyboard moves and reveal go by them, ~10 bytes each) but summaries
// only for the rows in view, one snapshot for both, so they agree.
func (s *Server) uiChildren(req *http.Request) (string, any, error) {
	q := req.URL.Query()
	offset := 0
	if v := q.Get("offset"); v != "" {
		var err error
		if offset, err = strconv.Atoi(v); err != nil || offset < 0 {
			return "", nil, fmt.Errorf("%w: offset must be a non-negative integer", orgtree.ErrInvalidArgument)
		}
	}
	limit, err := intParam(req, "limit", 0, 5000)
	if err != nil {
		return "", nil, err
	}
	withIDs := q.Get("ids") == "true" || q.Get("ids") == "1"
	snap := s.tree.Snapshot()
	n, err := snap.Node(q.Get("nodeId"))
	if err != nil {
		return "", nil, err
	}
	self, err := uiSummary(snap, n)
	if err != nil {
		return "", nil, err
	}
	ids, err := snap.ChildIDs(n.ID)
	if err != nil {
		return "", nil, err
	}
	page := ids
	switch {
	case offset >= len(ids):
		page = nil
	case limit > 0:
		page = ids[offset:min(len(ids), offset+limit)]
	default:
		page = ids[offset:]
	}
	out := make([]uiNode, len(page))
	for i, id := range page {
		k, err := snap.Node(id)
		if err != nil {
			return "", nil, err
		}
		if out[i], err = uiSummary(snap, k); err != nil {
			return "", nil, err
		}
	}
	answer := map[string]any{"node": self, "total": len(ids), "offset": offset, "children": out}
	if withIDs {
		answer["ids"] = ids
	}
	return "获取成功", answer, nil
}

// intParam reads a positive integer query parameter, def when absent.
func intParam(req *http.Request, name string, def, limit int) (int, error) {
	v := req.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%w: %s must be a positive integer", orgtree.ErrInvalidArgument, name)
	}
	return min(n, limit), nil
}

// uiSubtree answers GET /api/v2/ui/subtree?nodeId=&depth=&max=: the node
// and its descendants down to depth levels (default 3), breadth first, at
// most max nodes (default 500, at most 5,000), with truncated set when
// nodes were left out. The walk is breadth first so a cut keeps whole
// upper levels, which is what a chart can show.
func (s *Server) uiSubtree(req *http.Request) (string, any, error) {
	depth, err := intParam(req, "depth", 3, 64)
	if err != nil {
		return "", nil, err
	}
	maxNodes, err := intParam(req, "max", 500, 5000)
	if err != nil {
		return "", nil, err
	}
	snap := s.tree.Snapshot()
	n, err := snap.Node(req.URL.Query().Get("nodeId"))
	if err != nil {
		return "", nil, err
	}
	root, err := uiSummary(snap, n)
	if err != nil {
		return "", nil, err
	}
	nodes := []uiNode{root}
	truncated := false
	level := []string{n.ID}
	for d := 0; d < depth && len(level) > 0 && !truncated; d++ {
		var next []string
		for _, id := range level {
			kids, err := snap.Children(id, 1)
			if err != nil {
				return "", nil, err
			}
			for _, k := range kids {
				if len(nodes) >= maxNodes {
					truncated = true
					break
				}
				sum, err := uiSummary(snap, k)
				if err != nil {
					return "", nil, err
				}
				nodes = append(nodes, sum)
				next = append(next, k.ID)
			}
			if truncated {
				break
			}
		}
		level = next
	}
	return "获取成功", map[string]any{"nodes": nodes, "truncated": truncated}, nil
}

// uiSearchHit is one search result: the node's summary, its name path and
// its id path (root first), which the tree opens to reveal it.
type uiSearchHit struct {
	uiNode
	NamePath []string `json:"namePath"`
	Path     []string `json:"path"`
}

// uiSearch answers GET /api/v2/ui/search?orgId=&q=&limit=: the engine's
// ranked search in one org, at most limit hits (default 20, at most 200).
func (s *Server) uiSearch(req *http.Request) (string, any, error) {
	limit, err := intParam(req, "limit", 20, 200)
	if err != nil {
		return "", nil, err
	}
	q := req.URL.Query()
	orgID := q.Get("orgId")
	snap := s.tree.Snapshot()
	if _, err := snap.Org(orgID); err != nil {
		return "", nil, err
	}
	out := []uiSearchHit{}
	if q.Get("q") == "" {
		return "获取成功", out, nil
	}
	hits, err := snap.Search(q.Get("q"), orgtree.SearchOptions{OrgID: orgID, Limit: limit})
	if err != nil {
		return "", nil, err
	}
	for _, h := range hits {
		sum, err := uiSummary(snap, h.Node)
		if err != nil {
			return "", nil, err
		}
		path, err := snap.Path(h.Node.ID)
		if err != nil {
			return "", nil, err
		}
		out = append(out, uiSearchHit{uiNode: sum, NamePath: h.NamePath, Path: path})
	}
	return "获取成功", out, nil
}

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"math"
	"time"

	"github.com/orgtree/orgtree"
)

// Wire values: how engine records look in the service's JSON. Shared by the
// GraphQL resolvers and the REST endpoints so both speak the same shapes.

// timeLayout is the service's timestamp format (ISO 8601, UTC, milliseconds).
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func wireTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

// nullable returns nil for "", as the service answers unset strings.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// wireI18n encodes a locale → text map as the service does: a JSON string
// holding an object, or null.
func wireI18n(m map[string]string) any {
	if len(m) == 0 {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return string(b)
}

// parseI18n decodes an i18n argument: null, or a JSON string holding a
// locale → text object.
func parseI18n(v any, field string) (map[string]string, error) {
	s, ok := v.(string)
	if v == nil || (ok && s == "") {
		return nil, nil
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s must be a string holding a JSON object", orgtree.ErrInvalidArgument, field)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("%w: %s must hold a JSON object of locale → text: %v", orgtree.ErrInvalidArgument, field, err)
	}
	return m, nil
}

// nodeValue is a node as the schema's Node type: plain fields ready, the
// ones that cost a walk (paths, children, members, grants) lazy.
func (s *Server) nodeValue(snap orgtree.Snapshot, n orgtree.Node) obj {
	id := n.ID
	o := obj{
		"id":              id,
		"orgId":           n.OrgID,
		"name":            n.Name,
		"nameI18n":        wireI18n(n.NameI18n),
		"description":     nullable(n.Description),
		"descriptionI18n": wireI18n(n.DescriptionI18n),
		"order":           n.Order,
		"code":            nullable(n.Code),
		"root":            n.IsRoot(),
		"isVirtualNode":   false,
		"createdAt":       wireTime(n.CreatedAt),
		"updatedAt":       wireTime(n.UpdatedAt),
		"depth":           lazy(func(map[string]any) (any, error) { return snap.Depth(id) }),
		"path":            lazy(func(map[string]any) (any, error) { return snap.Path(id) }),
		"namePath":        lazy(func(map[string]any) (any, error) { return snap.NamePath(id) }),
		"children":        lazy(func(map[string]any) (any, error) { return snap.ChildIDs(id) }),
		"codePath": lazy(func(map[string]any) (any, error) {
			codes, err := snap.CodePath(id)
			if err != nil {
				return nil, err
			}
			out := make([]any, len(codes))
			for i, c := range codes {
				out[i] = nullable(c)
			}
			return out, nil
		}),
		"users": lazyCtx(func(ctx context.Context, args map[string]any) (any, error) {
			return s.members(ctx, snap, id, args)
		}),
		"authorizedResources": lazy(func(args map[string]any) (any, error) {
			list, err := snap.AuthorizedResources(id, orgtree.ResourceFilter{
				Namespace: optString(args, "namespace"), Type: orgtree.ResourceType(optString(args, "resourceType")),
			})
			if err != nil {
				return nil, err
			}
			return resourcesValue(list), nil
		}),
	}
	return o
}

// members answers Node.users(page, limit, sortBy, includeChildrenNodes).
func (s *Server) members(ctx context.Context, snap orgtree.Snapshot, nodeID string, args map[string]any) (any, error) {
	page, limit, sortBy, err := paging(args)
	if err != nil {
		return nil, err
	}
	include, _ := args["includeChildrenNodes"].(bool)
	if args["includeChildrenNodes"] == nil {
		include = true // the schema's default, also when sent as null
	}
	mp, err := snap.ListMembersContext(ctx, nodeID, orgtree.ListMembersOptions{
		IncludeDescendants: include, Page: page, Limit: limit, SortBy: sortBy,
	})
	if err != nil {
		return nil, err
	}
	list := make([]any, len(mp.List))
	for i, u := range mp.List {
		list[i] = s.userValue(snap, u)
	}
	return obj{"totalCount": mp.TotalCount, "list": list}, nil
}

func resourcesValue(list orgtree.ResourceList) obj {
	items := make([]any, len(list.List))
	for i, r := range list.List {
		actions := r.Actions
		if actions == nil {
			actions = []string{}
		}
		items[i] = obj{"code": r.Code, "type": nullable(string(r.Type)), "actions": actions, "namespace": r.Namespace}
	}
	return obj{"totalCount": list.TotalCount, "list": items}
}

// userValue is a user as the schema's User type. Profile fields orgtree
// does not keep answer null; flags answer their neutral value.
func (s *Server) userValue(snap orgtree.Snapshot, u orgtree.User) obj {
	id := u.ID
	return obj{
		"id":             id,
		"arn":            "arn:cn:authing:" + s.cfg.UserPoolID + ":user:" + id,
		"userPoolId":     s.cfg.UserPoolID,
		"status":         "Activated",
		"username":       nullable(u.Username),
		"email":          nullable(u.Email),
		"phone":          nullable(u.Phone),
		"name":           nullable(u.Name),
		"externalId":     nullable(u.ExternalID),
		"emailVerified":  false,
		"phoneVerified":  false,
		"blocked":        false,
		"isDeleted":      false,
		"loginsCount":    0,
		"registerSource": []string{"import:manual"},
		"createdAt":      wireTime(u.CreatedAt),
		"updatedAt":      wireTime(u.UpdatedAt),
		"departments": lazy(func(args map[string]any) (any, error) {
			deps, err := snap.UserDepartments(id)
			if err != nil {
				return nil, err
			}
			orgID := optString(args, "orgId")
			list := []any{}
			for _, d := range deps {
				if orgID != "" && d.Node.OrgID != orgID {
					continue
				}
				list = append(list, obj{
					"department":       s.nodeValue(snap, d.Node),
					"isMainDepartment": d.IsMain,
					"joinedAt":         wireTime(d.JoinedAt),
				})
			}
			return obj{"totalCount": len(list), "list": list}, nil
		}),
	}
}

// orgValue is an org as the schema's Org type: its root node and every node
// of its tree (root first, then pre-order).
func (s *Server) orgValue(snap orgtree.Snapshot, orgID string) (obj, error) {
	org, err := snap.Org(orgID)
	if err != nil {
		return nil, err
	}
	rootID := org.RootID
	return obj{
		"id":       org.ID,
		"tenantId": nullable(org.TenantID),
		"rootNode": lazy(func(map[string]any) (any, error) {
			n, err := snap.Node(rootID)
			if err != nil {
				return nil, err
			}
			return s.nodeValue(snap, n), nil
		}),
		"nodes": lazy(func(map[string]any) (any, error) {
			root, err := snap.Node(rootID)
			if err != nil {
				return nil, err
			}
			below, err := snap.Descendants(rootID)
			if err != nil {
				return nil, err
			}
			return s.nodeSeq(snap, func(yield func(orgtree.Node) bool) {
				if yield(root) {
					below(yield)
				}
			}), nil
		}),
	}, nil
}

// nodeSeq is a list of nodes whose values are made as the list is
// completed: a listing of a large org never holds every node's value at
// once, and stops walking when execution stops.
func (s *Server) nodeSeq(snap orgtree.Snapshot, nodes iter.Seq[orgtree.Node]) iter.Seq[any] {
	return func(yield func(any) bool) {
		for n := range nodes {
			if !yield(s.nodeValue(snap, n)) {
				return
			}
		}
	}
}

// paging reads the page, limit and sortBy arguments of a listing (defaults
// 1, 10 and CREATEDAT_DESC, the schema's).
func paging(args map[string]any) (page, limit int, sortBy orgtree.SortBy, err error) {
	if page, err = optInt(args, "page", 1); err != nil {
		return
	}
	if limit, err = optInt(args, "limit", 10); err != nil {
		return
	}
	sortBy, err = parseSortBy(args["sortBy"])
	return
}

// parseSortBy maps SortByEnum names to the engine's orders.
func parseSortBy(v any) (orgtree.SortBy, error) {
	name, _ := v.(string)
	if name == "" {
		return orgtree.SortCreatedAtDesc, nil
	}
	return orgtree.ParseSortBy(name)
}

func optString(args map[string]any, name string) string {
	s, _ := args[name].(string)
	return s
}

// optInt reads an Int argument (absent or null: def).
func optInt(args map[string]any, name string, def int) (int, error) {
	switch x := args[name].(type) {
	case nil:
		return def, nil
	case int:
		return x, nil
	case int64:
		if x < math.MinInt32 || x > math.MaxInt32 {
			return 0, fmt.Errorf("%w: %s out of range", orgtree.ErrInvalidArgument, name)
		}
		return int(x), nil
	case float64:
		if x != math.Trunc(x) || x < math.MinInt32 || x > math.MaxInt32 {
			return 0, fmt.Errorf("%w: %s must be an integer", orgtree.ErrInvalidArgument, name)
		}
		return int(x), nil
	case json.Number:
		n, err := x.Int64()
		if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
			return 0, fmt.Errorf("%w: %s must be an integer", orgtree.ErrInvalidArgument, name)
		}
		return int(n), nil
	}
	return 0, fmt.Errorf("%w: %s must be an integer", orgtree.ErrInvalidArgument, name)
}

func stringList(v any, name string) ([]string, error) {
	items, ok := v.([]any)
	if !ok && v != nil {
		if ss, isStrings := v.([]string); isStrings {
			return ss, nil
		}
		return nil, fmt.Errorf("%w: %s must be a list of strings", orgtree.ErrInvalidArgument, name)
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, fmt.Errorf("%w: %s must be a list of strings", orgtree.ErrInvalidArgument, name)
		}
		out = append(out, s)
	}
	return out, nil
}

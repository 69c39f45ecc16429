package server

import (
	"context"
	"fmt"
	"iter"

	"github.com/vektah/gqlparser/v2/ast"
	"slices"
	"time"

	"github.com/orgtree/orgtree"
)

// rootResolvers returns the Query and Mutation fields orgtree serves: the
// organization module, the user calls its member operations need, and the
// token exchange. rootObject makes the other fields answer 501.
func (s *Server) rootResolvers() (queries, mutations map[string]any) {
	queries = map[string]any{
		"accessToken": lazy(s.accessToken),
		"org":         lazy(s.org),
		"orgs":        lazy(s.orgs),
		"nodeById": lazy(func(a map[string]any) (any, error) {
			return s.readNode(func(snap orgtree.Snapshot) (orgtree.Node, error) { return snap.Node(optString(a, "id")) })
		}),
		"nodeByCode": lazy(func(a map[string]any) (any, error) {
			return s.readNode(func(snap orgtree.Snapshot) (orgtree.Node, error) {
				return snap.NodeByCode(optString(a, "orgId"), optString(a, "code"))
			})
		}),
		"rootNode": lazy(func(a map[string]any) (any, error) {
			return s.readNode(func(snap orgtree.Snapshot) (orgtree.Node, error) { return snap.RootNode(optString(a, "orgId")) })
		}),
		"isRootNode":    lazy(s.isRootNode),
		"childrenNodes": lazyCtx(s.childrenNodes),
		"searchNodes":   lazyCtx(s.searchNodes),
		"user":          lazy(s.user),
	}
	for name, resolve := range s.introspectionResolvers() {
		queries[name] = resolve
	}
	mutations = map[string]any{
		"createOrg":         lazy(s.createOrg),
		"deleteOrg":         lazy(s.deleteOrg),
		"addNode":           lazy(s.addNode),
		"addNodeV2":         lazy(s.addNodeV2),
		"updateNode":        lazy(s.updateNode),
		"deleteNode":        lazy(s.deleteNode),
		"moveNode":          lazy(s.moveNode),
		"addMember":         lazy(s.addMember),
		"removeMember":      lazy(s.removeMember),
		"moveMembers":       lazy(s.moveMembers),
		"setMainDepartment": lazy(s.setMainDepartment),
		"createUser":        lazy(s.createUser),
	}
	return queries, mutations
}

// rootObject is the root value of one operation type: the served fields
// (each a lazy or a lazyCtx), and every other field of the schema
// answering "not supported" (code 501).
func rootObject(def *ast.Definition, served map[string]any) obj {
	root := obj{}
	for _, f := range def.Fields {
		resolve, ok := served[f.Name]
		if !ok {
			name := def.Name + "." + f.Name
			resolve = lazy(func(map[string]any) (any, error) {
				return nil, fmt.Errorf("%w: %s is part of the service schema but not served by orgtree", errUnsupported, name)
			})
		}
		root[f.Name] = resolve
	}
	return root
}

func (s *Server) accessToken(a map[string]any) (any, error) {
	token, iat, exp, err := s.IssueToken(optString(a, "userPoolId"), optString(a, "secret"))
	if err != nil {
		return nil, err
	}
	return obj{"accessToken": token, "exp": exp.Unix(), "iat": iat.Unix()}, nil
}

func ok(message string) obj { return obj{"message": message, "code": 200} }

// readNode answers a node query from one snapshot.
func (s *Server) readNode(find func(orgtree.Snapshot) (orgtree.Node, error)) (any, error) {
	snap := s.tree.Snapshot()
	n, err := find(snap)
	if err != nil {
		return nil, err
	}
	return s.nodeValue(snap, n), nil
}

// nodeAfter answers a mutation with the node as committed.
func (s *Server) nodeAfter(id string) (any, error) {
	return s.readNode(func(snap orgtree.Snapshot) (orgtree.Node, error) { return snap.Node(id) })
}

func (s *Server) org(a map[string]any) (any, error) {
	return s.orgValue(s.tree.Snapshot(), optString(a, "id"))
}

func (s *Server) orgs(a map[string]any) (any, error) {
	page, limit, sortBy, err := paging(a)
	if err != nil {
		return nil, err
	}
	snap := s.tree.Snapshot()
	ids, total, err := pageOrgs(snap, page, limit, sortBy)
	if err != nil {
		return nil, err
	}
	list := make([]any, 0, len(ids))
	for _, id := range ids {
		o, err := s.orgValue(snap, id)
		if err != nil {
			return nil, err
		}
		list = append(list, o)
	}
	return obj{"totalCount": total, "list": list}, nil
}

// pageOrgs pages the orgs in the requested order. The engine lists orgs
// oldest first; the other orders are applied here (orgs are few).
func pageOrgs(snap orgtree.Snapshot, page, limit int, sortBy orgtree.SortBy) ([]string, int, error) {
	if page < 1 || limit < 1 {
		return nil, 0, fmt.Errorf("%w: page and limit must be positive", orgtree.ErrInvalidArgument)
	}
	all := snap.Orgs()
	key := func(o orgtree.Org) time.Time { return o.CreatedAt }
	if sortBy == orgtree.SortUpdatedAtAsc || sortBy == orgtree.SortUpdatedAtDesc {
		key = func(o orgtree.Org) time.Time { return o.UpdatedAt }
	}
	desc := sortBy == orgtree.SortCreatedAtDesc || sortBy == orgtree.SortUpdatedAtDesc
	slices.SortStableFunc(all, func(x, y orgtree.Org) int {
		c := key(x).Compare(key(y))
		if desc {
			c = -c
		}
		return c
	})
	start := min((page-1)*limit, len(all))
	end := min(start+limit, len(all))
	ids := make([]string, 0, end-start)
	for _, o := range all[start:end] {
		ids = append(ids, o.ID)
	}
	return ids, len(all), nil
}

// nodeInOrg loads a node and checks that it belongs to orgID, which the
// service's org-scoped calls name alongside the node.
func nodeInOrg(snap orgtree.Snapshot, orgID, nodeID string) (orgtree.Node, error) {
	n, err := snap.Node(nodeID)
	if err != nil {
		return n, err
	}
	if orgID != "" && n.OrgID != orgID {
		if _, err := snap.Org(orgID); err != nil {
			return n, err
		}
		return n, fmt.Errorf("%w: node %q is not in org %q", orgtree.ErrNotFound, nodeID, orgID)
	}
	return n, nil
}

func (s *Server) isRootNode(a map[string]any) (any, error) {
	n, err := nodeInOrg(s.tree.Snapshot(), optString(a, "orgId"), optString(a, "nodeId"))
	if err != nil {
		return nil, err
	}
	return n.IsRoot(), nil
}

func (s *Server) childrenNodes(ctx context.Context, a map[string]any) (any, error) {
	snap := s.tree.Snapshot()
	if _, err := nodeInOrg(snap, optString(a, "orgId"), optString(a, "nodeId")); err != nil {
		return nil, err
	}
	kids, err := snap.ChildrenContext(ctx, optString(a, "nodeId"), 1)
	if err != nil {
		return nil, err
	}
	return s.nodeSeq(snap, slices.Values(kids)), nil
}

func (s *Server) searchNodes(ctx context.Context, a map[string]any) (any, error) {
	snap := s.tree.Snapshot()
	hits, err := snap.SearchContext(ctx, optString(a, "keyword"), orgtree.SearchOptions{})
	if err != nil {
		return nil, err
	}
	// Each hit becomes a value only when it is completed, so a search with
	// many hits holds its hits, not their answers' values.
	return iter.Seq[any](func(yield func(any) bool) {
		for _, h := range hits {
			v := s.nodeValue(snap, h.Node)
			v["namePath"] = h.NamePath
			if !yield(v) {
				return
			}
		}
	}), nil
}

func (s *Server) user(a map[string]any) (any, error) {
	snap := s.tree.Snapshot()
	u, err := snap.User(optString(a, "id"))
	if err != nil {
		return nil, err
	}
	return s.userValue(snap, u), nil
}

func (s *Server) createOrg(a map[string]any) (any, error) {
	org, err := write1(s, a, func(tx *orgtree.Tx) (orgtree.Org, error) {
		return tx.CreateOrg(orgtree.OrgInput{
			Name: optString(a, "name"), Code: optString(a, "code"), Description: optString(a, "description"),
			TenantID: optString(a, "tenantId"),
		})
	})
	if err != nil {
		return nil, err
	}
	return s.orgValue(s.tree.Snapshot(), org.ID)
}

func (s *Server) deleteOrg(a map[string]any) (any, error) {
	if err := s.write(a, func(tx *orgtree.Tx) error { return tx.DeleteOrg(optString(a, "id")) }); err != nil {
		return nil, err
	}
	return ok("delete org succeed"), nil
}

// addNode answers with the whole org (the Go SDK's document), addNodeV2
// with the new node (the JS SDK's).
func (s *Server) addNode(a map[string]any) (any, error) {
	if _, err := s.insertNode(a); err != nil {
		return nil, err
	}
	return s.orgValue(s.tree.Snapshot(), optString(a, "orgId"))
}

func (s *Server) addNodeV2(a map[string]any) (any, error) {
	id, err := s.insertNode(a)
	if err != nil {
		return nil, err
	}
	return s.nodeAfter(id)
}

// insertNode adds the node the addNode arguments describe, under the org's
// root when parentNodeId is absent, and returns its id.
func (s *Server) insertNode(a map[string]any) (string, error) {
	nameI18n, err := parseI18n(a["nameI18n"], "nameI18n")
	if err != nil {
		return "", err
	}
	descI18n, err := parseI18n(a["descriptionI18n"], "descriptionI18n")
	if err != nil {
		return "", err
	}
	order, err := optInt(a, "order", 0)
	if err != nil {
		return "", err
	}
	// The schema gives order the range [0, 2^32); GraphQL's Int stops at
	// 2^31-1. The engine itself keeps any int (a sync negates the orders
	// of providers that list smaller first, and export → import must take
	// them back), so the range is the API's and checked here.
	if order < 0 {
		return "", fmt.Errorf("%w: order %d is negative: the schema's range is [0, 2^32), larger first", orgtree.ErrInvalidArgument, order)
	}
	orgID := optString(a, "orgId")
	parentID := optString(a, "parentNodeId")
	var added orgtree.Node
	err = s.write(a, func(tx *orgtree.Tx) error {
		if parentID == "" {
			root, err := tx.RootNode(orgID)
			if err != nil {
				return err
			}
			parentID = root.ID
		} else if _, err := nodeInOrg(tx.Snapshot, orgID, parentID); err != nil {
			return err
		}
		added, err = tx.AddNode(orgtree.NodeInput{
			OrgID: orgID, ParentID: parentID, Name: optString(a, "name"), NameI18n: nameI18n,
			Description: optString(a, "description"), DescriptionI18n: descI18n, Order: order, Code: optString(a, "code"),
		})
		return err
	})
	return added.ID, err
}

func (s *Server) updateNode(a map[string]any) (any, error) {
	var u orgtree.NodeUpdate
	// Only the arguments the request carries change: an argument sent as
	// null or left out keeps the field.
	if v, isSet := a["name"].(string); isSet {
		u.Name = &v
	}
	if v, isSet := a["code"].(string); isSet {
		u.Code = &v
	}
	if v, isSet := a["description"].(string); isSet {
		u.Description = &v
	}
	id := optString(a, "id")
	if _, err := write1(s, a, func(tx *orgtree.Tx) (orgtree.Node, error) { return tx.UpdateNode(id, u) }); err != nil {
		return nil, err
	}
	return s.nodeAfter(id)
}

func (s *Server) deleteNode(a map[string]any) (any, error) {
	orgID, nodeID := optString(a, "orgId"), optString(a, "nodeId")
	err := s.write(a, func(tx *orgtree.Tx) error {
		if _, err := nodeInOrg(tx.Snapshot, orgID, nodeID); err != nil {
			return err
		}
		return tx.DeleteNode(nodeID, orgtree.Cascade)
	})
	if err != nil {
		return nil, err
	}
	return ok("删除成功"), nil
}

func (s *Server) moveNode(a map[string]any) (any, error) {
	orgID, nodeID, target := optString(a, "orgId"), optString(a, "nodeId"), optString(a, "targetParentId")
	err := s.write(a, func(tx *orgtree.Tx) error {
		snap := tx.Snapshot
		if _, err := nodeInOrg(snap, orgID, nodeID); err != nil {
			return err
		}
		if _, err := nodeInOrg(snap, orgID, target); err != nil {
			return err
		}
		_, err := tx.MoveNode(nodeID, target)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.orgValue(s.tree.Snapshot(), orgID)
}

// memberNode resolves the node of addMember/removeMember: nodeId, or orgId
// with nodeCode.
func memberNode(snap orgtree.Snapshot, a map[string]any) (string, error) {
	if id := optString(a, "nodeId"); id != "" {
		n, err := nodeInOrg(snap, optString(a, "orgId"), id)
		return n.ID, err
	}
	orgID, code := optString(a, "orgId"), optString(a, "nodeCode")
	if orgID == "" || code == "" {
		return "", fmt.Errorf("%w: give nodeId, or orgId with nodeCode", orgtree.ErrInvalidArgument)
	}
	n, err := snap.NodeByCode(orgID, code)
	return n.ID, err
}

func (s *Server) addMember(a map[string]any) (any, error) {
	leader, _ := a["isLeader"].(bool)
	return s.changeMembers(a, func(tx *orgtree.Tx, nodeID string, userIDs []string) error {
		if err := tx.AddMembers(nodeID, userIDs...); err != nil {
			return err
		}
		if leader && len(userIDs) > 0 {
			_, err := tx.UpdateNode(nodeID, orgtree.NodeUpdate{LeaderUserID: &userIDs[0]})
			return err
		}
		return nil
	})
}

func (s *Server) removeMember(a map[string]any) (any, error) {
	return s.changeMembers(a, func(tx *orgtree.Tx, nodeID string, userIDs []string) error {
		return tx.RemoveMembers(nodeID, userIDs...)
	})
}

// changeMembers runs a member change on the node the arguments name (see
// memberNode) in one transaction and answers the node as committed.
func (s *Server) changeMembers(a map[string]any, change func(tx *orgtree.Tx, nodeID string, userIDs []string) error) (any, error) {
	userIDs, err := stringList(a["userIds"], "userIds")
	if err != nil {
		return nil, err
	}
	var nodeID string
	err = s.write(a, func(tx *orgtree.Tx) error {
		if nodeID, err = memberNode(tx.Snapshot, a); err != nil {
			return err
		}
		return change(tx, nodeID, userIDs)
	})
	if err != nil {
		return nil, err
	}
	return s.nodeAfter(nodeID)
}

func (s *Server) moveMembers(a map[string]any) (any, error) {
	userIDs, err := stringList(a["userIds"], "userIds")
	if err != nil {
		return nil, err
	}
	if err := s.write(a, func(tx *orgtree.Tx) error {
		return tx.MoveMembers(optString(a, "sourceNodeId"), optString(a, "targetNodeId"), userIDs...)
	}); err != nil {
		return nil, err
	}
	return ok("移动成员成功"), nil
}

func (s *Server) setMainDepartment(a map[string]any) (any, error) {
	if err := s.write(a, func(tx *orgtree.Tx) error {
		return tx.SetMainDepartment(optString(a, "userId"), optString(a, "departmentId"))
	}); err != nil {
		return nil, err
	}
	return ok("设置主部门成功"), nil
}

func (s *Server) createUser(a map[string]any) (any, error) {
	info, _ := a["userInfo"].(map[string]any)
	// The password is checked and dropped: orgtree keeps no credentials.
	if pw, given := info["password"].(string); given && pw != "" {
		if err := s.passwords.checkPassword(pw); err != nil {
			return nil, err
		}
	}
	u, err := write1(s, a, func(tx *orgtree.Tx) (orgtree.User, error) {
		return tx.CreateUser(orgtree.User{
			Username:   optString(info, "username"),
			Email:      optString(info, "email"),
			Phone:      optString(info, "phone"),
			Name:       optString(info, "name"),
			ExternalID: optString(info, "externalId"),
		})
	})
	if err != nil {
		return nil, err
	}
	return s.userValue(s.tree.Snapshot(), u), nil
}

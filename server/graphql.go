package server

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"
)

// The executor below runs documents that gqlparser has parsed and validated
// against the service schema. Resolvers produce plain values: an object is
// an obj whose entries are either ready values or a lazy resolver (a field
// with arguments, or one too costly to compute unless selected); lists are
// slices; scalars and enums are Go strings, ints and bools. Completion then
// walks the selection set, so a response carries exactly the selected fields,
// with GraphQL's null propagation for non-null fields.

// obj is a GraphQL object value: field name → value or lazy.
type obj map[string]any

// lazy computes a field from its coerced arguments.
type lazy func(args map[string]any) (any, error)

// typenameKey is the meta field every object answers; an obj may carry it
// to name its concrete type.
const typenameKey = "__typename"

// request is one GraphQL request in flight: its variables and the errors
// gathered while executing it.
type request struct {
	s      *Server
	doc    *ast.QueryDocument
	vars   map[string]any
	errors gqlerror.List
}

// execute runs the selected operation and returns the "data" value (nil when
// a non-null root field failed). The root is an object like any other whose
// fields are all lazy; fields run one after another, as mutations must.
func (r *request) execute(op *ast.OperationDefinition) any {
	rootType, root := r.s.schema.Query, r.s.queryRoot
	if op.Operation == ast.Mutation {
		rootType, root = r.s.schema.Mutation, r.s.mutationRoot
	}
	data, ok := r.completeObject(root, rootType.Name, op.SelectionSet, nil)
	if !ok {
		return nil
	}
	return data
}

// call runs a resolver, turning a panic into an internal error so that one
// bad field never takes the server down.
func (r *request) call(fn func() (any, error)) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errInternal, p)
		}
	}()
	return fn()
}

// complete shapes v as type t for the selection of fields. ok is false when
// a null reached a non-null position and must propagate to the parent.
func (r *request) complete(v any, t *ast.Type, fields []*ast.Field, path ast.Path) (any, bool) {
	if l, isLazy := v.(lazy); isLazy {
		var err error
		v, err = r.call(func() (any, error) { return l(fields[0].ArgumentMap(r.vars)) })
		if err != nil {
			r.fail(err, fields[0], path)
			return nil, !t.NonNull
		}
	}
	if isNull(v) {
		if t.NonNull {
			r.fail(fmt.Errorf("%w: null for the non-null field %s", errInternal, fields[0].Name), fields[0], path)
			return nil, false
		}
		return nil, true
	}
	if t.Elem != nil {
		items, err := asList(v)
		if err != nil {
			r.fail(err, fields[0], path)
			return nil, !t.NonNull
		}
		out := make([]any, len(items))
		for i, item := range items {
			cv, ok := r.complete(item, t.Elem, fields, append(path, ast.PathIndex(i)))
			if !ok {
				return nil, !t.NonNull
			}
			out[i] = cv
		}
		return out, true
	}
	def := r.s.schema.Types[t.NamedType]
	if def == nil || (def.Kind != ast.Object && def.Kind != ast.Interface && def.Kind != ast.Union) {
		return v, true // scalar or enum, already in wire form
	}
	o, isObj := v.(obj)
	if !isObj {
		r.fail(fmt.Errorf("%w: %s is not an object", errInternal, fields[0].Name), fields[0], path)
		return nil, !t.NonNull
	}
	typeName := t.NamedType
	if tn, ok := o[typenameKey].(string); ok {
		typeName = tn
	}
	var sel ast.SelectionSet
	for _, f := range fields {
		sel = append(sel, f.SelectionSet...)
	}
	out, ok := r.completeObject(o, typeName, sel, path)
	if !ok {
		return nil, !t.NonNull
	}
	return out, true
}

// completeObject answers the selection sel of object o. ok is false when a
// null reached a non-null field of o.
func (r *request) completeObject(o obj, typeName string, sel ast.SelectionSet, path ast.Path) (*orderedObject, bool) {
	sub := r.collect(typeName, sel)
	out := newOrderedObject()
	for _, key := range sub.keys {
		group := sub.byKey[key]
		f := group[0]
		if f.Name == typenameKey {
			out.set(key, typeName)
			continue
		}
		cv, ok := r.complete(o[f.Name], f.Definition.Type, group, append(path, ast.PathName(key)))
		if !ok {
			return nil, false
		}
		out.set(key, cv)
	}
	return out, true
}

// collected is a selection set flattened for one object type: response keys
// in document order, each with the fields merged under it.
type collected struct {
	keys  []string
	byKey map[string][]*ast.Field
}

func (r *request) collect(typeName string, set ast.SelectionSet) collected {
	c := collected{byKey: map[string][]*ast.Field{}}
	// An explicit stack keeps fragment expansion iterative; validation has
	// already refused fragment cycles.
	type frame struct {
		set ast.SelectionSet
		i   int
	}
	stack := []frame{{set: set}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.i == len(top.set) {
			stack = stack[:len(stack)-1]
			continue
		}
		sel := top.set[top.i]
		top.i++
		switch s := sel.(type) {
		case *ast.Field:
			if !r.included(s.Directives) {
				continue
			}
			key := s.Alias
			if key == "" {
				key = s.Name
			}
			if _, seen := c.byKey[key]; !seen {
				c.keys = append(c.keys, key)
			}
			c.byKey[key] = append(c.byKey[key], s)
		case *ast.InlineFragment:
			if r.included(s.Directives) && r.applies(s.TypeCondition, typeName) {
				stack = append(stack, frame{set: s.SelectionSet})
			}
		case *ast.FragmentSpread:
			if r.included(s.Directives) && s.Definition != nil && r.applies(s.Definition.TypeCondition, typeName) {
				stack = append(stack, frame{set: s.Definition.SelectionSet})
			}
		}
	}
	return c
}

func (r *request) applies(condition, typeName string) bool {
	if condition == "" || condition == typeName {
		return true
	}
	for _, possible := range r.s.schema.GetPossibleTypes(r.s.schema.Types[condition]) {
		if possible.Name == typeName {
			return true
		}
	}
	return false
}

// included evaluates @skip and @include.
func (r *request) included(dirs ast.DirectiveList) bool {
	if d := dirs.ForName("skip"); d != nil {
		if v, _ := d.ArgumentMap(r.vars)["if"].(bool); v {
			return false
		}
	}
	if d := dirs.ForName("include"); d != nil {
		if v, _ := d.ArgumentMap(r.vars)["if"].(bool); !v {
			return false
		}
	}
	return true
}

// fail records a field error in the service's envelope.
func (r *request) fail(err error, f *ast.Field, path ast.Path) {
	e := &gqlerror.Error{Err: err, Message: err.Error(), Path: append(ast.Path(nil), path...)}
	if f != nil && f.Position != nil {
		e.Locations = []gqlerror.Location{{Line: f.Position.Line, Column: f.Position.Column}}
	}
	r.errors = append(r.errors, e)
}

// coerceVariables applies the operation's variable definitions (types,
// defaults) to the raw JSON variables.
func (s *Server) coerceVariables(op *ast.OperationDefinition, raw map[string]any) (map[string]any, error) {
	vars, err := validator.VariableValues(s.schema, op, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", errBadRequest, err.Error())
	}
	return vars, nil
}

func isNull(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case obj:
		return x == nil
	}
	return false
}

func asList(v any) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, nil
	case []obj:
		out := make([]any, len(x))
		for i, o := range x {
			out[i] = o
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %T is not a list", errInternal, v)
}

// orderedObject is a response object that keeps the document's field order,
// as GraphQL asks of serialised results.
type orderedObject struct {
	keys   []string
	values []any
}

func newOrderedObject() *orderedObject { return &orderedObject{} }

func (o *orderedObject) set(key string, v any) {
	o.keys = append(o.keys, key)
	o.values = append(o.values, v)
}

// MarshalJSON writes the fields in selection order. The whole tree below
// is encoded in one pass into one buffer (appendJSON): a Marshaler per
// level would make encoding/json copy and re-validate every level's output
// again at each level above it.
func (o *orderedObject) MarshalJSON() ([]byte, error) {
	return appendJSON(nil, o)
}

// appendJSON appends the JSON encoding of a completed value: ordered
// objects and lists are walked here, scalars are written directly or, for
// other types, by encoding/json.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case *orderedObject:
		b = append(b, '{')
		for i, k := range x.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendJSON(b, x.values[i]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		b = append(b, '[')
		for i, item := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, item); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case string:
		return appendJSONString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, enc...), nil
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it (HTML characters included).
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			enc, _ := json.Marshal(s) // a string always encodes
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

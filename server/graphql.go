package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
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

// lazyCtx is a lazy field whose work grows with the tree (a search, a
// listing): it is given the request's context and passes it to the
// engine, so that the work stops when the request does (its client left,
// or its deadline passed) rather than at the next value completed.
type lazyCtx func(ctx context.Context, args map[string]any) (any, error)

// typenameKey is the meta field every object answers; an obj may carry it
// to name its concrete type.
const typenameKey = "__typename"

// request is one GraphQL request in flight: its variables, the answer
// being written and the errors gathered while executing it.
type request struct {
	s      *Server
	ctx    context.Context
	doc    *ast.QueryDocument
	vars   map[string]any
	errors gqlerror.List
	// buf is the "data" value, written as JSON while the selection is
	// completed: the answer is never held twice (as values and as bytes),
	// and its size is known at every step, so the cap is exact.
	buf []byte
	// maxBytes caps len(buf); steps counts completed values between
	// checks of ctx.
	maxBytes int
	steps    int
	// fatal stops the whole execution (deadline, client gone, answer over
	// the cap): the answer is then this one error and no data.
	fatal error
}

// ctxCheckEvery is how many completed values pass between two looks at the
// request's context: often enough to stop within microseconds, rarely
// enough to cost nothing.
const ctxCheckEvery = 64

// execute runs the selected operation and returns the "data" value as JSON
// ("null" when a non-null root field failed). The root is an object like
// any other whose fields are all lazy; fields run one after another, as
// mutations must.
func (r *request) execute(op *ast.OperationDefinition) []byte {
	rootType, root := r.s.schema.Query, r.s.queryRoot
	if op.Operation == ast.Mutation {
		rootType, root = r.s.schema.Mutation, r.s.mutationRoot
	}
	if !r.completeObject(root, rootType.Name, op.SelectionSet, nil) {
		r.buf = append(r.buf[:0], "null"...)
	}
	return r.buf
}

// halted reports whether execution must stop, and records why the first
// time: the deadline passed, the client went away or the answer outgrew
// its cap.
func (r *request) halted() bool {
	if r.fatal != nil {
		return true
	}
	if len(r.buf) > r.maxBytes {
		r.fatal = r.s.tooLarge("select fewer fields, fewer aliases, or page (page and limit arguments)")
		return true
	}
	if r.steps++; r.steps%ctxCheckEvery == 0 {
		if err := r.ctx.Err(); err != nil {
			r.fatal = contextError(r.ctx, r.s.cfg.RequestTimeout)
			return true
		}
	}
	return false
}

// call runs a resolver, turning a panic into an internal error so that one
// bad field never takes the server down. The context is looked at before
// every resolver: resolvers are where the work is.
func (r *request) call(fn func() (any, error)) (v any, err error) {
	if err := r.ctx.Err(); err != nil {
		r.fatal = contextError(r.ctx, r.s.cfg.RequestTimeout)
		return nil, r.fatal
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errInternal, p)
		}
	}()
	return fn()
}

// complete writes v shaped as type t for the selection of fields. ok is
// false when a null reached a non-null position and must propagate to the
// parent, which then discards what was written from its own start.
func (r *request) complete(v any, t *ast.Type, fields []*ast.Field, path ast.Path) bool {
	if r.halted() {
		return true // the answer is dropped; unwind quickly
	}
	start := len(r.buf)
	// null ends a value that could not be completed: null where the type
	// allows it, propagation otherwise.
	null := func() bool {
		r.buf = append(r.buf[:start], "null"...)
		return !t.NonNull
	}
	var resolve func() (any, error)
	switch l := v.(type) {
	case lazy:
		resolve = func() (any, error) { return l(r.args(fields[0])) }
	case lazyCtx:
		resolve = func() (any, error) { return l(r.ctx, r.args(fields[0])) }
	}
	if resolve != nil {
		var err error
		v, err = r.call(resolve)
		if r.fatal == nil && r.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			// The engine stopped the resolver: the request is over.
			r.fatal = contextError(r.ctx, r.s.cfg.RequestTimeout)
		}
		if r.fatal != nil {
			return true
		}
		if err != nil {
			r.fail(err, fields[0], path)
			return null()
		}
	}
	if isNull(v) {
		if t.NonNull {
			r.fail(fmt.Errorf("%w: null for the non-null field %s", errInternal, fields[0].Name), fields[0], path)
		}
		return null()
	}
	if t.Elem != nil {
		items, err := asSeq(v)
		if err != nil {
			r.fail(err, fields[0], path)
			return null()
		}
		r.buf = append(r.buf, '[')
		i := 0
		for item := range items {
			if i > 0 {
				r.buf = append(r.buf, ',')
			}
			if !r.complete(item, t.Elem, fields, append(path, ast.PathIndex(i))) {
				return null()
			}
			if r.fatal != nil {
				return true
			}
			i++
		}
		r.buf = append(r.buf, ']')
		return true
	}
	def := r.s.schema.Types[t.NamedType]
	if def == nil || (def.Kind != ast.Object && def.Kind != ast.Interface && def.Kind != ast.Union) {
		// A scalar or enum, already in wire form.
		b, err := appendJSON(r.buf, v)
		if err != nil {
			r.fail(fmt.Errorf("%w: %s: %v", errInternal, fields[0].Name, err), fields[0], path)
			return null()
		}
		r.buf = b
		return true
	}
	o, isObj := v.(obj)
	if !isObj {
		r.fail(fmt.Errorf("%w: %s is not an object", errInternal, fields[0].Name), fields[0], path)
		return null()
	}
	typeName := t.NamedType
	if tn, ok := o[typenameKey].(string); ok {
		typeName = tn
	}
	var sel ast.SelectionSet
	for _, f := range fields {
		sel = append(sel, f.SelectionSet...)
	}
	if !r.completeObject(o, typeName, sel, path) {
		return null()
	}
	return true
}

// completeObject writes the selection sel of object o. ok is false when a
// null reached a non-null field of o.
func (r *request) completeObject(o obj, typeName string, sel ast.SelectionSet, path ast.Path) bool {
	sub := r.collect(typeName, sel)
	r.buf = append(r.buf, '{')
	for i, key := range sub.keys {
		if i > 0 {
			r.buf = append(r.buf, ',')
		}
		r.buf = appendJSONString(r.buf, key)
		r.buf = append(r.buf, ':')
		group := sub.byKey[key]
		f := group[0]
		if f.Name == typenameKey {
			r.buf = appendJSONString(r.buf, typeName)
			continue
		}
		if !r.complete(o[f.Name], f.Definition.Type, group, append(path, ast.PathName(key))) {
			return false
		}
		if r.fatal != nil {
			return true
		}
	}
	r.buf = append(r.buf, '}')
	return true
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
	if err := checkVariableTypes(s.schema, op, raw); err != nil {
		return nil, err
	}
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

// asSeq returns the items of a list value: a slice, or a sequence that
// produces the items as they are completed (long listings, so that the
// items never all exist as values at once).
func asSeq(v any) (iter.Seq[any], error) {
	switch x := v.(type) {
	case iter.Seq[any]:
		return x, nil
	case []any:
		return slices.Values(x), nil
	case []string:
		return func(yield func(any) bool) {
			for _, s := range x {
				if !yield(s) {
					return
				}
			}
		}, nil
	case []obj:
		return func(yield func(any) bool) {
			for _, o := range x {
				if !yield(o) {
					return
				}
			}
		}, nil
	}
	return nil, fmt.Errorf("%w: %T is not a list", errInternal, v)
}

// appendJSON appends the JSON encoding of a scalar value: strings, bools
// and ints are written directly, other types by encoding/json.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
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

// args are a field's arguments, with the request's actor (actor.go) for
// the resolvers that write.
func (r *request) args(f *ast.Field) map[string]any {
	a := f.ArgumentMap(r.vars)
	a[actorArg] = actorOf(r.ctx)
	return a
}

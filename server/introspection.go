package server

import (
	"github.com/99designs/gqlgen/graphql/introspection"
)

// Introspection (__schema, __type) describes the schema the server serves,
// schema.graphql with gqlparser's prelude. The meta types come from gqlgen's
// introspection package, a maintained implementation of the spec's
// __Schema/__Type/__Field/... over gqlparser's ast.Schema (deprecation,
// includeDeprecated, specifiedByURL, isOneOf, default values printed as
// GraphQL literals); here they only become executor values: objects whose
// fields are lazy, so a query pays for what it selects and the
// self-referencing types (ofType, fields' types) are built on demand.
// __typename is answered by the executor for every object, these included.

func (s *Server) introspectionResolvers() map[string]lazy {
	return map[string]lazy{
		"__schema": func(map[string]any) (any, error) {
			return schemaValue(introspection.WrapSchema(s.schema)), nil
		},
		"__type": func(a map[string]any) (any, error) {
			def := s.schema.Types[optString(a, "name")]
			if def == nil {
				return nil, nil // an unknown name answers null, as the spec says
			}
			return typeValue(introspection.WrapTypeFromDef(s.schema, def)), nil
		},
	}
}

func schemaValue(sc *introspection.Schema) obj {
	return obj{
		"description":      optStr(sc.Description()),
		"types":            lazy(func(map[string]any) (any, error) { return each(sc.Types(), typeValue), nil }),
		"queryType":        lazy(func(map[string]any) (any, error) { return typeValue(sc.QueryType()), nil }),
		"mutationType":     lazy(func(map[string]any) (any, error) { return typeValue(sc.MutationType()), nil }),
		"subscriptionType": lazy(func(map[string]any) (any, error) { return typeValue(sc.SubscriptionType()), nil }),
		"directives":       lazy(func(map[string]any) (any, error) { return each(sc.Directives(), directiveValue), nil }),
	}
}

// typeValue is a __Type, or nil for a nil type (an absent ofType or root).
// A field that does not apply to the type's kind answers null, as the spec
// asks (gqlgen's methods answer empty lists there).
func typeValue(t *introspection.Type) obj {
	if t == nil {
		return nil
	}
	kind := t.Kind()
	o := obj{
		"kind":           kind,
		"name":           optStr(t.Name()),
		"description":    optStr(t.Description()),
		"specifiedByURL": optStr(t.SpecifiedByURL()),
		"fields":         nil,
		"interfaces":     nil,
		"possibleTypes":  nil,
		"enumValues":     nil,
		"inputFields":    nil,
		"ofType":         lazy(func(map[string]any) (any, error) { return typeValue(t.OfType()), nil }),
		"isOneOf":        nil,
	}
	switch kind {
	case "OBJECT", "INTERFACE":
		o["fields"] = lazy(func(a map[string]any) (any, error) {
			return each(t.Fields(includeDeprecated(a)), fieldValue), nil
		})
		o["interfaces"] = lazy(func(map[string]any) (any, error) { return each(t.Interfaces(), typeValue), nil })
	case "INPUT_OBJECT":
		o["inputFields"] = lazy(func(a map[string]any) (any, error) {
			return each(t.VisibleInputFields(includeDeprecated(a)), inputValue), nil
		})
		o["isOneOf"] = t.IsOneOf()
	case "ENUM":
		o["enumValues"] = lazy(func(a map[string]any) (any, error) {
			return each(t.EnumValues(includeDeprecated(a)), enumValue), nil
		})
	}
	if kind == "INTERFACE" || kind == "UNION" {
		o["possibleTypes"] = lazy(func(map[string]any) (any, error) { return each(t.PossibleTypes(), typeValue), nil })
	}
	return o
}

func fieldValue(f *introspection.Field) obj {
	return obj{
		"name":              f.Name,
		"description":       optStr(f.Description()),
		"args":              lazy(func(a map[string]any) (any, error) { return each(f.VisibleArgs(includeDeprecated(a)), inputValue), nil }),
		"type":              typeValue(f.Type),
		"isDeprecated":      f.IsDeprecated(),
		"deprecationReason": optStr(f.DeprecationReason()),
	}
}

func inputValue(v *introspection.InputValue) obj {
	return obj{
		"name":              v.Name,
		"description":       optStr(v.Description()),
		"type":              typeValue(v.Type),
		"defaultValue":      optStr(v.DefaultValue),
		"isDeprecated":      v.IsDeprecated(),
		"deprecationReason": optStr(v.DeprecationReason()),
	}
}

func enumValue(v *introspection.EnumValue) obj {
	return obj{
		"name":              v.Name,
		"description":       optStr(v.Description()),
		"isDeprecated":      v.IsDeprecated(),
		"deprecationReason": optStr(v.DeprecationReason()),
	}
}

func directiveValue(d *introspection.Directive) obj {
	return obj{
		"name":         d.Name,
		"description":  optStr(d.Description()),
		"isRepeatable": d.IsRepeatable,
		"locations":    d.Locations,
		"args":         lazy(func(a map[string]any) (any, error) { return each(d.VisibleArgs(includeDeprecated(a)), inputValue), nil }),
	}
}

// each maps a list of meta values to objects. A nil list (fields of a
// scalar, enumValues of an object, …) is GraphQL null, not an empty list.
func each[T any](items []T, value func(*T) obj) any {
	if items == nil {
		return nil
	}
	out := make([]any, len(items))
	for i := range items {
		out[i] = value(&items[i])
	}
	return out
}

func optStr(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func includeDeprecated(args map[string]any) bool {
	v, _ := args["includeDeprecated"].(bool)
	return v
}

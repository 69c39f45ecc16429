package server

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// checkVariableTypes applies GraphQL's input coercion rules to the JSON
// variables before gqlparser coerces them, where gqlparser is lenient: a
// JSON number (a json.Number, whose Go kind is string) passes for a String,
// and a string of digits for an Int. The spec refuses both: String and an
// enum take JSON strings only, Int a whole JSON number in 32 bits, Float a
// JSON number, Boolean true or false, ID a string or a whole number. The
// walk is iterative over the variable types (which the document bounds),
// not over the values.
func checkVariableTypes(schema *ast.Schema, op *ast.OperationDefinition, raw map[string]any) error {
	type item struct {
		t    *ast.Type
		v    any
		path string
	}
	var stack []item
	for _, d := range op.VariableDefinitions {
		if v, given := raw[d.Variable]; given {
			stack = append(stack, item{d.Type, v, "$" + d.Variable})
		}
		for len(stack) > 0 {
			it := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if it.v == nil {
				continue // null: gqlparser refuses it for a non-null type
			}
			if it.t.Elem != nil {
				list, isList := it.v.([]any)
				if !isList {
					// A single value stands for a list of one (the spec's
					// input coercion of lists).
					stack = append(stack, item{it.t.Elem, it.v, it.path})
					continue
				}
				for i := len(list) - 1; i >= 0; i-- {
					stack = append(stack, item{it.t.Elem, list[i], it.path + "[" + strconv.Itoa(i) + "]"})
				}
				continue
			}
			def := schema.Types[it.t.NamedType]
			if def == nil {
				continue
			}
			if def.Kind == ast.InputObject {
				m, isMap := it.v.(map[string]any)
				if !isMap {
					return variableTypeError(d, it.path, it.t, it.v)
				}
				for _, f := range def.Fields {
					if fv, given := m[f.Name]; given {
						stack = append(stack, item{f.Type, fv, it.path + "." + f.Name})
					}
				}
				continue
			}
			if !scalarAccepts(def, it.v) {
				return variableTypeError(d, it.path, it.t, it.v)
			}
		}
	}
	return nil
}

// scalarAccepts reports whether a JSON value is a valid input for a scalar
// or enum type.
func scalarAccepts(def *ast.Definition, v any) bool {
	if def.Kind == ast.Enum {
		_, isString := v.(string)
		return isString
	}
	switch def.Name {
	case "String":
		_, isString := v.(string)
		return isString
	case "Boolean":
		_, isBool := v.(bool)
		return isBool
	case "Int":
		n, isNumber := v.(json.Number)
		if !isNumber {
			return false
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		return err == nil && i >= math.MinInt32 && i <= math.MaxInt32
	case "Float":
		_, isNumber := v.(json.Number)
		return isNumber
	case "ID":
		switch x := v.(type) {
		case string:
			return true
		case json.Number:
			_, err := strconv.ParseInt(string(x), 10, 64)
			return err == nil
		}
		return false
	}
	return true // custom scalars take any JSON value
}

// variableTypeError names the variable (and the place inside it), the type
// it wants and the JSON it got.
func variableTypeError(d *ast.VariableDefinition, path string, t *ast.Type, v any) error {
	want := t.Name()
	got := jsonKind(v)
	hint := ""
	switch want {
	case "String", "ID":
		hint = `: send it as a JSON string ("…")`
	case "Int":
		if n, isNumber := v.(json.Number); isNumber {
			got = "the number " + string(n)
			hint = ": an Int is a whole number from -2^31 to 2^31-1"
		} else {
			hint = ": send it as a JSON number"
		}
	}
	where := ""
	if path != "$"+d.Variable {
		where = " at " + path
	}
	article := "a"
	if strings.ContainsRune("AEIOU", rune(want[0])) {
		article = "an"
	}
	return fmt.Errorf("%w: variable $%s (%s)%s must be %s %s, not %s%s", errBadRequest, d.Variable, d.Type.String(), where, article, want, got, hint)
}

// jsonKind describes a JSON value for an error message.
func jsonKind(v any) string {
	switch x := v.(type) {
	case string:
		if r := []rune(x); len(r) > 20 {
			x = string(r[:17]) + "..."
		}
		return "the string " + strconv.Quote(x)
	case json.Number:
		return "the number " + string(x)
	case bool:
		return "the boolean " + strconv.FormatBool(x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", v), "*")
}

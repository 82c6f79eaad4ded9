package connectors

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/introspection"
	"github.com/vektah/gqlparser/v2/ast"
)

// preludeTypes and preludeDirectives are what Prelude declares for the loader
// alone: clients never see them, so introspection leaves them out.
var (
	preludeTypes      = []string{"SourceHTTP", "ConnectHTTP", "HTTPHeaderMapping"}
	preludeDirectives = []string{"link", "source", "connect", "compute"}
)

// clientSchema is the schema clients see: the declared one without the
// connectors' own directives and input types, which say how fields are fetched
// and are no part of the API. It validates operations and answers introspection.
func clientSchema(s *ast.Schema) *ast.Schema {
	out := *s
	out.Types = maps.Clone(s.Types)
	out.Directives = maps.Clone(s.Directives)
	for _, n := range preludeTypes {
		if d := out.Types[n]; d != nil && d.BuiltIn {
			delete(out.Types, n)
		}
	}
	for _, n := range preludeDirectives {
		if d := out.Directives[n]; d != nil && d.Position != nil && d.Position.Src != nil && d.Position.Src.BuiltIn {
			delete(out.Directives, n)
		}
	}
	return &out
}

// errIntrospectionDisabled is what __schema and __type answer when the handler
// leaves introspection off, as gqlgen's generated code answers.
var errIntrospectionDisabled = errors.New("introspection disabled")

// introspect answers a root __schema or __type field from gqlgen's introspection
// of the client schema, written as gqlgen's generated code writes it.
func (r *run) introspect(f graphql.CollectedField, path ast.Path) ([]byte, bool) {
	if r.oc.DisableIntrospection {
		r.fail(path, f.Position, errIntrospectionDisabled)
		return r.nullFor(f.Definition.Type)
	}
	var v any
	if f.Name == "__schema" {
		v = introspection.WrapSchema(r.e.client)
	} else {
		name, _ := f.ArgumentMap(r.oc.Variables)["name"].(string)
		v = introspection.WrapTypeFromDef(r.e.client, r.e.client.Types[name])
	}
	return r.introValue(f.Selections, v), true
}

// introValue writes v, a value of gqlgen's introspection types: an object, a list
// of them, or a scalar. A nil pointer or slice is null.
func (r *run) introValue(sel ast.SelectionSet, v any) []byte {
	v = introNormal(v)
	switch x := v.(type) {
	case nil:
		return []byte("null")
	case []any:
		var b bytes.Buffer
		b.WriteByte('[')
		for i, el := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(r.introValue(sel, el))
		}
		b.WriteByte(']')
		return b.Bytes()
	case string:
		out, _ := json.Marshal(x)
		return out
	case bool:
		return strconv.AppendBool(nil, x)
	}
	return r.introObject(sel, v)
}

// introObject writes an introspection object's selected fields.
func (r *run) introObject(sel ast.SelectionSet, obj any) []byte {
	typ := introTypeName(obj)
	fields := graphql.CollectFields(r.oc, sel, []string{typ})
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(strconv.AppendQuote(nil, f.Alias))
		b.WriteByte(':')
		if f.Name == "__typename" {
			b.Write(strconv.AppendQuote(nil, typ))
			continue
		}
		deprecated, _ := f.ArgumentMap(r.oc.Variables)["includeDeprecated"].(bool)
		b.Write(r.introValue(f.Selections, introField(obj, f.Name, deprecated)))
	}
	b.WriteByte('}')
	return b.Bytes()
}

func introTypeName(obj any) string {
	switch obj.(type) {
	case *introspection.Schema:
		return "__Schema"
	case *introspection.Type:
		return "__Type"
	case *introspection.Field:
		return "__Field"
	case *introspection.InputValue:
		return "__InputValue"
	case *introspection.EnumValue:
		return "__EnumValue"
	case *introspection.Directive:
		return "__Directive"
	}
	return ""
}

// introField is the value of an introspection object's field, from the method
// gqlgen's generated code calls for it.
func introField(obj any, name string, includeDeprecated bool) any {
	switch o := obj.(type) {
	case *introspection.Schema:
		return schemaField(o, name)
	case *introspection.Type:
		return typeField(o, name, includeDeprecated)
	case *introspection.Field:
		switch name {
		case "name":
			return o.Name
		case "description":
			return o.Description()
		case "args":
			return o.VisibleArgs(includeDeprecated)
		case "type":
			return o.Type
		case "isDeprecated":
			return o.IsDeprecated()
		case "deprecationReason":
			return o.DeprecationReason()
		}
	case *introspection.InputValue:
		switch name {
		case "name":
			return o.Name
		case "description":
			return o.Description()
		case "type":
			return o.Type
		case "defaultValue":
			return o.DefaultValue
		case "isDeprecated":
			return o.IsDeprecated()
		case "deprecationReason":
			return o.DeprecationReason()
		}
	case *introspection.EnumValue:
		switch name {
		case "name":
			return o.Name
		case "description":
			return o.Description()
		case "isDeprecated":
			return o.IsDeprecated()
		case "deprecationReason":
			return o.DeprecationReason()
		}
	case *introspection.Directive:
		switch name {
		case "name":
			return o.Name
		case "description":
			return o.Description()
		case "locations":
			return o.Locations
		case "args":
			return o.VisibleArgs(includeDeprecated)
		case "isRepeatable":
			return o.IsRepeatable
		}
	}
	return nil
}

func schemaField(o *introspection.Schema, name string) any {
	switch name {
	case "description":
		return o.Description()
	case "types":
		return o.Types()
	case "queryType":
		return o.QueryType()
	case "mutationType":
		return o.MutationType()
	case "subscriptionType":
		return o.SubscriptionType()
	case "directives":
		return o.Directives()
	}
	return nil
}

func typeField(o *introspection.Type, name string, includeDeprecated bool) any {
	switch name {
	case "kind":
		return o.Kind()
	case "name":
		return o.Name()
	case "description":
		return o.Description()
	case "specifiedByURL":
		return o.SpecifiedByURL()
	case "fields":
		return o.Fields(includeDeprecated)
	case "interfaces":
		return o.Interfaces()
	case "possibleTypes":
		return o.PossibleTypes()
	case "enumValues":
		return o.EnumValues(includeDeprecated)
	case "inputFields":
		return o.VisibleInputFields(includeDeprecated)
	case "ofType":
		return o.OfType()
	case "isOneOf":
		return o.IsOneOf()
	}
	return nil
}

// introNormal turns typed nils into nil, pointers to strings into strings, and
// slices into lists of pointers to their elements.
func introNormal(v any) any {
	switch x := v.(type) {
	case *string:
		if x == nil {
			return nil
		}
		return *x
	case *introspection.Type:
		if x == nil {
			return nil
		}
	case []string:
		return listOf(x, func(s *string) any { return *s })
	case []introspection.Type:
		return listOf(x, func(t *introspection.Type) any { return t })
	case []introspection.Field:
		return listOf(x, func(f *introspection.Field) any { return f })
	case []introspection.InputValue:
		return listOf(x, func(f *introspection.InputValue) any { return f })
	case []introspection.EnumValue:
		return listOf(x, func(f *introspection.EnumValue) any { return f })
	case []introspection.Directive:
		return listOf(x, func(f *introspection.Directive) any { return f })
	}
	return v
}

// listOf is a slice as a list (nil for a nil slice, which is null).
func listOf[T any](s []T, el func(*T) any) any {
	if s == nil {
		return nil
	}
	out := make([]any, len(s))
	for i := range s {
		out[i] = el(&s[i])
	}
	return out
}

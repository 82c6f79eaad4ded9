package rest

import (
	"encoding/json"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
)

// OpenAPI returns an OpenAPI 3.0 document describing the endpoints: their
// parameters, typed from the operations' variables, and their answers, typed from
// the operations' selections over the schema.
func OpenAPI(title, version string, eps []*Endpoint) ([]byte, error) {
	paths := map[string]map[string]any{}
	for _, ep := range eps {
		var params []any
		for _, v := range ep.op.VariableDefinitions {
			in := "query"
			if ep.params[v.Variable] {
				in = "path"
			}
			p := map[string]any{"name": v.Variable, "in": in, "schema": scalarSchema(v.Type.NamedType, ep.schema)}
			if in == "path" || (v.Type.NonNull && v.DefaultValue == nil) {
				p["required"] = true
			}
			params = append(params, p)
		}
		f := ep.op.SelectionSet[0].(*ast.Field)
		errorRef := map[string]any{"$ref": "#/components/schemas/Error"}
		op := map[string]any{
			"operationId": ep.Name,
			"summary":     ep.Description,
			"responses": map[string]any{
				"200": map[string]any{"description": "The complete answer.",
					"content": map[string]any{"application/json": map[string]any{"schema": selectionSchema(f, ep.schema)}}},
				"207": map[string]any{"description": "A partial answer: the parts that failed are null; the Switchyard-Errors header lists them.",
					"headers": map[string]any{"Switchyard-Errors": map[string]any{"schema": map[string]any{"type": "string"},
						"description": "A JSON list of {path, code, upstream}."}},
					"content": map[string]any{"application/json": map[string]any{"schema": selectionSchema(f, ep.schema)}}},
				"400": jsonError("A parameter is missing or malformed.", errorRef),
				"401": jsonError("Authentication is required, or the credentials are not valid (with WWW-Authenticate).", errorRef),
				"403": jsonError("The caller lacks a scope the endpoint requires.", errorRef),
				"429": jsonError("Over a rate limit (with Retry-After and RateLimit-* headers).", errorRef),
				"404": jsonError("No such record.", errorRef),
				"502": jsonError("An upstream the answer needs failed.", errorRef),
				"504": jsonError("An upstream the answer needs did not answer in time.", errorRef),
			},
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if paths[ep.Path] == nil {
			paths[ep.Path] = map[string]any{}
		}
		paths[ep.Path][strings.ToLower(ep.Method)] = op
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info":    map[string]any{"title": title, "version": version},
		"paths":   paths,
		"components": map[string]any{"schemas": map[string]any{"Error": map[string]any{
			"type": "object", "required": []string{"error"},
			"properties": map[string]any{"error": map[string]any{"type": "object", "required": []string{"code", "message"},
				"properties": map[string]any{
					"code":     map[string]any{"type": "string"},
					"message":  map[string]any{"type": "string"},
					"upstream": map[string]any{"type": "string"},
				}}},
		}}},
	}
	return json.MarshalIndent(doc, "", "  ")
}

func jsonError(desc string, ref map[string]any) map[string]any {
	return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": ref}}}
}

// selectionSchema is the JSON schema of a field's value as selected.
func selectionSchema(f *ast.Field, schema *ast.Schema) map[string]any {
	return typeSchema(f.Definition.Type, f.SelectionSet, schema)
}

func typeSchema(t *ast.Type, sel ast.SelectionSet, schema *ast.Schema) map[string]any {
	var out map[string]any
	switch {
	case t.Elem != nil:
		out = map[string]any{"type": "array", "items": typeSchema(t.Elem, sel, schema)}
	case len(sel) > 0:
		props := map[string]any{}
		var required []string
		for _, s := range sel {
			f, ok := s.(*ast.Field)
			if !ok || f.Definition == nil {
				continue
			}
			props[f.Alias] = typeSchema(f.Definition.Type, f.SelectionSet, schema)
			required = append(required, f.Alias)
		}
		out = map[string]any{"type": "object", "properties": props, "required": required}
	default:
		out = scalarSchema(t.NamedType, schema)
	}
	if !t.NonNull {
		out["nullable"] = true
	}
	return out
}

func scalarSchema(name string, schema *ast.Schema) map[string]any {
	switch name {
	case "Int":
		return map[string]any{"type": "integer"}
	case "Float":
		return map[string]any{"type": "number"}
	case "Boolean":
		return map[string]any{"type": "boolean"}
	}
	if def := schema.Types[name]; def != nil && def.Kind == ast.Enum {
		var vals []string
		for _, v := range def.EnumValues {
			vals = append(vals, v.Name)
		}
		return map[string]any{"type": "string", "enum": vals}
	}
	return map[string]any{"type": "string"}
}

package resolvers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/switchyard/switchyard/upstreams"
)

// Fallbacks is a gqlgen extension that answers a field with a configured value when
// the upstream it needs fails, instead of null. The failure is still reported in
// errors, with extensions.fallback set, so clients can tell a fallback from data.
// Fields are named "Type.field"; values are given as JSON-like values (nil, numbers,
// strings, lists, maps) and must fit the field's type.
type Fallbacks struct {
	values map[string]json.RawMessage
}

var (
	_ graphql.HandlerExtension = Fallbacks{}
	_ graphql.FieldInterceptor = Fallbacks{}
)

// NewFallbacks checks every field against schema and returns the extension.
func NewFallbacks(schema *ast.Schema, values map[string]any) (Fallbacks, error) {
	f := Fallbacks{values: map[string]json.RawMessage{}}
	var errs []error
	for name, v := range values {
		typ, field, ok := strings.Cut(name, ".")
		def := schema.Types[typ]
		if !ok || def == nil || def.Kind != ast.Object || def.Fields.ForName(field) == nil {
			errs = append(errs, fmt.Errorf("%s: no such field (write Type.field)", name))
			continue
		}
		if v == nil && def.Fields.ForName(field).Type.NonNull {
			errs = append(errs, fmt.Errorf("%s: null does not fit the non-null type %s", name, def.Fields.ForName(field).Type))
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		f.values[name] = raw
	}
	return f, errors.Join(errs...)
}

// ExtensionName names the extension for gqlgen.
func (Fallbacks) ExtensionName() string { return "Fallbacks" }

// Validate accepts every schema; NewFallbacks checked the fields.
func (Fallbacks) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptField answers a failed field with its fallback, when it has one.
func (f Fallbacks) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	if err == nil {
		return res, nil
	}
	var ue *upstreams.Error
	if !errors.As(err, &ue) || ue.Kind == upstreams.KindCanceled {
		return res, err
	}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return res, err
	}
	raw, ok := f.values[fc.Object+"."+fc.Field.Name]
	if !ok || res == nil {
		return res, err
	}
	// The resolver returned a typed nil with its error: decode the fallback into a
	// value of that type.
	v := reflect.New(reflect.TypeOf(res))
	if json.Unmarshal(raw, v.Interface()) != nil {
		return res, err
	}
	graphql.AddError(ctx, &fallbackError{err})
	return v.Elem().Interface(), nil
}

// fallbackError is an upstream failure whose field got its fallback value.
type fallbackError struct{ error }

func (e *fallbackError) Unwrap() error { return e.error }

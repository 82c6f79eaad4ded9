package resolvers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/upstreams"
)

// Fallbacks is a gqlgen extension for the failure policies of fields: a field with a
// fallback is answered with that value when the upstream it needs fails, instead of
// null, and the failure is still reported in errors with extensions.fallback set; a
// required field's failure fails the whole answer (see RequiredFailed). Fields are
// named "Type.field"; fallbacks are JSON-like values (nil, numbers, strings, lists,
// maps) that must fit the field's type.
//
// It applies to the fields of a compiled schema as a field interceptor, and to
// those of a declared schema as its executor's failure policy
// (connectors.Executable.SetFailurePolicy), which has no field middleware.
type Fallbacks struct {
	values   map[string]json.RawMessage
	required map[string]bool
}

var (
	_ graphql.HandlerExtension     = Fallbacks{}
	_ graphql.FieldInterceptor     = Fallbacks{}
	_ graphql.OperationInterceptor = Fallbacks{}
	_ connectors.FailurePolicy     = Fallbacks{}
)

// DefaultFallbacks are the demo schema's fallbacks when the configuration gives
// none for these fields: a product whose reviews cannot be fetched is answered
// with no reviews (and the failure reported), not nulled whole, since its
// reviews field is non-null.
func DefaultFallbacks() map[string]any {
	return map[string]any{"Product.reviews": []any{}}
}

// MergeFallbacks returns the defaults with the configured fallbacks over them, key
// by key: a configured field adds to the defaults, or replaces the default value of
// the same field.
func MergeFallbacks(defaults, configured map[string]any) map[string]any {
	out := make(map[string]any, len(defaults)+len(configured))
	maps.Copy(out, defaults)
	maps.Copy(out, configured)
	return out
}

// NewFallbacks checks every field against schema and returns the extension.
func NewFallbacks(schema *ast.Schema, values map[string]any, required []string) (Fallbacks, error) {
	f := Fallbacks{values: map[string]json.RawMessage{}, required: map[string]bool{}}
	var errs []error
	for _, name := range required {
		if FieldNamed(schema, name) == nil {
			errs = append(errs, fmt.Errorf("%s: no such field (write Type.field)", name))
			continue
		}
		f.required[name] = true
	}
	for name, v := range values {
		def := FieldNamed(schema, name)
		if def == nil {
			errs = append(errs, fmt.Errorf("%s: no such field (write Type.field)", name))
			continue
		}
		if v == nil && def.Type.NonNull {
			errs = append(errs, fmt.Errorf("%s: null does not fit the non-null type %s", name, def.Type))
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

// FieldNamed returns the field an object type's "Type.field" names in schema, or nil.
func FieldNamed(schema *ast.Schema, name string) *ast.FieldDefinition {
	typ, field, ok := strings.Cut(name, ".")
	def := schema.Types[typ]
	if !ok || def == nil || def.Kind != ast.Object {
		return nil
	}
	return def.Fields.ForName(field)
}

// ExtensionName names the extension for gqlgen.
func (Fallbacks) ExtensionName() string { return "Fallbacks" }

// Validate accepts every schema; NewFallbacks checked the fields.
func (Fallbacks) Validate(graphql.ExecutableSchema) error { return nil }

// failed records that a required field failed during one operation.
type failed struct{ yes atomic.Bool }

type failedKey struct{}

// InterceptOperation gives the operation a place to record required failures.
func (f Fallbacks) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if len(f.required) == 0 {
		return next(ctx)
	}
	return next(context.WithValue(ctx, failedKey{}, new(failed)))
}

// RequiredFailed reports whether a required field failed in the operation whose
// context ctx is (the context DispatchOperation returns).
func RequiredFailed(ctx context.Context) bool {
	f, _ := ctx.Value(failedKey{}).(*failed)
	return f != nil && f.yes.Load()
}

// InterceptField answers a failed field with its fallback, when it has one, and
// records the failure of a required field.
func (f Fallbacks) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	if err == nil {
		return res, nil
	}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return res, err
	}
	raw, ok := f.fallback(ctx, fc.Object+"."+fc.Field.Name, err)
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

// Covers reports whether field ("Type.field") has a fallback or is required.
func (f Fallbacks) Covers(field string) bool {
	_, ok := f.values[field]
	return ok || f.required[field]
}

// Failed applies the policies to a declared schema's field that failed with err,
// as InterceptField does to a compiled one's: it records a required field's
// failure in the operation of ctx, and returns the fallback of a field that has
// one (decoded with json.Number numbers), or nil.
func (f Fallbacks) Failed(ctx context.Context, field string, err error) *connectors.Fallback {
	raw, ok := f.fallback(ctx, field, err)
	if !ok {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	return &connectors.Fallback{Value: v, Err: &fallbackError{err}}
}

// fallback decides for field, which failed with err: an upstream's failure
// (other than a canceled call) of a required field is recorded for the operation
// of ctx; that of a field with a fallback gets its value, as JSON.
func (f Fallbacks) fallback(ctx context.Context, field string, err error) (json.RawMessage, bool) {
	var ue *upstreams.Error
	if !errors.As(err, &ue) || ue.Kind == upstreams.KindCanceled {
		return nil, false
	}
	if f.required[field] {
		if fl, _ := ctx.Value(failedKey{}).(*failed); fl != nil {
			fl.yes.Store(true)
		}
		return nil, false
	}
	raw, ok := f.values[field]
	return raw, ok
}

// fallbackError is an upstream failure whose field got its fallback value.
type fallbackError struct{ error }

func (e *fallbackError) Unwrap() error { return e.error }

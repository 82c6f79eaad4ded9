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
		if err := fits(schema, def.Type, decode(raw)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		f.values[name] = raw
	}
	return f, errors.Join(errs...)
}

// decode decodes JSON the configuration's values were encoded to, numbers as
// json.Number; nil when it is not JSON.
func decode(raw json.RawMessage) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	return v
}

// fits checks a fallback value, decoded JSON, against the field's type t: the
// JSON type of each scalar, enum values, lists, and objects whose keys are fields
// of their type (a field left out is not checked: the schema's code may provide
// it). Custom scalars take any value.
func fits(schema *ast.Schema, t *ast.Type, v any) error {
	if v == nil {
		if t.NonNull {
			return fmt.Errorf("null does not fit the non-null type %s", t)
		}
		return nil
	}
	if t.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s does not fit the list type %s", jsonText(v), t)
		}
		for _, el := range list {
			if err := fits(schema, t.Elem, el); err != nil {
				return err
			}
		}
		return nil
	}
	def := schema.Types[t.NamedType]
	ok := true
	switch {
	case def == nil:
	case def.Kind == ast.Enum:
		s, isString := v.(string)
		ok = isString && def.EnumValues.ForName(s) != nil
	case def.Kind == ast.Object:
		obj, isObject := v.(map[string]any)
		if !isObject {
			return fmt.Errorf("%s does not fit the type %s", jsonText(v), t)
		}
		for k, x := range obj {
			f := def.Fields.ForName(k)
			if f == nil {
				return fmt.Errorf("%s has no field %s", def.Name, k)
			}
			if err := fits(schema, f.Type, x); err != nil {
				return err
			}
		}
	default:
		ok = scalarFits(def.Name, v)
	}
	if !ok {
		return fmt.Errorf("%s does not fit the type %s", jsonText(v), t)
	}
	return nil
}

// scalarFits reports whether v, decoded JSON, is a value of the built-in scalar
// name; a custom scalar takes any value.
func scalarFits(name string, v any) bool {
	n, isNumber := v.(json.Number)
	switch name {
	case "String":
		_, ok := v.(string)
		return ok
	case "ID":
		_, ok := v.(string)
		_, err := n.Int64()
		return ok || isNumber && err == nil
	case "Int":
		i, err := n.Int64()
		return isNumber && err == nil && i >= -1<<31 && i < 1<<31
	case "Float":
		_, err := n.Float64()
		return isNumber && err == nil
	case "Boolean":
		_, ok := v.(bool)
		return ok
	}
	return true
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
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
	return &connectors.Fallback{Value: decode(raw), Err: &fallbackError{err}}
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

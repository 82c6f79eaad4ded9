package connectors

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// FailurePolicy decides what a field answers when it fails: a fallback value in
// place of null, or nothing (the field is null with its error). It may also take
// note of the failure, as the gateway's required fields do to fail the whole
// answer. A field fails when its connector's call fails, when its @compute does
// (or the call of a field it reads), when the entity lookup of the object it holds
// (or of a list's elements) fails, or when the service sent a value that does not
// fit the field's type.
type FailurePolicy interface {
	// Covers reports whether the policy has something to say about field
	// ("Type.field"). It is asked once per field, by SetFailurePolicy.
	Covers(field string) bool
	// Failed is told that a field it covers failed with err in the operation of
	// ctx. It returns the field's fallback, or nil to leave the field null.
	Failed(ctx context.Context, field string, err error) *Fallback
}

// Fallback is what a failed field answers in place of null.
type Fallback struct {
	// Value is the field's value, decoded JSON (numbers as json.Number).
	Value any
	// Err is reported in place of the failure, at the field, without a location
	// (as gqlgen reports an error a field interceptor adds).
	Err error
}

// SetFailurePolicy makes p decide what the fields it covers answer when they
// fail; nil leaves every failed field null. Call it before serving. Fields that p
// does not cover are executed as without a policy, at no cost.
func (e *Executable) SetFailurePolicy(p FailurePolicy) {
	e.policy, e.covered = p, nil
	if p == nil {
		return
	}
	for _, def := range e.schema.AST.Types {
		if def.BuiltIn || def.Kind != ast.Object {
			continue
		}
		for _, f := range def.Fields {
			if key := def.Name + "." + f.Name; p.Covers(key) {
				if e.covered == nil {
					e.covered = map[string]bool{}
				}
				e.covered[key] = true
			}
		}
	}
}

// failure holds the first failure of a field's own value (an entity lookup of its
// objects, a value that does not fit its type), for its failure policy: the
// elements of a list write theirs concurrently.
type failure struct {
	mu  sync.Mutex
	err error
}

func (f *failure) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *failure) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// report reports err, a failure of a value's own, at path; or, when the value is
// a field's that a failure policy covers (hold is not nil), keeps it for the
// field, which fails as a whole.
func (r *run) report(hold *failure, path ast.Path, pos *ast.Position, err error) {
	if hold != nil {
		hold.set(err)
		return
	}
	r.fail(path, pos, err)
}

// write writes v, what was made of field f of an object of def (key is its
// "Type.field"), as the field's value. When a failure policy covers the field, a
// failure of the value's own fails the field as a whole, under the policy.
func (r *run) write(ctx context.Context, def *ast.Definition, key string, f graphql.CollectedField, v any, path ast.Path, src string) ([]byte, bool) {
	if !r.e.covered[key] {
		return r.value(ctx, f.Definition.Type, f.Selections, v, path, f.Position, src, nil)
	}
	hold := &failure{}
	out, ok := r.value(ctx, f.Definition.Type, f.Selections, v, path, f.Position, src, hold)
	if err := hold.get(); err != nil {
		return r.failed(ctx, def, f, path, src, err)
	}
	return out, ok
}

// failed answers field f of an object of def, which failed with err: with its
// fallback, when its failure policy gives one, else null with err reported.
func (r *run) failed(ctx context.Context, def *ast.Definition, f graphql.CollectedField, path ast.Path, src string, err error) ([]byte, bool) {
	if key := def.Name + "." + f.Name; r.e.covered[key] {
		if fb := r.e.policy.Failed(ctx, key, err); fb != nil {
			r.fail(path, nil, fb.Err)
			return r.value(ctx, f.Definition.Type, f.Selections, fb.Value, path, f.Position, src, nil)
		}
	}
	r.fail(path, f.Position, err)
	return r.nullFor(f.Definition.Type)
}

// Package execution runs GraphQL queries straight into their JSON answer. It is the
// runtime of the code that cmd/generate adds beside gqlgen's in graph/: for every
// object type, a function that writes the selected fields of one value, calling the
// same resolvers, middleware and error presenter as gqlgen's executor, but without
// building a tree of marshalers with a field context, a context and a closure for
// every field. On the demo's nested query that tree was the largest share of the
// gateway's CPU.
//
// What the answer is does not change: the same fields in the same order, the same
// null propagation, the same errors with the same paths. Whatever may wait runs as
// concurrently as under gqlgen, so dataloaders batch the same; what cannot wait
// (resolvers declared synchronous, root fields the root fetch has answered, with
// nothing waiting below them) runs in the goroutine at hand. Operations it does not
// take (mutations, subscriptions, introspection, @defer, other directives) are left
// to gqlgen's executor by Direct.
package execution

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// Direct reports whether the operation of oc can run directly: a query whose
// selections, fragments included, use no directive but @skip and @include and no
// introspection field but __typename.
func Direct(oc *graphql.OperationContext) bool {
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return false
	}
	if !plainDirectives(oc.Operation.Directives) {
		return false
	}
	return directSelections(oc, oc.Operation.SelectionSet, 0)
}

// maxFragmentDepth bounds the walk through fragment spreads; validation has refused
// cycles already, this only keeps a malformed document from recursing forever.
const maxFragmentDepth = 64

func directSelections(oc *graphql.OperationContext, sel ast.SelectionSet, depth int) bool {
	if depth > maxFragmentDepth {
		return false
	}
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" || !plainDirectives(s.Directives) {
				return false
			}
			if !directSelections(oc, s.SelectionSet, depth) {
				return false
			}
		case *ast.InlineFragment:
			if !plainDirectives(s.Directives) || !directSelections(oc, s.SelectionSet, depth) {
				return false
			}
		case *ast.FragmentSpread:
			f := oc.Doc.Fragments.ForName(s.Name)
			if f == nil || !plainDirectives(s.Directives) || !plainDirectives(f.Directives) ||
				!directSelections(oc, f.SelectionSet, depth+1) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func plainDirectives(ds ast.DirectiveList) bool {
	for _, d := range ds {
		if d.Name != "skip" && d.Name != "include" {
			return false
		}
	}
	return true
}

// Marshaled writes a marshaler that a field's middleware returned in place of the
// field's value, as gqlgen writes it, and reports whether the field may have it.
func Marshaled(w *Writer, nonNull bool, m graphql.Marshaler) bool {
	m.MarshalGQL(w)
	if m == graphql.RequiredNull || nonNull && m == graphql.Null {
		return false
	}
	return true
}

// WrongType reports a value of the wrong type from a field's middleware, as gqlgen
// does.
func WrongType(ctx context.Context, got, want any) {
	graphql.AddErrorf(ctx, `unexpected type %T from middleware/directive chain, should be %T`, got, want)
}

// InvalidNull reports a null where the schema allows none, at the frame's path,
// unless that path has an error already. declared is the GraphQL type ("Money!"),
// or "" for a resolver's own null.
func InvalidNull(at *Frame, declared string) {
	graphql.AddInvalidNullError(at.Context(), declared)
}

// recovered reports a panic recovered at the frame.
func recovered(at *Frame, oc *graphql.OperationContext, r any) {
	ctx := at.Context()
	oc.Error(ctx, oc.Recover(ctx, r))
}

// Parallel runs part(0) ... part(n-1) at once, part(0) in the calling goroutine,
// and returns when all have returned. A part that panics is reported at the frame
// and counts as failed. at is the frame the parts are children of: its context is
// made here, before the goroutines start, so that they only read it.
func Parallel(at *Frame, oc *graphql.OperationContext, n int, part func(i int) bool) (ok []bool) {
	at.Context()
	ok = make([]bool, n)
	var wg sync.WaitGroup
	run := func(i int) {
		defer func() {
			if r := recover(); r != nil {
				recovered(at, oc, r)
				ok[i] = false
			}
		}()
		ok[i] = part(i)
	}
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(i)
		}()
	}
	if n > 0 {
		run(0)
	}
	wg.Wait()
	return ok
}

// Site is where a value will be written: the frame of a resolved field or of a list
// element, or a field whose frame is made only if something asks for it (a leaf
// value needs one only to report an error).
type Site struct {
	frame  *Frame
	parent *Frame
	field  *graphql.CollectedField
	object string
}

// At is the site of frame f.
func At(f *Frame) Site { return Site{frame: f} }

// FieldSite is the site of a field of the object at f.
func (f *Frame) FieldSite(object string, field *graphql.CollectedField) Site {
	return Site{parent: f, field: field, object: object}
}

// Frame returns the frame of the site, making it if need be.
func (s Site) Frame() *Frame {
	if s.frame != nil {
		return s.frame
	}
	return s.parent.Field(s.object, s.field)
}

// Object writes an object whose selected fields are s.Fields; field(i, w) writes
// the value of field i and returns false when that value is null where the schema
// allows no null. The fields marked concurrent (resolvers that may wait, or whose
// subtree may) run at once, each in its own goroutine, when there are two or more
// of them, as gqlgen runs its resolvers. Every field runs even after one fails, so
// that every error is reported; then a failed object is cut from w and Object
// returns false.
func Object(f *Frame, oc *graphql.OperationContext, s *Selection, concurrent []bool,
	field func(i int, w *Writer) bool, w *Writer) bool {
	fields := s.Fields
	var early []*Writer
	var earlyOK []bool
	if n := count(concurrent); n > 1 {
		idx := make([]int, 0, n)
		for i, c := range concurrent {
			if c {
				idx = append(idx, i)
			}
		}
		early = make([]*Writer, len(fields))
		parts := make([]*Writer, n)
		for k := range parts {
			parts[k] = NewWriter()
			early[idx[k]] = parts[k]
		}
		oks := Parallel(f, oc, n, func(k int) bool { return field(idx[k], parts[k]) })
		earlyOK = make([]bool, len(fields))
		for k, i := range idx {
			earlyOK[i] = oks[k]
		}
	}
	o := BeginObject(s, w)
	for i := range s.Fields {
		out := o.Next(i)
		if early != nil && early[i] != nil {
			out.B = append(out.B, early[i].B...)
			early[i].Release()
			early[i] = nil
			o.Done(earlyOK[i])
			continue
		}
		o.Done(field(i, out))
	}
	return o.End()
}

// Concurrent reports whether Object would run some of an object's fields at once:
// whether two or more of them are marked concurrent. When it is false, the
// generated code writes the fields in turn with BeginObject, which needs no
// closure.
func Concurrent(concurrent []bool) bool { return count(concurrent) > 1 }

// ObjectWriter writes the fields of an object in turn: Next gives the writer of
// field i (its key written), Done takes whether the value was written (false: null
// where the schema allows none), End closes the object, or cuts it from the writer
// and returns false when a field failed.
type ObjectWriter struct {
	s       *Selection
	w       *Writer
	scratch *Writer
	start   int
	first   bool
	valid   bool
}

// BeginObject starts writing an object whose selected fields are s.Fields to w.
func BeginObject(s *Selection, w *Writer) ObjectWriter {
	o := ObjectWriter{s: s, w: w, start: w.Len(), first: true, valid: true}
	w.Byte('{')
	return o
}

// Next returns the writer of field i: w after the field's key, or a scratch writer
// whose content is dropped for a field that an earlier one of the same name
// already wrote.
func (o *ObjectWriter) Next(i int) *Writer {
	if o.s.dup != nil && o.s.dup[i] {
		if o.scratch == nil {
			o.scratch = NewWriter()
		}
		o.scratch.Truncate(0)
		return o.scratch
	}
	o.w.Key(o.first, o.s.Fields[i].Alias)
	o.first = false
	return o.w
}

// Done records whether the field just written has a value it may have.
func (o *ObjectWriter) Done(ok bool) { o.valid = o.valid && ok }

// End finishes the object and reports whether every field had a value it may
// have; if not, the object is cut from the writer.
func (o *ObjectWriter) End() bool {
	if o.scratch != nil {
		o.scratch.Release()
	}
	if !o.valid {
		o.w.Truncate(o.start)
		return false
	}
	o.w.Byte('}')
	return true
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// List writes a list of n elements at frame f; elem writes element i at site s and
// returns false when it is null where the schema allows no null, which makes the
// whole list null (cut from w; List returns false). With concurrent (something in
// an element may wait) and more than one element, the elements are written each in
// its own goroutine, as gqlgen writes them, so that what they wait for (a loader's
// batch) is asked for by all of them at once.
func List(f *Frame, oc *graphql.OperationContext, n int, concurrent bool,
	elem func(s Site, i int, w *Writer) bool, w *Writer) bool {
	start := w.Len()
	valid := true
	w.Byte('[')
	if concurrent && n > 1 {
		parts := make([]*Writer, n)
		for i := range parts {
			parts[i] = NewWriter()
		}
		es := f.elements(n)
		oks := Parallel(f, oc, n, func(i int) bool {
			return elem(At(&es[i]), i, parts[i])
		})
		for i, p := range parts {
			if i > 0 {
				w.Byte(',')
			}
			w.B = append(w.B, p.B...)
			p.Release()
			valid = valid && oks[i]
		}
	} else {
		es := f.elements(n)
		for i := range n {
			if i > 0 {
				w.Byte(',')
			}
			if !elem(At(&es[i]), i, w) {
				valid = false
			}
		}
	}
	if !valid {
		w.Truncate(start)
		return false
	}
	w.Byte(']')
	return true
}

// Nullable finishes a value whose writer returned ok: a failed value (already cut
// from w) is null when the schema allows it, and the failure goes up otherwise.
func Nullable(w *Writer, nullable, ok bool) bool {
	if ok {
		return true
	}
	if nullable {
		w.Null()
		return true
	}
	return false
}

// Delegated writes the value gqlgen's executor made for a field that the direct
// executor leaves to it (a field with a directive, a custom scalar), and reports
// whether it is a value the field may have.
func Delegated(w *Writer, nonNull bool, m graphql.Marshaler) bool {
	m.MarshalGQL(w)
	return m != graphql.RequiredNull && (!nonNull || m != graphql.Null)
}

// rendered is the value a root field's middleware gets from the direct executor:
// the field's JSON, written already.
type rendered struct{ w *Writer }

func (r rendered) MarshalGQL(w io.Writer) { _, _ = w.Write(r.w.B) }

// RootField writes a field of the root object through the operation's root field
// middleware, as gqlgen does; render writes it, given the frame to resolve it under.
// Whatever the middleware does with the marshaler it gets (return it, wrap it, or
// answer on its own), what it returns is what is written.
func RootField(f *Frame, oc *graphql.OperationContext, field *graphql.CollectedField, w *Writer,
	render func(f *Frame, w *Writer) bool) bool {
	ctx := graphql.WithRootFieldContext(f.Context(), &graphql.RootFieldContext{Object: field.Name, Field: *field})
	var out *Writer
	ok := true
	m := oc.RootResolverMiddleware(ctx, func(ctx context.Context) graphql.Marshaler {
		if out == nil {
			out = NewWriter()
		}
		out.Truncate(0)
		if ok = render(&Frame{ctx: ctx}, out); !ok {
			return graphql.Null
		}
		return rendered{out}
	})
	defer func() {
		if out != nil {
			out.Release()
		}
	}()
	if r, mine := m.(rendered); mine && r.w == out {
		w.B = append(w.B, out.B...)
		return true
	}
	if m == graphql.Null && !ok {
		return false
	}
	m.MarshalGQL(w)
	nonNull := field.Definition != nil && field.Definition.Type.NonNull
	return m != graphql.RequiredNull && (!nonNull || m != graphql.Null)
}

// UnknownField reports a field the generated code does not know, which validation
// makes impossible.
func UnknownField(f *Frame, field *graphql.CollectedField) bool {
	graphql.AddErrorf(f.Field("", field).Context(), "unknown field %q", field.Name)
	return false
}

// directer is an executable schema with a direct executor, as cmd/generate makes.
type directer interface {
	graphql.ExecutableSchema
	ExecDirect(ctx context.Context, plan *Plan) graphql.ResponseHandler
}

// Schema returns es running every operation its direct executor takes (see Direct)
// with it, and the others with gqlgen's. A schema without one is returned as is.
//
// synchronous names the fields ("Type.field") whose resolvers never wait: they
// compute from their object and return. The direct executor calls them in the
// goroutine at hand, where gqlgen's would give each a goroutine; so a list of
// orders that asks only for such fields is written without one goroutine per
// order. A name that is not a field of the schema is an error.
func Schema(es graphql.ExecutableSchema, synchronous ...string) (graphql.ExecutableSchema, error) {
	d, ok := es.(directer)
	if !ok {
		return es, nil
	}
	sync := map[fieldKey]bool{}
	for _, name := range synchronous {
		typ, field, ok := strings.Cut(name, ".")
		def := es.Schema().Types[typ]
		if !ok || def == nil || def.Fields.ForName(field) == nil {
			return nil, fmt.Errorf("synchronous field %q: no such field (write Type.field)", name)
		}
		sync[fieldKey{typ, field}] = true
	}
	return directSchema{d, newPlans(sync)}, nil
}

type fieldKey struct{ typ, field string }

type directSchema struct {
	directer
	plans *Plans
}

func (s directSchema) Exec(ctx context.Context) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Doc == nil {
		return s.directer.Exec(ctx)
	}
	plan := s.plans.For(oc.Doc)
	if !plan.Direct(oc) {
		return s.directer.Exec(ctx)
	}
	return s.ExecDirect(ctx, plan)
}

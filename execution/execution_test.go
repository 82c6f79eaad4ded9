package execution

import (
	"bytes"
	"context"
	"errors"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// The writer must write scalars exactly as gqlgen's marshalers do, or the two
// executors' answers would differ.

func FuzzString(f *testing.F) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\r", "\x00\x01\x1f\x7f", "é ✓ \xff\xfe invalid", "</script>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		graphql.MarshalString(s).MarshalGQL(&want)
		var w Writer
		w.String(s)
		if !bytes.Equal(w.B, want.Bytes()) {
			t.Fatalf("String(%q) = %s, gqlgen writes %s", s, w.B, want.Bytes())
		}
	})
}

func FuzzFloat(f *testing.F) {
	for _, v := range []float64{0, -0.5, 1, 4.25, 1e21, 1e-7, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return
		}
		var want bytes.Buffer
		graphql.MarshalFloat(v).MarshalGQL(&want)
		var w Writer
		w.Float(v, Site{})
		if !bytes.Equal(w.B, want.Bytes()) {
			t.Fatalf("Float(%v) = %s, gqlgen writes %s", v, w.B, want.Bytes())
		}
	})
}

func TestIntAndBool(t *testing.T) {
	for _, v := range []int64{0, -1, 42, math.MaxInt64, math.MinInt64} {
		var want bytes.Buffer
		graphql.MarshalInt64(v).MarshalGQL(&want)
		var w Writer
		w.Int(v)
		if !bytes.Equal(w.B, want.Bytes()) {
			t.Errorf("Int(%d) = %s, gqlgen writes %s", v, w.B, want.Bytes())
		}
	}
	for _, v := range []bool{false, true} {
		var want bytes.Buffer
		graphql.MarshalBoolean(v).MarshalGQL(&want)
		var w Writer
		w.Bool(v)
		if !bytes.Equal(w.B, want.Bytes()) {
			t.Errorf("Bool(%v) = %s, gqlgen writes %s", v, w.B, want.Bytes())
		}
	}
}

// A frame's path is the one gqlgen's field contexts give, made only when asked for.
func TestFramePath(t *testing.T) {
	root := Root(graphql.WithFieldContext(context.Background(), &graphql.FieldContext{Object: "Query"}))
	user := &graphql.CollectedField{Field: fieldNamed("user", "u")}
	orders := &graphql.CollectedField{Field: fieldNamed("orders", "")}
	f := root.Field("Query", user).Field("User", orders).Element(3)
	if f.ctx != nil {
		t.Fatal("a frame's context was made before it was asked for")
	}
	got := graphql.GetPath(f.Context()).String()
	if got != "u.orders[3]" {
		t.Errorf("path %q, want u.orders[3]", got)
	}
}

func fieldNamed(name, alias string) *ast.Field {
	if alias == "" {
		alias = name
	}
	return &ast.Field{Name: name, Alias: alias}
}

// Schema refuses a synchronous field the schema does not have, and leaves a schema
// without a direct executor as it is.
func TestSchemaChecksSynchronousFields(t *testing.T) {
	es := fakeDirect{}
	if _, err := Schema(es, "Order.total"); err != nil {
		t.Errorf("a field of the schema: %v", err)
	}
	for _, name := range []string{"Order.nope", "Nope.total", "total", ""} {
		if _, err := Schema(es, name); err == nil {
			t.Errorf("%q was accepted", name)
		}
	}
	var plain graphql.ExecutableSchema = plainSchema{}
	if got, err := Schema(plain, "whatever"); err != nil || got != plain {
		t.Errorf("a schema without a direct executor: %v, %v", got, err)
	}
}

type plainSchema struct{}

func (plainSchema) Schema() *ast.Schema {
	return gqlparser.MustLoadSchema(&ast.Source{Input: "type Query { order: Order } type Order { total: Int }"})
}
func (plainSchema) Complexity(context.Context, string, string, int, map[string]any) (int, bool) {
	return 0, false
}
func (plainSchema) Exec(context.Context) graphql.ResponseHandler { return nil }

type fakeDirect struct{ plainSchema }

func (fakeDirect) ExecDirect(context.Context, *Plan) graphql.ResponseHandler { return nil }

// A panic in a resolver, or in a part run in parallel, is reported on the path where
// it happened and never reaches the caller.
func TestPanicsAreRecovered(t *testing.T) {
	oc := &graphql.OperationContext{
		ResolverMiddleware: func(ctx context.Context, next graphql.Resolver) (any, error) { return next(ctx) },
		RecoverFunc:        func(context.Context, any) error { return errors.New("recovered") },
	}
	ctx := graphql.WithResponseContext(graphql.WithOperationContext(context.Background(), oc),
		graphql.DefaultErrorPresenter, oc.RecoverFunc)
	root := Root(graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "Query"}))
	field := &graphql.CollectedField{Field: fieldNamed("user", "")}
	user := root.Call(&graphql.FieldContext{Object: "Query", Field: *field})

	res, ok := user.Resolve(oc, func(context.Context) (any, error) { panic("resolver") })
	if ok || res != nil {
		t.Errorf("a panicking resolver gave %v, %v", res, ok)
	}
	oks := Parallel(user, oc, 3, func(i int) bool {
		if i == 1 {
			panic("part")
		}
		return true
	})
	if !oks[0] || oks[1] || !oks[2] {
		t.Errorf("parts: %v, want [true false true]", oks)
	}
	errs := graphql.GetErrors(ctx)
	if len(errs) != 2 {
		t.Fatalf("errors: %v, want two", errs)
	}
	for _, e := range errs {
		if e.Message != "recovered" || e.Path.String() != "user" {
			t.Errorf("error %q at %q, want recovered at user", e.Message, e.Path)
		}
	}
}

// A plan does not keep its document alive: once the document is collected, the plan
// is dropped.
func TestPlansForgetCollectedDocuments(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: "type Query { a: Int }"})
	p := newPlans(nil)
	for range 10 {
		doc, err := gqlparser.LoadQueryWithRules(schema, "{ a }", nil)
		if err != nil {
			t.Fatal(err)
		}
		pl := p.For(doc)
		oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
		pl.Direct(oc)
		pl.Collect(oc, oc.Operation.SelectionSet, "Query", []string{"Query"})
	}
	if p.len() != 10 {
		t.Fatalf("%d plans, want 10", p.len())
	}
	for i := 0; i < 100 && p.len() > 0; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := p.len(); n != 0 {
		t.Errorf("%d plans still kept after their documents were collected", n)
	}
}

package execution

import (
	"context"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
)

type testKey struct{}

// A frame's context is what graphql.WithFieldContext would make: gqlgen finds the
// frame's field context in it, with its parent, path and result; every other value,
// the deadline and cancellation come from the parent. And it is made without the
// fallback, which costs an allocation more per frame.
func TestFrameContextIsGqlgens(t *testing.T) {
	if fieldContextKey == nil {
		t.Fatal("gqlgen's field context key was not learnt: frames fall back to graphql.WithFieldContext")
	}
	base, cancel := context.WithTimeout(context.WithValue(context.Background(), testKey{}, "v"), time.Hour)
	rootFC := &graphql.FieldContext{Object: "Query"}
	root := Root(graphql.WithFieldContext(base, rootFC))
	field := &graphql.CollectedField{Field: fieldNamed("user", "u")}
	call := root.Call(&graphql.FieldContext{Object: "Query", Field: *field, IsResolver: true})
	ctx := call.Context()

	fc := graphql.GetFieldContext(ctx)
	if fc != call.FieldContext() || fc.Parent != rootFC || !fc.IsResolver {
		t.Fatalf("field context %+v: not the frame's, or without its parent", fc)
	}
	if got := graphql.GetPath(ctx).String(); got != "u" {
		t.Errorf("path %q, want u", got)
	}
	if ctx.Value(testKey{}) != "v" {
		t.Error("a value of the parent context is lost")
	}
	if _, ok := ctx.Deadline(); !ok {
		t.Error("the parent's deadline is lost")
	}
	elems := call.Field("User", &graphql.CollectedField{Field: fieldNamed("orders", "")}).elements(2)
	if got := graphql.GetPath(elems[1].Context()).String(); got != "u.orders[1]" {
		t.Errorf("element path %q, want u.orders[1]", got)
	}
	child, stop := context.WithCancel(elems[1].Context())
	defer stop()
	cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling the parent did not reach a context made below a frame")
	}
}

// Resolve runs the resolver through the field middleware in the frame's context,
// and what the middleware passed on (recorded by Enter) is the children's context.
func TestResolveEntersTheMiddlewaresContext(t *testing.T) {
	oc := &graphql.OperationContext{
		ResolverMiddleware: func(ctx context.Context, next graphql.Resolver) (any, error) {
			return next(context.WithValue(ctx, testKey{}, "middleware"))
		},
	}
	root := Root(graphql.WithFieldContext(context.Background(), &graphql.FieldContext{Object: "Query"}))
	c := root.Call(&graphql.FieldContext{Object: "Query", Field: graphql.CollectedField{Field: fieldNamed("a", "")}})
	res, ok := c.Resolve(oc, func(ctx context.Context) (any, error) {
		c.Enter(ctx)
		if graphql.GetFieldContext(ctx) != c.FieldContext() {
			t.Error("the resolver does not run in the field's context")
		}
		return 7, nil
	})
	if !ok || res != 7 {
		t.Fatalf("Resolve = %v, %v", res, ok)
	}
	if c.Context().Value(testKey{}) != "middleware" {
		t.Error("the children's context is not the one the middleware passed on")
	}
}

// A list's element frames, with their contexts, and a resolved field's frame are
// one allocation each.
func TestFrameAllocations(t *testing.T) {
	root := Root(graphql.WithFieldContext(context.Background(), &graphql.FieldContext{Object: "Query"}))
	field := &graphql.CollectedField{Field: fieldNamed("user", "")}
	allocs := testing.AllocsPerRun(100, func() {
		c := root.Call(&graphql.FieldContext{Object: "Query", Field: *field})
		es := c.elements(10)
		for i := range es {
			es[i].Context()
		}
	})
	if allocs != 2 {
		t.Errorf("a call and ten elements with their contexts: %v allocations, want 2", allocs)
	}
}

// A resolver's WillNotWait marks its own frame and what is made below it, not
// its parent or its siblings; under gqlgen's own field contexts it is refused.
func TestWillNotWaitMarksWhatIsBelow(t *testing.T) {
	root := Root(graphql.WithFieldContext(context.Background(), &graphql.FieldContext{Object: "Query"}))
	user := root.Call(&graphql.FieldContext{Object: "Query", Field: graphql.CollectedField{Field: fieldNamed("user", "")}})
	orders := user.Call(&graphql.FieldContext{Object: "User", Field: graphql.CollectedField{Field: fieldNamed("orders", "")}})
	sibling := user.Call(&graphql.FieldContext{Object: "User", Field: graphql.CollectedField{Field: fieldNamed("name", "")}})
	ctx := context.WithValue(orders.Context(), testKey{}, "a middleware's") // what a resolver gets
	if !WillNotWait(ctx, "OrderItem", "product") {
		t.Fatal("the mark was not taken")
	}
	items := orders.elements(2)[1].Field("Order", &graphql.CollectedField{Field: fieldNamed("items", "")})
	for name, f := range map[string]*Frame{"the resolver's frame": orders, "an element's field below it": items, "an element below that": &items.elements(1)[0]} {
		if !f.Marked() || !f.Ready("OrderItem", "product") {
			t.Errorf("%s is not marked", name)
		}
		if f.Ready("OrderItem", "quantity") || f.Ready("Order", "product") {
			t.Errorf("%s is marked for another field", name)
		}
	}
	if user.Marked() || sibling.Marked() || root.Marked() {
		t.Error("a mark reached the parent or a sibling")
	}
	if WillNotWait(graphql.WithFieldContext(context.Background(), &graphql.FieldContext{}), "OrderItem", "product") {
		t.Error("a mark was taken outside the direct executor")
	}
}

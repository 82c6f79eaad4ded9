package policies

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// costSchema prices items(first: N) at 1 + N times what each item selects.
type costSchema struct{ calls *int }

func (costSchema) Schema() *ast.Schema {
	return gqlparser.MustLoadSchema(&ast.Source{Input: "type Query { items(first: Int!): [Item!]! } type Item { id: ID! name: String! }"})
}

func (s costSchema) Complexity(_ context.Context, typeName, field string, child int, args map[string]any) (int, bool) {
	*s.calls++
	if typeName == "Query" && field == "items" {
		return 1 + child*int(args["first"].(int64)), true
	}
	return 0, false
}

func (costSchema) Exec(context.Context) graphql.ResponseHandler { return nil }

func TestCostLimitKeepsConstantCosts(t *testing.T) {
	calls := 0
	es := costSchema{&calls}
	c := &CostLimit{Limit: 25}
	if err := c.Validate(es); err != nil {
		t.Fatal(err)
	}
	run := func(query string, vars map[string]any) (int, string) {
		t.Helper()
		doc, errs := gqlparser.LoadQueryWithRules(es.Schema(), query, nil)
		if errs != nil {
			t.Fatal(errs)
		}
		return runOn(t, c, doc, vars)
	}
	constant, err := run(`{ items(first: 10) { id name } }`, nil)
	if constant != 21 || err != "" {
		t.Fatalf("cost %d, error %q; want 21 and none", constant, err)
	}
	// The same document again: the cost is kept, not computed.
	doc, _ := gqlparser.LoadQueryWithRules(es.Schema(), `{ items(first: 10) { id name } }`, nil)
	before := calls
	for range 3 {
		if got, _ := runOn(t, c, doc, nil); got != 21 {
			t.Fatalf("kept cost %d, want 21", got)
		}
	}
	first := calls
	if _, e := runOn(t, c, doc, nil); calls != first || e != "" {
		t.Errorf("a kept cost was computed again (%d complexity calls, then %d)", first-before, calls-first)
	}
	// With variables, each request is priced with its own.
	vdoc, _ := gqlparser.LoadQueryWithRules(es.Schema(), `query($n: Int!) { items(first: $n) { id } }`, nil)
	if got, e := runOn(t, c, vdoc, map[string]any{"n": int64(3)}); got != 4 || e != "" {
		t.Errorf("first: 3 costs %d (%q), want 4", got, e)
	}
	if got, e := runOn(t, c, vdoc, map[string]any{"n": int64(30)}); got != 31 || e != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("first: 30 costs %d (%q), want 31 refused", got, e)
	}
}

// runOn prices the first operation of doc and returns its cost and error code.
func runOn(t *testing.T, c *CostLimit, doc *ast.QueryDocument, vars map[string]any) (int, string) {
	t.Helper()
	oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0], Variables: vars}
	gerr := c.MutateOperationContext(context.Background(), oc)
	st := extension.GetComplexityStats(graphql.WithOperationContext(context.Background(), oc))
	if st == nil {
		t.Fatal("no complexity stats")
	}
	code := ""
	if gerr != nil {
		code, _ = gerr.Extensions["code"].(string)
	}
	return st.Complexity, code
}

// Kept costs do not keep their operations alive.
func TestCostLimitForgetsCollectedOperations(t *testing.T) {
	calls := 0
	es := costSchema{&calls}
	c := &CostLimit{}
	if err := c.Validate(es); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		doc, _ := gqlparser.LoadQueryWithRules(es.Schema(), `{ items(first: 2) { id } }`, nil)
		runOn(t, c, doc, nil)
	}
	kept := func() int { c.mu.RLock(); defer c.mu.RUnlock(); return len(c.costs) }
	if kept() != 10 {
		t.Fatalf("%d costs kept, want 10", kept())
	}
	for i := 0; i < 100 && kept() > 0; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if n := kept(); n != 0 {
		t.Errorf("%d costs still kept after their operations were collected", n)
	}
}

package resolvers

import (
	"context"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"

	graphv2 "github.com/switchyard/switchyard/graph/v2"
	"github.com/switchyard/switchyard/lb"
	"github.com/switchyard/switchyard/upstreams"
)

// countingPool answers every request with 404 and counts them.
type countingPool struct{ targets []string }

func (p *countingPool) Do(_ context.Context, req *lb.Request, resp *lb.Response) error {
	p.targets = append(p.targets, req.Target)
	resp.Status = 404
	return nil
}

func TestRootFetchPlansOnlyLookupsByID(t *testing.T) {
	schema := graphv2.NewExecutableSchema(graphv2.Config{}).Schema()
	tests := []struct {
		name    string
		query   string
		vars    map[string]any
		targets int // upstream calls made ahead; 0 means the fetch is skipped
	}{
		{"three lookups", `{ user(id:"u1"){name} product(id:"p1"){name} order(id:"o1"){id} }`, nil, 3},
		{"the same id twice is one call", `{ a: user(id:"u1"){name} b: user(id:"u1"){id} product(id:"p1"){name} }`, nil, 2},
		{"variables and fragments", `query Q($u: ID!) { ...F product(id:"p1"){name} } fragment F on Query { user(id:$u){name} }`, map[string]any{"u": "u7"}, 2},
		{"skipped fields are not fetched", `{ user(id:"u1"){name} product(id:"p1") @skip(if: true) {name} order(id:"o1"){id} }`, nil, 2},
		{"one lookup gains nothing", `{ user(id:"u1"){name} __typename }`, nil, 0},
		{"a list among the root fields: no fetch, so nothing waits", `{ user(id:"u1"){name} users(ids:["u2"]){name} }`, nil, 0},
		{"me among the root fields", `{ user(id:"u1"){name} me{name} }`, nil, 0},
		{"introspection", `{ user(id:"u1"){name} __schema{ queryType{ name } } }`, nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQueryWithRules(schema, tc.query, nil)
			if errs != nil {
				t.Fatal(errs)
			}
			oc := &graphql.OperationContext{RawQuery: tc.query, Doc: doc, Operation: doc.Operations[0], Variables: tc.vars}
			pool := &countingPool{}
			f := NewRootFetch(&upstreams.Clients{
				Users:   upstreams.NewUsers("users", pool),
				Orders:  upstreams.NewOrders("orders", pool),
				Catalog: upstreams.NewCatalog("catalog", pool),
			})
			rr := f.fetch(context.Background(), oc)
			if len(pool.targets) != tc.targets {
				t.Fatalf("made %d calls %v, want %d", len(pool.targets), pool.targets, tc.targets)
			}
			if tc.targets > 0 && rr == nil {
				t.Fatal("fetched but kept nothing")
			}
			ctx := context.WithValue(context.Background(), rootKey{}, rr)
			if tc.targets > 0 && tc.vars == nil {
				rec, ok := fetchedUser(ctx, "u1")
				if !ok {
					t.Fatal("user u1 not kept as fetched")
				}
				if !upstreams.IsNotFound(rec.err) {
					t.Errorf("user u1: want not found, got %v", rec.err)
				}
			}
		})
	}
}

func TestMajorUnits(t *testing.T) {
	for _, tc := range []struct {
		m    upstreams.Money
		want float64
	}{
		{upstreams.Money{Amount: 1999, Currency: "USD"}, 19.99},
		{upstreams.Money{Amount: 1999, Currency: "JPY"}, 1999},
		{upstreams.Money{Amount: 1999, Currency: "KWD"}, 1.999},
		{upstreams.Money{Amount: 0, Currency: ""}, 0},
	} {
		if got := MajorUnits(tc.m); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.m, got, tc.want)
		}
	}
}

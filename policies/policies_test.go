package policies

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

func TestQueryLimits(t *testing.T) {
	tests := []struct {
		name, query string
		limits      QueryLimits
		code        string
	}{
		{"within", `{ a { b { c } } }`, QueryLimits{MaxDepth: 3}, ""},
		{"too deep", `{ a { b { c { d } } } }`, QueryLimits{MaxDepth: 3}, CodeQueryTooDeep},
		{"deep through fragments", `{ a { ...F } } fragment F on T { b { ...G } } fragment G on T { c { d } }`, QueryLimits{MaxDepth: 3}, CodeQueryTooDeep},
		{"inline fragments do not nest", `{ a { ... on T { b } } }`, QueryLimits{MaxDepth: 2}, ""},
		{"aliases", `{ x: a y: a z: a a }`, QueryLimits{MaxAliases: 2}, CodeTooManyAliases},
		{"aliases in fragments", `{ ...F } fragment F on Q { x: a y: a }`, QueryLimits{MaxAliases: 1}, CodeTooManyAliases},
		{"an alias equal to the name is no alias", `{ a: a }`, QueryLimits{MaxAliases: 0}, ""},
		{"too large", `{ a }`, QueryLimits{MaxBytes: 3}, CodeQueryTooLarge},
		{"a fragment cycle ends", `{ ...F } fragment F on Q { a { ...F } }`, QueryLimits{MaxDepth: 50}, ""},
		{"fragments spread twice per level are measured once", doubling(40), QueryLimits{MaxDepth: 50, MaxAliases: 1000}, CodeTooManyAliases},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := parser.ParseQuery(&ast.Source{Input: tc.query})
			if err != nil {
				t.Fatal(err)
			}
			oc := &graphql.OperationContext{RawQuery: tc.query, Doc: doc, Operation: doc.Operations[0]}
			gerr := tc.limits.MutateOperationContext(context.Background(), oc)
			switch {
			case tc.code == "" && gerr != nil:
				t.Fatalf("refused: %v", gerr)
			case tc.code != "" && (gerr == nil || gerr.Extensions["code"] != tc.code):
				t.Fatalf("got %v, want %s", gerr, tc.code)
			}
		})
	}
}

// doubling is a query of n fragments, each spreading the next twice: 2^n paths.
func doubling(n int) string {
	var b strings.Builder
	b.WriteString("{ ...F0 }")
	for i := range n {
		fmt.Fprintf(&b, " fragment F%d on Q { x: a { ...F%d ...F%d } }", i, i+1, i+1)
	}
	fmt.Fprintf(&b, " fragment F%d on Q { a }", n)
	return b.String()
}

func TestAllowed(t *testing.T) {
	admin := &Principal{Subject: "ops", Scopes: []string{"admin", "read"}}
	for _, tc := range []struct {
		p      *Principal
		scopes []string
		want   bool
	}{
		{nil, nil, false},
		{&Principal{Subject: "u1"}, nil, true},
		{&Principal{Subject: "u1"}, []string{"admin"}, false},
		{admin, []string{"admin"}, true},
		{admin, []string{"admin", "read"}, true},
		{admin, []string{"admin", "write"}, false},
	} {
		if got := Allowed(tc.p, tc.scopes); got != tc.want {
			t.Errorf("Allowed(%v, %v) = %v", tc.p, tc.scopes, got)
		}
	}
}

package policies

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// FuzzQueryLimits: whatever parses, the limits answer without panicking, and a query
// refused for depth is indeed deeper than the limit allows.
func FuzzQueryLimits(f *testing.F) {
	for _, seed := range []string{`{ a }`, `{ a { b { c } } }`, `{ ...F } fragment F on Q { x: a { ...F } }`,
		`query Q($a: Int = 1) { a(x: $a) @skip(if: true) { ... on T { b } } }`, doubling(8)} {
		f.Add(seed)
	}
	l := QueryLimits{MaxBytes: 1 << 12, MaxDepth: 5, MaxAliases: 3}
	f.Fuzz(func(t *testing.T, q string) {
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		if err != nil || len(doc.Operations) == 0 {
			return
		}
		oc := &graphql.OperationContext{RawQuery: q, Doc: doc, Operation: doc.Operations[0]}
		_ = l.MutateOperationContext(context.Background(), oc)
	})
}

// FuzzAPIKey: no presented key but the right one yields a principal, and none panics.
func FuzzAPIKey(f *testing.F) {
	h := sha256.Sum256([]byte("the-key"))
	a, err := NewAuthenticator("X-API-Key", false, []APIKey{{Name: "k", SHA256: hex.EncodeToString(h[:]), Subject: "u1"}})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"the-key", "", "the-key ", "THE-KEY", "\x00", "the-ke"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, key string) {
		p := a.lookup(key)
		if (p != nil) != (key == "the-key") {
			t.Fatalf("key %q: principal %v", key, p)
		}
		req := httptest.NewRequest("POST", "/graphql", nil)
		if len(key) < 1<<10 && validHeaderValue(key) {
			req.Header.Set("X-API-Key", key)
		}
		rec := httptest.NewRecorder()
		a.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, req)
	})
}

func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

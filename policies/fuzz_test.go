package policies

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/switchyard/switchyard/policies/oidctest"
	"github.com/switchyard/switchyard/setting"
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
	a, err := NewAuthenticator(AuthOptions{APIKeyHeader: "X-API-Key", APIKeys: []APIKey{{Name: "k", SHA256: hex.EncodeToString(h[:]), Subject: "u1"}}})
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

// FuzzBearerToken: whatever is presented as a token, verification answers without
// panicking, and a token is accepted only with the header and claims the issuer
// signed: no change to either passes.
func FuzzBearerToken(f *testing.F) {
	iss := oidctest.New(f)
	tokens, err := NewTokens([]Issuer{{URL: iss.URL, Audiences: []string{"switchyard"}, RefetchInterval: setting.D(time.Hour)}})
	if err != nil {
		f.Fatal(err)
	}
	claims := iss.Claims("u1", "switchyard")
	signed := []string{iss.Sign(f, "rsa-1", claims), iss.Sign(f, "ec-1", claims)}
	valid := signed[0]
	for _, seed := range append(signed, oidctest.Unsigned(claims), iss.HMACWithPublicKey(f, claims),
		"", ".", "..", "a.b.c", "e30.e30.", "eyJhbGciOiJSUzI1NiJ9.e30.AAAA", valid+"A", valid[:len(valid)-2]) {
		f.Add(seed)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, tok string) {
		p, err := tokens.Verify(ctx, tok)
		if err == nil && (!slices.ContainsFunc(signed, func(s string) bool { return sameContent(s, tok) }) || p.Subject != "u1") {
			t.Fatalf("token %q accepted as %+v", tok, p)
		}
	})
}

// sameContent reports whether two compact JWS carry the same header and payload
// bytes (base64 allows more than one spelling of a last character).
func sameContent(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	if len(pa) != 3 || len(pb) != 3 {
		return false
	}
	for i := range 2 {
		da, ea := base64.RawURLEncoding.DecodeString(pa[i])
		db, eb := base64.RawURLEncoding.DecodeString(pb[i])
		if ea != nil || eb != nil || string(da) != string(db) {
			return false
		}
	}
	return true
}

package gateway_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/demo"
	"github.com/switchyard/switchyard/gateway"
	graphv1 "github.com/switchyard/switchyard/graph/v1"
	graphv2 "github.com/switchyard/switchyard/graph/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestServedSchemasAreGolden prints every served schema and fails when one changes
// without its golden file changing: a schema change must be deliberate.
func TestServedSchemasAreGolden(t *testing.T) {
	for name, schema := range map[string]func() string{
		"v1": func() string { return sdl(graphv1.NewExecutableSchema(graphv1.Config{}).Schema()) },
		"v2": func() string { return sdl(graphv2.NewExecutableSchema(graphv2.Config{}).Schema()) },
	} {
		t.Run(name, func(t *testing.T) {
			got := schema()
			file := filepath.Join("testdata", "schema."+name+".graphql")
			if *update {
				if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test ./gateway -run Golden -update to write it)", err)
			}
			if got != string(want) {
				t.Fatalf("the served %s schema differs from %s; if the change is meant, run go test ./gateway -run Golden -update", name, file)
			}
		})
	}
}

func sdl(s *ast.Schema) string {
	var b strings.Builder
	formatter.NewFormatter(&b).FormatSchema(s)
	return b.String()
}

func TestVersionsSideBySide(t *testing.T) {
	s := startStack(t, 1, func(c *config.Config) {
		c.Versions = map[string]config.Version{"v1": {
			Deprecated: config.Date{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
			Sunset:     config.Date{Time: time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)},
		}}
	})
	q := `{ product(id:"p1"){ name price currency } order(id:"o1"){ total items{ unitPrice currency } } }`
	q2 := `{ product(id:"p1"){ name price{ amount currency } } order(id:"o1"){ total{ amount currency } items{ unitPrice{ amount currency } } } }`
	post := func(path, version, query string) (*http.Response, gqlResponse) {
		body, _ := json.Marshal(map[string]string{"query": query})
		req, _ := http.NewRequest("POST", s.url+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if version != "" {
			req.Header.Set("API-Version", version)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out gqlResponse
		json.Unmarshal(raw, &out)
		out.Status, out.Raw = resp.StatusCode, string(raw)
		return resp, out
	}
	v1Data := `{"product":{"name":"Analytical Engine Manual","price":19.99,"currency":"USD"},"order":{"total":39.98,"items":[{"unitPrice":19.99,"currency":"USD"}]}}`
	v2Data := `{"product":{"name":"Analytical Engine Manual","price":{"amount":1999,"currency":"USD"}},"order":{"total":{"amount":3998,"currency":"USD"},"items":[{"unitPrice":{"amount":1999,"currency":"USD"}}]}}`
	tests := []struct {
		name, path, version, query, want string
		deprecated                       bool
	}{
		{"v1 by path", "/v1/graphql", "", q, v1Data, true},
		{"v2 by path", "/v2/graphql", "", q2, v2Data, false},
		{"current by default", "/graphql", "", q2, v2Data, false},
		{"v1 by header", "/graphql", "1", q, v1Data, true},
		{"v2 by header", "/graphql", "v2", q2, v2Data, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, got := post(tc.path, tc.version, tc.query)
			if got.Status != 200 || len(got.Errors) > 0 {
				t.Fatalf("%d %s", got.Status, got.Raw)
			}
			jsonEqual(t, got.Data, tc.want)
			dep, sun := resp.Header.Get("Deprecation"), resp.Header.Get("Sunset")
			if tc.deprecated && (dep != "@1767225600" || sun != "Wed, 30 Jun 2027 00:00:00 GMT") {
				t.Errorf("Deprecation %q, Sunset %q", dep, sun)
			}
			if !tc.deprecated && (dep != "" || sun != "") {
				t.Errorf("a current version says it is deprecated: %q %q", dep, sun)
			}
		})
	}
	t.Run("unknown version", func(t *testing.T) {
		_, got := post("/graphql", "3", q2)
		if got.Status != 400 || len(got.Errors) != 1 || got.Errors[0].Extensions["code"] != "UNKNOWN_API_VERSION" ||
			!strings.Contains(got.Errors[0].Message, "v1, v2") {
			t.Fatalf("%d %s", got.Status, got.Raw)
		}
	})
}

func TestAutomaticPersistedQueries(t *testing.T) {
	s := startStack(t, 1, nil)
	const q = `{ user(id:"u1"){ name } }`
	sum := sha256.Sum256([]byte(q))
	hash := hex.EncodeToString(sum[:])
	send := func(withQuery bool) gqlResponse {
		body := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}
		if withQuery {
			body["query"] = q
		}
		b, _ := json.Marshal(body)
		resp, err := http.Post(s.url+"/graphql", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out gqlResponse
		json.Unmarshal(raw, &out)
		out.Status, out.Raw = resp.StatusCode, string(raw)
		return out
	}
	if got := send(false); len(got.Errors) != 1 || got.Errors[0].Extensions["code"] != "PERSISTED_QUERY_NOT_FOUND" {
		t.Fatalf("miss: %s", got.Raw)
	}
	if got := send(true); len(got.Errors) != 0 {
		t.Fatalf("register: %s", got.Raw)
	}
	got := send(false)
	if len(got.Errors) != 0 {
		t.Fatalf("hit: %s", got.Raw)
	}
	jsonEqual(t, got.Data, `{"user":{"name":"Ada Lovelace"}}`)
	// A hash that does not match its query is refused.
	bad := map[string]any{"query": `{ me { id } }`, "extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}}
	b, _ := json.Marshal(bad)
	resp, _ := http.Post(s.url+"/graphql", "application/json", bytes.NewReader(b))
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), "provided APQ hash does not match query") {
		t.Fatalf("a mismatched hash: %s", raw)
	}
}

func TestHostileQueriesAreRefused(t *testing.T) {
	s := startStack(t, 1, nil)
	deep := `{ user(id:"u1"){ ` + strings.Repeat("orders{ user{ ", 50) + "id" + strings.Repeat(" }", 102)
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := range 5000 {
		fmt.Fprintf(&aliases, " a%d: __typename", i)
	}
	aliases.WriteString(" }")
	var manyAliases strings.Builder
	manyAliases.WriteString("{")
	for i := range 40 {
		fmt.Fprintf(&manyAliases, " a%d: __typename", i)
	}
	manyAliases.WriteString(" }")
	ids := strings.TrimSuffix(strings.Repeat(`"u1",`, 200), ",")
	costly := `{ users(ids:[` + ids + `]){ orders(first:100){ items{ product{ reviews(first:50){ author{ name } } } } } } }`
	tests := []struct{ name, query, code string }{
		{"depth 100", deep, "QUERY_TOO_DEEP"},
		{"5,000 aliases", aliases.String(), "QUERY_TOO_LARGE"},
		{"40 aliases", manyAliases.String(), "TOO_MANY_ALIASES"},
		{"6,000 tokens in 12 KB", `{ users(ids: [` + strings.Repeat("1 ", 6000) + `]) { id } }`, "TOO_MANY_TOKENS"},
		{"cost", costly, "COMPLEXITY_LIMIT_EXCEEDED"},
		{"cost built to overflow", `{ user(id:"u1") { orders(first: 8) { user { orders(first: 1073741824) { user { orders(first: 2147483646) { id } } } } } } }`, "COMPLEXITY_LIMIT_EXCEEDED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.cluster.ResetCounters()
			got := s.query(t, tc.query)
			if got.Status != 400 || len(got.Errors) == 0 || got.Errors[0].Extensions["code"] != tc.code {
				t.Fatalf("%d %.300s", got.Status, got.Raw)
			}
			for _, svc := range demo.Services {
				if n := s.cluster.Calls(svc); n != 0 {
					t.Errorf("a refused query made %d calls to %s", n, svc)
				}
			}
		})
	}
}

// TestHostileBodiesAreRefused: what arrives as a body too big to be a query (2 MB of
// query, 10 MB of body) or as a batch of 1,000 operations is refused with its code,
// without the gateway reading the body whole or calling an upstream.
func TestHostileBodiesAreRefused(t *testing.T) {
	s := startStack(t, 1, nil)
	op := `{"query":"{ user(id: \"u1\") { name } }"}`
	batch := "[" + strings.TrimSuffix(strings.Repeat(op+",", 1000), ",") + "]"
	for _, tc := range []struct {
		name   string
		body   io.Reader
		status int
		code   string
	}{
		{"a 2 MB query", strings.NewReader(`{"query":"{ ` + strings.Repeat("__typename ", 2<<20/11) + `}"}`), 413, "REQUEST_TOO_LARGE"},
		{"a 10 MB body", io.MultiReader(strings.NewReader(`{"query":"`), &repeatReader{b: ' ', n: 10 << 20}), 413, "REQUEST_TOO_LARGE"},
		{"a batch of 1,000 operations", strings.NewReader(batch), 400, "BAD_REQUEST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.cluster.ResetCounters()
			resp, err := http.Post(s.url+"/graphql", "application/json", tc.body)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(raw), `"code":"`+tc.code+`"`) {
				t.Fatalf("%d %.300s", resp.StatusCode, raw)
			}
			for _, svc := range demo.Services {
				if n := s.cluster.Calls(svc); n != 0 {
					t.Errorf("a refused request made %d calls to %s", n, svc)
				}
			}
		})
	}
	// Memory stays bounded: the handler stops reading a body at the limit.
	body := &repeatReader{b: ' ', n: 10 << 20}
	req := httptest.NewRequest("POST", "/graphql", io.MultiReader(strings.NewReader(`{"query":"`), body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.gw.Handler().ServeHTTP(rec, req)
	if read := 10<<20 - body.n; rec.Code != 413 || read > 2<<20 {
		t.Errorf("a 10 MB body: %d after reading %d KB of it", rec.Code, read>>10)
	}
}

// repeatReader reads n copies of b, without holding them.
type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.n)
	for i := range n {
		p[i] = r.b
	}
	r.n -= n
	return n, nil
}

func TestCORSAndSecurityHeaders(t *testing.T) {
	s := startStack(t, 1, func(c *config.Config) {
		c.CORS.AllowedOrigins = []string{"https://shop.example"}
	})
	preflight := func(origin string, headers ...string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", s.url+"/graphql", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "api-version,content-type") // as browsers send it: lower case, sorted
		if len(headers) > 0 {
			req.Header.Set("Access-Control-Request-Headers", headers[0])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := preflight("https://shop.example"); resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "api-version") {
		t.Fatalf("preflight from an allowed origin: %d %v", resp.StatusCode, resp.Header)
	}
	// The default key header is allowed by default.
	if resp := preflight("https://shop.example", "content-type,x-api-key"); resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "x-api-key") {
		t.Fatalf("preflight with the API key header: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := preflight("https://evil.example"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin allowed: %v", resp.Header)
	}
	req, _ := http.NewRequest("POST", s.url+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://shop.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Errorf("CORS answer headers: %v", resp.Header)
	}
	for _, h := range []string{"X-Request-Id", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"} {
		if !strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Expose-Headers")), strings.ToLower(h)) { // names are case-insensitive
			t.Errorf("%s is not exposed: %q", h, resp.Header.Get("Access-Control-Expose-Headers"))
		}
	}
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
}

// A preflight asking for a header cors.allowed_headers lacks is refused (no
// Access-Control-Allow-Origin), and the refusal is logged with the header's name.
func TestRefusedPreflightIsLogged(t *testing.T) {
	var logs syncBuffer
	cfg := demoConfig(t, startCluster(t, 1), func(c *config.Config) {
		c.CORS.AllowedOrigins = []string{"https://shop.example"}
		c.Auth.APIKeyHeader = "X-Shop-Key"
	})
	rt, err := gateway.NewRuntime(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	srv := httptest.NewServer(rt.Handler())
	defer srv.Close()
	preflight := func(headers string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", srv.URL+"/graphql", nil)
		req.Header.Set("Origin", "https://shop.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", headers)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := preflight("content-type,x-shop-key"); resp.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("the configured key header is not allowed: %v", resp.Header)
	}
	if resp := preflight("content-type,x-custom"); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a header not allowed passed: %v", resp.Header)
	}
	if !strings.Contains(logs.String(), "CORS preflight refused") || !strings.Contains(logs.String(), "X-Custom") {
		t.Errorf("the refusal is not logged: %s", logs.String())
	}
}

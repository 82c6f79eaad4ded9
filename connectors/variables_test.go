package connectors

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/switchyard/switchyard/policies"
	"github.com/switchyard/switchyard/upstreams"
)

const accountsSDL = `extend schema @source(name: "acct", http: { baseURL: "http://acct/v1", headers: [{ name: "X-Key", value: "{$config.key}" }] })
type Query {
  me: Account @connect(source: "acct",
    http: { GET: "/accounts/{$context.subject}", queryParams: "region: $config.regions->first",
            headers: [{ name: "X-Scopes", value: "{$context.scopes->joinNotNull(' ')}" }] },
    selection: "id key region scopes plan: $config.plan.name caller: $context.subject")
  account(id: ID!): Account @connect(source: "acct", http: { GET: "/accounts/{$args.id}" }, selection: "id caller: $context.subject")
}
type Account { id: ID! key: String region: String scopes: String plan: String caller: String }
`

// TestConfigAndContext: $config holds the configuration's values and $context the
// authenticated caller (here through the real API-key authenticator), in URL
// templates, query parameters, headers and selections; for an anonymous caller a
// connector whose URL needs $context is not called and its field is null.
func TestConfigAndContext(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	acct := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls = append(calls, r.URL.String())
		mu.Unlock()
		id := strings.TrimPrefix(r.URL.Path, "/v1/accounts/")
		_ = json.NewEncoder(w).Encode(map[string]string{"id": id, "key": r.Header.Get("X-Key"),
			"region": r.URL.Query().Get("region"), "scopes": r.Header.Get("X-Scopes")})
	}))
	defer acct.Close()
	s, err := Load(map[string]string{"accounts.graphql": accountsSDL}, pools("acct"))
	if err != nil {
		t.Fatal(err)
	}
	values, err := ConfigValues(map[string]any{"key": "k-1", "regions": []any{"eu", "us"}, "plan": map[string]any{"name": "gold", "seats": 3}})
	if err != nil {
		t.Fatal(err)
	}
	exec, err := NewExecutable(s, map[string]*upstreams.Service{"acct": service(t, "acct", acct.URL)}, values)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("secret-ada"))
	auth, err := policies.NewAuthenticator(policies.AuthOptions{APIKeyHeader: "X-Api-Key",
		APIKeys: []policies.APIKey{{Name: "ada", SHA256: hex.EncodeToString(sum[:]), Subject: "u/1", Scopes: []string{"admin", "read"}}}})
	if err != nil {
		t.Fatal(err)
	}
	h := handler.New(exec)
	h.AddTransport(transport.POST{})
	gw := httptest.NewServer(auth.Middleware(h))
	defer gw.Close()
	ask := func(key, q string) string {
		t.Helper()
		req, _ := http.NewRequest("POST", gw.URL, strings.NewReader(`{"query":`+quote(q)+`}`))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("X-Api-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	for _, tc := range []struct{ name, key, query, want, call string }{
		{"the caller", "secret-ada", `{ me { id key region scopes plan caller } }`,
			`{"data":{"me":{"id":"u/1","key":"k-1","region":"eu","scopes":"admin read","plan":"gold","caller":"u/1"}}}`,
			"/v1/accounts/u%2F1?region=eu"},
		{"anonymous: no call", "", `{ me { id } }`, `{"data":{"me":null}}`, ""},
		{"anonymous: $context in a selection is missing", "", `{ account(id: "a1") { id caller } }`,
			`{"data":{"account":{"id":"a1","caller":null}}}`, "/v1/accounts/a1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			calls = nil
			mu.Unlock()
			if got := ask(tc.key, tc.query); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			mu.Lock()
			defer mu.Unlock()
			if want := []string{tc.call}; (tc.call == "" && len(calls) != 0) || (tc.call != "" && (len(calls) != 1 || calls[0] != want[0])) {
				t.Errorf("calls %q, want %q", calls, tc.call)
			}
		})
	}
}

// TestConfigValues: YAML's values become the decoded JSON selections read, and a
// value JSON cannot hold is refused.
func TestConfigValues(t *testing.T) {
	got, err := ConfigValues(map[string]any{"n": 3, "f": 1.5, "l": []any{"a", true, nil}, "m": map[string]any{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	if string(b) != `{"f":1.5,"l":["a",true,null],"m":{"k":"v"},"n":3}` {
		t.Errorf("got %s", b)
	}
	if n, ok := got["n"].(json.Number); !ok || n != "3" {
		t.Errorf("n is %T %v, want json.Number 3", got["n"], got["n"])
	}
	if _, err := ConfigValues(map[string]any{"bad": func() {}}); err == nil {
		t.Error("a function was accepted")
	}
}

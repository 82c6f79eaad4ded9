package gateway_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
)

func keyHash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

func TestAPIKeys(t *testing.T) {
	cluster := startCluster(t, 1)
	configWith := func(required bool, keys ...config.APIKey) *config.Config {
		return demoConfig(t, cluster, func(c *config.Config) { c.Auth = config.Auth{Required: required, APIKeys: keys} })
	}
	ada := config.APIKey{Name: "ada-app", SHA256: keyHash("secret-ada"), Subject: "u1"}
	ops := config.APIKey{Name: "ops", SHA256: keyHash("secret-ops"), Scopes: []string{"admin"}}
	rt, srv := serveRuntime(t, configWith(false, ada, ops))
	post := func(key, query string) (*http.Response, string) {
		return postQuery(t, srv.URL+"/graphql", query, "X-API-Key", key)
	}
	tests := []struct {
		name, key, query string
		status           int
		contains         string
	}{
		{"a user's key: me and its own e-mail", "secret-ada", `{ me { id email } }`, 200, `{"data":{"me":{"id":"u1","email":"ada@example.com"}}}`},
		{"a user's key: another's e-mail is forbidden", "secret-ada", `{ user(id:"u2"){ email } }`, 200, "FORBIDDEN"},
		{"an admin key sees e-mails", "secret-ops", `{ user(id:"u2"){ email } }`, 200, `"email":"`},
		{"an unknown key", "secret-eve", `{ me { id } }`, 401, "UNAUTHENTICATED"},
		{"no key, not required", "", `{ me { id } }`, 200, `{"data":{"me":null}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(tc.key, tc.query)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.contains) {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatal("no WWW-Authenticate challenge")
			}
		})
	}
	t.Run("revoked by a reload, required after another", func(t *testing.T) {
		if err := rt.Reload(configWith(false, ops)); err != nil {
			t.Fatal(err)
		}
		if resp, body := post("secret-ada", `{ me { id } }`); resp.StatusCode != 401 {
			t.Fatalf("a revoked key still works: %d %s", resp.StatusCode, body)
		}
		if err := rt.Reload(configWith(true, ops)); err != nil {
			t.Fatal(err)
		}
		if resp, _ := post("", `{ me { id } }`); resp.StatusCode != 401 {
			t.Fatalf("no key where one is required: %d", resp.StatusCode)
		}
		if resp, _ := post("secret-ops", `{ me { id } }`); resp.StatusCode != 200 {
			t.Fatalf("a valid key where one is required: %d", resp.StatusCode)
		}
	})
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`switchyard_auth_decisions_total{result="authenticated"} 4`,
		`switchyard_auth_decisions_total{result="invalid"} 2`,
		`switchyard_auth_decisions_total{result="anonymous"} 1`,
		`switchyard_auth_decisions_total{result="missing"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestRouteAndOperationRules: a route rule refuses the anonymous with 401 and a
// caller without the scope with 403, however the route's version is reached; an
// operation rule does the same for a trusted document; rules naming what is not
// served, or operations a client could name at will, are refused.
func TestRouteAndOperationRules(t *testing.T) {
	cluster := startCluster(t, 1)
	manifest := filepath.Join(t.TempDir(), "manifest.json")
	named := `query Named { product(id: "p1") { id } }`
	b, _ := json.Marshal(map[string]string{keyHash(named): named})
	if err := os.WriteFile(manifest, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := demoConfig(t, cluster, func(c *config.Config) {
		c.GraphQL.TrustedDocuments = manifest
		c.Auth = config.Auth{
			APIKeys: []config.APIKey{
				{Name: "app", SHA256: keyHash("secret-app"), Subject: "u1"},
				{Name: "legacy", SHA256: keyHash("secret-legacy"), Subject: "u2", Scopes: []string{"legacy"}},
			},
			Routes: map[string]config.Requirement{
				"/v1/graphql":            {Scopes: []string{"legacy"}},
				"/rest/v2/products/{id}": {Authenticated: true},
			},
			Operations: map[string]config.Requirement{"Named": {Authenticated: true}},
		}
	})
	rt, srv := serveRuntime(t, cfg)
	do := func(method, path, key, body string, header ...string) (*http.Response, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	q, _ := json.Marshal(map[string]string{"query": named})
	page := string(q)
	for _, tc := range []struct {
		name, method, path, key, body string
		header                        []string
		status                        int
		code                          string
	}{
		{"route rule: anonymous", "POST", "/v1/graphql", "", page, nil, 401, "UNAUTHENTICATED"},
		{"route rule: no scope", "POST", "/v1/graphql", "secret-app", page, nil, 403, "FORBIDDEN"},
		{"route rule: the scope", "POST", "/v1/graphql", "secret-legacy", page, nil, 200, `"id":"p1"`},
		{"route rule through /graphql and API-Version", "POST", "/graphql", "secret-app", page, []string{"API-Version", "1"}, 403, "FORBIDDEN"},
		{"other versions are open", "POST", "/graphql", "secret-app", page, nil, 200, `"id":"p1"`},
		{"a REST route rule: anonymous", "GET", "/rest/v2/products/p1", "", "", nil, 401, `{"error":{"code":"UNAUTHENTICATED"`},
		{"a REST route rule: authenticated", "GET", "/rest/v2/products/p1", "secret-app", "", nil, 200, `"id":"p1"`},
		{"operation rule: anonymous", "POST", "/graphql", "", page, nil, 401, "UNAUTHENTICATED"},
		{"operation rule: authenticated", "POST", "/v2/graphql", "secret-app", page, nil, 200, `"id":"p1"`},
		{"a renamed operation is not trusted", "POST", "/graphql", "", `{"query":"query Other { product(id: \"p1\") { id } }"}`, nil, 400, "PERSISTED_QUERY_NOT_IN_LIST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := do(tc.method, tc.path, tc.key, tc.body, tc.header...)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.code) {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Fatal("no WWW-Authenticate challenge")
			}
		})
	}
	for _, edit := range []func(*config.Config){
		func(c *config.Config) {
			c.Auth.Routes = map[string]config.Requirement{"/rest/v9/nope": {Authenticated: true}} // only the built gateway knows
		},
		func(c *config.Config) {
			c.GraphQL.TrustedDocuments = manifest
			c.Auth.Operations = map[string]config.Requirement{"AnythingAClientNames": {Authenticated: true}}
		},
	} {
		cfg := demoConfig(t, cluster, edit)
		if err := rt.Reload(cfg); err == nil {
			t.Errorf("%+v accepted", cfg.Auth)
		}
	}
}

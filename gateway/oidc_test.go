package gateway_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/policies/oidctest"
)

// TestOIDC authenticates callers with tokens of a real issuer on loopback (discovery,
// JWKS, RSA and EC keys): each bad token gets 401 with its reason in the challenge,
// `me` is the token's subject, scopes reach field authorization, and a key rotated at
// the issuer mid-test is accepted at once.
func TestOIDC(t *testing.T) {
	iss := oidctest.New(t)
	cluster := startCluster(t, 1)
	var mu sync.Mutex // the issuer's clock, which the test moves
	now := time.Now()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	cfg := demoConfig(t, cluster, func(c *config.Config) {
		c.Auth = config.Auth{Required: true, OIDC: []config.OIDCIssuer{{
			URL: iss.URL, Audiences: []string{"switchyard"}, RefetchInterval: config.D(time.Second), Now: clock,
		}}}
	})
	rt, srv := serveRuntime(t, cfg)
	post := func(authorization, query string) (*http.Response, string) {
		return postQuery(t, srv.URL+"/graphql", query, "Authorization", authorization)
	}
	claims := func(sub string, edit func(map[string]any)) map[string]any {
		c := iss.Claims(sub, "switchyard")
		if edit != nil {
			edit(c)
		}
		return c
	}
	valid := iss.Sign(t, "rsa-1", claims("u1", nil))
	parts := strings.Split(valid, ".")
	other := oidctest.New(t)
	iss.Unpublished(t, "stolen")
	tests := []struct {
		name, authorization, query string
		status                     int
		contains, challenge        string
	}{
		{"RS256: me is the subject", "Bearer " + valid, `{ me { id email } }`, 200, `{"data":{"me":{"id":"u1","email":"ada@example.com"}}}`, ""},
		{"ES256", "Bearer " + iss.Sign(t, "ec-1", claims("u2", nil)), `{ me { id } }`, 200, `{"data":{"me":{"id":"u2"}}}`, ""},
		{"another's e-mail is forbidden", "Bearer " + valid, `{ user(id:"u2"){ email } }`, 200, "FORBIDDEN", ""},
		{"scope admin sees it", "Bearer " + iss.Sign(t, "ec-1", claims("u1", func(c map[string]any) { c["scope"] = "read admin" })), `{ user(id:"u2"){ email } }`, 200, `"email":"`, ""},
		{"expired", "Bearer " + iss.Sign(t, "rsa-1", claims("u1", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })), `{ me { id } }`, 401, "UNAUTHENTICATED", "expired"},
		{"wrong audience", "Bearer " + iss.Sign(t, "rsa-1", claims("u1", func(c map[string]any) { c["aud"] = "billing" })), `{ me { id } }`, 401, "UNAUTHENTICATED", "audience"},
		{"wrong issuer", "Bearer " + other.Token(t, "u1", "switchyard"), `{ me { id } }`, 401, "UNAUTHENTICATED", "issuer"},
		{"unknown key", "Bearer " + iss.Sign(t, "stolen", claims("u1", nil)), `{ me { id } }`, 401, "UNAUTHENTICATED", "key"},
		{"alg none", "Bearer " + oidctest.Unsigned(claims("u1", nil)), `{ me { id } }`, 401, "UNAUTHENTICATED", "algorithm"},
		{"HS256 with the RSA public key", "Bearer " + iss.HMACWithPublicKey(t, claims("u1", nil)), `{ me { id } }`, 401, "UNAUTHENTICATED", "algorithm"},
		{"tampered payload", "Bearer " + parts[0] + "." + strings.TrimRight(parts[1], "A") + "x." + parts[2], `{ me { id } }`, 401, "UNAUTHENTICATED", "invalid_token"},
		{"missing where required", "", `{ me { id } }`, 401, "UNAUTHENTICATED", `realm="switchyard"`},
		{"not a bearer token", "Basic dTE6cGFzcw==", `{ me { id } }`, 401, "UNAUTHENTICATED", "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(tc.authorization, tc.query)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.contains) {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if ch := resp.Header.Get("WWW-Authenticate"); tc.status == 401 && (!strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, tc.challenge)) {
				t.Fatalf("challenge %q, want one with %q", ch, tc.challenge)
			}
		})
	}
	t.Run("key rotated at the issuer", func(t *testing.T) {
		mu.Lock()
		now = now.Add(1050 * time.Millisecond) // past the refetch interval
		mu.Unlock()
		iss.Rotate(t)
		for _, u := range []string{"u3", "u4"} {
			if resp, body := post("Bearer "+iss.Token(t, u, "switchyard"), `{ me { id } }`); resp.StatusCode != 200 || !strings.Contains(body, `"id":"`+u+`"`) {
				t.Fatalf("a token signed with the new key: %d %s", resp.StatusCode, body)
			}
		}
		if resp, body := post("Bearer "+valid, `{ me { id } }`); resp.StatusCode != 401 {
			t.Fatalf("a token signed with the withdrawn key: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("a reload keeps the keys", func(t *testing.T) {
		before := iss.KeyFetches.Load()
		if err := rt.Reload(cfg); err != nil {
			t.Fatal(err)
		}
		if resp, body := post("Bearer "+iss.Token(t, "u1", "switchyard"), `{ me { id } }`); resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if n := iss.KeyFetches.Load() - before; n != 0 {
			t.Errorf("the reload fetched the keys %d more times", n)
		}
	})
	t.Run("the issuer down before any key was fetched", func(t *testing.T) {
		down := oidctest.New(t)
		down.SetDown(true)
		cfg := demoConfig(t, cluster, func(c *config.Config) {
			c.Auth = config.Auth{OIDC: []config.OIDCIssuer{{URL: down.URL, Audiences: []string{"switchyard"}}}}
		})
		if err := rt.Reload(cfg); err != nil {
			t.Fatalf("a reload must not need the issuer: %v", err)
		}
		resp, body := post("Bearer "+down.Token(t, "u1", "switchyard"), `{ me { id } }`)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
}

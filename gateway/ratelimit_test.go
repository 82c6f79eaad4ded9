package gateway_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/gateway"
	"github.com/switchyard/switchyard/policies/redistest"
)

// TestRateLimits checks the per-caller and per-route limits through real HTTP: the
// answer past the limit, the headers, that a spoofed X-Forwarded-For gains nothing,
// that API-key callers have buckets of their own, and the metric.
func TestRateLimits(t *testing.T) {
	s := startStack(t, 1, func(cfg *config.Config) {
		// Rates so slow that no token comes back during the test.
		cfg.RateLimits = config.RateLimits{
			PerCaller: &config.Rate{PerSecond: 0.001, Burst: 2},
			PerRoute:  map[string]config.Rate{"/rest/v2/products/{id}": {PerSecond: 0.001, Burst: 2}},
		}
		cfg.Auth.APIKeys = []config.APIKey{{Name: "a", SHA256: keyHash("key-a")}, {Name: "b", SHA256: keyHash("key-b")}, {Name: "c", SHA256: keyHash("key-c")},
			{Name: "gold", SHA256: keyHash("key-gold"), RateLimit: &config.Rate{PerSecond: 0.001, Burst: 4}}}
	})

	send := func(method, path string, header ...string) (*http.Response, string) {
		var body io.Reader
		if method == "POST" {
			body = strings.NewReader(`{"query":"{ user(id:\"u1\"){ name } }"}`)
		}
		req, _ := http.NewRequest(method, s.url+path, body)
		req.Header.Set("Content-Type", "application/json")
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

	// An anonymous caller, known by its address: two requests, then 429.
	for i, wantRemaining := range []string{"1", "0"} {
		resp, body := send("POST", "/graphql")
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i+1, resp.StatusCode, body)
		}
		if got := resp.Header.Get("RateLimit-Remaining"); got != wantRemaining || resp.Header.Get("RateLimit-Limit") != "2" {
			t.Errorf("request %d: RateLimit-Limit %q, RateLimit-Remaining %q, want 2, %s", i+1, resp.Header.Get("RateLimit-Limit"), got, wantRemaining)
		}
	}
	resp, body := send("POST", "/graphql")
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, `"code":"RATE_LIMITED"`) {
		t.Fatalf("past the limit: %d %s", resp.StatusCode, body)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	if resp.Header.Get("RateLimit-Reset") == "" {
		t.Error("no RateLimit-Reset")
	}
	// Another address in X-Forwarded-For, from a peer that is not a trusted proxy,
	// is the same caller; and the limit holds on every route and version.
	if resp, _ := send("POST", "/graphql", "X-Forwarded-For", "198.51.100.7"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a spoofed X-Forwarded-For got %d", resp.StatusCode)
	}
	if resp, _ := send("POST", "/v1/graphql"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("/v1/graphql got %d", resp.StatusCode)
	}
	// API-key callers have their own buckets.
	for _, key := range []string{"key-a", "key-b"} {
		if resp, body := send("POST", "/graphql", "X-API-Key", key); resp.StatusCode != 200 {
			t.Errorf("caller %s: %d %s", key, resp.StatusCode, body)
		}
	}
	// A route's limit is shared by its callers: a's and b's requests spend the
	// route's two tokens; then c, with tokens of its own, is refused.
	for i, key := range []string{"key-a", "key-b"} {
		if resp, body := send("GET", "/rest/v2/products/p1", "X-API-Key", key); resp.StatusCode != 200 {
			t.Fatalf("REST request %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	if resp, body := send("GET", "/rest/v2/products/p1", "X-API-Key", "key-c"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("past the route's limit: %d %s", resp.StatusCode, body)
	}
	// A key with a tier of its own is limited by it, not by per_caller.
	for i := range 4 {
		if resp, body := send("POST", "/graphql", "X-API-Key", "key-gold"); resp.StatusCode != 200 || resp.Header.Get("RateLimit-Limit") != "4" {
			t.Fatalf("gold request %d: %d, RateLimit-Limit %q: %s", i+1, resp.StatusCode, resp.Header.Get("RateLimit-Limit"), body)
		}
	}
	if resp, _ := send("POST", "/graphql", "X-API-Key", "key-gold"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("gold request 5: %d", resp.StatusCode)
	}
	_, metrics := send("GET", "/metrics")
	for _, want := range []string{
		`switchyard_rate_limited_total{limit="requests",route="/graphql"} 3`,
		`switchyard_rate_limited_total{limit="requests",route="/v1/graphql"} 1`,
		`switchyard_rate_limited_total{limit="requests",route="/rest/v2/products/{id}"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestRateLimitForNoRoute(t *testing.T) {
	cfg := demoConfig(t, startCluster(t, 1), func(c *config.Config) {
		c.RateLimits.PerRoute = map[string]config.Rate{"/rest/v2/nope": {PerSecond: 1, Burst: 1}} // only the built gateway knows
	})
	gw, err := gateway.New(cfg, slog.New(slog.DiscardHandler))
	if err == nil {
		gw.Close()
		t.Fatal("a limit for a route that is not served was accepted")
	}
	if !strings.Contains(err.Error(), `no route "/rest/v2/nope"`) {
		t.Errorf("error %q does not name the route", err)
	}
}

// TestCostRateLimit checks that an operation spends its cost, not one token: a
// caller with a budget of 10 runs a cheap query many times, but a costly one
// empties the budget, and REST endpoints spend their operation's cost too.
func TestCostRateLimit(t *testing.T) {
	s := startStack(t, 1, func(cfg *config.Config) {
		cfg.GraphQL.Limits.MaxCost = 40
		cfg.RateLimits.CostPerCaller = &config.Rate{PerSecond: 0.001, Burst: 40}
		cfg.Auth.APIKeys = []config.APIKey{{Name: "a", SHA256: keyHash("key-a")}, {Name: "b", SHA256: keyHash("key-b")}}
	})
	do := func(method, path, query, key string) (*http.Response, string) {
		var body io.Reader
		if query != "" {
			body = strings.NewReader(`{"query":"` + strings.ReplaceAll(query, `"`, `\"`) + `"}`)
		}
		req, _ := http.NewRequest(method, s.url+path, body)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	// { user { name } } costs 2: twenty of them fit in 40.
	for i := range 20 {
		if resp, body := do("POST", "/graphql", `{ user(id:"u1"){ name } }`, "key-a"); resp.StatusCode != 200 {
			t.Fatalf("cheap query %d: %d %s", i+1, resp.StatusCode, body)
		}
	}
	resp, body := do("POST", "/graphql", `{ user(id:"u1"){ name } }`, "key-a")
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "RATE_LIMITED") || !strings.Contains(body, "costs 2") {
		t.Fatalf("past the budget: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit-Limit") != "40" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", resp.Header)
	}
	if !strings.HasPrefix(body, `{"errors":[{"message":"the operation costs 2 and the caller's cost budget holds`) || !strings.HasSuffix(body, `"extensions":{"code":"RATE_LIMITED"}}]}`) {
		t.Errorf("body %s", body)
	}
	// A costly query (three users with five orders each: 1 + 3*(1 + 1 + 5*1) = 22)
	// takes over half of b's budget, so a second one does not fit, where a limit of
	// requests would count each as one.
	costly := `{ users(ids: ["u1","u2","u3"]){ name orders(first: 5){ id } } }`
	resp, body = do("POST", "/graphql", costly, "key-b")
	if resp.StatusCode != 200 {
		t.Fatalf("costly query: %d %s", resp.StatusCode, body)
	}
	if resp, body := do("POST", "/graphql", costly, "key-b"); resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "costs 22") {
		t.Errorf("second costly query: %d %s", resp.StatusCode, body)
	}
	// The REST endpoints run operations too, and spend their cost.
	resp, body = do("GET", "/rest/v2/products/p1", "", "key-a")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("REST past the budget: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	_, metrics := do("GET", "/metrics", "", "")
	for _, want := range []string{
		`switchyard_rate_limited_total{limit="cost",route="/graphql"} 2`,
		`switchyard_rate_limited_total{limit="cost",route="/rest/v2/products/{id}"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestRateLimitsOutliveReload checks that a reload keeps the buckets of a limit whose
// rate did not change, and starts afresh those whose rate did.
func TestRateLimitsOutliveReload(t *testing.T) {
	cluster := startCluster(t, 1)
	configWith := func(burst int) *config.Config {
		return demoConfig(t, cluster, func(c *config.Config) { c.RateLimits.PerCaller = &config.Rate{PerSecond: 0.001, Burst: burst} })
	}
	rt, srv := serveRuntime(t, configWith(1))
	status := func() int {
		resp, err := http.Post(srv.URL+"/graphql", "application/json", strings.NewReader(`{"query":"{ user(id:\"u1\"){ name } }"}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := []int{status(), status()}; got[0] != 200 || got[1] != 429 {
		t.Fatalf("statuses %v, want 200 then 429", got)
	}
	cfg := configWith(1)
	*cfg.AccessLog.Sample = 0.5 // a change elsewhere
	if err := rt.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if got := status(); got != 429 {
		t.Errorf("after a reload that kept the rate: %d, want 429", got)
	}
	if err := rt.Reload(configWith(3)); err != nil {
		t.Fatal(err)
	}
	if got := status(); got != 200 {
		t.Errorf("after a reload that changed the rate: %d, want 200", got)
	}
}

// TestSharedRateLimits: two gateways sharing a real redis-server enforce one
// per-caller limit between them; with Redis killed mid-test they keep serving under
// their own limits, and say so in the log and the metrics.
func TestSharedRateLimits(t *testing.T) {
	redis := redistest.Start(t)
	cluster := startCluster(t, 1)
	type instance struct {
		rt  *gateway.Runtime
		url string
		log *syncBuffer
	}
	start := func() instance {
		cfg := demoConfig(t, cluster, func(c *config.Config) {
			c.RateLimits = config.RateLimits{
				PerCaller: &config.Rate{PerSecond: 0.001, Burst: 4},
				Redis:     &config.Redis{URL: redis.URL, KeyPrefix: t.Name() + ":"},
			}
		})
		log := &syncBuffer{}
		rt, err := gateway.NewRuntime(cfg, slog.New(slog.NewTextHandler(log, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rt.Close)
		srv := httptest.NewServer(rt.Handler())
		t.Cleanup(srv.Close)
		return instance{rt, srv.URL, log}
	}
	a, b := start(), start()
	send := func(base string) *http.Response {
		req, _ := http.NewRequest("POST", base+"/graphql", strings.NewReader(`{"query":"{ user(id:\"u1\"){ name } }"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	allowed := 0
	for i := range 10 {
		inst := a
		if i%2 == 1 {
			inst = b
		}
		resp := send(inst.url)
		switch resp.StatusCode {
		case 200:
			allowed++
		case 429:
			if resp.Header.Get("Retry-After") == "" {
				t.Error("a 429 without Retry-After")
			}
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if allowed != 4 {
		t.Fatalf("two gateways let %d of 10 requests through one shared burst of 4", allowed)
	}
	if v := value(scrape(t, a.url), "switchyard_rate_limit_redis_up", nil); v != 1 {
		t.Errorf("switchyard_rate_limit_redis_up = %v, want 1", v)
	}

	redis.Kill()
	allowed = 0
	for range 6 {
		if resp := send(a.url); resp.StatusCode == 200 {
			allowed++
		} else if resp.StatusCode != 429 {
			t.Fatalf("with Redis down: status %d", resp.StatusCode)
		}
	}
	if allowed != 4 {
		t.Errorf("with Redis down, %d of 6 requests passed; want this instance's own burst of 4", allowed)
	}
	mfs := scrape(t, a.url)
	if v := value(mfs, "switchyard_rate_limit_redis_up", nil); v != 0 {
		t.Errorf("switchyard_rate_limit_redis_up = %v with Redis down, want 0", v)
	}
	if v := value(mfs, "switchyard_rate_limit_fallback_total", nil); v < 6 {
		t.Errorf("switchyard_rate_limit_fallback_total = %v, want at least 6", v)
	}
	if !strings.Contains(a.log.String(), "Redis cannot be reached") {
		t.Errorf("no log line says the limits fell back:\n%s", a.log.String())
	}
}

// TestSharedPersistedQueries: with graphql.apq.redis, a query registered through
// one gateway is found by hash through another; with Redis killed, each gateway
// keeps serving from its own cache, and a miss costs the client one round trip.
func TestSharedPersistedQueries(t *testing.T) {
	redis := redistest.Start(t)
	cluster := startCluster(t, 1)
	start := func() string {
		cfg := demoConfig(t, cluster, func(c *config.Config) {
			c.GraphQL.APQ.Redis = &config.Redis{URL: redis.URL, KeyPrefix: t.Name() + ":"}
		})
		_, srv := serveRuntime(t, cfg)
		return srv.URL
	}
	a, b := start(), start()
	send := func(base, query string, withText bool) string {
		sum := sha256.Sum256([]byte(query))
		body := map[string]any{"extensions": map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}}
		if withText {
			body["query"] = query
		}
		raw, _ := json.Marshal(body)
		resp, err := http.Post(base+"/graphql", "application/json", bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return string(out)
	}
	q := `{ product(id: "p1") { id } }`
	if got := send(b, q, false); !strings.Contains(got, "PERSISTED_QUERY_NOT_FOUND") {
		t.Fatalf("an unknown hash: %s", got)
	}
	if got := send(a, q, true); !strings.Contains(got, `"id":"p1"`) {
		t.Fatalf("registering: %s", got)
	}
	if got := send(b, q, false); !strings.Contains(got, `"id":"p1"`) {
		t.Fatalf("the hash through the other gateway: %s", got)
	}

	redis.Kill()
	q2 := `{ product(id: "p2") { id } }`
	if got := send(a, q2, true); !strings.Contains(got, `"id":"p2"`) {
		t.Fatalf("registering with Redis down: %s", got)
	}
	if got := send(a, q2, false); !strings.Contains(got, `"id":"p2"`) {
		t.Fatalf("the hash through the same gateway, Redis down: %s", got)
	}
	if got := send(b, q2, false); !strings.Contains(got, "PERSISTED_QUERY_NOT_FOUND") {
		t.Fatalf("the hash through the other gateway, Redis down: %s", got)
	}
	if got := send(b, q, false); !strings.Contains(got, `"id":"p1"`) {
		t.Fatalf("a hash held locally, Redis down: %s", got)
	}
}

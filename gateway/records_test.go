package gateway_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/gateway"
	"github.com/switchyard/switchyard/lb"
)

// hostileAnswers are the bodies of a hostile upstream by request target: records that
// break the REST contract in each way the gateway checks, beside good ones.
var hostileAnswers = map[string]string{
	"/users/x":   `{"id":"x","name":"X","tier":"PLATINUM"}`,
	"/users/n":   `{"id":null,"name":null,"tier":"GOLD"}`,
	"/users/a":   `{"id":"u999","name":"Someone else","tier":"GOLD"}`,
	"/users/utf": "{\"id\":\"utf\",\"name\":\"Ad\xffa\",\"tier\":\"GOLD\"}",
	"/users/u1":  `{"id":"u1","name":"Ada","tier":"GOLD"}`,
	"/orders?userId=u1": `[{"id":"o1","userId":"u1","status":"LOST","createdAt":"2026-01-02T03:04:05Z",` +
		`"items":[{"productId":"p1","quantity":2,"unitPrice":{"amount":1999,"currency":"USD"}}]}]`,
	"/products/p1":           `{"id":"p1","name":"Manual","category":"books","price":{"amount":1999,"currency":"USD"}}`,
	"/reviews?productIds=p1": `[{"id":"r1","productId":"p1","authorId":"u2","rating":9,"body":"Off the scale."}]`,
}

// hostileUsersBatch answers every /users?ids= call: u1 good, u2 with a tier the
// contract lacks, and a record of an id nobody asked for.
const hostileUsersBatch = `[{"id":"u1","name":"Ada","tier":"GOLD"},{"id":"u2","name":"Bob","tier":"PLATINUM"},` +
	`{"id":"u999","name":"Someone else","tier":"GOLD"}]`

func startHostile(t *testing.T) (url string, logs *syncBuffer) {
	t.Helper()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/users" {
			w.Write([]byte(hostileUsersBatch))
			return
		}
		body, ok := hostileAnswers[r.URL.RequestURI()]
		if !ok {
			w.WriteHeader(404)
			body = `{"error":"not found"}`
		}
		w.Write([]byte(body))
	}))
	t.Cleanup(upstream.Close)
	cfg := &config.Config{Pools: map[string]config.Pool{}}
	for _, name := range gateway.DemoPools() {
		cfg.Pools[name] = config.Pool{Options: lb.Options{Endpoints: []string{upstream.URL}, HealthCheck: lb.HealthCheck{Disabled: true}}}
	}
	cfg.Auth.APIKeys = []config.APIKey{{Name: "ops", SHA256: keyHash("secret-ops"), Scopes: []string{"admin"}}}
	validate(t, cfg)
	logs = &syncBuffer{}
	rt, err := gateway.NewRuntime(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	srv := httptest.NewServer(rt.Handler())
	t.Cleanup(srv.Close)
	return srv.URL, logs
}

func TestRecordsThatBreakTheContractAreRefused(t *testing.T) {
	url, logs := startHostile(t)
	tests := []struct {
		name, query, data string
		paths             []string // of the errors, in order
	}{
		{"unknown enum", `{ user(id:"x") { id name tier } }`, `{"user":null}`, []string{`["user"]`}},
		{"null id and name", `{ user(id:"n") { id name } }`, `{"user":null}`, []string{`["user"]`}},
		{"another id", `{ user(id:"a") { id name } }`, `{"user":null}`, []string{`["user"]`}},
		{"invalid UTF-8", `{ user(id:"utf") { name } }`, `{"user":null}`, []string{`["user"]`}},
		{"fetched ahead", `{ a: user(id:"x") { id } b: user(id:"u1") { id } }`, `{"a":null,"b":{"id":"u1"}}`, []string{`["a"]`}},
		{"batch", `{ users(ids:["u1","u2","u3"]) { id name } }`, `{"users":[{"id":"u1","name":"Ada"},null,null]}`, []string{`["users"]`, `["users"]`}},
		{"an element of a non-null list", `{ user(id:"u1") { name orders { id status } } }`, `{"user":null}`, []string{`["user","orders"]`}},
		// The demo's default fallback answers the refused reviews with none.
		{"a rating out of range", `{ product(id:"p1") { name reviews { rating } } }`, `{"product":{"name":"Manual","reviews":[]}}`, []string{`["product","reviews"]`}},
		{"no email: null, not empty", `{ user(id:"u1") { email } }`, `{"user":{"email":null}}`, nil},
		{"good records", `{ user(id:"u1") { id name tier } product(id:"p1") { name price { amount } } }`,
			`{"user":{"id":"u1","name":"Ada","tier":"GOLD"},"product":{"name":"Manual","price":{"amount":1999}}}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, raw := postQuery(t, url+"/graphql", tc.query, "X-API-Key", "secret-ops")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, raw)
			}
			var out struct {
				Data   json.RawMessage `json:"data"`
				Errors []struct {
					Path       []any          `json:"path"`
					Extensions map[string]any `json:"extensions"`
				} `json:"errors"`
			}
			if err := json.Unmarshal([]byte(raw), &out); err != nil {
				t.Fatalf("answer is not JSON: %v: %q", err, raw)
			}
			jsonEqual(t, out.Data, tc.data)
			if len(out.Errors) != len(tc.paths) {
				t.Fatalf("%d errors, want %d: %s", len(out.Errors), len(tc.paths), raw)
			}
			for i, e := range out.Errors {
				if p := mustJSON(e.Path); p != tc.paths[i] {
					t.Errorf("error %d at %s, want %s", i, p, tc.paths[i])
				}
				if e.Extensions["code"] != "UPSTREAM_BAD_RESPONSE" || e.Extensions["upstream"] == nil {
					t.Errorf("error %d: extensions %v", i, e.Extensions)
				}
			}
			for _, leak := range []string{"127.0.0.1", "/users", "/orders", "/reviews", "PLATINUM", "LOST", "u999", "\xff"} {
				if strings.Contains(raw, leak) {
					t.Errorf("the answer shows %q: %s", leak, raw)
				}
			}
		})
	}
	for _, want := range []string{`msg="upstream record refused" upstream=users target=/users/x reason="tier: not one of`,
		`target=/users/a reason="the record has another id`, `upstream=orders target="/orders?userId=u1"`,
		`upstream=reviews target="/reviews?productIds=p1" reason="rating: out of range"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
	for _, leak := range []string{"PLATINUM", "Someone else", "Off the scale"} {
		if strings.Contains(logs.String(), leak) {
			t.Errorf("the log shows the body (%q)", leak)
		}
	}
}

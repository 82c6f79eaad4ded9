package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/demo"
	"github.com/switchyard/switchyard/gateway"
	"github.com/switchyard/switchyard/lb"
)

// stack is the demo upstreams and a gateway over them, all on loopback.
type stack struct {
	ds      *demo.Dataset
	cluster *demo.Cluster
	gw      *gateway.Gateway
	url     string // the gateway's base URL
}

var dataset = sync.OnceValue(demo.NewDataset)

// startStack starts perService instances of each demo service and a gateway in front,
// with fast health checks. edit, if not nil, changes the configuration first.
func startStack(t *testing.T, perService int, edit func(*config.Config)) *stack {
	t.Helper()
	ds := dataset()
	cluster := startCluster(t, perService)
	cfg := &config.Config{Pools: map[string]config.Pool{}}
	for _, svc := range demo.Services {
		cfg.Pools[string(svc)] = config.Pool{Options: lb.Options{
			Endpoints:      cluster.URLs(svc),
			RequestTimeout: config.D(2 * time.Second),
			HealthCheck: lb.HealthCheck{
				Interval:           config.D(20 * time.Millisecond),
				Timeout:            config.D(200 * time.Millisecond),
				HealthyThreshold:   1,
				UnhealthyThreshold: 1,
			},
		}}
	}
	// A wide batch window, so that batching holds under the race detector's
	// slower scheduling; the default (1ms) is for production.
	cfg.GraphQL.LoaderWait = config.D(20 * time.Millisecond)
	if edit != nil {
		edit(cfg)
	}
	validate(t, cfg)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw, err := gateway.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		gw.Run(ctx)
	}()
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		gw.Close()
	})
	return &stack{ds: ds, cluster: cluster, gw: gw, url: srv.URL}
}

// startCluster starts perService instances of each demo service, closed when the
// test ends.
func startCluster(t *testing.T, perService int) *demo.Cluster {
	t.Helper()
	cluster, err := demo.StartCluster(dataset(), perService)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Close() })
	return cluster
}

// demoConfig is a valid configuration over cluster with health checks off, as a
// test that makes its own gateway or runtime needs it; edit, if not nil, changes it
// before the defaults are set and it is validated.
func demoConfig(t *testing.T, cluster *demo.Cluster, edit func(*config.Config)) *config.Config {
	t.Helper()
	cfg := &config.Config{Pools: map[string]config.Pool{}}
	for _, svc := range demo.Services {
		cfg.Pools[string(svc)] = config.Pool{Options: lb.Options{Endpoints: cluster.URLs(svc), HealthCheck: lb.HealthCheck{Disabled: true}}}
	}
	if edit != nil {
		edit(cfg)
	}
	validate(t, cfg)
	return cfg
}

// validate sets cfg's defaults and fails the test if it is not valid.
func validate(t *testing.T, cfg *config.Config) {
	t.Helper()
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

// serveRuntime runs a gateway runtime of cfg behind a loopback server, both
// closed when the test ends.
func serveRuntime(t *testing.T, cfg *config.Config) (*gateway.Runtime, *httptest.Server) {
	t.Helper()
	rt, err := gateway.NewRuntime(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	srv := httptest.NewServer(rt.Handler())
	t.Cleanup(srv.Close)
	return rt, srv
}

// postQuery posts a GraphQL query to url with one header (none when its value is
// empty) and returns the answer with its body read.
func postQuery(t *testing.T, url, query, header, value string) (*http.Response, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if value != "" {
		req.Header.Set(header, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// gqlResponse is a GraphQL answer with its raw data kept for exact comparison.
type gqlResponse struct {
	Status int
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	Raw string
}

func (s *stack) query(t *testing.T, q string) gqlResponse {
	t.Helper()
	return s.queryCtx(t, context.Background(), q)
}

func (s *stack) queryCtx(t *testing.T, ctx context.Context, q string) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": q})
	req, err := http.NewRequestWithContext(ctx, "POST", s.url+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := gqlResponse{Status: resp.StatusCode, Raw: string(raw)}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, raw)
	}
	return out
}

// jsonEqual compares two JSON texts for equal values.
func jsonEqual(t *testing.T, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %s", got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %s", want)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("data differs\n got: %s\nwant: %s", gb, wb)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestSpecQueries(t *testing.T) {
	s := startStack(t, 2, nil)
	ds := s.ds
	u2, _ := ds.User("u2")
	reviews := ds.ReviewsOf("p1")
	sum := 0
	for _, r := range reviews {
		sum += r.Rating
	}
	rating := float64(sum) / float64(len(reviews))
	firstReviews := make([]map[string]any, 0, 2)
	for _, r := range reviews[:min(2, len(reviews))] {
		author, _ := ds.User(r.AuthorID)
		firstReviews = append(firstReviews, map[string]any{"id": r.ID, "rating": r.Rating, "body": r.Body, "author": map[string]any{"name": author.Name}})
	}
	ordersU1 := ds.OrdersOf("u1")
	var latest []map[string]any
	for _, o := range ordersU1[:min(2, len(ordersU1))] {
		var total int64
		for _, it := range o.Items {
			total += int64(it.Quantity) * it.UnitPrice.Amount
		}
		latest = append(latest, map[string]any{"id": o.ID, "createdAt": o.CreatedAt, "total": map[string]any{"amount": total, "currency": "USD"}})
	}

	tests := []struct {
		name, query, want string
	}{
		{"user", `{ user(id:"u1"){ id name tier } }`,
			`{"user":{"id":"u1","name":"Ada Lovelace","tier":"GOLD"}}`},
		{"unknown user is null without error", `{ user(id:"u999999"){ id } }`, `{"user":null}`},
		{"product with money in minor units", `{ product(id:"p1"){ id name category price{ amount currency } } }`,
			`{"product":{"id":"p1","name":"Analytical Engine Manual","category":"books","price":{"amount":1999,"currency":"USD"}}}`},
		{"order with computed total", `{ order(id:"o1"){ id status createdAt items{ quantity unitPrice{ amount currency } product{ id name } } total{ amount currency } user{ name } } }`,
			`{"order":{"id":"o1","status":"SHIPPED","createdAt":"2026-01-02T03:04:05Z","items":[{"quantity":2,"unitPrice":{"amount":1999,"currency":"USD"},"product":{"id":"p1","name":"Analytical Engine Manual"}}],"total":{"amount":3998,"currency":"USD"},"user":{"name":"Ada Lovelace"}}}`},
		{"users in the order asked, null for unknown", `{ users(ids:["u2","nope","u1"]){ id name } }`,
			mustJSON(map[string]any{"users": []any{map[string]any{"id": "u2", "name": u2.Name}, nil, map[string]any{"id": "u1", "name": "Ada Lovelace"}}})},
		{"products", `{ products(ids:["p1","p0"]){ id } }`, `{"products":[{"id":"p1"},null]}`},
		{"rating and reviews with authors", `{ product(id:"p1"){ rating reviews(first:2){ id rating body author{ name } } } }`,
			mustJSON(map[string]any{"product": map[string]any{"rating": rating, "reviews": firstReviews}})},
		{"latest orders", `{ user(id:"u1"){ orders(first:2){ id createdAt total{ amount currency } } } }`,
			mustJSON(map[string]any{"user": map[string]any{"orders": latest}})},
		{"me is null when anonymous", `{ me { id } }`, `{"me":null}`},
		{"odd ids are not found", `{ a: user(id:""){ id } b: user(id:".."){ id } c: product(id:"."){ id } d: order(id:"../users/u1"){ id } }`,
			`{"a":null,"b":null,"c":null,"d":null}`},
		{"no ids, no users", `{ users(ids:[]){ id } products(ids:[""]){ id } }`, `{"users":[],"products":[null]}`},
		{"three independent upstreams", `{ user(id:"u1"){name} product(id:"p1"){name} order(id:"o1"){status total{amount}} }`,
			`{"user":{"name":"Ada Lovelace"},"product":{"name":"Analytical Engine Manual"},"order":{"status":"SHIPPED","total":{"amount":3998}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := s.query(t, tc.query)
			if got.Status != 200 || len(got.Errors) != 0 {
				t.Fatalf("status %d, errors %v: %s", got.Status, got.Errors, got.Raw)
			}
			jsonEqual(t, got.Data, tc.want)
		})
	}
}

func TestEmailIsForbiddenToOthers(t *testing.T) {
	s := startStack(t, 1, nil)
	got := s.query(t, `{ user(id:"u1"){ name email } }`)
	jsonEqual(t, got.Data, `{"user":{"name":"Ada Lovelace","email":null}}`)
	if len(got.Errors) != 1 || got.Errors[0].Extensions["code"] != "FORBIDDEN" {
		t.Fatalf("want one FORBIDDEN error, got %s", got.Raw)
	}
}

func TestBatching(t *testing.T) {
	s := startStack(t, 2, nil)
	tests := []struct {
		name  string
		query string
		calls map[demo.Service]int64
	}{
		{"user, orders, products: three calls",
			`{ user(id:"u1"){ orders(first:10){ items{ product{ name } } } } }`,
			map[demo.Service]int64{demo.Users: 1, demo.Orders: 1, demo.Catalog: 1}},
		{"reviews of many products and their authors: one call each",
			`{ products(ids:["p1","p2","p3","p4","p5","p6"]){ rating reviews{ author{ name } } } }`,
			map[demo.Service]int64{demo.Catalog: 1, demo.Reviews: 1, demo.Users: 1}},
		{"an id asked twice is fetched once",
			`{ a: users(ids:["u1","u1","u2"]){ id } }`,
			map[demo.Service]int64{demo.Users: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.cluster.ResetCounters()
			got := s.query(t, tc.query)
			if len(got.Errors) != 0 {
				t.Fatalf("errors: %s", got.Raw)
			}
			for _, svc := range demo.Services {
				if n := s.cluster.Calls(svc); n != tc.calls[svc] {
					t.Errorf("%s: %d calls, want %d", svc, n, tc.calls[svc])
				}
			}
		})
	}

	t.Run("too many ids", func(t *testing.T) {
		ids := make([]string, 1001)
		for i := range ids {
			ids[i] = `"u1"`
		}
		s.cluster.ResetCounters()
		got := s.query(t, `{ users(ids:[`+strings.Join(ids, ",")+`]){ id } }`)
		if len(got.Errors) != 1 || got.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || s.cluster.Calls(demo.Users) != 0 {
			t.Fatalf("want one BAD_USER_INPUT error and no call, got %s", got.Raw)
		}
	})

	t.Run("one call per 100 ids", func(t *testing.T) {
		ids := make([]string, 250)
		for i := range ids {
			ids[i] = fmt.Sprintf("%q", fmt.Sprintf("u%d", i+1))
		}
		s.cluster.ResetCounters()
		got := s.query(t, `{ users(ids:[`+strings.Join(ids, ",")+`]){ id } }`)
		if len(got.Errors) != 0 {
			t.Fatalf("errors: %s", got.Raw)
		}
		if n := s.cluster.Calls(demo.Users); n != 3 {
			t.Errorf("%d calls for 250 ids, want 3", n)
		}
		for _, in := range s.cluster.Instances(demo.Users) {
			for _, uri := range in.Requests() {
				u, _ := url.Parse(uri)
				if n := len(strings.Split(u.Query().Get("ids"), ",")); n > 100 {
					t.Errorf("a call asked for %d ids", n)
				}
			}
		}
	})
}

func TestFailoverWhenAnInstanceDies(t *testing.T) {
	s := startStack(t, 2, func(c *config.Config) {
		for name, p := range c.Pools {
			p.HealthCheck.Interval = config.D(time.Hour) // only failover can save the queries
			c.Pools[name] = p
		}
	})
	for _, svc := range demo.Services {
		s.cluster.Instances(svc)[0].Stop()
	}
	q := `{ user(id:"u1"){ name orders(first:3){ items{ product{ name rating } } } } order(id:"o1"){ status } }`
	for i := range 20 {
		got := s.query(t, q)
		if got.Status != 200 || len(got.Errors) != 0 {
			t.Fatalf("query %d failed: %s", i, got.Raw)
		}
	}
}

func TestFailoverUnderLoad(t *testing.T) {
	s := startStack(t, 2, nil)
	q := `{ user(id:"u1"){ name orders(first:3){ items{ product{ name rating } } } } order(id:"o1"){ status } }`
	run := load(t, s, 8, q)
	run.settle(t, 20)
	for _, svc := range demo.Services {
		s.cluster.Instances(svc)[1].Stop()
	}
	run.settle(t, 40) // every query after the stops meets them
	queries, failures := run.stop()
	if len(failures) > 0 {
		t.Fatalf("%d of %d queries failed; first: %s", len(failures), queries, failures[0])
	}
}

func TestPartialFailure(t *testing.T) {
	s := startStack(t, 2, func(c *config.Config) {
		p := c.Pools["users"]
		p.RequestTimeout = config.D(150 * time.Millisecond)
		c.Pools["users"] = p
	})
	tests := []struct {
		name     string
		fault    demo.Fault
		svc      demo.Service
		query    string
		want     string
		code     string
		upstream string
	}{
		{"catalog answers 500", demo.Fault{Status: 500}, demo.Catalog,
			`{ user(id:"u1"){ name } product(id:"p1"){ name } }`,
			`{"user":{"name":"Ada Lovelace"},"product":null}`, "UPSTREAM_UNAVAILABLE", "catalog"},
		{"nested catalog failure nulls only the products", demo.Fault{Status: 503}, demo.Catalog,
			`{ order(id:"o1"){ status items{ quantity product{ name } } } }`,
			`{"order":{"status":"SHIPPED","items":[{"quantity":2,"product":null}]}}`, "UPSTREAM_UNAVAILABLE", "catalog"},
		{"users too slow", demo.Fault{Delay: time.Second}, demo.Users,
			`{ user(id:"u1"){ name } order(id:"o1"){ status } }`,
			`{"user":null,"order":{"status":"SHIPPED"}}`, "UPSTREAM_TIMEOUT", "users"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.cluster.SetFault(tc.svc, tc.fault)
			defer s.cluster.SetFault(tc.svc, demo.Fault{})
			got := s.query(t, tc.query)
			if got.Status != 200 {
				t.Fatalf("status %d", got.Status)
			}
			jsonEqual(t, got.Data, tc.want)
			if len(got.Errors) == 0 {
				t.Fatalf("no errors: %s", got.Raw)
			}
			for _, e := range got.Errors {
				if e.Extensions["code"] != tc.code || e.Extensions["upstream"] != tc.upstream {
					t.Errorf("error %q has extensions %v, want code %s upstream %s", e.Message, e.Extensions, tc.code, tc.upstream)
				}
			}
			if strings.Contains(got.Raw, "127.0.0.1") || strings.Contains(got.Raw, "http://") {
				t.Errorf("the answer leaks an upstream address: %s", got.Raw)
			}
		})
	}
}

func TestCancellationReachesTheUpstream(t *testing.T) {
	tests := []struct{ name, query string }{
		{"a field's own call", `{ user(id:\"u1\"){ name } }`},
		{"root lookups fetched together", `{ user(id:\"u1\"){ name } product(id:\"p1\"){ name } }`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startStack(t, 1, nil)
			s.cluster.SetFault(demo.Users, demo.Fault{Delay: 10 * time.Second})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			body := `{"query":"` + tc.query + `"}`
			req, _ := http.NewRequestWithContext(ctx, "POST", s.url+"/graphql", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
				t.Fatal("the request should have been cut off by its deadline")
			}
			in := s.cluster.Instances(demo.Users)[0]
			deadline := time.Now().Add(5 * time.Second)
			for in.Cancelled() == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the upstream never saw its request cancelled")
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

func TestRequestTimeoutBoundsUpstreamCalls(t *testing.T) {
	s := startStack(t, 1, nil)
	s.cluster.SetFault(demo.Users, demo.Fault{Delay: 5 * time.Second})
	for _, tc := range []struct {
		header string
		status int
		code   string
	}{
		{"150ms", 200, "UPSTREAM_TIMEOUT"},
		{"0.15", 200, "UPSTREAM_TIMEOUT"},
		{"later", 400, "BAD_REQUEST"},
	} {
		t.Run(tc.header, func(t *testing.T) {
			req, _ := http.NewRequest("POST", s.url+"/graphql", strings.NewReader(`{"query":"{ user(id:\"u1\"){ name } order(id:\"o1\"){ status } }"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Request-Timeout", tc.header)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.code) {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if tc.status == 200 && !strings.Contains(string(body), `"order":{"status":"SHIPPED"}`) {
				t.Fatalf("the rest of the answer is missing: %s", body)
			}
		})
	}
}

func TestHTTPSurface(t *testing.T) {
	s := startStack(t, 1, nil)
	q := url.QueryEscape(`{ user(id:"u1"){ name } }`)
	tests := []struct {
		name, method, path, body, contentType, accept string
		status                                        int
		wantType, wantBody                            string
	}{
		{"GET query", "GET", "/graphql?query=" + q, "", "", "", 200, "application/json", `"Ada Lovelace"`},
		{"POST on /v2", "POST", "/v2/graphql", `{"query":"{ user(id:\"u1\"){ name } }"}`, "application/json", "", 200, "application/json", `"Ada Lovelace"`},
		{"graphql-response+json when asked", "POST", "/graphql", `{"query":"{ user(id:\"u1\"){ name } }"}`, "application/json",
			"application/graphql-response+json", 200, "application/graphql-response+json", `"Ada Lovelace"`},
		{"parse error is 400 with graphql-response+json", "POST", "/graphql", `{"query":"{ user("}`, "application/json",
			"application/graphql-response+json", 400, "application/graphql-response+json", "GRAPHQL_PARSE_FAILED"},
		{"parse error is 200 with application/json", "POST", "/graphql", `{"query":"{ user("}`, "application/json", "application/json", 200, "application/json", "GRAPHQL_PARSE_FAILED"},
		{"validation error", "POST", "/graphql", `{"query":"{ nope }"}`, "application/json", "", 200, "application/json", "GRAPHQL_VALIDATION_FAILED"},
		{"validation error is 400 with graphql-response+json", "POST", "/graphql", `{"query":"{ nope }"}`, "application/json",
			"application/graphql-response+json", 400, "application/graphql-response+json", "GRAPHQL_VALIDATION_FAILED"},
		{"no query", "POST", "/graphql", `{"qeury":"{ __typename }"}`, "application/json", "", 400, "application/json", "BAD_REQUEST"},
		{"no query with graphql-response+json", "POST", "/graphql", `{"variables":{}}`, "application/json", "application/graphql-response+json", 400, "application/graphql-response+json", "BAD_REQUEST"},
		{"GET without query", "GET", "/graphql?variables=%7B%7D", "", "", "", 400, "application/json", "BAD_REQUEST"},
		{"bad JSON", "POST", "/graphql", `{"query":`, "application/json", "", 400, "application/json", "BAD_REQUEST"},
		{"not JSON", "POST", "/graphql", `query { me { id } }`, "text/plain", "", 415, "application/json", "UNSUPPORTED_MEDIA_TYPE"},
		{"batches are refused", "POST", "/graphql", `[{"query":"{ me { id } }"}]`, "application/json", "", 400, "application/json", "batched operations are not supported"},
		{"variables", "POST", "/graphql", `{"query":"query Q($id: ID!) { user(id: $id) { name } }","variables":{"id":"u1"}}`, "application/json", "", 200, "application/json", `"Ada Lovelace"`},
		{"variables not an object", "POST", "/graphql", `{"query":"{ me { id } }","variables":[1]}`, "application/json", "", 400, "application/json", "variables must be a JSON object"},
		{"GET with variables", "GET", "/graphql?query=" + url.QueryEscape(`query Q($id: ID!) { user(id: $id) { name } }`) + "&variables=" + url.QueryEscape(`{"id":"u1"}`), "", "", "", 200, "application/json", `"Ada Lovelace"`},
		{"missing variable", "POST", "/graphql", `{"query":"query Q($id: ID!) { user(id: $id) { name } }"}`, "application/json", "", 200, "application/json", "must be defined"},
		{"variable of the wrong type with graphql-response+json", "POST", "/graphql", `{"query":"query Q($n: Int) { users(ids: [\"u1\"]) { name } }","variables":{"n":"x"}}`, "application/json",
			"application/graphql-response+json", 400, "application/graphql-response+json", "errors"},
		{"other methods", "PUT", "/graphql", "", "", "", 405, "application/json", "METHOD_NOT_ALLOWED"},
		{"body too large", "POST", "/graphql", `{"query":"` + strings.Repeat(" ", 2<<20) + `{ me { id } }"}`, "application/json", "", 413, "application/json", "REQUEST_TOO_LARGE"},
		{"healthz", "GET", "/healthz", "", "", "", 200, "application/json", `"ok"`},
		{"readyz", "GET", "/readyz", "", "", "", 200, "application/json", `"ready":true`},
		{"playground", "GET", "/playground", "", "", "", 200, "text/html", "graphiql"},
		{"unknown route", "GET", "/nope", "", "", "", 404, "application/json", "NOT_FOUND"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, s.url+tc.path, strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d: %.300s", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.wantType) {
				t.Errorf("Content-Type %q, want %q", ct, tc.wantType)
			}
			if !strings.Contains(strings.ToLower(string(body)), strings.ToLower(tc.wantBody)) {
				t.Errorf("body lacks %q: %.300s", tc.wantBody, body)
			}
		})
	}
}

// Readiness follows the health of the pools marked required only: the others are
// shown in the body, and one failing (reviews, here) leaves the gateway ready,
// since the rest of each answer still arrives.
func TestReadyzFollowsHealth(t *testing.T) {
	s := startStack(t, 2, func(c *config.Config) {
		users := c.Pools["users"]
		users.Required = true
		c.Pools["users"] = users
	})
	var body map[string]any
	status := func() int {
		resp, err := http.Get(s.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body = nil
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode
	}
	poolReady := func(name string) any {
		pools, _ := body["pools"].(map[string]any)
		p, _ := pools[name].(map[string]any)
		return p["ready"]
	}
	waitFor := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for status() != want {
			if time.Now().After(deadline) {
				t.Fatalf("/readyz never became %d", want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(200)
	s.cluster.SetFault(demo.Reviews, demo.Fault{FailHealth: true})
	deadline := time.Now().Add(5 * time.Second)
	for status(); poolReady("reviews") != false; status() {
		if time.Now().After(deadline) {
			t.Fatalf("reviews never showed unready: %v", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code := status(); code != 200 || body["ready"] != true {
		t.Fatalf("a pool not required took the gateway out: %d %v", code, body)
	}
	s.cluster.SetFault(demo.Reviews, demo.Fault{})
	s.cluster.SetFault(demo.Users, demo.Fault{FailHealth: true})
	waitFor(503)
	if poolReady("users") != false {
		t.Errorf("body %v", body)
	}
	s.cluster.SetFault(demo.Users, demo.Fault{})
	waitFor(200)
}

func TestAdminShowsPools(t *testing.T) {
	s := startStack(t, 2, nil)
	s.query(t, `{ user(id:"u1"){ name } }`)
	admin := httptest.NewServer(s.gw.AdminHandler())
	defer admin.Close()
	resp, err := http.Get(admin.URL + "/pools")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Pools []struct {
			Name      string `json:"name"`
			Ready     bool   `json:"ready"`
			Breaker   string `json:"breaker"`
			Endpoints []struct {
				URL     string `json:"url"`
				Healthy bool   `json:"healthy"`
				Breaker string `json:"breaker"`
			} `json:"endpoints"`
		} `json:"pools"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got.Pools) != 4 {
		t.Fatalf("%d pools", len(got.Pools))
	}
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		if mresp, err := http.Get(admin.URL + path); err != nil || mresp.StatusCode != 200 {
			t.Fatalf("admin %s: %v %v", path, err, mresp)
		} else {
			mresp.Body.Close()
		}
	}
	for _, p := range got.Pools {
		if !p.Ready || p.Breaker != "closed" || len(p.Endpoints) != 2 || !p.Endpoints[0].Healthy || !strings.HasPrefix(p.Endpoints[0].URL, "http://127.0.0.1:") {
			t.Errorf("pool %+v", p)
		}
	}
}

// The demo keeps the README's promise with no configuration: when reviews are down,
// a product still arrives, with no reviews and the failure reported.
func TestDemoAnswersWithoutReviews(t *testing.T) {
	s := startStack(t, 1, nil)
	s.cluster.SetFault(demo.Reviews, demo.Fault{Status: 500})
	got := s.query(t, `{ product(id:"p1"){ name reviews{ id } } }`)
	jsonEqual(t, got.Data, `{"product":{"name":"Analytical Engine Manual","reviews":[]}}`)
	if len(got.Errors) != 1 || got.Errors[0].Extensions["fallback"] != true || got.Errors[0].Extensions["code"] != "UPSTREAM_UNAVAILABLE" {
		t.Errorf("errors: %s", got.Raw)
	}
}

func TestFailurePolicies(t *testing.T) {
	s := startStack(t, 1, func(c *config.Config) {
		// Product.reviews: [] is the demo's own default: the configured fallback adds to it.
		c.GraphQL.Fallbacks = map[string]any{"Product.rating": 0}
		c.GraphQL.RequiredFields = []string{"Query.product"}
		o := c.Pools["orders"]
		o.Required = true
		c.Pools["orders"] = o
	})
	t.Run("fallback values", func(t *testing.T) {
		s.cluster.SetFault(demo.Reviews, demo.Fault{Status: 500})
		defer s.cluster.SetFault(demo.Reviews, demo.Fault{})
		got := s.query(t, `{ product(id:"p1"){ name rating reviews{ id } } }`)
		jsonEqual(t, got.Data, `{"product":{"name":"Analytical Engine Manual","rating":0,"reviews":[]}}`)
		if len(got.Errors) == 0 {
			t.Fatal("a fallback hid the failure")
		}
		for _, e := range got.Errors {
			if e.Extensions["fallback"] != true || e.Extensions["upstream"] != "reviews" {
				t.Errorf("error %v lacks fallback or upstream", e.Extensions)
			}
		}
	})
	t.Run("a required upstream fails the whole answer", func(t *testing.T) {
		s.cluster.SetFault(demo.Orders, demo.Fault{Status: 500})
		defer s.cluster.SetFault(demo.Orders, demo.Fault{})
		got := s.query(t, `{ user(id:"u1"){ name } order(id:"o1"){ status } }`)
		if got.Status != http.StatusBadGateway || got.Data != nil {
			t.Fatalf("status %d, data %s", got.Status, got.Data)
		}
		if len(got.Errors) == 0 || got.Errors[0].Extensions["upstream"] != "orders" {
			t.Fatalf("errors: %s", got.Raw)
		}
	})
	t.Run("a required field fails the whole answer", func(t *testing.T) {
		s.cluster.SetFault(demo.Catalog, demo.Fault{Status: 500})
		defer s.cluster.SetFault(demo.Catalog, demo.Fault{})
		got := s.query(t, `{ user(id:"u1"){ name } product(id:"p1"){ name } }`)
		if got.Status != http.StatusBadGateway || got.Data != nil {
			t.Fatalf("status %d, data %s", got.Status, got.Data)
		}
		// The same upstream under a field that is not required only nulls it.
		got = s.query(t, `{ order(id:"o1"){ items{ product{ name } } } }`)
		jsonEqual(t, got.Data, `{"order":{"items":[{"product":null}]}}`)
	})
	t.Run("an optional upstream nulls only its fields", func(t *testing.T) {
		s.cluster.SetFault(demo.Users, demo.Fault{Status: 500})
		defer s.cluster.SetFault(demo.Users, demo.Fault{})
		got := s.query(t, `{ user(id:"u1"){ name } order(id:"o1"){ status } }`)
		if got.Status != 200 {
			t.Fatalf("status %d", got.Status)
		}
		jsonEqual(t, got.Data, `{"user":null,"order":{"status":"SHIPPED"}}`)
	})
}

func TestBadFallbacksAreRefused(t *testing.T) {
	cfg := &config.Config{Pools: map[string]config.Pool{}}
	for _, svc := range gateway.DemoPools() {
		cfg.Pools[svc] = config.Pool{Options: lb.Options{Endpoints: []string{"http://127.0.0.1:1"}}}
	}
	cfg.GraphQL.Fallbacks = map[string]any{"Product.reviewz": []any{}, "Order.total": nil, "Product.rating": "high"}
	cfg.GraphQL.RequiredFields = []string{"Query.nope"}
	cfg.SetDefaults()
	_, err := gateway.New(cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "Product.reviewz: no such field") || !strings.Contains(err.Error(), "Order.total: null does not fit") || !strings.Contains(err.Error(), "Query.nope: no such field") ||
		!strings.Contains(err.Error(), `Product.rating: "high" does not fit the type Float`) {
		t.Fatalf("got %v", err)
	}
}

// syncBuffer is a goroutine-safe buffer for a logger under test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAccessLogAndRequestIDs(t *testing.T) {
	cluster := startCluster(t, 1)
	cfg := demoConfig(t, cluster, nil)
	var logs syncBuffer
	gw, err := gateway.New(cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	srv := httptest.NewServer(gw.Handler())
	defer srv.Close()

	send := func(id, token string) *http.Response {
		req, _ := http.NewRequest("POST", srv.URL+"/graphql", strings.NewReader(`{"query":"query Dashboard { user(id:\"u1\"){ name } order(id:\"o1\"){ status } }","variables":{"secret":"hunter2"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if got := send("client-id-1", "tok-abc").Header.Get("X-Request-Id"); got != "client-id-1" {
		t.Errorf("the client's request id was not kept: %q", got)
	}
	if got := cluster.Instances(demo.Users)[0].LastRequestID(); got != "client-id-1" {
		t.Errorf("the upstream saw request id %q", got)
	}
	if got := send("has a space", "tok-abc").Header.Get("X-Request-Id"); got == "" || strings.Contains(got, "space") {
		t.Errorf("an unacceptable request id was kept or none was made: %q", got)
	}

	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("a log line is not JSON: %s", line)
		}
		if m["msg"] == "access" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 2 {
		t.Fatalf("%d access lines, want 2:\n%s", len(lines), logs.String())
	}
	l := lines[0]
	want := map[string]any{"request_id": "client-id-1", "method": "POST", "path": "/graphql", "status": 200.0,
		"operation": "Dashboard", "version": "v2", "principal": "anonymous", "upstream_calls": 2.0, "upstream_errors": 0.0}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("%s = %v, want %v", k, l[k], v)
		}
	}
	if _, ok := l["duration_ms"].(float64); !ok {
		t.Error("no duration")
	}
	if s := logs.String(); strings.Contains(s, "tok-abc") || strings.Contains(s, "hunter2") || strings.Contains(s, "Bearer") {
		t.Error("a secret reached the log")
	}
}

// TestClientBehindTrustedProxies checks that X-Forwarded-For names the client only
// when the peer is a trusted proxy: a direct caller cannot spoof its address.
func TestClientBehindTrustedProxies(t *testing.T) {
	cluster := startCluster(t, 1)
	for _, tt := range []struct {
		name    string
		trusted []string
		want    string
	}{
		{"no trusted proxies", nil, "127.0.0.1"},
		{"another network trusted", []string{"10.0.0.0/8"}, "127.0.0.1"},
		{"loopback trusted", []string{"127.0.0.0/8"}, "198.51.100.7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := demoConfig(t, cluster, func(c *config.Config) { c.TrustedProxies = tt.trusted })
			var logs syncBuffer
			gw, err := gateway.New(cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer gw.Close()
			srv := httptest.NewServer(gw.Handler())
			defer srv.Close()
			req, _ := http.NewRequest("POST", srv.URL+"/graphql", strings.NewReader(`{"query":"{ user(id:\"u1\"){ name } }"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.7")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			var line map[string]any
			for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "access" {
					line = m
				}
			}
			if line == nil {
				t.Fatalf("no access line:\n%s", logs.String())
			}
			if line["client"] != tt.want {
				t.Errorf("client = %v, want %s", line["client"], tt.want)
			}
		})
	}
}

package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeUpstream serves one fixed JSON answer at path, counting calls, after delay.
type fakeUpstream struct {
	*httptest.Server
	calls atomic.Int64
}

func newFakeUpstream(t *testing.T, path, body string, status int, delay time.Duration) *fakeUpstream {
	t.Helper()
	f := &fakeUpstream{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != path {
			t.Errorf("unexpected upstream request %s %s", r.Method, r.URL)
			http.NotFound(w, r)
			return
		}
		f.calls.Add(1)
		time.Sleep(delay)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(f.Close)
	return f
}

const (
	userJSON    = `{"id":"u1","name":"Ada Lovelace","email":"ada@example.com","tier":"GOLD"}`
	productJSON = `{"id":"p1","name":"Analytical Engine Manual","category":"books","price":{"amount":1999,"currency":"USD"}}`
	orderJSON   = `{"id":"o1","userId":"u1","status":"SHIPPED","createdAt":"2026-01-02T03:04:05Z","items":[` +
		`{"productId":"p1","quantity":2,"unitPrice":{"amount":1999,"currency":"USD"}},` +
		`{"productId":"p7","quantity":3,"unitPrice":{"amount":250,"currency":"USD"}}]}`
	wantFloorAnswer = `{"data":{"user":{"name":"Ada Lovelace"},"product":{"name":"Analytical Engine Manual"},` +
		`"order":{"status":"SHIPPED","total":{"amount":4748}}}}`
)

// floorOver is a floor handler over the given instances, served by a test server.
func floorOver(t *testing.T, users, catalog, orders []*fakeUpstream) *httptest.Server {
	t.Helper()
	urls := func(fs []*fakeUpstream) []string {
		var u []string
		for _, f := range fs {
			u = append(u, f.URL)
		}
		return u
	}
	tr := newFloorTransport(64)
	t.Cleanup(tr.CloseIdleConnections)
	h := newFloorHandler(&http.Client{Transport: tr, Timeout: 5 * time.Second}, urls(users), urls(catalog), urls(orders))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(w1Body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(body))
}

func TestFloorAnswer(t *testing.T) {
	users := []*fakeUpstream{
		newFakeUpstream(t, "/users/u1", userJSON, 200, 0),
		newFakeUpstream(t, "/users/u1", userJSON, 200, 0),
	}
	catalog := []*fakeUpstream{newFakeUpstream(t, "/products/p1", productJSON, 200, 0)}
	orders := []*fakeUpstream{newFakeUpstream(t, "/orders/o1", orderJSON, 200, 0)}
	srv := floorOver(t, users, catalog, orders)

	for range 4 {
		status, body := post(t, srv.URL+"/graphql")
		if status != 200 || body != wantFloorAnswer {
			t.Fatalf("got %d %s\nwant 200 %s", status, body, wantFloorAnswer)
		}
	}
	if a, b := users[0].calls.Load(), users[1].calls.Load(); a != 2 || b != 2 {
		t.Errorf("users instances got %d and %d calls, want 2 each (round robin)", a, b)
	}
	if n := catalog[0].calls.Load() + orders[0].calls.Load(); n != 8 {
		t.Errorf("catalog + orders got %d calls, want 8", n)
	}

	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /healthz: %s", resp.Status)
	}
	resp, err = http.Get(srv.URL + "/graphql")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /graphql: %s, want 405", resp.Status)
	}
}

// TestFloorParallel checks that the three calls are made at once: with each upstream
// taking 100ms, one request takes about 100ms, not 300ms.
func TestFloorParallel(t *testing.T) {
	const d = 100 * time.Millisecond
	srv := floorOver(t,
		[]*fakeUpstream{newFakeUpstream(t, "/users/u1", userJSON, 200, d)},
		[]*fakeUpstream{newFakeUpstream(t, "/products/p1", productJSON, 200, d)},
		[]*fakeUpstream{newFakeUpstream(t, "/orders/o1", orderJSON, 200, d)})
	start := time.Now()
	status, body := post(t, srv.URL)
	if took := time.Since(start); status != 200 || took > 2*d {
		t.Errorf("got %d %s in %v, want 200 in about %v", status, body, took, d)
	}
}

func TestFloorUpstreamFailure(t *testing.T) {
	srv := floorOver(t,
		[]*fakeUpstream{newFakeUpstream(t, "/users/u1", userJSON, 200, 0)},
		[]*fakeUpstream{newFakeUpstream(t, "/products/p1", `{"error":"boom"}`, 500, 0)},
		[]*fakeUpstream{newFakeUpstream(t, "/orders/o1", `{"id":`, 200, 0)})
	status, body := post(t, srv.URL)
	if status != http.StatusBadGateway || !strings.Contains(body, "500") || !strings.Contains(body, "decoding") {
		t.Errorf("got %d %q, want 502 naming both failures", status, body)
	}
}

package connectors

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/upstreams"
)

// TestRootCallsInFlightTogether asks for root fields whose calls the service
// answers only once both are in flight: the request's goroutine sends them all
// before reading any. Identical calls are made once, and a 404 is null.
func TestRootCallsInFlightTogether(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	both := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.TrimPrefix(r.URL.Path, "/items/")
		mu.Lock()
		calls[id]++
		if (id == "a" || id == "b") && calls["a"]+calls["b"] == 2 && calls["a"] == 1 {
			close(both)
		}
		mu.Unlock()
		if id == "gone" {
			http.NotFound(w, r)
			return
		}
		select {
		case <-both:
			_, _ = w.Write([]byte(`{"id":"` + id + `"}`))
		case <-time.After(5 * time.Second):
			http.Error(w, "the other call never came", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	sdl := `extend schema @source(name: "items", http: { baseURL: "http://items" })
type Query { item(id: ID!): Item @connect(source: "items", http: { GET: "/items/{$args.id}" }, selection: "id") }
type Item { id: ID! }`
	s, err := Load(map[string]string{"items.graphql": sdl}, pools("items"))
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, s, map[string]*upstreams.Service{"items": service(t, "items", srv.URL)}, nil)
	q := `{ a: item(id: \"a\") { id } b: item(id: \"b\") { id } again: item(id: \"a\") { id } gone: item(id: \"gone\") { id } }`
	resp, err := http.Post(gw.URL, "application/json", strings.NewReader(`{"query":"`+q+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	want := `{"data":{"a":{"id":"a"},"b":{"id":"b"},"again":{"id":"a"},"gone":null}}`
	if string(body) != want {
		t.Fatalf("got  %s\nwant %s", body, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["a"] != 1 || calls["b"] != 1 || calls["gone"] != 1 {
		t.Fatalf("calls %v, want one of each", calls)
	}
}

package connectors

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/upstreams"
)

// TestPerItemFanOut: a service with no batch endpoint is asked once per distinct
// key, the calls in flight together, an unknown key null.
func TestPerItemFanOut(t *testing.T) {
	var inFlight, most atomic.Int64
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		mu.Lock()
		calls[r.URL.Path]++
		mu.Unlock()
		time.Sleep(20 * time.Millisecond) // an upstream's latency, so that calls overlap
		switch r.URL.Path {
		case "/shelf":
			_, _ = w.Write([]byte(`[{"id":"b1","author":"a1"},{"id":"b2","author":"a2"},{"id":"b3","author":"a1"},{"id":"b4","author":"a3"},{"id":"b5","author":"zz"}]`))
		case "/authors/a1", "/authors/a2", "/authors/a3":
			id := strings.TrimPrefix(r.URL.Path, "/authors/")
			_, _ = w.Write([]byte(`{"id":"` + id + `","full_name":"Author ` + id + `"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	sdl := `extend schema @source(name: "lib", http: { baseURL: "` + srv.URL + `" })
type Query { shelf: [Book] @connect(source: "lib", http: { GET: "/shelf" }, selection: "id author: { id: author }") }
type Book { id: ID! author: Author }
type Author @connect(source: "lib", http: { GET: "/authors/{$this.id}" }, selection: "id name: full_name") { id: ID! name: String }
`
	s, err := Load(map[string]string{"lib.graphql": sdl}, pools("lib"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Entities["Author"].PerItem {
		t.Fatal("the Author connector is not per item")
	}
	gw := serve(t, s, map[string]*upstreams.Service{"lib": service(t, "lib", srv.URL)}, nil)
	resp, err := http.Post(gw.URL, "application/json", strings.NewReader(`{"query":"{ shelf { id author { name } } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `{"data":{"shelf":[{"id":"b1","author":{"name":"Author a1"}},{"id":"b2","author":{"name":"Author a2"}},{"id":"b3","author":{"name":"Author a1"}},{"id":"b4","author":{"name":"Author a3"}},{"id":"b5","author":null}]}}`
	if string(body) != want {
		t.Fatalf("got  %s\nwant %s", body, want)
	}
	for _, p := range []string{"/authors/a1", "/authors/a2", "/authors/a3", "/authors/zz"} {
		if calls[p] != 1 {
			t.Errorf("%s called %d times, want once", p, calls[p])
		}
	}
	if most.Load() < 2 {
		t.Errorf("at most %d calls were in flight together: the fan-out is not concurrent", most.Load())
	}
}

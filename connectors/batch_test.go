package connectors

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/switchyard/switchyard/upstreams"
)

// TestBatchesDoNotWaitForTheWindow: with a batch wait far longer than the test, a
// batch is sent as soon as no goroutine of the request can add to it, and keys
// that come from concurrent root fields (a list's prefetch, an object's own
// lookup) still go in one call.
func TestBatchesDoNotWaitForTheWindow(t *testing.T) {
	srv, seen := booksServer(t)
	sdl := strings.Replace(books, "http://books.internal/api/v1/", srv.URL+"/api/v1/", 1) + `
extend type Query {
  shelf: [Book] @connect(source: "books", http: { GET: "/shelf" }, selection: "$.data { id author: { id: author_id } }")
}
`
	s, err := Load(map[string]string{"books.graphql": sdl}, pools("books"))
	if err != nil {
		t.Fatal(err)
	}
	exec, err := NewExecutable(s, map[string]*upstreams.Service{"books": service(t, "books", srv.URL)}, map[string]any{"key": "k1"})
	if err != nil {
		t.Fatal(err)
	}
	exec.SetBatchWait(time.Minute)
	h := handler.New(exec)
	h.AddTransport(transport.POST{})
	gw := httptest.NewServer(h)
	t.Cleanup(gw.Close)
	for _, tc := range []struct {
		name, query, want string
		batch             []string // the keys of the one authors call
	}{
		{"one object", `{ book(id: "b1") { author { name } } }`,
			`{"data":{"book":{"author":{"name":"Author a1"}}}}`, []string{"a1"}},
		{"a list", `{ shelf { author { name } } }`,
			`{"data":{"shelf":[{"author":{"name":"Author a1"}},{"author":{"name":"Author a2"}},{"author":{"name":"Author a1"}},{"author":null}]}}`,
			[]string{"a1", "a2", "zz"}},
		{"two roots", `{ b: book(id: "b1") { author { name } } s: shelf { author { name } } }`,
			`{"data":{"b":{"author":{"name":"Author a1"}},"s":[{"author":{"name":"Author a1"}},{"author":{"name":"Author a2"}},{"author":{"name":"Author a1"}},{"author":null}]}}`,
			[]string{"a1", "a2", "zz"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			*seen = nil
			start := time.Now()
			resp, err := http.Post(gw.URL, "application/json", strings.NewReader(`{"query":`+quote(tc.query)+`}`))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("took %v: a batch waited for its window", took)
			}
			if string(body) != tc.want {
				t.Fatalf("got  %s\nwant %s", body, tc.want)
			}
			var calls []string
			for _, c := range *seen {
				if strings.Contains(c, "/authors?") {
					calls = append(calls, c)
				}
			}
			if len(calls) != 1 {
				t.Fatalf("%d calls of /authors, want one: %v", len(calls), calls)
			}
			for _, k := range tc.batch {
				if !strings.Contains(calls[0], "id="+k) {
					t.Errorf("the call %q lacks %s", calls[0], k)
				}
			}
		})
	}
}

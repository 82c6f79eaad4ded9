package connectors

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/switchyard/switchyard/lb"
	"github.com/switchyard/switchyard/upstreams"
)

// TestExecutableOverHTTP serves a declared schema with gqlgen's handler and asks it
// over real HTTP: root fields, an envelope, an object built from flat keys and
// completed by its type's entity connector, a list, and an enum the service breaks.
func TestExecutableOverHTTP(t *testing.T) {
	srv, seen := booksServer(t)
	sdl := strings.Replace(books, "http://books.internal/api/v1/", srv.URL+"/api/v1/", 1) + `
enum Genre { NOVEL POEM }
extend type Book {
  genre: Genre
  copies: Int
  onLoan: Int
  available: Int @compute(expr: "copies - onLoan")
  ratio: Float @compute(expr: "onLoan / copies")
}
extend type Query {
  stock(id: ID!): Book @connect(source: "books", http: { GET: "/books/{$args.id}" }, selection: "id copies onLoan: on_loan")
  shelf: [Book] @connect(source: "books", http: { GET: "/shelf" }, selection: "$.data { id author: { id: author_id } }")
  genreOf(id: ID!): Book @connect(source: "books", http: { GET: "/books/{$args.id}" }, selection: "id genre: $(\"ESSAY\")")
}
`
	s, err := Load(map[string]string{"books.graphql": sdl}, pools("books"))
	if err != nil {
		t.Fatal(err)
	}
	gw := serve(t, s, map[string]*upstreams.Service{"books": service(t, "books", srv.URL)}, map[string]any{"key": "k1"})
	ask := func(q string) string {
		t.Helper()
		resp, err := http.Post(gw.URL, "application/json", strings.NewReader(`{"query":`+quote(q)+`}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	got := ask(`{ book(id: "b1") { title author { id name } } books { id title } }`)
	want := `{"data":{"book":{"title":"Dune","author":{"id":"a1","name":"Author a1"}},"books":[{"id":"b1","title":"Dune"},{"id":"b2","title":"Emma"}]}}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if n := strings.Count(strings.Join(*seen, "\n"), "/authors?id=a1"); n != 1 {
		t.Errorf("the author was fetched %d times, want once", n)
	}
	got = ask(`{ shelf { id author { name } } }`)
	want = `{"data":{"shelf":[{"id":"b1","author":{"name":"Author a1"}},{"id":"b2","author":{"name":"Author a2"}},{"id":"b4","author":{"name":"Author a1"}},{"id":"b5","author":null}]}}`
	if got != want {
		t.Fatalf("shelf: got  %s\nwant %s", got, want)
	}
	var batches []string
	for _, c := range *seen {
		if strings.Contains(c, "/authors?") && !strings.Contains(c, "/authors?id=a1 ") {
			batches = append(batches, c)
		}
	}
	if len(batches) != 1 || !strings.Contains(batches[0], "id=a1") || !strings.Contains(batches[0], "id=a2") || !strings.Contains(batches[0], "id=zz") {
		t.Fatalf("the shelf's authors were looked up in %d calls, want one with a1, a2 and zz: %v", len(batches), batches)
	}
	got = ask(`{ stock(id: "b1") { available ratio } }`)
	if got != `{"data":{"stock":{"available":3,"ratio":0.4}}}` {
		t.Fatalf("computed: %s", got)
	}
	got = ask(`{ genreOf(id: "b1") { id genre } }`)
	if !strings.Contains(got, `"genre":null`) || !strings.Contains(got, `ESSAY is not a value of the enum Genre`) || !strings.Contains(got, `"path":["genreOf","genre"]`) {
		t.Fatalf("a value outside the enum: %s", got)
	}
	got = ask(`{ book(id: "nope") { id } }`)
	if got != `{"data":{"book":null}}` {
		t.Fatalf("a lookup that found nothing: %s", got)
	}
	got = ask(`{ control: book(id: "ctl") { id } }`)
	if !json.Valid([]byte(got)) {
		t.Fatalf("control characters from the service made invalid JSON: %s", got)
	}
	got = ask(`{ book(id: "nope") { id } }`)
	if got != `{"data":{"book":null}}` {
		t.Fatalf("a lookup that found nothing: %s", got)
	}
}

// service is a declared service's client over a pool of one endpoint, url.
func service(t *testing.T, name, url string) *upstreams.Service {
	t.Helper()
	pool, err := lb.New(name, lb.Options{Endpoints: []string{url}, HealthCheck: lb.HealthCheck{Disabled: true}, Retries: new(int)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return upstreams.NewService(name, pool)
}

// serve serves a declared schema with gqlgen's handler, over real HTTP.
func serve(t *testing.T, s *Schema, services map[string]*upstreams.Service, config map[string]any) *httptest.Server {
	t.Helper()
	exec, err := NewExecutable(s, services, config)
	if err != nil {
		t.Fatal(err)
	}
	h := handler.New(exec)
	h.AddTransport(transport.POST{})
	gw := httptest.NewServer(h)
	t.Cleanup(gw.Close)
	return gw
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

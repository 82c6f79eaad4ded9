package connectors

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/switchyard/switchyard/connectors/mapping"
	"github.com/switchyard/switchyard/upstreams"
)

// A service that is not the demo's contract: an envelope, snake_case keys, a batch
// endpoint taking a repeated parameter, a POST answering 201.
func booksServer(t *testing.T) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.RequestURI()+" key="+r.Header.Get("X-Api-Key")+" auth="+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/api/v1/books/ctl":
			_, _ = w.Write([]byte(`{"id":"c\u0001t\u007fl","title":"x"}`))
		case r.URL.Path == "/api/v1/books/b1":
			_, _ = w.Write([]byte(`{"id":"b1","title":"Dune","author_id":"a1","copies":5,"on_loan":2}`))
		case r.URL.Path == "/api/v1/books" && r.Method == "GET":
			_, _ = w.Write([]byte(`{"data":[{"id":"b1","title":"Dune"},{"id":"b2","title":"Emma"}],"next":null}`))
		case r.URL.Path == "/api/v1/shelf":
			_, _ = w.Write([]byte(`{"data":[{"id":"b1","author_id":"a1"},{"id":"b2","author_id":"a2"},{"id":"b4","author_id":"a1"},{"id":"b5","author_id":"zz"}]}`))
		case r.URL.Path == "/api/v1/authors":
			var out []map[string]string
			for _, id := range r.URL.Query()["id"] {
				if id != "zz" { // an author the service does not know
					out = append(out, map[string]string{"id": id, "name": "Author " + id})
				}
			}
			_ = json.NewEncoder(w).Encode(out)
		case r.URL.Path == "/api/v1/books" && r.Method == "POST":
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":"b3","title":"New"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestConnectorCalls(t *testing.T) {
	srv, seen := booksServer(t)
	sdl := strings.Replace(books, "http://books.internal/api/v1/", srv.URL+"/api/v1/", 1) + `
extend type Query {
  missing(id: ID!): Book @connect(source: "books", http: { GET: "/books/{$args.id}" }, selection: "id")
}
type Mutation {
  addBook(title: String!): Book
    @connect(source: "books", http: { POST: "/books", body: "title: $args.title" }, selection: "id title")
}
`
	s, err := Load(map[string]string{"books.graphql": sdl}, pools("books"))
	if err != nil {
		t.Fatal(err)
	}
	svc := service(t, "books", srv.URL)
	client := http.Header{"Authorization": {"Bearer abc"}}
	vars := func(args string) mapping.Vars {
		var a any
		_ = json.Unmarshal([]byte(args), &a)
		return mapping.Vars{"$args": a, "$config": map[string]any{"key": "k1"}}
	}
	ctx := context.Background()
	check := func(name string, got any, err error, want string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, _ := json.Marshal(got)
		if string(b) != want {
			t.Errorf("%s: got %s, want %s", name, b, want)
		}
	}
	v, err := s.Fields["Query.book"].Do(ctx, svc, nil, vars(`{"id":"b1"}`), client)
	check("book", v, err, `{"author":{"id":"a1"},"id":"b1","title":"Dune"}`)
	v, err = s.Fields["Query.books"].Do(ctx, svc, nil, vars(`{"q":"du ne"}`), client)
	check("books", v, err, `[{"id":"b1","title":"Dune"},{"id":"b2","title":"Emma"}]`)
	v, err = s.Entities["Author"].Do(ctx, svc, nil, mapping.Vars{"$batch": []any{map[string]any{"id": "a1"}, map[string]any{"id": "a2"}}, "$config": map[string]any{"key": "k1"}}, client)
	check("authors", v, err, `[{"id":"a1","name":"Author a1"},{"id":"a2","name":"Author a2"}]`)
	v, err = s.Fields["Query.missing"].Do(ctx, svc, nil, vars(`{"id":"nope"}`), client)
	check("missing", v, err, `null`)
	v, err = s.Fields["Mutation.addBook"].Do(ctx, svc, nil, vars(`{"title":"New"}`), client)
	check("addBook", v, err, `{"id":"b3","title":"New"}`)

	want := []string{
		"GET /api/v1/books/b1 key=k1 auth=Bearer abc",
		"GET /api/v1/books?q=du+ne key=k1 auth=Bearer abc",
		"GET /api/v1/authors?id=a1&id=a2 key=k1 auth=Bearer abc",
		"GET /api/v1/books/nope key=k1 auth=Bearer abc",
		"POST /api/v1/books key=k1 auth=Bearer abc",
	}
	if strings.Join(*seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls:\n%s\nwant:\n%s", strings.Join(*seen, "\n"), strings.Join(want, "\n"))
	}
}

func TestConnectorErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/books/b1":
			http.Error(w, "down", http.StatusServiceUnavailable)
		case "/books/b2":
			_, _ = w.Write([]byte(`{"id":"b2"} trailing`))
		case "/books/b3":
			_, _ = w.Write([]byte(`{"id":"b\u0001\u007f3"}`))
		}
	}))
	defer srv.Close()
	sdl := `extend schema @source(name: "books", http: { baseURL: "` + srv.URL + `" })
type Query { book(id: ID!): Book @connect(source: "books", http: { GET: "/books/{$args.id}" }, selection: "id") }
type Book { id: ID! }
`
	s, err := Load(map[string]string{"s.graphql": sdl}, pools("books"))
	if err != nil {
		t.Fatal(err)
	}
	svc := service(t, "books", srv.URL)
	for id, kind := range map[string]upstreams.Kind{"b1": upstreams.KindUnavailable, "b2": upstreams.KindBadResponse} {
		_, err := s.Fields["Query.book"].Do(context.Background(), svc, nil, mapping.Vars{"$args": map[string]any{"id": id}}, nil)
		var ue *upstreams.Error
		if !asUpstream(err, &ue) || ue.Kind != kind {
			t.Errorf("%s: error %v, want kind %v", id, err, kind)
		}
	}
	_, err = s.Fields["Query.book"].Do(context.Background(), svc, nil, mapping.Vars{"$args": map[string]any{}}, nil)
	var me *mapping.MissingError
	if !asMissing(err, &me) {
		t.Errorf("no id: error %v, want a MissingError", err)
	}
}

func asUpstream(err error, e **upstreams.Error) bool {
	x, ok := err.(*upstreams.Error)
	*e = x
	return ok
}

func asMissing(err error, e **mapping.MissingError) bool {
	x, ok := err.(*mapping.MissingError)
	*e = x
	return ok
}

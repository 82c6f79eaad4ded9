package connectors

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/switchyard/switchyard/upstreams"
)

// testPolicy covers the fields of fallbacks, answering each with its value, and
// records the fields it was asked about.
type testPolicy struct {
	fallbacks map[string]any
	mu        sync.Mutex
	asked     []string
}

func (p *testPolicy) Covers(field string) bool {
	_, ok := p.fallbacks[field]
	return ok
}

func (p *testPolicy) Failed(_ context.Context, field string, err error) *Fallback {
	p.mu.Lock()
	p.asked = append(p.asked, field)
	p.mu.Unlock()
	return &Fallback{Value: p.fallbacks[field], Err: &fellBack{err}}
}

type fellBack struct{ error }

func (e *fellBack) Unwrap() error { return e.error }

// TestFailurePolicy: a field its failure policy covers answers the policy's
// fallback when its call fails or the entity lookup of its object does, written
// through the field's selection, with the policy's error reported at the field
// without a location; fields it does not cover are null with their errors, and the
// policy is not asked about them.
func TestFailurePolicy(t *testing.T) {
	lib := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/lib/shelf":
			_, _ = w.Write([]byte(`{"data":[{"id":"b1","author_id":"a1"},{"id":"b2","author_id":"a2"}]}`))
		default: // the book by id and the authors fail
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(lib.Close)
	sdl := `extend schema @source(name: "lib", http: { baseURL: "http://lib/lib" })
type Query {
  book(id: ID!): Book @connect(source: "lib", http: { GET: "/books/{$args.id}" }, selection: "id title")
  shelf: [Book] @connect(source: "lib", http: { GET: "/shelf" }, selection: "$.data { id author: { id: author_id } coauthor: { id: author_id } }")
}
type Book { id: ID! title: String author: Author coauthor: Author }
type Author @connect(source: "lib", http: { GET: "/authors", queryParams: "id: $batch.id" }, selection: "id name") { id: ID! name: String }
`
	s, err := Load(map[string]string{"lib.graphql": sdl}, pools("lib"))
	if err != nil {
		t.Fatal(err)
	}
	exec, err := NewExecutable(s, map[string]*upstreams.Service{"lib": service(t, "lib", lib.URL)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	policy := &testPolicy{fallbacks: map[string]any{
		"Query.book":  map[string]any{"id": "b0", "title": "Fallback", "author": map[string]any{"id": "a0", "name": "Nobody"}},
		"Book.author": map[string]any{"id": "a0", "name": "Unknown"},
	}}
	exec.SetFailurePolicy(policy)
	h := handler.New(exec)
	h.AddTransport(transport.POST{})
	gw := httptest.NewServer(h)
	t.Cleanup(gw.Close)

	q := `{ book(id: "b1") { title author { name } } shelf { id author { name } coauthor { name } } }`
	resp, err := http.Post(gw.URL, "application/json", strings.NewReader(`{"query":`+quote(q)+`}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Data   json.RawMessage
		Errors []struct {
			Path      []any
			Locations []any
		}
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := `{"book":{"title":"Fallback","author":{"name":"Nobody"}},"shelf":[` +
		`{"id":"b1","author":{"name":"Unknown"},"coauthor":null},{"id":"b2","author":{"name":"Unknown"},"coauthor":null}]}`
	if string(got.Data) != want {
		t.Errorf("data %s\nwant %s", got.Data, want)
	}
	var located, unlocated []string
	for _, e := range got.Errors {
		p, _ := json.Marshal(e.Path)
		if len(e.Locations) > 0 {
			located = append(located, string(p))
		} else {
			unlocated = append(unlocated, string(p))
		}
	}
	slices.Sort(unlocated)
	if !slices.Equal(unlocated, []string{`["book"]`, `["shelf",0,"author"]`, `["shelf",1,"author"]`}) {
		t.Errorf("fallbacks reported at %v", unlocated)
	}
	slices.Sort(located)
	if !slices.Equal(located, []string{`["shelf",0,"coauthor"]`, `["shelf",1,"coauthor"]`}) {
		t.Errorf("failures reported at %v: %s", located, raw)
	}
	slices.Sort(policy.asked)
	if !slices.Equal(policy.asked, []string{"Book.author", "Book.author", "Query.book"}) {
		t.Errorf("the policy was asked about %v", policy.asked)
	}
}

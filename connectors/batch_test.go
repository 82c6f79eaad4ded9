package connectors

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

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

func TestSettled(t *testing.T) {
	s, err := Load(map[string]string{"shop.graphql": shopSDL}, pools("shop"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query string
		want  bool
	}{
		{`{ users(ids: ["u1"]) { id name } }`, true},                 // looked up ahead
		{`{ users(ids: ["u1"]) { orders { id } } }`, false},          // a connector of its own
		{`{ products(ids: ["p1"]) { rating } }`, false},              // a @compute reading one
		{`{ products(ids: ["p1"]) { name reviews { id } } }`, false}, // the same
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			doc, errs := gqlparser.LoadQueryWithRules(s.AST, tc.query, nil)
			if errs != nil {
				t.Fatal(errs)
			}
			r := &run{e: &Executable{schema: s}, oc: &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}}
			f := doc.Operations[0].SelectionSet[0].(*ast.Field)
			def := s.AST.Types[f.Definition.Type.Name()]
			if got := r.settled(def, f.SelectionSet, true); got != tc.want {
				t.Fatalf("settled = %v, want %v", got, tc.want)
			}
		})
	}
}

package connectors

import (
	"strings"
	"testing"

	"github.com/switchyard/switchyard/connectors/mapping"
)

const books = `extend schema
  @link(url: "https://specs.apollo.dev/connect/v0.1", import: ["@connect", "@source"])
  @source(name: "books", http: {
    baseURL: "http://books.internal/api/v1/"
    headers: [{ name: "X-Api-Key", value: "{$config.key}" }, { name: "Authorization", from: "Authorization" }]
  })

type Query {
  book(id: ID!): Book
    @connect(source: "books", http: { GET: "/books/{$args.id}" }, selection: "id title author: { id: author_id }")
  books(q: String): [Book]
    @connect(source: "books", http: { GET: "/books", queryParams: "q: $args.q" }, selection: "$.data { id title }")
}

type Book {
  id: ID!
  title: String
  author: Author
}

type Author @connect(source: "books", http: { GET: "/authors", queryParams: "id: $batch.id" }, selection: "id name") {
  id: ID!
  name: String
}
`

func pools(names ...string) func(string) bool {
	return func(n string) bool {
		for _, x := range names {
			if x == n {
				return true
			}
		}
		return false
	}
}

func TestLoad(t *testing.T) {
	s, err := Load(map[string]string{"books.graphql": books}, pools("books"))
	if err != nil {
		t.Fatal(err)
	}
	src := s.Sources["books"]
	if src == nil || src.BasePath != "/api/v1" || len(src.Headers) != 2 || src.Headers[1].From != "Authorization" {
		t.Fatalf("source %+v", src)
	}
	book := s.Fields["Query.book"]
	if book == nil || book.Method != "GET" || book.Source != src || book.Batch {
		t.Fatalf("Query.book %+v", book)
	}
	u, err := book.URL.ExpandURL(nil, mapping.Vars{"$args": map[string]any{"id": "b/1"}})
	if err != nil || u != "/books/b%2F1" {
		t.Fatalf("URL %q, %v", u, err)
	}
	author := s.Entities["Author"]
	if author == nil || !author.Batch || author.Query == nil {
		t.Fatalf("Author %+v", author)
	}
	if len(s.Fields) != 2 {
		t.Fatalf("fields %v", s.Fields)
	}
}

func TestLoadProblems(t *testing.T) {
	for _, tc := range []struct {
		name, sdl string
		pools     []string
		want      []string
	}{
		{"a source without its pool", books, nil, []string{`s.graphql:3:4: @source "books" names no pool of the configuration (pools.books)`}},
		{"an unknown source", strings.Replace(books, `@connect(source: "books", http: { GET: "/books/{$args.id}" }`, `@connect(source: "bookz", http: { GET: "/books/{$args.id}" }`, 1),
			[]string{"books"}, []string{`Query.book: @connect names source "bookz", which no @source declares`}},
		{"a root field without a connector", books + "\nextend type Query { orphan: Int }\n", []string{"books"},
			[]string{"Query.orphan has no @connect: a root field needs one"}},
		{"$batch on a field", strings.Replace(books, `queryParams: "q: $args.q"`, `queryParams: "q: $batch.id"`, 1), []string{"books"},
			[]string{"Query.books: $batch is for the connector of a type"}},
		{"$this on a root field", strings.Replace(books, `GET: "/books/{$args.id}"`, `GET: "/books/{$this.id}"`, 1), []string{"books"},
			[]string{"Query.book: $this has no object on a root field"}},
		{"a bad selection", strings.Replace(books, `selection: "id name"`, `selection: "id name->nope"`, 1), []string{"books"},
			[]string{"Author selection: at offset 9: unknown method ->nope"}},
		{"a bad template", strings.Replace(books, `GET: "/books/{$args.id}"`, `GET: "/books/{$argz.id}"`, 1), []string{"books"},
			[]string{"unknown variable $argz"}},
		{"two methods", strings.Replace(books, `GET: "/books/{$args.id}"`, `GET: "/books/{$args.id}", POST: "/x"`, 1), []string{"books"},
			[]string{"@connect has two methods, GET and POST"}},
		{"a relative URL", strings.Replace(books, `GET: "/books/{$args.id}"`, `GET: "books/{$args.id}"`, 1), []string{"books"},
			[]string{"does not start with /"}},
		{"a bad base URL", strings.Replace(books, `http://books.internal/api/v1/`, `books.internal`, 1), []string{"books"},
			[]string{`baseURL "books.internal" is not an http(s) URL`}},
		{"a header with both", strings.Replace(books, `{ name: "Authorization", from: "Authorization" }`, `{ name: "Authorization", from: "Authorization", value: "x" }`, 1), []string{"books"},
			[]string{"header Authorization needs exactly one of value and from"}},
		{"a key the type lacks", strings.Replace(books, `selection: "$.data { id title }"`, `selection: "$.data { id title pages }"`, 1), []string{"books"},
			[]string{"Query.books: the selection makes pages, which Book has no field of"}},
		{"a non-null field not made", strings.Replace(books, `selection: "$.data { id title }"`, `selection: "$.data { title }"`, 1), []string{"books"},
			[]string{"Query.books: the selection cannot make the non-null field Book.id"}},
		{"an object without a sub-selection", strings.Replace(books, `author: { id: author_id }`, `author: author_obj`, 1), []string{"books"},
			[]string{"Query.book: Book.author is an object: give it a sub-selection"}},
		{"an entity made without its key", strings.Replace(books, `author: { id: author_id }`, `author: { name: author_name }`, 1), []string{"books"},
			[]string{"Query.book: the selection makes Author without id, which its entity connector looks it up by"}},
		{"a computation of a field the type lacks", books + "\nextend type Book { n: Int @compute(expr: \"pages * 2\") }\n", []string{"books"},
			[]string{"Book.n: @compute(expr: \"pages * 2\"): Book has no field pages"}},
		{"a computation that does not type", books + "\nextend type Book { n: Int @compute(expr: \"title - 1\") }\n", []string{"books"},
			[]string{"Book.n: @compute(expr: \"title - 1\"): invalid operation"}},
		{"a computation that does not parse", books + "\nextend type Book { n: Int @compute(expr: \"id +\") }\n", []string{"books"},
			[]string{"Book.n: @compute(expr: \"id +\"):"}},
		{"an entity connector without keys", strings.Replace(books, `queryParams: "id: $batch.id"`, `queryParams: "id: $(1)"`, 1), []string{"books"},
			[]string{"Author: an entity connector needs the keys it looks objects up by"}},
		{"an entity connector with both", strings.Replace(books, `GET: "/authors", queryParams: "id: $batch.id"`, `GET: "/authors/{$this.id}", queryParams: "id: $batch.id"`, 1), []string{"books"},
			[]string{"Author: an entity connector reads its keys from $batch (many at once) or from $this (one at a time), not both"}},
		{"SDL that does not parse", "type Query {", nil, []string{"s.graphql:1:"}},
		{"an undeclared directive", "type Query { a: Int @nope }", nil, []string{"s.graphql:1:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(map[string]string{"s.graphql": tc.sdl}, pools(tc.pools...))
			if err == nil {
				t.Fatal("loaded")
			}
			if _, ok := err.(Problems); !ok {
				t.Fatalf("error %T %v, want Problems", err, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant one with %q", err, w)
				}
			}
		})
	}
}

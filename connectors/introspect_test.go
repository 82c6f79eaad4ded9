package connectors

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/switchyard/switchyard/upstreams"
)

// TestIntrospection asks a declared schema about itself over real HTTP: types with
// their kinds, descriptions, wrapped types, arguments' defaults, deprecations and
// enum values, __typename on introspection objects; the connectors' own directives
// and input types are not shown; with introspection off, the fields are null with
// gqlgen's error.
func TestIntrospection(t *testing.T) {
	srv, _ := booksServer(t)
	sdl := strings.Replace(books, "http://books.internal/api/v1/", srv.URL+"/api/v1/", 1) + `
"A kind of book."
enum Genre { NOVEL POEM @deprecated(reason: "ask for NOVEL") }
extend type Book {
  genre: Genre @deprecated
  tags(first: Int = 3, sep: String = ","): [String!]
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
	open := handler.New(exec)
	open.AddTransport(transport.POST{})
	open.Use(extension.Introspection{})
	closed := handler.New(exec)
	closed.AddTransport(transport.POST{})
	for _, tc := range []struct {
		name  string
		h     http.Handler
		query string
		want  string
	}{
		{"a type", open, `{ __type(name: "Book") { __typename kind name fields(includeDeprecated: true) { name isDeprecated deprecationReason args { name defaultValue type { kind name } } type { kind name ofType { kind name ofType { kind name ofType { name } } } } } } }`,
			`{"data":{"__type":{"__typename":"__Type","kind":"OBJECT","name":"Book","fields":[` +
				`{"name":"id","isDeprecated":false,"deprecationReason":null,"args":[],"type":{"kind":"NON_NULL","name":null,"ofType":{"kind":"SCALAR","name":"ID","ofType":null}}},` +
				`{"name":"title","isDeprecated":false,"deprecationReason":null,"args":[],"type":{"kind":"SCALAR","name":"String","ofType":null}},` +
				`{"name":"author","isDeprecated":false,"deprecationReason":null,"args":[],"type":{"kind":"OBJECT","name":"Author","ofType":null}},` +
				`{"name":"genre","isDeprecated":true,"deprecationReason":"No longer supported","args":[],"type":{"kind":"ENUM","name":"Genre","ofType":null}},` +
				`{"name":"tags","isDeprecated":false,"deprecationReason":null,"args":[{"name":"first","defaultValue":"3","type":{"kind":"SCALAR","name":"Int"}},{"name":"sep","defaultValue":"\",\"","type":{"kind":"SCALAR","name":"String"}}],` +
				`"type":{"kind":"LIST","name":null,"ofType":{"kind":"NON_NULL","name":null,"ofType":{"kind":"SCALAR","name":"String","ofType":null}}}}]}}}`},
		{"deprecated fields left out", open, `{ __type(name: "Book") { fields { name } } }`,
			`{"data":{"__type":{"fields":[{"name":"id"},{"name":"title"},{"name":"author"},{"name":"tags"}]}}}`},
		{"an enum", open, `{ __type(name: "Genre") { description fields { name } enumValues(includeDeprecated: true) { name isDeprecated deprecationReason } } }`,
			`{"data":{"__type":{"description":"A kind of book.","fields":[],"enumValues":[{"name":"NOVEL","isDeprecated":false,"deprecationReason":null},{"name":"POEM","isDeprecated":true,"deprecationReason":"ask for NOVEL"}]}}}`},
		{"an unknown type", open, `{ __type(name: "Nope") { name } }`, `{"data":{"__type":null}}`},
		{"the schema", open, `{ __schema { __typename queryType { name } mutationType { name } subscriptionType { name } directives { name isRepeatable locations } } }`,
			`{"data":{"__schema":{"__typename":"__Schema","queryType":{"name":"Query"},"mutationType":null,"subscriptionType":null,"directives":[` +
				`{"name":"defer","isRepeatable":false,"locations":["FRAGMENT_SPREAD","INLINE_FRAGMENT"]},` +
				`{"name":"deprecated","isRepeatable":false,"locations":["FIELD_DEFINITION","ARGUMENT_DEFINITION","INPUT_FIELD_DEFINITION","ENUM_VALUE","DIRECTIVE_DEFINITION"]},` +
				`{"name":"include","isRepeatable":false,"locations":["FIELD","FRAGMENT_SPREAD","INLINE_FRAGMENT"]},` +
				`{"name":"oneOf","isRepeatable":false,"locations":["INPUT_OBJECT"]},` +
				`{"name":"skip","isRepeatable":false,"locations":["FIELD","FRAGMENT_SPREAD","INLINE_FRAGMENT"]},` +
				`{"name":"specifiedBy","isRepeatable":false,"locations":["SCALAR"]}]}}}`},
		{"with data", open, `{ book(id: "b1") { title } __typename t: __type(name: "Author") { name } }`,
			`{"data":{"book":{"title":"Dune"},"__typename":"Query","t":{"name":"Author"}}}`},
		{"introspection off", closed, `{ __type(name: "Book") { name } book(id: "b1") { title } }`,
			`{"errors":[{"message":"introspection disabled","path":["__type"],"locations":[{"line":1,"column":3}]}],"data":{"__type":null,"book":{"title":"Dune"}}}`},
		{"introspection off, the schema", closed, `{ __schema { queryType { name } } }`,
			`{"errors":[{"message":"introspection disabled","path":["__schema"],"locations":[{"line":1,"column":3}]}],"data":null}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := post(t, tc.h, tc.query); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	for _, hidden := range []string{"SourceHTTP", "ConnectHTTP", "HTTPHeaderMapping"} {
		if got := post(t, open, `{ __type(name: "`+hidden+`") { name } }`); got != `{"data":{"__type":null}}` {
			t.Errorf("%s is shown: %s", hidden, got)
		}
	}
	if got := post(t, open, `{ __schema { types { name } } }`); strings.Contains(got, "HTTP") || !strings.Contains(got, `{"name":"Genre"}`) {
		t.Errorf("types: %s", got)
	}
}

// post asks h a query over real HTTP and returns the answer.
func post(t *testing.T, h http.Handler, query string) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"query":`+quote(query)+`}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

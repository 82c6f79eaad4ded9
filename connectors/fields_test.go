package connectors

import (
	"crypto/sha256"
	"encoding/hex"
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

	"github.com/switchyard/switchyard/policies"
	"github.com/switchyard/switchyard/upstreams"
)

const shopSDL = AuthDirective + `
extend schema @source(name: "shop", http: { baseURL: "http://shop" })
type Query {
  users(ids: [ID!]!): [User]! @connect(source: "shop", selection: "$args.ids { id: $ }")
  product(id: ID!): Product @connect(source: "shop", http: { GET: "/products/{$args.id}" }, selection: "id name")
  products(ids: [ID!]!): [Product]! @connect(source: "shop", selection: "$args.ids { id: $ }")
}
type User @connect(source: "shop", http: { GET: "/users", queryParams: "ids: $batch.id->joinNotNull(',')" }, selection: "id name email") {
  id: ID!
  name: String!
  email: String @auth(scopes: ["admin"], owner: true)
  orders(first: Int = 2): [Order!]! @connect(source: "shop", http: { GET: "/orders", queryParams: "userId: $this.id" }, selection: "$->slice(0, $args.first) { id }")
}
type Order { id: ID! }
type Product {
  id: ID!
  name: String
  reviews(first: Int = 1): [Review!]! @connect(source: "shop", http: { GET: "/reviews", queryParams: "productIds: $batch.id->joinNotNull(',')" },
    batchKey: "productId", selection: "$->slice(0, $args.first) { id rating }")
  rating: Float @compute(expr: "len(reviews) == 0 ? nil : sum(reviews, .rating) / len(reviews)")
}
type Review { id: ID! rating: Int! }
`

// shopServer answers the shop's REST calls and counts them by path.
func shopServer(t *testing.T) (*httptest.Server, func() map[string]int) {
	var mu sync.Mutex
	calls := map[string]int{}
	users := map[string]string{"u1": "Ada", "u2": "Ben"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.URL.Path]++
		mu.Unlock()
		q := r.URL.Query()
		var out any
		switch r.URL.Path {
		case "/users":
			list := []any{}
			for _, id := range strings.Split(q.Get("ids"), ",") {
				if name, ok := users[id]; ok {
					list = append(list, map[string]string{"id": id, "name": name, "email": id + "@example.com"})
				}
			}
			out = list
		case "/orders":
			out = []map[string]string{{"id": q.Get("userId") + "-o1"}, {"id": q.Get("userId") + "-o2"}, {"id": q.Get("userId") + "-o3"}}
		case "/products/p1", "/products/p2":
			out = map[string]string{"id": strings.TrimPrefix(r.URL.Path, "/products/"), "name": "Thing"}
		case "/reviews": // p1's reviews, and p2's; answered in an order of their own
			list := []map[string]any{}
			ids := strings.Split(q.Get("productIds"), ",")
			if slices.Contains(ids, "p2") {
				list = append(list, map[string]any{"id": "r9", "rating": 1, "productId": "p2"})
			}
			if slices.Contains(ids, "p1") {
				list = append(list, map[string]any{"id": "r1", "rating": 5, "productId": "p1"}, map[string]any{"id": "r2", "rating": 4, "productId": "p1"}, map[string]any{"id": "r3", "rating": 2, "productId": "p1"})
			}
			out = list
		default:
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		n := calls
		calls = map[string]int{}
		return n
	}
}

// TestFieldsOverConnectors: a root field made from its arguments alone, whose
// objects its type's entity connector completes in one batch; ->slice with a
// field's argument and its default; a @compute over a field with its own
// connector, which runs first and is called once for both; a field's connector
// reading $batch, called once for a list's objects and its answer grouped back by
// batchKey; identical calls once per request; @auth on a field, for the owner, an
// admin and anyone else.
func TestFieldsOverConnectors(t *testing.T) {
	srv, calls := shopServer(t)
	s, err := Load(map[string]string{"shop.graphql": shopSDL}, pools("shop"))
	if err != nil {
		t.Fatal(err)
	}
	exec, err := NewExecutable(s, map[string]*upstreams.Service{"shop": service(t, "shop", srv.URL)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var keys []policies.APIKey
	for _, k := range []struct{ key, subject, scope string }{{"key-u1", "u1", "read"}, {"key-admin", "ops", "admin"}} {
		sum := sha256.Sum256([]byte(k.key))
		keys = append(keys, policies.APIKey{Name: k.subject, SHA256: hex.EncodeToString(sum[:]), Subject: k.subject, Scopes: []string{k.scope}})
	}
	auth, err := policies.NewAuthenticator(policies.AuthOptions{APIKeyHeader: "X-Api-Key", APIKeys: keys})
	if err != nil {
		t.Fatal(err)
	}
	h := handler.New(exec)
	h.AddTransport(transport.POST{})
	gw := httptest.NewServer(auth.Middleware(h))
	defer gw.Close()
	users := `{ users(ids: ["u1", "nope", "u2", "u1"]) { id name email orders { id } } }`
	for _, tc := range []struct {
		name, key, query, want string
		calls                  map[string]int
	}{
		{"the owner", "key-u1", users,
			`{"errors":[{"message":"forbidden","path":["users",2,"email"],"locations":[{"line":1,"column":52}]}],"data":{"users":[` +
				`{"id":"u1","name":"Ada","email":"u1@example.com","orders":[{"id":"u1-o1"},{"id":"u1-o2"}]},null,` +
				`{"id":"u2","name":"Ben","email":null,"orders":[{"id":"u2-o1"},{"id":"u2-o2"}]},` +
				`{"id":"u1","name":"Ada","email":"u1@example.com","orders":[{"id":"u1-o1"},{"id":"u1-o2"}]}]}}`,
			map[string]int{"/users": 1, "/orders": 2}},
		{"an admin", "key-admin", `{ users(ids: ["u2"]) { email orders(first: 1) { id } } }`,
			`{"data":{"users":[{"email":"u2@example.com","orders":[{"id":"u2-o1"}]}]}}`, map[string]int{"/users": 1, "/orders": 1}},
		{"anonymous", "", `{ users(ids: ["u1"]) { email } }`,
			`{"errors":[{"message":"forbidden","path":["users",0,"email"],"locations":[{"line":1,"column":24}]}],"data":{"users":[{"email":null}]}}`, map[string]int{"/users": 1}},
		{"ids only: no call", "", `{ users(ids: ["u1", "u9"]) { id } }`,
			`{"data":{"users":[{"id":"u1"},{"id":"u9"}]}}`, map[string]int{}},
		{"computed over a connected field", "", `{ product(id: "p1") { rating reviews { id } all: reviews(first: 10) { rating } } }`,
			`{"data":{"product":{"rating":3.6666666666666665,"reviews":[{"id":"r1"}],"all":[{"rating":5},{"rating":4},{"rating":2}]}}}`,
			map[string]int{"/products/p1": 1, "/reviews": 1}},
		{"computed over nothing", "", `{ product(id: "p3") { rating } }`,
			`{"data":{"product":null}}`, map[string]int{"/products/p3": 1}},
		{"a batched field", "", `{ products(ids: ["p1", "p2", "p3", "p1"]) { id rating reviews(first: 2) { id } } }`,
			`{"data":{"products":[{"id":"p1","rating":3.6666666666666665,"reviews":[{"id":"r1"},{"id":"r2"}]},` +
				`{"id":"p2","rating":1,"reviews":[{"id":"r9"}]},{"id":"p3","rating":null,"reviews":[]},` +
				`{"id":"p1","rating":3.6666666666666665,"reviews":[{"id":"r1"},{"id":"r2"}]}]}}`,
			map[string]int{"/reviews": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls()
			req, _ := http.NewRequest("POST", gw.URL, strings.NewReader(`{"query":`+quote(tc.query)+`}`))
			req.Header.Set("Content-Type", "application/json")
			if tc.key != "" {
				req.Header.Set("X-Api-Key", tc.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != tc.want {
				t.Errorf("got  %s\nwant %s", b, tc.want)
			}
			got := calls()
			for path, n := range tc.calls {
				if got[path] != n {
					t.Errorf("%s called %d times, want %d (all: %v)", path, got[path], n, got)
				}
			}
			if len(got) != len(tc.calls) {
				t.Errorf("calls %v, want %v", got, tc.calls)
			}
		})
	}
}

// TestLoadAuthAndLocalConnectors: @auth must be declared as the gateway checks
// it; a connector without http may not read $batch or be a type's.
func TestLoadAuthAndLocalConnectors(t *testing.T) {
	for _, tc := range []struct{ sdl, want string }{
		{`directive @auth(role: String) on FIELD_DEFINITION
extend schema @source(name: "s", http: { baseURL: "http://s" })
type Query { a: String @connect(source: "s", selection: "$args") }`, "x.graphql:1:12: @auth is the gateway's field authorization"},
		{`extend schema @source(name: "s", http: { baseURL: "http://s" })
type Query { a: A @connect(source: "s", selection: "id: $batch.id") }
type A @connect(source: "s", selection: "id") { id: ID }`, "an entity connector needs http"},
		{`extend schema @source(name: "s", http: { baseURL: "http://s" })
type Query { a: A @connect(source: "s", selection: "id: $batch.id") }
type A { id: ID }`, "$batch is for the connector of a type"},
		{`extend schema @source(name: "s", http: { baseURL: "http://s" })
type Query { a: A @connect(source: "s", http: { GET: "/a" }, selection: "id") }
type A { id: ID b: [String] @connect(source: "s", http: { GET: "/b", queryParams: "ids: $batch.id" }, selection: "$") }`, "needs batchKey"},
		{`extend schema @source(name: "s", http: { baseURL: "http://s" })
type Query { a: A @connect(source: "s", http: { GET: "/a" }, selection: "id") }
type A { id: ID b(n: Int): [String] @connect(source: "s", http: { GET: "/b/{$args.n}", queryParams: "ids: $batch.id" }, batchKey: "aId", selection: "$") }`,
			"its request cannot read $args"},
	} {
		_, err := Load(map[string]string{"x.graphql": tc.sdl}, pools("s"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s\nerror %v, want %q", tc.sdl, err, tc.want)
		}
	}
}

package gateway_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/gateway"
	"github.com/switchyard/switchyard/lb"
)

// shopSDL is a declared schema over two services that are not the demo's: an
// inventory with envelopes and snake_case keys, and a stock service answering one
// item at a time.
const shopSDL = `extend schema
  @source(name: "inventory", http: { baseURL: "http://inventory/v1" })
  @source(name: "stock", http: { baseURL: "http://stock" })

type Query {
  item(id: ID!): Item
    @connect(source: "inventory", http: { GET: "/items/{$args.id}" }, selection: "$.item { id: item_id name: label }")
  "Made from the ids, completed by Item's entity connector."
  items(ids: [ID!]!): [Item]! @connect(source: "inventory", selection: "$args.ids { id: $ }")
  pick(id: ID!): Item @connect(source: "inventory", selection: "id: $args.id")
}

type Item
  @connect(source: "inventory", http: { GET: "/items", queryParams: "id: $batch.id" }, selection: "$.data { id: item_id name: label }")
{
  id: ID!
  name: String!
  tags: [Tag!]! @connect(source: "stock", http: { GET: "/tags/{$this.id}" }, selection: "$.tags { name }")
  stock: Stock @connect(source: "stock", http: { GET: "/stock/{$this.id}" }, selection: "count: in_stock")
  status: String @compute(expr: "len(tags) > 0 ? \"tagged\" : \"untagged\"")
}

type Tag { name: String! }
type Stock { count: Int, reserved: Int }
`

// shopServices answers the inventory and stock services of shopSDL on one
// loopback server; a path that fail holds (a path, or a path and a query) answers
// 500 instead.
type shopServices struct {
	mu   sync.Mutex
	fail []string
}

func (s *shopServices) failing(paths ...string) func() {
	s.mu.Lock()
	s.fail = paths
	s.mu.Unlock()
	return func() { s.failing() }
}

func (s *shopServices) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	fail := slices.Contains(s.fail, r.URL.Path)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	id := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	switch {
	case fail:
		w.WriteHeader(http.StatusInternalServerError)
	case r.URL.Path == "/v1/items":
		var b bytes.Buffer
		b.WriteString(`{"data":[`)
		for i, id := range r.URL.Query()["id"] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"item_id":"` + id + `","label":"Item ` + id + `"}`)
		}
		b.WriteString(`]}`)
		_, _ = w.Write(b.Bytes())
	case strings.HasPrefix(r.URL.Path, "/v1/items/"):
		_, _ = w.Write([]byte(`{"item":{"item_id":"` + id + `","label":"Item ` + id + `"}}`))
	case strings.HasPrefix(r.URL.Path, "/tags/"):
		_, _ = w.Write([]byte(`{"tags":[{"name":"new"},{"name":"` + id + `"}]}`))
	case strings.HasPrefix(r.URL.Path, "/stock/"):
		_, _ = w.Write([]byte(`{"in_stock":3}`))
	default:
		http.NotFound(w, r)
	}
}

// shopConfig is a configuration serving shopSDL over services at url, with the
// failure policies edit sets.
func shopConfig(t *testing.T, url string, edit func(*config.GraphQL)) *config.Config {
	t.Helper()
	file := filepath.Join(t.TempDir(), "shop.graphql")
	if err := os.WriteFile(file, []byte(shopSDL), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Pools: map[string]config.Pool{}}
	for _, name := range []string{"inventory", "stock"} {
		p := config.Pool{Options: lb.Options{Endpoints: []string{url}, HealthCheck: lb.HealthCheck{Disabled: true}, Retries: ptr(0)}}
		p.Breaker.Disabled = true
		p.Outlier.ConsecutiveFailures = ptr(0)
		cfg.Pools[name] = p
	}
	cfg.GraphQL.Schema = []string{file}
	if edit != nil {
		edit(&cfg.GraphQL)
	}
	validate(t, cfg)
	return cfg
}

// TestDeclaredFailurePolicies: graphql.fallbacks and graphql.required_fields apply
// to the fields of a declared schema, over real HTTP, as to the compiled demo's: a
// failed field with a fallback answers its value and the failure is reported with
// extensions.fallback (and no location, as gqlgen reports it); a required field's
// failure is a 502 with no data; other fields are null with their errors.
func TestDeclaredFailurePolicies(t *testing.T) {
	services := &shopServices{}
	upstream := httptest.NewServer(services)
	t.Cleanup(upstream.Close)
	_, gw := serveRuntime(t, shopConfig(t, upstream.URL, func(g *config.GraphQL) {
		g.Fallbacks = map[string]any{"Item.tags": []any{}, "Item.stock": map[string]any{"count": 0}, "Query.items": []any{}}
		g.RequiredFields = []string{"Query.item", "Query.pick"}
	}))
	const (
		stockDown    = `{"message":"the stock service is unavailable","path":%s,"locations":[{"line":1,"column":%d}],"extensions":{"code":"UPSTREAM_UNAVAILABLE","upstream":"stock"}}`
		stockFellBck = `{"message":"the stock service is unavailable","path":%s,"extensions":{"code":"UPSTREAM_UNAVAILABLE","fallback":true,"upstream":"stock"}}`
		invFellBack  = `{"message":"the inventory service is unavailable","path":["items"],"extensions":{"code":"UPSTREAM_UNAVAILABLE","fallback":true,"upstream":"inventory"}}`
		invDown      = `{"message":"the inventory service is unavailable","path":[%q],"locations":[{"line":1,"column":3}],"extensions":{"code":"UPSTREAM_UNAVAILABLE","upstream":"inventory"}}`
	)
	for _, tc := range []struct {
		name, query string
		failing     []string
		status      int
		data        string
		errors      []string
	}{
		{"healthy", `{ item(id: "i1") { name tags { name } stock { count reserved } status } }`, nil,
			200, `{"item":{"name":"Item i1","tags":[{"name":"new"},{"name":"i1"}],"stock":{"count":3,"reserved":null},"status":"tagged"}}`, nil},
		{"a field's call falls back", `{ item(id: "i1") { name tags { name } stock { count reserved } status } }`, []string{"/tags/i1", "/stock/i1"},
			200, `{"item":{"name":"Item i1","tags":[],"stock":{"count":0,"reserved":null},"status":null}}`, []string{
				// status reads tags: computed, it fails with no fallback of its own.
				fmt.Sprintf(stockDown, `["item","status"]`, 64),
				fmt.Sprintf(stockFellBck, `["item","stock"]`),
				fmt.Sprintf(stockFellBck, `["item","tags"]`),
			}},
		{"entity lookups of a list fall back", `{ items(ids: ["i1", "i2"]) { name } }`, []string{"/v1/items"},
			200, `{"items":[]}`, []string{invFellBack}},
		{"objects that need no lookup do not fail", `{ items(ids: ["i1"]) { id tags { name } } }`, []string{"/v1/items"},
			200, `{"items":[{"id":"i1","tags":[{"name":"new"},{"name":"i1"}]}]}`, nil},
		{"a required root call fails the answer", `{ item(id: "i1") { name } items(ids: ["i2"]) { name } }`, []string{"/v1/items/i1"},
			502, ``, []string{fmt.Sprintf(invDown, "item")}},
		{"a required entity lookup fails the answer", `{ pick(id: "i1") { name } }`, []string{"/v1/items"},
			502, ``, []string{fmt.Sprintf(invDown, "pick")}},
		{"a required field that does not fail", `{ pick(id: "i1") { name } }`, []string{"/stock/i1"},
			200, `{"pick":{"name":"Item i1"}}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer services.failing(tc.failing...)()
			got := postAs(t, gw.URL+"/graphql", "", tc.query, nil)
			if got.status != tc.status || string(got.data) != tc.data || !slices.Equal(got.errors, tc.errors) {
				t.Errorf("got  %d %s\n     %s\nwant %d %s\n     %s", got.status, got.data, strings.Join(got.errors, "\n     "),
					tc.status, tc.data, strings.Join(tc.errors, "\n     "))
			}
		})
	}
}

// TestDeclaredFailurePoliciesAreChecked: the fallbacks and required fields are
// checked against the declared schema at load, with the messages the compiled
// schema's give: the fields must exist and the values fit their types.
func TestDeclaredFailurePoliciesAreChecked(t *testing.T) {
	cfg := shopConfig(t, "http://127.0.0.1:1", func(g *config.GraphQL) {
		g.Fallbacks = map[string]any{"Item.tagz": []any{}, "Item.name": nil, "Product.reviews": []any{},
			"Item.stock": map[string]any{"count": "many"}, "Item.tags": []any{map[string]any{"nam": "x"}}, "Query.items": map[string]any{}}
		g.RequiredFields = []string{"Query.nope"}
	})
	_, err := gateway.New(cfg, slog.New(slog.DiscardHandler))
	for _, want := range []string{
		"graphql.fallbacks or graphql.required_fields: ",
		"Item.tagz: no such field (write Type.field)",
		"Item.name: null does not fit the non-null type String!",
		"Product.reviews: no such field (write Type.field)", // the demo's default is not a declared schema's
		"Query.nope: no such field (write Type.field)",
		`Item.stock: "many" does not fit the type Int`,
		"Item.tags: Tag has no field nam",
		"Query.items: {} does not fit the list type [Item]!",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want %q", err, want)
		}
	}
}

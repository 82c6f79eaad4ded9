package gateway_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/gateway"
)

// TestDeclaredSchemaThroughTheGateway: a configuration that names a declared schema
// and its one pool, no demo pools, serves that schema at /graphql through the whole
// gateway (policies, limits, the access log), over real HTTP.
func TestDeclaredSchemaThroughTheGateway(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
		case "/v1/items/i1":
			_, _ = w.Write([]byte(`{"item":{"item_id":"i1","label":"Lamp","in_stock":3,"reserved":1}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer upstream.Close()
	dir := t.TempDir()
	sdl := `extend schema @source(name: "inventory", http: { baseURL: "http://inventory/v1" })
type Query {
  item(id: ID!): Item @connect(source: "inventory", http: { GET: "/items/{$args.id}" },
    selection: "$.item { id: item_id name: label inStock: in_stock reserved }")
}
type Item {
  id: ID!
  name: String
  inStock: Int
  reserved: Int
  free: Int @compute(expr: "inStock - reserved")
}
`
	if err := os.WriteFile(filepath.Join(dir, "inventory.graphql"), []byte(sdl), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := "graphql:\n  schema: [\"*.graphql\"]\npools:\n  inventory:\n    endpoints: [" + upstream.URL + "]\n"
	cfgFile := filepath.Join(dir, "gw.yaml")
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	for _, tc := range []struct{ query, want string }{
		{`{ item(id: \"i1\") { id name free } }`, `{"data":{"item":{"id":"i1","name":"Lamp","free":2}}}`},
		{`{ item(id: \"nope\") { id } }`, `{"data":{"item":null}}`},
	} {
		resp, err := http.Post(srv.URL+"/graphql", "application/json", strings.NewReader(`{"query":"`+tc.query+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != tc.want {
			t.Errorf("%s: %d %s, want %s", tc.query, resp.StatusCode, body, tc.want)
		}
	}

	// A schema naming a pool the configuration lacks is refused with its place.
	bad := strings.Replace(sdl, `name: "inventory"`, `name: "stock"`, 1)
	if err := os.WriteFile(filepath.Join(dir, "inventory.graphql"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	_, err = gateway.New(cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), `inventory.graphql:1:16: @source "stock" names no pool of the configuration`) {
		t.Fatalf("error %v", err)
	}
}

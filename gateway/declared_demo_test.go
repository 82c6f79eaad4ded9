package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/demo"
	"github.com/switchyard/switchyard/gateway"
)

// declaredSkips are the cases of directCorpus the declared demo does not answer as
// the compiled one does yet, each with why; docs/connectors.md lists the same.
var declaredSkips = map[string]string{
	"argument error": "declared schemas do not check arguments: orders(first: -1) and reviews(first: -2) are empty lists, " +
		"where the compiled resolvers refuse them with BAD_USER_INPUT",
	"too many ids": "declared schemas do not bound list arguments: users(ids:) with 1001 ids is answered, " +
		"where the compiled resolvers refuse it with BAD_USER_INPUT",
	"v1 money": "a declared schema is served as the current version only: there is no /v1/graphql",
	"v1 w2":    "a declared schema is served as the current version only: there is no /v1/graphql",
}

// declaredFewerCalls are the cases where the declared demo makes fewer calls than
// the compiled one, and why: the answers must still be the same.
var declaredFewerCalls = map[string]string{
	"merged fields": "identical calls of a request are made once: x: user(id: \"u1\") shares user(id: \"u1\")'s call " +
		"(one call to users, where the compiled demo makes two)",
	"batch: reviews of items' products": productByID,
	"batch: users' orders' products":    productByID,
	"batch: deep": productByID + "; likewise a review's author { orders } needs only the author's id, " +
		"and the products of the authors' orders' items are looked up together (one call to catalog, the compiled demo 15)",
}

// productByID is why the declared demo makes fewer calls to catalog: an object
// made from a key is looked up only for fields its key does not give.
const productByID = "a product made from an item's productId is looked up only when a field the catalog holds is asked: " +
	"product { rating reviews } needs its id alone, where the compiled resolvers fetch every product"

// declaredExtra are queries beyond the direct-execution corpus, for what only an
// authenticated caller sees (me, User.email as the owner and as an admin) and for
// the whole introspection of the schema; key is the API key sent, if any.
var declaredExtra = []struct{ name, key, query string }{
	{"me as u1", "secret-u1", `{ me { id name email tier orders(first: 2) { id total { amount currency } } } }`},
	{"email as the owner", "secret-u1", `{ users(ids: ["u1", "u2"]) { id email } }`},
	{"email as an admin", "secret-ops", `{ me { id } users(ids: ["u1", "u2"]) { email } }`},
	{"full introspection", "", fullIntrospection},
	{"orders, first null", "", `{ user(id: "u2") { orders(first: null) { id createdAt status } } }`},
	{"ratings and reviews", "", `{ product(id: "p3") { rating reviews(first: 1) { rating author { name } } all: reviews(first: 20) { id } } }`},
	// Batching across list elements and root fields, as TestDirectExecutionBatchesAsGqlgen asks.
	{"batch: reviews of items' products", "", `{ user(id:"u1"){ orders(first:10){ items{ product{ reviews(first:2){ id } rating } } } } }`},
	{"batch: products and users of orders", "", `{ user(id:"u1"){ orders(first:10){ total{ amount } items{ product{ name } } user{ name } } } }`},
	{"batch: authors under two roots", "", `{ a: product(id:"p1"){ reviews{ id author{ name } } } b: product(id:"p2"){ reviews{ id author{ name } } } }`},
	{"batch: users of three orders", "", `{ a: order(id:"o1"){ user{ name } } b: order(id:"o2"){ user{ name } } c: order(id:"o3"){ user{ name } } }`},
	{"batch: deep", "", `{ products(ids:["p1","p2","p3","p4"]){ rating reviews{ author{ orders(first:2){ items{ product{ name } } } } } } }`},
	{"batch: users' orders' products", "", `{ users(ids:["u1","u2","u3"]){ orders(first:3){ user{ name } items{ product{ rating } } } } }`},
}

// TestDeclaredDemoMatchesCompiled runs the direct-execution corpus, and the cases
// above, through the compiled demo and through the declared one
// (schema/declared/storefront.graphql) over the same demo services on loopback,
// healthy and with each service failing, and wants the same status, the same data
// byte for byte, the same errors and the same number of calls to each service.
// The declared demo has the fallbacks of its example configuration
// (gateway.declared.yaml), which must answer as the compiled demo's defaults do.
func TestDeclaredDemoMatchesCompiled(t *testing.T) {
	cluster := startCluster(t, 1)
	storefront, err := filepath.Abs("../schema/declared/storefront.graphql")
	if err != nil {
		t.Fatal(err)
	}
	example, err := config.Load("../gateway.declared.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(example.GraphQL.Fallbacks) == 0 {
		t.Fatal("gateway.declared.yaml has no fallbacks: a reviews outage would null the declared demo's products")
	}
	edit := func(declared bool) func(*config.Config) {
		return func(c *config.Config) {
			// A batch window wide enough for the race detector's scheduling.
			c.GraphQL.LoaderWait = config.D(50 * time.Millisecond)
			c.Auth.APIKeys = []config.APIKey{
				{Name: "u1", SHA256: keyHash("secret-u1"), Subject: "u1"},
				{Name: "ops", SHA256: keyHash("secret-ops"), Subject: "ops", Scopes: []string{"admin"}},
			}
			for name, p := range c.Pools { // failures must not change how later calls go
				p.Breaker.Disabled = true
				p.Outlier.ConsecutiveFailures = ptr(0)
				c.Pools[name] = p
			}
			if declared {
				c.GraphQL.Schema = []string{storefront}
				c.GraphQL.Fallbacks = example.GraphQL.Fallbacks
			}
		}
	}
	_, compiled := serveRuntime(t, demoConfig(t, cluster, edit(false)))
	_, declared := serveRuntime(t, demoConfig(t, cluster, edit(true)))
	var queries []declaredQuery
	for _, tc := range directCorpus {
		queries = append(queries, declaredQuery{tc.name, tc.path, "", tc.query, tc.vars})
	}
	for _, tc := range declaredExtra {
		queries = append(queries, declaredQuery{tc.name, "/graphql", tc.key, tc.query, nil})
	}
	run := func(t *testing.T, healthy bool) {
		for _, q := range queries {
			t.Run(q.name, func(t *testing.T) {
				if why, ok := declaredSkips[q.name]; ok {
					t.Skip(why)
				}
				if why, ok := declaredFewerCalls[q.name]; ok && !healthy {
					t.Skip("the declared demo does not call the failing service here: " + why)
				}
				compareDeclared(t, cluster, q, compiled.URL, declared.URL, healthy)
			})
		}
	}
	t.Run("healthy", func(t *testing.T) { run(t, true) })
	for _, svc := range demo.Services {
		t.Run(string(svc)+" failing", func(t *testing.T) {
			cluster.SetFault(svc, demo.Fault{Status: 500})
			defer cluster.SetFault(svc, demo.Fault{})
			run(t, false)
		})
	}
}

// declaredQuery is one query of the comparison, with the API key sent, if any.
type declaredQuery struct {
	name, path, key, query string
	vars                   map[string]any
}

// compareDeclared asks q of both gateways and compares the answers and the calls
// each made to the services.
func compareDeclared(t *testing.T, cluster *demo.Cluster, q declaredQuery, compiled, declared string, healthy bool) {
	t.Helper()
	ask := func(url string) (answer, map[demo.Service]int64) {
		cluster.ResetCounters()
		a := postAs(t, url+q.path, q.key, q.query, q.vars)
		calls := map[demo.Service]int64{}
		for _, svc := range demo.Services {
			calls[svc] = cluster.Calls(svc)
		}
		return a, calls
	}
	c, cc := ask(compiled)
	d, dc := ask(declared)
	if d.status != c.status {
		t.Errorf("status: declared %d, compiled %d", d.status, c.status)
	}
	if !bytes.Equal(d.data, c.data) {
		t.Errorf("data differs\ndeclared: %s\ncompiled: %s", d.data, c.data)
	}
	if !slices.Equal(d.errors, c.errors) {
		t.Errorf("errors differ\ndeclared: %s\ncompiled: %s", strings.Join(d.errors, "\n          "), strings.Join(c.errors, "\n          "))
	}
	_, fewer := declaredFewerCalls[q.name]
	switch {
	case fewer:
		if !fewerCalls(dc, cc) {
			t.Errorf("upstream calls: declared %v, compiled %v: want fewer", dc, cc)
		}
	case healthy:
		if !maps.Equal(dc, cc) {
			t.Errorf("upstream calls: declared %v, compiled %v", dc, cc)
		}
	default: // a failed batch is not asked again, where the compiled demo's resolvers may ask again
		if !noMoreCalls(dc, cc) {
			t.Errorf("upstream calls: declared %v, compiled %v: want no more", dc, cc)
		}
	}
	if healthy && len(c.data) < 20 && q.name != "me anonymous" {
		t.Errorf("little data: %d %s %s", c.status, c.data, c.errors)
	}
}

// fewerCalls reports whether declared made no more calls than compiled to each
// service, and fewer to one.
func fewerCalls(declared, compiled map[demo.Service]int64) bool {
	return noMoreCalls(declared, compiled) && !maps.Equal(declared, compiled)
}

// noMoreCalls reports whether declared made no more calls than compiled to each
// service.
func noMoreCalls(declared, compiled map[demo.Service]int64) bool {
	for svc, n := range declared {
		if n > compiled[svc] {
			return false
		}
	}
	return true
}

// answer is a GraphQL answer: its status, its data as sent, and its errors as
// compact JSON, sorted.
type answer struct {
	status int
	data   json.RawMessage
	errors []string
}

// postAs posts a query with variables, with an API key when key is not empty.
func postAs(t *testing.T, url, key, query string, vars map[string]any) answer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Data   json.RawMessage   `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, raw)
	}
	errs := make([]string, len(out.Errors))
	for i, e := range out.Errors {
		var b bytes.Buffer
		_ = json.Compact(&b, e)
		errs[i] = b.String()
	}
	slices.Sort(errs)
	return answer{resp.StatusCode, out.Data, errs}
}

// fullIntrospection is the introspection query GraphQL clients send.
const fullIntrospection = `query IntrospectionQuery {
  __schema {
    description
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description isRepeatable locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description specifiedByURL isOneOf
  fields(includeDeprecated: true) { name description args(includeDeprecated: true) { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue isDeprecated deprecationReason }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }`

// TestDeclaredDemoIntrospectionOff: with graphql.introspection off, the declared
// demo refuses introspection as the compiled one does.
func TestDeclaredDemoIntrospectionOff(t *testing.T) {
	cluster := startCluster(t, 1)
	storefront, err := filepath.Abs("../schema/declared/storefront.graphql")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(declared bool) func(*config.Config) {
		return func(c *config.Config) {
			c.GraphQL.Introspection = new(bool)
			if declared {
				c.GraphQL.Schema = []string{storefront}
			}
		}
	}
	_, compiled := serveRuntime(t, demoConfig(t, cluster, edit(false)))
	_, declared := serveRuntime(t, demoConfig(t, cluster, edit(true)))
	for _, q := range []string{
		`{ __schema { queryType { name } } user(id:"u1"){ id } }`,
		`{ __type(name:"Money"){ name } user(id:"u1"){ id __typename } }`,
	} {
		c := postAs(t, compiled.URL+"/graphql", "", q, nil)
		d := postAs(t, declared.URL+"/graphql", "", q, nil)
		if d.status != c.status || !bytes.Equal(d.data, c.data) || !slices.Equal(d.errors, c.errors) {
			t.Errorf("%s\ndeclared: %d %s %s\ncompiled: %d %s %s", q, d.status, d.data, d.errors, c.status, c.data, c.errors)
		}
		if len(c.errors) != 1 || !strings.Contains(c.errors[0], "INTROSPECTION_DISABLED") {
			t.Errorf("%s: errors %s, want introspection refused", q, c.errors)
		}
	}
}

// TestDeclaredExampleConfiguration: the example configuration of the declared demo
// loads, and its schema, named relative to it, loads over its pools.
func TestDeclaredExampleConfiguration(t *testing.T) {
	cfg, err := config.Load("../gateway.declared.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
}

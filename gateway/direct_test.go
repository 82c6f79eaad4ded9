package gateway_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/demo"
)

// directCorpus is what the direct executor must answer exactly as gqlgen's does:
// nesting, lists of values and of pointers, nulls inside lists, aliases, merged
// fields, fragments, @skip and @include with variables, __typename, enums, argument
// errors, the @auth directive, not-found lookups, and operations it leaves to gqlgen
// (introspection, a mutation-less schema's unknown operation type).
var directCorpus = []struct {
	name, path, query string
	vars              map[string]any
}{
	{"w1", "/graphql", `{ user(id:"u1"){name} product(id:"p1"){name} order(id:"o1"){status total{amount}} }`, nil},
	{"w2", "/graphql", `{ user(id:"u1"){ name orders(first:10){ id total{amount} items{ quantity product{ name price{amount} } } } } }`, nil},
	{"users with nulls", "/graphql", `{ users(ids:["u1","nope","u2","u1"]){ id name tier email orders(first:2){ id status createdAt total{ amount currency } user{ id } } } }`, nil},
	{"products and reviews", "/graphql", `{ products(ids:["p1","p2","zz","p3"]){ id name category price{amount currency} rating reviews(first:2){ id rating body author{ name tier } } } }`, nil},
	{"fragments and variables", "/graphql", directCorpusFragments,
		map[string]any{"id": "u1", "withName": true, "skipB": false}},
	{"constant skip and include", "/graphql",
		`{ a: user(id:"u1"){ id name @skip(if:true) tier @include(if:true) } b: user(id:"u2") @include(if:false) { id } }`, nil},
	{"the same document, other variables", "/graphql", directCorpusFragments,
		map[string]any{"id": "u4", "withName": false, "skipB": true}},
	{"fragments, the other way", "/graphql",
		`query Q($id: ID!, $withName: Boolean!, $skipB: Boolean!) {
			a: user(id:$id){ ...U name @include(if:$withName) }
			b: user(id:"u2") @skip(if:$skipB) { __typename id }
		}
		fragment U on User { id tier }`,
		map[string]any{"id": "u2", "withName": false, "skipB": true}},
	{"typename everywhere", "/graphql", `{ __typename order(id:"o1"){ __typename id items{ __typename quantity unitPrice{ __typename amount } product{ id price{ currency } } } user{ __typename name } } }`, nil},
	{"not found", "/graphql", `{ user(id:"nope"){ id } order(id:"nope"){ id } product(id:"nope"){ id } }`, nil},
	{"merged fields", "/graphql", `{ user(id:"u1"){ id id name orders(first:1){ id } orders(first:1){ status } } x: user(id:"u1"){ id } }`, nil},
	{"argument error", "/graphql", `{ user(id:"u1"){ name orders(first:-1){ id } } product(id:"p1"){ reviews(first:-2){ id } } }`, nil},
	{"too many ids", "/graphql", `{ users(ids:[` + manyIDs(1001) + `]){ id } product(id:"p1"){ name } }`, nil},
	{"two batches", "/graphql", `{ users(ids:[` + manyIDs(150) + `]){ id name } }`, nil},
	{"email is forbidden", "/graphql", `{ user(id:"u1"){ id email } users(ids:["u2","u3"]){ email name } }`, nil},
	{"me anonymous", "/graphql", `{ me { id } user(id:"u1"){ id } }`, nil},
	{"introspection", "/graphql", `{ __schema { queryType { name } } user(id:"u1"){ id } }`, nil},
	{"type introspection", "/graphql", `{ __type(name:"Money"){ name fields { name } } }`, nil},
	{"v1 money", "/v1/graphql", `{ order(id:"o1"){ total items{ unitPrice currency product{ name price currency rating } } } user(id:"u1"){ orders(first:3){ id total } } }`, nil},
	{"v1 w2", "/v1/graphql", `{ user(id:"u1"){ name orders(first:10){ id total items{ quantity product{ name price } } } } }`, nil},
}

// directCorpusFragments is run twice with different variables: the direct
// executor must not keep what the variables decide.
const directCorpusFragments = `query Q($id: ID!, $withName: Boolean!, $skipB: Boolean!) {
	a: user(id:$id){ ...U name @include(if:$withName) }
	b: user(id:"u2") @skip(if:$skipB) { __typename id }
	c: user(id:"u3"){ ... on User { id } ...U }
}
fragment U on User { id tier orders { ... on Order { id items { quantity } } } }`

// manyIDs is n user ids quoted and comma-separated.
func manyIDs(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = `"u` + itoa(i+1) + `"`
	}
	return strings.Join(ids, ",")
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestDirectExecutionMatchesGqlgen runs the corpus through two gateways over the
// same upstreams, one with the direct executor and one with gqlgen's alone, healthy
// and with each upstream failing, and wants the same status, the same data byte for
// byte, and the same errors.
func TestDirectExecutionMatchesGqlgen(t *testing.T) {
	cluster := startCluster(t, 1)
	edit := func(direct bool) func(*config.Config) {
		return func(c *config.Config) {
			c.GraphQL.DirectExecution = ptr(direct)
			c.GraphQL.Fallbacks = map[string]any{"Product.reviews": []any{}}
			for name, p := range c.Pools { // failures must not change how later calls go
				p.Breaker.Disabled = true
				p.Outlier.ConsecutiveFailures = ptr(0)
				c.Pools[name] = p
			}
		}
	}
	_, direct := serveRuntime(t, demoConfig(t, cluster, edit(true)))
	_, gqlgen := serveRuntime(t, demoConfig(t, cluster, edit(false)))

	run := func(t *testing.T, faulty demo.Service) {
		for _, tc := range directCorpus {
			t.Run(tc.name, func(t *testing.T) {
				ds, db, de := postGraphQL(t, direct.URL+tc.path, tc.query, tc.vars)
				gs, gb, ge := postGraphQL(t, gqlgen.URL+tc.path, tc.query, tc.vars)
				if ds != gs {
					t.Errorf("status: direct %d, gqlgen %d", ds, gs)
				}
				if !bytes.Equal(db, gb) {
					t.Errorf("data differs\ndirect: %s\ngqlgen: %s", db, gb)
				}
				if !slices.Equal(de, ge) {
					t.Errorf("errors differ\ndirect: %s\ngqlgen: %s", strings.Join(de, "\n        "), strings.Join(ge, "\n        "))
				}
				if faulty == "" && len(db) < 20 && tc.name != "too many ids" {
					t.Errorf("little data for a healthy run: %s", db)
				}
			})
		}
	}
	t.Run("healthy", func(t *testing.T) { run(t, "") })
	for _, svc := range demo.Services {
		t.Run(string(svc)+" failing", func(t *testing.T) {
			cluster.SetFault(svc, demo.Fault{Status: 500})
			defer cluster.SetFault(svc, demo.Fault{})
			run(t, svc)
		})
	}
}

// postGraphQL posts a query with variables and returns the status, the data member
// as sent, and the errors, each as compact JSON, sorted (their order follows the
// resolvers' timing, in either executor).
func postGraphQL(t *testing.T, url, query string, vars map[string]any) (int, json.RawMessage, []string) {
	t.Helper()
	a := postAs(t, url, "", query, vars)
	return a.status, a.data, a.errors
}

// TestDirectExecutionBatchesAsGqlgen counts the upstream calls each executor makes
// for queries whose loader calls batch across list elements and root fields: the
// direct executor must run concurrently whatever may wait below a list or a root
// field, as gqlgen does, so that the loaders see every id of a level at once.
func TestDirectExecutionBatchesAsGqlgen(t *testing.T) {
	cluster := startCluster(t, 1)
	edit := func(direct bool) func(*config.Config) {
		return func(c *config.Config) {
			c.GraphQL.DirectExecution = ptr(direct)
			// A batch window wide enough for the race detector's scheduling.
			c.GraphQL.LoaderWait = config.D(50 * time.Millisecond)
		}
	}
	_, direct := serveRuntime(t, demoConfig(t, cluster, edit(true)))
	_, gqlgen := serveRuntime(t, demoConfig(t, cluster, edit(false)))
	for _, q := range []string{
		`{ user(id:"u1"){ orders(first:10){ items{ product{ reviews(first:2){ id } rating } } } } }`,
		`{ user(id:"u1"){ orders(first:10){ total items{ product{ name } } user{ name } } } }`,
		`{ a: product(id:"p1"){ reviews{ id author{ name } } } b: product(id:"p2"){ reviews{ id author{ name } } } }`,
		`{ a: order(id:"o1"){ user{ name } } b: order(id:"o2"){ user{ name } } c: order(id:"o3"){ user{ name } } }`,
		`{ products(ids:["p1","p2","p3","p4"]){ rating reviews{ author{ orders(first:2){ items{ product{ name } } } } } } }`,
		`{ users(ids:["u1","u2","u3"]){ orders(first:3){ user{ name } items{ product{ rating } } } } }`,
	} {
		calls := func(url string) map[demo.Service]int64 {
			cluster.ResetCounters()
			postGraphQL(t, url+"/graphql", q, nil)
			n := map[demo.Service]int64{}
			for _, svc := range demo.Services {
				n[svc] = cluster.Calls(svc)
			}
			return n
		}
		d, g := calls(direct.URL), calls(gqlgen.URL)
		if !maps.Equal(d, g) {
			t.Errorf("%s\nupstream calls: direct %v, gqlgen %v", q, d, g)
		}
	}
}

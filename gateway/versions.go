package gateway

import (
	"fmt"
	"log/slog"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard/switchyard/connectors"
	graphv1 "github.com/switchyard/switchyard/graph/v1"
	graphv2 "github.com/switchyard/switchyard/graph/v2"
	"github.com/switchyard/switchyard/policies"
	"github.com/switchyard/switchyard/resolvers"
	"github.com/switchyard/switchyard/rest"
	"github.com/switchyard/switchyard/schema"
	"github.com/switchyard/switchyard/upstreams"
)

// versionSet is what the GraphQL routes serve: the schema versions with their
// resolvers' clients, or the declared schema in their place; the fallbacks of each
// version; the composed REST endpoints over them; and the trusted documents.
type versionSet struct {
	// names are the versions served: the built-in ones, or the current one alone
	// for a declared schema.
	names   []string
	clients *upstreams.Clients
	// declared, when the configuration names a declared schema, is what every
	// GraphQL route serves in place of the built-in demo.
	declared *connectors.Executable
	// fallbacks answer failed fields with configured values, by schema version;
	// empty when none are configured.
	fallbacks map[string]*resolvers.Fallbacks
	// rest are the composed REST endpoints, and openapi their description.
	rest    []*rest.Endpoint
	openapi []byte
	// trusted, when set, are the only documents clients may run.
	trusted *policies.TrustedDocuments
}

// newVersions makes the versions anew on every build (the declared schema's files
// and the trusted documents are read again): they hold nothing to keep.
func newVersions(g *Gateway, _ *versionSet) (*versionSet, error) {
	vs := &versionSet{names: schema.Versions, clients: newClients(g)}
	if len(g.cfg.GraphQL.Schema) == 0 { // a declared schema needs the pools its sources name
		for _, name := range vs.clients.Pools() {
			if g.pools.named(name) == nil {
				return nil, fmt.Errorf("pool %s is not configured", name)
			}
		}
	}
	var err error
	if vs.declared, err = loadDeclared(g); err != nil {
		return nil, err
	}
	if vs.declared != nil {
		vs.names = []string{schema.Current}
	}
	if err := vs.loadFallbacks(g); err != nil {
		return nil, err
	}
	if err := vs.loadREST(g); err != nil {
		return nil, err
	}
	return vs, nil
}

// release has nothing to release: the versions hold no connection of their own.
func (*versionSet) release(component) {}

// DemoPools are the pools the built-in schema's clients call: a configuration must
// name them unless it declares a schema of its own.
func DemoPools() []string {
	return upstreams.NewClients(func(string) upstreams.Doer { return nil }).Pools()
}

// newClients makes the demo schema's typed clients over their pools.
func newClients(g *Gateway) *upstreams.Clients {
	c := upstreams.NewClients(func(name string) upstreams.Doer { return g.pools.named(name) })
	for _, cl := range []interface {
		SetLogger(*slog.Logger)
		SetTracer(trace.Tracer)
	}{c.Users, c.Orders, c.Catalog, c.Reviews} {
		cl.SetLogger(g.log)
		if g.obs.recording() {
			cl.SetTracer(g.obs.tracer)
		}
	}
	if g.obs.metrics != nil {
		c.OnBatch = g.obs.metrics.LoaderBatch
	}
	return c
}

// executable returns the executable schema of a version: the declared one when
// the configuration names one, else the built-in version's.
func (vs *versionSet) executable(version string) graphql.ExecutableSchema {
	if vs.declared != nil {
		return vs.declared
	}
	return versionNamed(version).schema(resolvers.New(vs.clients))
}

// loadFallbacks checks the configured fallbacks and required fields against each
// version's schema: against the current one strictly, the others skipping the
// fields they lack.
//
// The demo schema has fallbacks of its own (resolvers.DefaultFallbacks), which the
// configured ones add to or override key by key; a declared schema has none, and
// its executor, which runs no field middleware, applies the policies itself.
func (vs *versionSet) loadFallbacks(g *Gateway) error {
	gc := g.cfg.GraphQL
	values := gc.Fallbacks
	if vs.declared == nil {
		values = resolvers.MergeFallbacks(resolvers.DefaultFallbacks(), gc.Fallbacks)
	}
	if len(values) == 0 && len(gc.RequiredFields) == 0 {
		return nil
	}
	vs.fallbacks = map[string]*resolvers.Fallbacks{}
	for _, v := range vs.names {
		sdl := vs.executable(v).Schema()
		fb, err := resolvers.NewFallbacks(sdl, values, gc.RequiredFields)
		if err != nil && v == schema.Current {
			return fmt.Errorf("graphql.fallbacks or graphql.required_fields: %w", err)
		}
		if err != nil {
			fb, _ = resolvers.NewFallbacks(sdl, onlyIn(sdl, values), onlyFieldsIn(sdl, gc.RequiredFields))
		}
		vs.fallbacks[v] = &fb
		if vs.declared != nil {
			vs.declared.SetFailurePolicy(fb)
		}
	}
	return nil
}

// onlyIn keeps the fallbacks whose "Type.field" the schema has.
func onlyIn(schema *ast.Schema, values map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range values {
		if resolvers.FieldNamed(schema, k) != nil {
			out[k] = v
		}
	}
	return out
}

func onlyFieldsIn(schema *ast.Schema, names []string) []string {
	var out []string
	for _, n := range names {
		if resolvers.FieldNamed(schema, n) != nil {
			out = append(out, n)
		}
	}
	return out
}

// loadREST loads the composed REST endpoints against the versions' schemas, the
// trusted documents (with the endpoints' own operations) and the OpenAPI document.
func (vs *versionSet) loadREST(g *Gateway) error {
	schemas := map[string]*ast.Schema{}
	for _, v := range vs.names {
		schemas[v] = vs.executable(v).Schema()
	}
	if vs.declared == nil { // the built-in demo's stored operations
		var err error
		if vs.rest, err = rest.Load(schema.Rest, schemas); err != nil {
			return fmt.Errorf("composed REST endpoints: %w", err)
		}
	}
	var err error
	if f := g.cfg.GraphQL.TrustedDocuments; f != "" {
		if vs.trusted, err = policies.LoadTrustedDocuments(f); err != nil {
			return fmt.Errorf("graphql.trusted_documents: %s: %w", f, err)
		}
		for _, ep := range vs.rest {
			vs.trusted.Add(ep.Query) // the composed REST endpoints' own operations
		}
	}
	vs.openapi, err = rest.OpenAPI("Switchyard composed REST endpoints", "2", vs.rest)
	return err
}

// schemaVersion is what the gateway needs to serve one version of the built-in
// schema. The versions served are schema.Versions; each has one entry here.
type schemaVersion struct {
	// schema makes the version's executable schema over r, with its directives and
	// the costs of its list fields (a list of N costs N times what one item selects).
	schema func(r *resolvers.Resolver) graphql.ExecutableSchema
	// synchronous are the fields whose resolvers only compute from their object,
	// which the direct executor runs in place.
	synchronous []string
}

var schemaVersions = map[string]schemaVersion{
	"v1": {
		schema: func(r *resolvers.Resolver) graphql.ExecutableSchema {
			cfg := graphv1.Config{Resolvers: resolvers.V1{Resolver: r}}
			cfg.Directives.Auth = resolvers.Auth
			c := &cfg.Complexity
			listCosts(&c.User.Orders, &c.Product.Reviews, &c.Query.Users, &c.Query.Products)
			return graphv1.NewExecutableSchema(cfg)
		},
		synchronous: resolvers.SynchronousV1,
	},
	"v2": {
		schema: func(r *resolvers.Resolver) graphql.ExecutableSchema {
			cfg := graphv2.Config{Resolvers: r}
			cfg.Directives.Auth = resolvers.Auth
			c := &cfg.Complexity
			listCosts(&c.User.Orders, &c.Product.Reviews, &c.Query.Users, &c.Query.Products)
			return graphv2.NewExecutableSchema(cfg)
		},
		synchronous: resolvers.Synchronous,
	},
}

// listCosts sets the costs of the list fields every version has: a list of N costs N
// times what one of its items selects (orders 10 and reviews 5 by default, the
// lookups by ids as many as they name).
func listCosts(orders, reviews *func(int, *int) int, users, products *func(int, []string) int) {
	*orders, *reviews = listCost(10), listCost(5)
	*users, *products = idsCost, idsCost
}

// versionNamed is the entry of a served version; the table and schema.Versions
// disagreeing is a bug of this code, which the tests meet at once.
func versionNamed(name string) schemaVersion {
	v, ok := schemaVersions[name]
	if !ok {
		panic(fmt.Sprintf("schema version %q has no entry in the gateway's table", name))
	}
	return v
}

package gateway

import (
	"fmt"

	"github.com/99designs/gqlgen/graphql"

	graphv1 "github.com/switchyard/switchyard/graph/v1"
	graphv2 "github.com/switchyard/switchyard/graph/v2"
	"github.com/switchyard/switchyard/resolvers"
)

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

// Package schema holds what the API is made of besides code: the SDL of each
// version (v1/, v2/, read by gqlgen at generation) and the stored GraphQL
// operations that define the composed REST endpoints (rest/), embedded here.
package schema

import "embed"

// Versions are the schema versions the gateway serves, oldest first, and Current
// the one /graphql serves to a request without an API-Version header. Each has its
// SDL in VERSION/, its generated code in graph/VERSION/ and its entry in the
// gateway's table of versions; configuration, routes and playground read this list.
var Versions = []string{"v1", "v2"}

// Current is the version served by default.
const Current = "v2"

// Rest holds the stored operations of the composed REST endpoints, rest/*.graphql.
// Each file starts with comment lines naming its route and schema version:
//
//	# rest: GET /rest/v2/users/{id}/dashboard
//	# version: v2
//
// then one operation. Path parameters and query parameters become the operation's
// variables of the same names.
//
//go:embed rest/*.graphql
var Rest embed.FS

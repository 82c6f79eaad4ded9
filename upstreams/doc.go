// Package upstreams owns the typed clients of the REST services behind the gateway
// (users, orders, catalog, reviews), the JSON-over-HTTP core they share, the per-request
// loaders that batch and de-duplicate lookups by id, and the typed errors every call
// returns. It knows nothing of GraphQL: resolvers ask it for records and get records or
// an *Error whose Kind says what went wrong.
package upstreams

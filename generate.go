// Package switchyard is the root of the Switchyard module: a GraphQL and REST
// aggregation gateway with load-balanced upstream pools. The binary is cmd/gateway;
// see README.md.
package switchyard

//go:generate go run ./cmd/generate -config gqlgen.yml
//go:generate go run ./cmd/generate -config gqlgen.v1.yml

// Package inbound holds the record of one inbound request that its parts share: the
// edge that gives it an id and writes its access-log line, the transports that name
// its operation, the policies that find its caller, and the upstream calls it makes,
// which send its id and count themselves in it. One record per request, in its
// context.
package inbound

import (
	"context"
	"sync/atomic"
)

// Info is the record of one inbound request. Its string fields are set by the
// request's own goroutine before the upstream calls start and read by the access log
// after the response; the counters are safe for concurrent use.
type Info struct {
	// ID is the request id, sent upstream as X-Request-Id.
	ID string
	// Traced says the request is part of a trace (the client sent a traceparent, or
	// the gateway records spans), so that calls look for the trace only then.
	Traced bool
	// Calls and Errors count the upstream calls made and those that failed.
	Calls  atomic.Int64
	Errors atomic.Int64
	// Headers are extra header fields for the calls to each upstream, by its name
	// (what the configuration adds, and the caller's forwarded claims); nil: none.
	Headers map[string][][2]string

	// For the access log: the GraphQL operation and schema version, the
	// authenticated caller's subject, and the L7 route that served the request
	// ("route:NAME").
	Version, Operation, Principal, Route string
}

type key struct{}

// With returns a context carrying info.
func With(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, key{}, info)
}

// From returns the request's record, or nil.
func From(ctx context.Context) *Info {
	i, _ := ctx.Value(key{}).(*Info)
	return i
}

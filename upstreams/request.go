package upstreams

import (
	"context"
	"sync/atomic"
)

// RequestInfo is what the upstream calls of one inbound request share with the edge:
// the request id they send upstream (X-Request-Id), and counters of the calls made
// and failed, for the access log. It is safe for concurrent use.
type RequestInfo struct {
	ID string
	// Traced says the request is part of a trace (the client sent a traceparent, or
	// the gateway records spans), so that calls look for the trace only then.
	Traced bool
	Calls  atomic.Int64
	Errors atomic.Int64
	// Headers are extra header fields for the calls to each upstream, by its name
	// (what the configuration adds, and the caller's forwarded claims); nil: none.
	Headers map[string][][2]string
}

type requestInfoKey struct{}

// WithRequestInfo returns a context carrying info.
func WithRequestInfo(ctx context.Context, info *RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// RequestInfoFrom returns the request's info, or nil.
func RequestInfoFrom(ctx context.Context) *RequestInfo {
	i, _ := ctx.Value(requestInfoKey{}).(*RequestInfo)
	return i
}

package lb

import (
	"context"

	"github.com/switchyard/switchyard/lb/h1"
)

// The pools' requests, answers and wire errors are those of their HTTP/1.1 client
// (package lb/h1), under the names lb's callers use.
type (
	// Request is one HTTP/1.1 request to an upstream; the pool chooses the endpoint.
	Request = h1.Request
	// Response is an upstream's answer.
	Response = h1.Response
	// DialError reports that no connection to an endpoint could be made, so the
	// request never left the gateway.
	DialError = h1.DialError
)

// Errors of answers that break HTTP/1.1's rules or the pool's bounds.
var (
	ErrMalformedResponse = h1.ErrMalformedResponse
	ErrResponseTooLarge  = h1.ErrResponseTooLarge
)

// DiscardReasons name the reasons a keep-alive connection is closed instead of
// reused, as Stats.Discards counts them, in a fixed order.
var DiscardReasons = h1.DiscardReasons

// DefaultMaxHeaderBytes bounds an answer's head when the pool sets no bound.
const DefaultMaxHeaderBytes = h1.DefaultMaxHeaderBytes

// IsCertificateRefusal reports whether err is a TLS alert by which the peer refused
// the handshake; see h1.IsCertificateRefusal.
func IsCertificateRefusal(err error) bool { return h1.IsCertificateRefusal(err) }

// Watch watches the end of a request's context for every upstream call made under
// it, with one context.AfterFunc for all of them (see h1.Watch).
type Watch = h1.Watch

// WithWatch returns ctx with a Watch of its end for the calls made under it; call
// the Watch's Stop once they are finished.
func WithWatch(ctx context.Context) (context.Context, *Watch) { return h1.WithWatch(ctx) }

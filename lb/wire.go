package lb

import "github.com/switchyard/switchyard/lb/h1"

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

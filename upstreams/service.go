package upstreams

import (
	"context"

	"go.opentelemetry.io/otel/trace"
)

// Service is the client of a declared service, for the connectors of a declared
// schema: any method and target over its pool, with what the typed clients send and
// record (request id, trace, the pool's extra headers, call counts, span, errors).
// It is safe for concurrent use.
type Service struct{ core }

// NewService returns the client of the service behind pool; name is its name in
// errors, spans and metrics.
func NewService(name string, pool Doer) *Service { return &Service{core{name: name, pool: pool}} }

// Call sends method target, with header and body (nil for none), and hands a 2xx
// answer's body (empty for a 204) to decode. Another status is an *Error with the
// status: KindNotFound for a 404, KindUnavailable for a 5xx, KindBadResponse for
// anything else; so is a failed call (of its kind) and an error of decode (the
// answer refused, logged with the target, KindBadResponse).
func (s *Service) Call(ctx context.Context, op, method, target string, header [][2]string, body []byte, decode func(body []byte) error) error {
	ctx, span, cl := s.prepare(ctx, op, method, target, header, body)
	defer cl.release()
	err := s.result(ctx, op, cl, s.pool.Do(ctx, &cl.req, &cl.resp), decode)
	endSpan(span, cl, err)
	return err
}

// Started is a call of a Service that Start has sent and whose answer Finish
// reads. It is not safe for concurrent use.
type Started struct{ inFlight }

// Start sends the request Call sends and returns without waiting for the answer,
// when the pool is a Starter (without one, the call is made by Finish). A
// goroutine that starts several calls and then finishes each has them all in
// flight at once, as if each had its own goroutine. Every Started call must be
// finished, once.
func (s *Service) Start(ctx context.Context, op, method, target string, header [][2]string, body []byte) *Started {
	ctx, span, cl := s.prepare(ctx, op, method, target, header, body)
	st := &Started{inFlight{c: &s.core, ctx: ctx, op: op, cl: cl, span: span}}
	st.start()
	return st
}

// Finish reads the answer of a started call and hands it to decode; its result
// is Call's.
func (st *Started) Finish(decode func(body []byte) error) error { return st.finish(decode) }

// prepare starts a call's span and makes its request.
func (s *Service) prepare(ctx context.Context, op, method, target string, header [][2]string, body []byte) (context.Context, trace.Span, *call) {
	ctx, span := s.startSpan(ctx, op)
	cl := newCall(ctx, s.name, target)
	cl.req.Method, cl.req.Body = method, body
	if len(header) > 0 {
		cl.req.Header = append(cl.req.Header[:len(cl.req.Header):len(cl.req.Header)], header...)
	}
	cl.any2xx = true
	return ctx, span, cl
}

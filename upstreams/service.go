package upstreams

import "context"

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
	ctx, span := s.startSpan(ctx, op)
	cl := newCall(ctx, s.name, target)
	defer cl.release()
	cl.req.Method, cl.req.Body = method, body
	if len(header) > 0 {
		cl.req.Header = append(cl.req.Header[:len(cl.req.Header):len(cl.req.Header)], header...)
	}
	cl.any2xx = true
	err := s.result(ctx, op, cl, s.pool.Do(ctx, &cl.req, &cl.resp), decode)
	endSpan(span, cl, err)
	return err
}

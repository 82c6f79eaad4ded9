package upstreams

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/switchyard/switchyard/inbound"
	"github.com/switchyard/switchyard/lb"
)

// Doer sends one request to an upstream service and fills in its answer. *lb.Pool is
// the Doer the gateway uses; its contract (context, failover, errors) is the one the
// clients rely on.
type Doer interface {
	Do(ctx context.Context, req *lb.Request, resp *lb.Response) error
}

// MaxBatch is the most ids a batch endpoint takes in one call.
const MaxBatch = 100

// core is the JSON-over-HTTP part every typed client shares.
type core struct {
	name   string
	pool   Doer
	tracer trace.Tracer // nil: no spans of its own
	log    *slog.Logger // nil: refused records are not logged
}

// SetLogger makes the client log every record it refuses (see lookup.Get); nil
// turns that off. Call it before the client is used.
func (c *core) SetLogger(l *slog.Logger) { c.log = l }

// SetTracer makes the client record a span for every call; nil turns that off.
// Call it before the client is used.
func (c *core) SetTracer(t trace.Tracer) { c.tracer = t }

// call is the request and response of one upstream call, pooled together so that a
// call allocates neither.
type call struct {
	req  lb.Request
	resp lb.Response
	hdr  [2][2]string  // room for the request id and traceparent headers, without allocating
	info *inbound.Info // the request's, if any
	// any2xx takes every 2xx answer as a success (a declared service's POST may
	// answer 201); the typed clients take only 200.
	any2xx bool
}

var calls = sync.Pool{New: func() any { return &call{resp: lb.Response{Body: make([]byte, 0, 4096)}} }}

// get sends GET target and gives a 200 answer's JSON body to decode, which must not
// keep it. Any other answer or failure is an *Error, and so is an error of decode: an
// answer refused, which is logged.
func (c *core) get(ctx context.Context, op, target string, decode func(body []byte) error) error {
	ctx, span := c.startSpan(ctx, op)
	cl := newCall(ctx, c.name, target)
	defer cl.release()
	err := c.result(ctx, op, cl, c.pool.Do(ctx, &cl.req, &cl.resp), decode)
	endSpan(span, cl, err)
	return err
}

// startSpan starts the span of one upstream call when the client records spans.
func (c *core) startSpan(ctx context.Context, op string) (context.Context, trace.Span) {
	if c.tracer == nil {
		return ctx, nil
	}
	ctx, span := c.tracer.Start(ctx, c.name+" "+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("upstream", c.name)))
	return ctx, span
}

func endSpan(span trace.Span, cl *call, err error) {
	if span == nil {
		return
	}
	span.SetAttributes(attribute.Int("http.response.status_code", cl.resp.Status))
	if err != nil && !IsNotFound(err) {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func newCall(ctx context.Context, upstream, target string) *call {
	cl := calls.Get().(*call)
	cl.req.Target = target
	n := 0
	// One look-up of the request's info: contexts are deep under the executor.
	info := inbound.From(ctx)
	cl.info = info
	if info != nil && info.ID != "" {
		cl.hdr[n] = [2]string{"X-Request-Id", info.ID}
		n++
	}
	if info == nil || info.Traced {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			cl.hdr[n] = [2]string{"Traceparent", traceparent(sc)}
			n++
		}
	}
	cl.req.Header = cl.hdr[:n]
	if info != nil && info.Headers != nil {
		if extra := info.Headers[upstream]; len(extra) > 0 {
			cl.req.Header = append(cl.hdr[:n:n], extra...)
		}
	}
	return cl
}

// traceparent formats a W3C traceparent header: version-traceid-spanid-flags.
func traceparent(sc trace.SpanContext) string {
	tid, sid := sc.TraceID(), sc.SpanID()
	var b [55]byte
	copy(b[:], "00-")
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{byte(sc.TraceFlags())})
	return string(b[:])
}

func (cl *call) release() {
	if cap(cl.resp.Body) <= 1<<20 { // do not pin huge buffers
		cl.req = lb.Request{}
		cl.info, cl.any2xx = nil, false
		cl.resp.Reset()
		calls.Put(cl)
	}
}

// result turns the outcome of a call into a decoded value or an *Error.
func (c *core) result(ctx context.Context, op string, cl *call, err error, decode func(body []byte) error) error {
	ok := cl.resp.Status == 200 || (cl.any2xx && cl.resp.Status/100 == 2)
	if info := cl.info; info != nil {
		info.Calls.Add(1)
		if err != nil || (!ok && cl.resp.Status != 404) {
			info.Errors.Add(1)
		}
	}
	if err != nil {
		return &Error{Upstream: c.name, Op: op, Kind: classify(ctx, err), Err: err}
	}
	if !ok {
		return statusError(c.name, op, cl.resp.Status)
	}
	if err := decode(cl.resp.Body); err != nil {
		c.refuse(ctx, cl.req.Target, err)
		return &Error{Upstream: c.name, Op: op, Kind: KindBadResponse, Status: cl.resp.Status, Err: err}
	}
	return nil
}

// Starter is the optional part of a Doer that sends a request without waiting for
// its answer (*lb.Pool has it). With it, Pending calls keep several requests in flight
// from one goroutine; without it, a Pending call is made when it is waited for.
type Starter interface {
	Start(ctx context.Context, req *lb.Request) *lb.Call
}

// Pending is an upstream call that has been sent and whose answer Wait reads. A
// goroutine that starts several pending calls and then waits for each has them all
// in flight at once, as if each had its own goroutine. Wait must be called once; a
// Pending call is not safe for concurrent use.
type Pending[T any] struct {
	inFlight
	id     string // the id asked for
	decode func(body []byte, id string, v *T) error
	err    error // known before any call: nothing is sent
}

// Wait reads the answer and returns the record, or an *Error as Get does.
func (p *Pending[T]) Wait() (*T, error) {
	if p.err != nil {
		return nil, p.err
	}
	var v T
	if err := p.finish(func(body []byte) error { return p.decode(body, p.id, &v) }); err != nil {
		return nil, err
	}
	return &v, nil
}

// inFlight is a call sent ahead of its answer: by its pool's Start when the pool is
// a Starter, else made whole by finish.
type inFlight struct {
	c    *core
	ctx  context.Context
	op   string
	cl   *call
	lc   *lb.Call   // nil when the pool cannot start calls
	span trace.Span // nil when the client records no spans
}

// start sends cl's request when the pool can start calls.
func (f *inFlight) start() {
	if s, ok := f.c.pool.(Starter); ok {
		f.lc = s.Start(f.ctx, &f.cl.req)
	}
}

// finish reads the answer (or makes the call) and hands it to decode, as get does.
func (f *inFlight) finish(decode func(body []byte) error) error {
	defer f.cl.release()
	var err error
	if f.lc != nil {
		err = f.lc.Finish(&f.cl.resp)
	} else {
		err = f.c.pool.Do(f.ctx, &f.cl.req, &f.cl.resp)
	}
	err = f.c.result(f.ctx, f.op, f.cl, err, decode)
	endSpan(f.span, f.cl, err)
	return err
}

func startGet[T any](ctx context.Context, c *core, op, id, path string, decode func(body []byte, id string, v *T) error) *Pending[T] {
	if id == "" {
		return &Pending[T]{err: c.noRecord(op)}
	}
	target := path + pathSegment(id)
	ctx, span := c.startSpan(ctx, op)
	p := &Pending[T]{inFlight: inFlight{span: span, c: c, ctx: ctx, op: op, cl: newCall(ctx, c.name, target)}, id: id, decode: decode}
	p.start()
	return p
}

// getOne fetches the record at path+id, checked as decodeRecord checks it.
func getOne[T any, R any, PR interface {
	*R
	lookupRecord[T]
}](ctx context.Context, c *core, op, path, id string) (*T, error) {
	if id == "" {
		return nil, c.noRecord(op)
	}
	var out T
	err := c.get(ctx, op, path+pathSegment(id), func(body []byte) error {
		return decodeRecord[T, R, PR](body, id, &out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// pathSegment escapes an id as one path segment. "." and ".." are escaped too, so
// that no server or proxy on the way resolves them as relative paths.
func pathSegment(id string) string {
	switch id {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(id)
}

// noRecord is the answer to a lookup of the empty id, which names no record and
// would name the list endpoint if sent.
func (c *core) noRecord(op string) *Error {
	return &Error{Upstream: c.name, Op: op, Kind: KindNotFound}
}

// idList formats ids for a "?ids=" query: each escaped, joined by commas.
func idList(ids []string) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(url.QueryEscape(id))
	}
	return b.String()
}

// maxParallelBatches bounds the calls one batched lookup has in flight at once.
const maxParallelBatches = 4

// batched calls fetch for each run of at most MaxBatch ids, at most
// maxParallelBatches at a time, and concatenates the results. The empty id names no
// record and is not sent; no ids, no call. A *RefusedError of a run does not fail the
// others: the records kept are returned with the refusals of all runs.
func batched[T any](ctx context.Context, ids []string, fetch func(ctx context.Context, ids []string) ([]T, error)) ([]T, error) {
	if slices.Contains(ids, "") {
		ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == "" })
	}
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) <= MaxBatch {
		return fetch(ctx, ids)
	}
	parts := make([][]T, (len(ids)+MaxBatch-1)/MaxBatch)
	refused := make([]*RefusedError, len(parts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelBatches)
	for i := range parts {
		chunk := ids[i*MaxBatch : min(len(ids), (i+1)*MaxBatch)]
		g.Go(func() error {
			var err error
			parts[i], err = fetch(gctx, chunk)
			if errors.As(err, &refused[i]) {
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []T
	var re *RefusedError
	for i, p := range parts {
		out = append(out, p...)
		re = re.merge(refused[i])
	}
	if re != nil {
		return out, re
	}
	return out, nil
}

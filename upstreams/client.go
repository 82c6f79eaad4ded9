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

// SetLogger makes the users client log every record it refuses (see Users.Get); nil
// turns that off. Call it before the client is used.
func (u *Users) SetLogger(l *slog.Logger) { u.c.log = l }

// SetLogger is Users.SetLogger for the orders client.
func (o *Orders) SetLogger(l *slog.Logger) { o.c.log = l }

// SetLogger is Users.SetLogger for the catalog client.
func (c *Catalog) SetLogger(l *slog.Logger) { c.c.log = l }

// SetLogger is Users.SetLogger for the reviews client.
func (r *Reviews) SetLogger(l *slog.Logger) { r.c.log = l }

// SetTracer makes the users client record a span for every call; nil turns that
// off. Call it before the client is used.
func (u *Users) SetTracer(t trace.Tracer) { u.c.tracer = t }

// SetTracer is Users.SetTracer for the orders client.
func (o *Orders) SetTracer(t trace.Tracer) { o.c.tracer = t }

// SetTracer is Users.SetTracer for the catalog client.
func (c *Catalog) SetTracer(t trace.Tracer) { c.c.tracer = t }

// SetTracer is Users.SetTracer for the reviews client.
func (r *Reviews) SetTracer(t trace.Tracer) { r.c.tracer = t }

// call is the request and response of one upstream call, pooled together so that a
// call allocates neither.
type call struct {
	req  lb.Request
	resp lb.Response
	hdr  [2][2]string // room for the request id and traceparent headers, without allocating
	info *RequestInfo // the request's, if any
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
	info := RequestInfoFrom(ctx)
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
		cl.info = nil
		cl.resp.Reset()
		calls.Put(cl)
	}
}

// result turns the outcome of a call into a decoded value or an *Error.
func (c *core) result(ctx context.Context, op string, cl *call, err error, decode func(body []byte) error) error {
	if info := cl.info; info != nil {
		info.Calls.Add(1)
		if err != nil || (cl.resp.Status != 200 && cl.resp.Status != 404) {
			info.Errors.Add(1)
		}
	}
	if err != nil {
		return &Error{Upstream: c.name, Op: op, Kind: classify(ctx, err), Err: err}
	}
	if cl.resp.Status != 200 {
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
	c      *core
	ctx    context.Context
	op     string
	cl     *call
	lc     *lb.Call // nil when the pool cannot start calls
	id     string   // the id asked for
	decode func(body []byte, id string, v *T) error
	err    error      // known before any call: nothing is sent
	span   trace.Span // nil when the client records no spans
}

// Wait reads the answer and returns the record, or an *Error as Get does.
func (p *Pending[T]) Wait() (*T, error) {
	if p.err != nil {
		return nil, p.err
	}
	defer p.cl.release()
	var err error
	if p.lc != nil {
		err = p.lc.Finish(&p.cl.resp)
	} else {
		err = p.c.pool.Do(p.ctx, &p.cl.req, &p.cl.resp)
	}
	var v T
	err = p.c.result(p.ctx, p.op, p.cl, err, func(body []byte) error { return p.decode(body, p.id, &v) })
	endSpan(p.span, p.cl, err)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

func startGet[T any](ctx context.Context, c *core, op, id, path string, decode func(body []byte, id string, v *T) error) *Pending[T] {
	if id == "" {
		return &Pending[T]{err: c.noRecord(op)}
	}
	target := path + pathSegment(id)
	ctx, span := c.startSpan(ctx, op)
	p := &Pending[T]{span: span, c: c, ctx: ctx, op: op, cl: newCall(ctx, c.name, target), id: id, decode: decode}
	if s, ok := c.pool.(Starter); ok {
		p.lc = s.Start(ctx, &p.cl.req)
	}
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

// Users is the client of the users service. It is safe for concurrent use.
type Users struct{ c core }

// NewUsers returns the users client over pool; name is the upstream's name in errors.
func NewUsers(name string, pool Doer) *Users { return &Users{core{name: name, pool: pool}} }

// StartGet sends the request of Get and returns at once; Wait gives Get's result.
func (u *Users) StartGet(ctx context.Context, id string) *Pending[User] {
	return startGet(ctx, &u.c, "get user", id, "/users/", decodeRecord[User, userRecord])
}

// Get returns one user, or an *Error of KindNotFound when there is none. A record
// that breaks the contract (a field the contract requires missing or null, a value
// of the wrong JSON type or not in the contract, a string that is not UTF-8) or has
// another id is refused: an *Error of KindBadResponse, logged with the request's
// target and the reason.
func (u *Users) Get(ctx context.Context, id string) (*User, error) {
	return getOne[User, userRecord](ctx, &u.c, "get user", "/users/", id)
}

// GetMany returns the users with these ids in any order, leaving out unknown ids. It
// makes one call per MaxBatch ids. A record of an id not asked for is dropped; a
// record refused as Get refuses one is left out too, and its id's error is in a
// *RefusedError returned beside the users kept.
func (u *Users) GetMany(ctx context.Context, ids []string) ([]User, error) {
	return batched(ctx, ids, func(ctx context.Context, ids []string) ([]User, error) {
		return getBatch[User, userRecord](ctx, &u.c, "get users", "/users?ids="+idList(ids), ids, userID)
	})
}

// Orders is the client of the orders service. It is safe for concurrent use.
type Orders struct{ c core }

// NewOrders returns the orders client over pool.
func NewOrders(name string, pool Doer) *Orders { return &Orders{core{name: name, pool: pool}} }

// StartGet sends the request of Get and returns at once; Wait gives Get's result.
func (o *Orders) StartGet(ctx context.Context, id string) *Pending[Order] {
	return startGet(ctx, &o.c, "get order", id, "/orders/", decodeRecord[Order, orderRecord])
}

// Get returns one order, or an *Error of KindNotFound when there is none; a record
// is refused as Users.Get refuses one.
func (o *Orders) Get(ctx context.Context, id string) (*Order, error) {
	return getOne[Order, orderRecord](ctx, &o.c, "get order", "/orders/", id)
}

// ByUser returns a user's orders, newest first. The answer is refused whole (an
// *Error of KindBadResponse) if one of its records is refused or is another user's.
func (o *Orders) ByUser(ctx context.Context, userID string) ([]Order, error) {
	return getOwned[Order, orderRecord](ctx, &o.c, "list orders", "/orders?userId="+url.QueryEscape(userID), userID, orderUser)
}

// Catalog is the client of the catalog service. It is safe for concurrent use.
type Catalog struct{ c core }

// NewCatalog returns the catalog client over pool.
func NewCatalog(name string, pool Doer) *Catalog { return &Catalog{core{name: name, pool: pool}} }

// StartGet sends the request of Get and returns at once; Wait gives Get's result.
func (c *Catalog) StartGet(ctx context.Context, id string) *Pending[Product] {
	return startGet(ctx, &c.c, "get product", id, "/products/", decodeRecord[Product, productRecord])
}

// Get returns one product, or an *Error of KindNotFound when there is none; a record
// is refused as Users.Get refuses one.
func (c *Catalog) Get(ctx context.Context, id string) (*Product, error) {
	return getOne[Product, productRecord](ctx, &c.c, "get product", "/products/", id)
}

// GetMany returns the products with these ids in any order, leaving out unknown ids,
// with records refused or dropped as Users.GetMany does. It makes one call per
// MaxBatch ids.
func (c *Catalog) GetMany(ctx context.Context, ids []string) ([]Product, error) {
	return batched(ctx, ids, func(ctx context.Context, ids []string) ([]Product, error) {
		return getBatch[Product, productRecord](ctx, &c.c, "get products", "/products?ids="+idList(ids), ids, productID)
	})
}

// Reviews is the client of the reviews service. It is safe for concurrent use.
type Reviews struct{ c core }

// NewReviews returns the reviews client over pool.
func NewReviews(name string, pool Doer) *Reviews { return &Reviews{core{name: name, pool: pool}} }

// ByProduct returns the reviews of one product. The answer is refused whole (an
// *Error of KindBadResponse) if one of its records is refused (as Users.Get refuses
// one, or for a rating outside 1..5) or is another product's.
func (r *Reviews) ByProduct(ctx context.Context, productID string) ([]Review, error) {
	return getOwned[Review, reviewRecord](ctx, &r.c, "list reviews", "/reviews?productId="+url.QueryEscape(productID), productID, reviewProduct)
}

// ByProducts returns the reviews of all these products, in any order. It makes one
// call per MaxBatch ids. A review of a product not asked for is dropped; a review
// refused as ByProduct refuses one is left out too, and its product's error is in a
// *RefusedError returned beside the reviews kept.
func (r *Reviews) ByProducts(ctx context.Context, productIDs []string) ([]Review, error) {
	return batched(ctx, productIDs, func(ctx context.Context, ids []string) ([]Review, error) {
		return getBatch[Review, reviewRecord](ctx, &r.c, "list reviews", "/reviews?productIds="+idList(ids), ids, reviewProduct)
	})
}

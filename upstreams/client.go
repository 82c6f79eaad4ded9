package upstreams

import (
	"context"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/mailru/easyjson"
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
}

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

// get sends GET target and decodes a 200 answer's JSON body into v with its generated
// decoder. Any other answer or failure is an *Error.
func (c *core) get(ctx context.Context, op, target string, v easyjson.Unmarshaler) error {
	ctx, span := c.startSpan(ctx, op)
	cl := newCall(ctx, c.name, target)
	defer cl.release()
	err := c.result(ctx, op, cl, c.pool.Do(ctx, &cl.req, &cl.resp), v)
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
func (c *core) result(ctx context.Context, op string, cl *call, err error, v easyjson.Unmarshaler) error {
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
	if err := easyjson.Unmarshal(cl.resp.Body, v); err != nil {
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
	decode func(*T) easyjson.Unmarshaler
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
	err = p.c.result(p.ctx, p.op, p.cl, err, p.decode(&v))
	endSpan(p.span, p.cl, err)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

func startGet[T any](ctx context.Context, c *core, op, id, path string, decode func(*T) easyjson.Unmarshaler) *Pending[T] {
	if id == "" {
		return &Pending[T]{err: c.noRecord(op)}
	}
	target := path + pathSegment(id)
	ctx, span := c.startSpan(ctx, op)
	p := &Pending[T]{span: span, c: c, ctx: ctx, op: op, cl: newCall(ctx, c.name, target), decode: decode}
	if s, ok := c.pool.(Starter); ok {
		p.lc = s.Start(ctx, &p.cl.req)
	}
	return p
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
// record and is not sent; no ids, no call.
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
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxParallelBatches)
	for i := range parts {
		chunk := ids[i*MaxBatch : min(len(ids), (i+1)*MaxBatch)]
		g.Go(func() error {
			var err error
			parts[i], err = fetch(gctx, chunk)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []T
	for _, p := range parts {
		out = append(out, p...)
	}
	return out, nil
}

// Users is the client of the users service. It is safe for concurrent use.
type Users struct{ c core }

// NewUsers returns the users client over pool; name is the upstream's name in errors.
func NewUsers(name string, pool Doer) *Users { return &Users{core{name: name, pool: pool}} }

// StartGet sends the request of Get and returns at once; Wait gives Get's result.
func (u *Users) StartGet(ctx context.Context, id string) *Pending[User] {
	return startGet(ctx, &u.c, "get user", id, "/users/", func(v *User) easyjson.Unmarshaler { return v })
}

// Get returns one user, or an *Error of KindNotFound when there is none.
func (u *Users) Get(ctx context.Context, id string) (*User, error) {
	if id == "" {
		return nil, u.c.noRecord("get user")
	}
	var out User
	if err := u.c.get(ctx, "get user", "/users/"+pathSegment(id), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetMany returns the users with these ids in any order, leaving out unknown ids. It
// makes one call per MaxBatch ids.
func (u *Users) GetMany(ctx context.Context, ids []string) ([]User, error) {
	return batched(ctx, ids, func(ctx context.Context, ids []string) ([]User, error) {
		var out userList
		err := u.c.get(ctx, "get users", "/users?ids="+idList(ids), &out)
		return out, err
	})
}

// Orders is the client of the orders service. It is safe for concurrent use.
type Orders struct{ c core }

// NewOrders returns the orders client over pool.
func NewOrders(name string, pool Doer) *Orders { return &Orders{core{name: name, pool: pool}} }

// StartGet sends the request of Get and returns at once; Wait gives Get's result.
func (o *Orders) StartGet(ctx context.Context, id string) *Pending[Order] {
	return startGet(ctx, &o.c, "get order", id, "/orders/", func(v *Order) easyjson.Unmarshaler { return v })
}

// Get returns one order, or an *Error of KindNotFound when there is none.
func (o *Orders) Get(ctx context.Context, id string) (*Order, error) {
	if id == "" {
		return nil, o.c.noRecord("get order")
	}
	var out Order
	if err := o.c.get(ctx, "get order", "/orders/"+pathSegment(id), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ByUser returns a user's orders, newest first.
func (o *Orders) ByUser(ctx context.Context, userID string) ([]Order, error) {
	var out orderList
	err := o.c.get(ctx, "list orders", "/orders?userId="+url.QueryEscape(userID), &out)
	return out, err
}

// Catalog is the client of the catalog service. It is safe for concurrent use.
type Catalog struct{ c core }

// NewCatalog returns the catalog client over pool.
func NewCatalog(name string, pool Doer) *Catalog { return &Catalog{core{name: name, pool: pool}} }

// StartGet sends the request of Get and returns at once; Wait gives Get's result.
func (c *Catalog) StartGet(ctx context.Context, id string) *Pending[Product] {
	return startGet(ctx, &c.c, "get product", id, "/products/", func(v *Product) easyjson.Unmarshaler { return v })
}

// Get returns one product, or an *Error of KindNotFound when there is none.
func (c *Catalog) Get(ctx context.Context, id string) (*Product, error) {
	if id == "" {
		return nil, c.c.noRecord("get product")
	}
	var out Product
	if err := c.c.get(ctx, "get product", "/products/"+pathSegment(id), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetMany returns the products with these ids in any order, leaving out unknown ids.
// It makes one call per MaxBatch ids.
func (c *Catalog) GetMany(ctx context.Context, ids []string) ([]Product, error) {
	return batched(ctx, ids, func(ctx context.Context, ids []string) ([]Product, error) {
		var out productList
		err := c.c.get(ctx, "get products", "/products?ids="+idList(ids), &out)
		return out, err
	})
}

// Reviews is the client of the reviews service. It is safe for concurrent use.
type Reviews struct{ c core }

// NewReviews returns the reviews client over pool.
func NewReviews(name string, pool Doer) *Reviews { return &Reviews{core{name: name, pool: pool}} }

// ByProduct returns the reviews of one product.
func (r *Reviews) ByProduct(ctx context.Context, productID string) ([]Review, error) {
	var out reviewList
	err := r.c.get(ctx, "list reviews", "/reviews?productId="+url.QueryEscape(productID), &out)
	return out, err
}

// ByProducts returns the reviews of all these products, in any order. It makes one
// call per MaxBatch ids.
func (r *Reviews) ByProducts(ctx context.Context, productIDs []string) ([]Review, error) {
	return batched(ctx, productIDs, func(ctx context.Context, ids []string) ([]Review, error) {
		var out reviewList
		err := r.c.get(ctx, "list reviews", "/reviews?productIds="+idList(ids), &out)
		return out, err
	})
}

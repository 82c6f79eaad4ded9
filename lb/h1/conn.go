package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Errors the transport returns. A dial error is wrapped in a *DialError so that
// callers can tell "never reached the endpoint" (always safe to retry) from the rest.
// An answer that breaks HTTP/1.1's rules, or the transport's bounds on a head, wraps
// ErrMalformedResponse; one whose body is over the pool's bound is
// ErrResponseTooLarge. Either closes the connection it came on.
var (
	ErrMalformedResponse = errors.New("malformed HTTP response")
	ErrResponseTooLarge  = errors.New("upstream response body too large")
	errBadRequestTarget  = errors.New("request target must start with '/' and hold no space or control character")
	errBadHeader         = errors.New("request header field has a bad name or a control character in its value")
)

// DialError reports that no connection to an endpoint could be made, so the request
// never left the gateway.
type DialError struct {
	Err error
}

func (e *DialError) Error() string { return "connecting to upstream: " + e.Err.Error() }
func (e *DialError) Unwrap() error { return e.Err }

// conn is one keep-alive HTTP/1.1 connection to an endpoint. It is used by one request
// at a time.
type conn struct {
	nc       net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	deadline time.Time
	idleAt   time.Time // when it was put in the idle set
	num      [20]byte  // scratch space for formatting numbers
	long     []byte    // scratch space for a head's line longer than br's buffer

	// The state of the check for unsolicited input (idle.go): the socket, the
	// check bound to this connection once, and its last result.
	raw      syscall.RawConn
	tls      *tlsConn // nc, when the endpoint is https
	peekFunc func(fd uintptr)
	peekBuf  [1]byte
	peekN    int
	peekErr  error
}

// aLongTimeAgo is a deadline in the past, set on a connection to abort blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// Options say what a Client connects to and what it bounds.
type Options struct {
	// Addr is the address to dial, host:port; Host is the Host header sent.
	Addr, Host string
	// ConnectTimeout bounds a dial and a TLS handshake; 0 leaves only the
	// request's deadline.
	ConnectTimeout time.Duration
	// MaxIdle is how many idle connections are kept for reuse.
	MaxIdle int
	// IdleTimeout closes, instead of reusing, a connection idle for longer; 0: none.
	IdleTimeout time.Duration
	// MaxBody and MaxHead bound an answer's body, and its head (status line and
	// header fields, interim answers included).
	MaxBody, MaxHead int
	// TLS makes the connections of an https endpoint; nil for plain http.
	TLS *TLSClient
}

// Client dials and reuses keep-alive HTTP/1.1 connections to one address, one
// exchange per connection at a time. It is safe for concurrent use.
type Client struct {
	addr           string
	host           string
	connectTimeout time.Duration
	maxIdle        int
	idleTimeout    time.Duration
	maxBody        int
	maxHead        int
	tls            *TLSClient // nil for a plain http endpoint

	discards [NumDiscardReasons]atomic.Int64 // connections closed instead of reused, by reason

	mu     sync.Mutex
	idle   []*conn // LIFO: the most recently used connection is the likeliest alive
	closed bool    // after closeIdle: connections handed back are closed, not kept
}

// NewClient returns the client of the endpoint o describes; it connects on demand.
func NewClient(o Options) *Client {
	return &Client{addr: o.Addr, host: o.Host, connectTimeout: o.ConnectTimeout, maxIdle: o.MaxIdle,
		idleTimeout: o.IdleTimeout, maxBody: o.MaxBody, maxHead: o.MaxHead, tls: o.TLS}
}

// Discards returns how many connections were closed instead of reused, by reason,
// indexed as DiscardReasons.
func (t *Client) Discards() [NumDiscardReasons]int64 {
	var out [NumDiscardReasons]int64
	for i := range t.discards {
		out[i] = t.discards[i].Load()
	}
	return out
}

// Idle returns how many idle connections the client keeps.
func (t *Client) Idle() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.idle)
}

// getIdle takes the most recently used idle connection on which nothing arrived
// while it was idle (see idle.go). One that received bytes or was closed by the
// upstream is closed and the next one tried. One idle for longer than idleTimeout is
// closed instead, with every older one: servers close such connections, and sending
// on one would cost a failed attempt.
func (t *Client) getIdle() *conn {
	for {
		t.mu.Lock()
		n := len(t.idle)
		if n == 0 {
			t.mu.Unlock()
			return nil
		}
		c := t.idle[n-1]
		if t.idleTimeout > 0 && time.Since(c.idleAt) > t.idleTimeout {
			expired := t.idle
			t.idle = nil
			t.mu.Unlock()
			for _, e := range expired {
				t.discard(e, DiscardIdleTimeout)
			}
			return nil
		}
		t.idle[n-1] = nil
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		if reason := c.unsolicited(); reason != DiscardNone {
			t.discard(c, reason)
			continue
		}
		return c
	}
}

// discard closes c instead of reusing it, and counts why.
func (t *Client) discard(c *conn, reason DiscardReason) {
	t.discards[reason].Add(1)
	c.nc.Close()
}

func (t *Client) putIdle(c *conn) {
	if t.idleTimeout > 0 {
		c.idleAt = time.Now()
	}
	t.mu.Lock()
	if !t.closed && len(t.idle) < t.maxIdle {
		t.idle = append(t.idle, c)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	c.nc.Close()
}

// CloseIdle closes every idle connection, and with final, every connection handed
// back later too.
func (t *Client) CloseIdle(final bool) {
	t.mu.Lock()
	t.closed = t.closed || final
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

func (t *Client) dial(ctx context.Context, deadline time.Time) (*conn, error) {
	d := net.Dialer{Timeout: t.connectTimeout, Deadline: deadline, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, &DialError{Err: err}
	}
	c := &conn{}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		c.watch(tc)
	}
	if t.tls != nil {
		if c.tls, err = t.tls.handshake(ctx, nc, deadline, t.connectTimeout); err != nil {
			return nil, err
		}
		nc = c.tls
	}
	c.nc = nc
	c.br = bufio.NewReaderSize(nc, 8<<10)
	c.bw = bufio.NewWriterSize(nc, 4<<10)
	return c, nil
}

// RoundTrip sends req and reads the answer into resp. deadline (zero for none) bounds
// the dial and the I/O; it must not be later than ctx's. ctx's cancellation aborts
// blocked reads and writes and closes the connection, which the upstream sees as a
// cancelled request. A request that failed on a reused connection the upstream had
// closed is sent again on a new one when retryStale allows.
func (t *Client) RoundTrip(ctx context.Context, deadline time.Time, req *Request, resp *Response) error {
	return t.roundTripOn(ctx, deadline, req, resp, false)
}

// RoundTripFresh is RoundTrip on a new connection, never an idle one.
func (t *Client) RoundTripFresh(ctx context.Context, deadline time.Time, req *Request, resp *Response) error {
	return t.roundTripOn(ctx, deadline, req, resp, true)
}

// roundTripOn is RoundTrip on a new connection when fresh, else on an idle one if any.
func (t *Client) roundTripOn(ctx context.Context, deadline time.Time, req *Request, resp *Response, fresh bool) error {
	if err := validRequest(req); err != nil {
		return err
	}
	for {
		c, reused, stop, err := t.begin(ctx, deadline, req, fresh)
		sent, answered := err == nil, false
		if sent {
			answered, err = t.finish(ctx, c, stop, req, resp)
			if err == nil {
				return nil
			}
		}
		if c == nil {
			return err // the dial failed
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if fresh || !retryStale(req, reused, sent, answered, err) {
			return err
		}
		fresh = true
		resp.Reset()
	}
}

// Exchange is a request written on a connection, whose answer Finish reads. The
// zero Exchange is not one: Begin makes it.
type Exchange struct {
	t        *Client
	req      *Request
	deadline time.Time
	c        *conn // nil when the dial failed
	reused   bool
	stop     armed
	err      error // the request could not be sent
}

// Begin writes req on a connection (an idle one, else a new one) and returns
// without reading the answer, which Finish reads. deadline and ctx are as for
// RoundTrip; req must be valid (Request.Check). Every Exchange must be finished,
// once. Between the two the caller may begin and finish other exchanges.
func (t *Client) Begin(ctx context.Context, deadline time.Time, req *Request) Exchange {
	x := Exchange{t: t, req: req, deadline: deadline}
	x.c, x.reused, x.stop, x.err = t.begin(ctx, deadline, req, false)
	return x
}

// Finish reads the answer of the exchange into resp. If it failed on a reused
// connection the upstream had closed, the request is sent again on a new one, as
// RoundTrip does, unless ctx ended or the deadline passed by now's clock.
func (x *Exchange) Finish(ctx context.Context, now func() time.Time, resp *Response) error {
	err := x.err
	sent, answered := err == nil, false
	if sent {
		answered, err = x.t.finish(ctx, x.c, x.stop, x.req, resp)
	}
	if err != nil && x.c != nil && ctx.Err() == nil && (x.deadline.IsZero() || now().Before(x.deadline)) &&
		retryStale(x.req, x.reused, sent, answered, err) {
		resp.Reset()
		err = x.t.roundTripOn(ctx, x.deadline, x.req, resp, true)
	}
	return err
}

// retryStale reports whether an exchange that failed on a reused connection may be
// sent again on a new one. A server may close a keep-alive connection while it sits
// idle; the next request on it then fails. If the request did not get out whole, no
// handler saw it: any method may be sent again. If it got out and the connection was
// closed before any byte of an answer, a handler may have run, so only an idempotent
// request may be. A timeout is never retried here: the deadline is spent.
func retryStale(req *Request, reused, sent, answered bool, err error) bool {
	if !reused {
		return false
	}
	if !sent {
		return true
	}
	return req.Idempotent() && !answered &&
		(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE))
}

// begin takes a connection (an idle one unless fresh, else a new one) and writes req
// on it, with the deadline set and cancellation armed. On success the caller must
// call finish with the returned connection and stop. On failure the connection, if
// any, is closed; c is nil when the dial failed.
func (t *Client) begin(ctx context.Context, deadline time.Time, req *Request, fresh bool) (c *conn, reused bool, stop armed, err error) {
	if !fresh {
		c = t.getIdle()
	}
	reused = c != nil
	if c == nil {
		if c, err = t.dial(ctx, deadline); err != nil {
			return nil, false, armed{}, err
		}
	}
	if !deadline.Equal(c.deadline) {
		if err := c.nc.SetDeadline(deadline); err != nil {
			c.nc.Close()
			return c, reused, armed{}, err
		}
		c.deadline = deadline
	}
	stop = arm(ctx, c)
	if err := writeRequest(c, t.host, req); err != nil {
		stop.disarm()
		c.nc.Close()
		return c, reused, armed{}, err
	}
	return c, reused, stop, nil
}

// finish reads the answer of the request begun on c into resp, disarms the
// cancellation, and returns c to the idle set or closes it. answered reports whether
// any byte of the answer was read, after which a failure cannot be blamed on a stale
// connection.
func (t *Client) finish(ctx context.Context, c *conn, stop armed, req *Request, resp *Response) (answered bool, err error) {
	// A caller that keeps several calls in flight reads their answers in turn; by
	// the time it reads one, the deadline may have passed while the answer sat in
	// the socket, in time. Such an answer is still read, within a short grace.
	late := !c.deadline.IsZero() && !time.Now().Before(c.deadline)
	if late || ctx.Err() != nil {
		stop.disarm()
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.discard(c, DiscardBroken) // cancelled: no one wants the answer
			return true, ctx.Err()
		}
		c.deadline = time.Now().Add(lateReadGrace)
		if err := c.nc.SetDeadline(c.deadline); err != nil {
			c.nc.Close()
			return false, err
		}
		stop = armed{}
	}
	answered, keepAlive, err := t.readResponse(c, req.method() == "HEAD", resp)
	if !stop.disarm() {
		// The context ended while the request ran; the deadline set by the callback
		// makes the connection useless.
		t.discard(c, DiscardBroken)
		if err == nil {
			err = ctx.Err()
		}
		return true, err
	}
	if err != nil {
		t.discard(c, DiscardBroken)
		return answered, err
	}
	switch {
	case !keepAlive:
		c.nc.Close()
	case c.br.Buffered() > 0:
		// Bytes left in the buffer belong to no request: the answer was longer than
		// it said. The connection cannot be trusted with another request.
		t.discard(c, DiscardTrailing)
	default:
		t.putIdle(c)
	}
	return true, nil
}

// lateReadGrace is how long an answer read after its deadline may take to read: an
// answer already in the socket takes none.
const lateReadGrace = time.Millisecond

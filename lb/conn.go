package lb

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Request is one HTTP/1.1 request to an upstream. The pool chooses the endpoint, so a
// request names only what goes on the wire after the host.
type Request struct {
	// Method is the HTTP method; empty means GET.
	Method string
	// Target is the request target: the escaped path and query, as in
	// "/users?ids=u1,u2". It must start with '/' and hold no space, CR or LF.
	Target string
	// Header holds extra request header fields as name/value pairs. Values must hold
	// no CR or LF.
	Header [][2]string
	// Body is sent with a Content-Length when non-empty. A request with a body is
	// replayable, so it may be retried when its method is idempotent.
	Body []byte
}

// Response is an upstream's answer. Body is appended to, so a caller may pass a
// response whose Body has capacity left from an earlier call and avoid allocating.
type Response struct {
	Status int
	Body   []byte
}

// Reset empties the response for reuse, keeping the capacity of Body.
func (r *Response) Reset() {
	r.Status = 0
	r.Body = r.Body[:0]
}

func (r *Request) method() string {
	if r.Method == "" {
		return "GET"
	}
	return r.Method
}

// idempotent reports whether the request may be sent twice without changing its
// meaning (RFC 9110, section 9.2.2).
func (r *Request) idempotent() bool {
	switch r.method() {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

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

// transport dials and reuses connections to one address. It is safe for concurrent use.
type transport struct {
	addr           string
	host           string
	connectTimeout time.Duration
	maxIdle        int
	idleTimeout    time.Duration
	maxBody        int
	maxHead        int
	tls            *tlsClient // nil for a plain http endpoint

	discards [numDiscardReasons]atomic.Int64 // connections closed instead of reused, by reason

	mu     sync.Mutex
	idle   []*conn // LIFO: the most recently used connection is the likeliest alive
	closed bool    // after closeIdle: connections handed back are closed, not kept
}

// getIdle takes the most recently used idle connection on which nothing arrived
// while it was idle (see idle.go). One that received bytes or was closed by the
// upstream is closed and the next one tried. One idle for longer than idleTimeout is
// closed instead, with every older one: servers close such connections, and sending
// on one would cost a failed attempt.
func (t *transport) getIdle() *conn {
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
				t.discard(e, discardIdleTimeout)
			}
			return nil
		}
		t.idle[n-1] = nil
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		if reason := c.unsolicited(); reason != discardNone {
			t.discard(c, reason)
			continue
		}
		return c
	}
}

// discard closes c instead of reusing it, and counts why.
func (t *transport) discard(c *conn, reason discardReason) {
	t.discards[reason].Add(1)
	c.nc.Close()
}

func (t *transport) putIdle(c *conn) {
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

// closeIdle closes every idle connection, and with final, every connection handed
// back later too.
func (t *transport) closeIdle(final bool) {
	t.mu.Lock()
	t.closed = t.closed || final
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, c := range idle {
		c.nc.Close()
	}
}

func (t *transport) dial(ctx context.Context, deadline time.Time) (*conn, error) {
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

// roundTrip sends req and reads the answer into resp. deadline (zero for none) bounds
// the dial and the I/O; it must not be later than ctx's. ctx's cancellation aborts
// blocked reads and writes and closes the connection, which the upstream sees as a
// cancelled request.
func (t *transport) roundTrip(ctx context.Context, deadline time.Time, req *Request, resp *Response) error {
	return t.roundTripOn(ctx, deadline, req, resp, false)
}

// roundTripOn is roundTrip on a new connection when fresh, else on an idle one if any.
func (t *transport) roundTripOn(ctx context.Context, deadline time.Time, req *Request, resp *Response, fresh bool) error {
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
	return req.idempotent() && !answered &&
		(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE))
}

// begin takes a connection (an idle one unless fresh, else a new one) and writes req
// on it, with the deadline set and cancellation armed. On success the caller must
// call finish with the returned connection and stop. On failure the connection, if
// any, is closed; c is nil when the dial failed.
func (t *transport) begin(ctx context.Context, deadline time.Time, req *Request, fresh bool) (c *conn, reused bool, stop func() bool, err error) {
	if !fresh {
		c = t.getIdle()
	}
	reused = c != nil
	if c == nil {
		if c, err = t.dial(ctx, deadline); err != nil {
			return nil, false, nil, err
		}
	}
	if !deadline.Equal(c.deadline) {
		if err := c.nc.SetDeadline(deadline); err != nil {
			c.nc.Close()
			return c, reused, nil, err
		}
		c.deadline = deadline
	}
	stop = noStop
	if ctx.Done() != nil {
		nc := c.nc
		stop = context.AfterFunc(ctx, func() { _ = nc.SetDeadline(aLongTimeAgo) })
	}
	if err := writeRequest(c, t.host, req); err != nil {
		stop()
		c.nc.Close()
		return c, reused, nil, err
	}
	return c, reused, stop, nil
}

func noStop() bool { return true }

// finish reads the answer of the request begun on c into resp, disarms the
// cancellation, and returns c to the idle set or closes it. answered reports whether
// any byte of the answer was read, after which a failure cannot be blamed on a stale
// connection.
func (t *transport) finish(ctx context.Context, c *conn, stop func() bool, req *Request, resp *Response) (answered bool, err error) {
	// A caller that keeps several calls in flight reads their answers in turn; by
	// the time it reads one, the deadline may have passed while the answer sat in
	// the socket, in time. Such an answer is still read, within a short grace.
	late := !c.deadline.IsZero() && !time.Now().Before(c.deadline)
	if late || ctx.Err() != nil {
		stop()
		if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.discard(c, discardBroken) // cancelled: no one wants the answer
			return true, ctx.Err()
		}
		c.deadline = time.Now().Add(lateReadGrace)
		if err := c.nc.SetDeadline(c.deadline); err != nil {
			c.nc.Close()
			return false, err
		}
		stop = noStop
	}
	answered, keepAlive, err := t.readResponse(c, req.method() == "HEAD", resp)
	if !stop() {
		// The context ended while the request ran; the deadline set by the callback
		// makes the connection useless.
		t.discard(c, discardBroken)
		if err == nil {
			err = ctx.Err()
		}
		return true, err
	}
	if err != nil {
		t.discard(c, discardBroken)
		return answered, err
	}
	switch {
	case !keepAlive:
		c.nc.Close()
	case c.br.Buffered() > 0:
		// Bytes left in the buffer belong to no request: the answer was longer than
		// it said. The connection cannot be trusted with another request.
		t.discard(c, discardTrailing)
	default:
		t.putIdle(c)
	}
	return true, nil
}

// lateReadGrace is how long an answer read after its deadline may take to read: an
// answer already in the socket takes none.
const lateReadGrace = time.Millisecond

// writeRequest writes req on c and flushes it.
func writeRequest(c *conn, host string, req *Request) error {
	bw := c.bw
	method := req.method()
	bw.WriteString(method)
	bw.WriteByte(' ')
	bw.WriteString(req.Target)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\nUser-Agent: switchyard\r\nAccept: application/json\r\n")
	for _, h := range req.Header {
		bw.WriteString(h[0])
		bw.WriteString(": ")
		bw.WriteString(h[1])
		bw.WriteString("\r\n")
	}
	if len(req.Body) > 0 || method == "POST" || method == "PUT" || method == "PATCH" {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(c.num[:0], int64(len(req.Body)), 10))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	bw.Write(req.Body)
	return bw.Flush()
}

// validRequest refuses what cannot be sent safely: a target that is not an origin
// form without spaces or control characters, and header fields whose names are not
// tokens or whose values hold control characters other than tab.
func validRequest(req *Request) error {
	if len(req.Target) == 0 || req.Target[0] != '/' {
		return errBadRequestTarget
	}
	for i := 0; i < len(req.Target); i++ {
		if c := req.Target[i]; c <= ' ' || c == 0x7f {
			return errBadRequestTarget
		}
	}
	for _, h := range req.Header {
		if h[0] == "" {
			return errBadHeader
		}
		for i := 0; i < len(h[0]); i++ {
			if !isTokenChar(h[0][i]) {
				return errBadHeader
			}
		}
		for i := 0; i < len(h[1]); i++ {
			if byteClass[h[1][i]]&classFieldValue == 0 {
				return errBadHeader
			}
		}
	}
	return nil
}

// isTokenChar reports whether c may appear in an HTTP token (RFC 9110, 5.6.2).
func isTokenChar(c byte) bool { return byteClass[c]&classToken != 0 }

// The classes of bytes the heads of requests and answers are checked against, one
// table lookup per byte: every exchange goes through them.
const (
	classToken      = 1 << iota // may appear in a token (RFC 9110, 5.6.2)
	classFieldValue             // may appear in a field value: not a control but HTAB
)

var byteClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0:
			t[c] |= classToken
		}
		if (c >= ' ' || c == '\t') && c != 0x7f {
			t[c] |= classFieldValue
		}
	}
	return t
}()

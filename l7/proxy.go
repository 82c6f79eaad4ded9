package l7

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/switchyard/switchyard/inbound"
	"github.com/switchyard/switchyard/lb"
	"github.com/switchyard/switchyard/policies"
)

// ProxyOptions configure a proxy to a pool.
type ProxyOptions struct {
	Pool *lb.Pool
	// Transport sends the requests; one per pool, so that connections are reused
	// across the routes to it. It should not decompress (DisableCompression).
	Transport http.RoundTripper
	// StripPrefix is removed from the start of the path.
	StripPrefix string
	// Rewrite, when set, replaces the path, from the route's path variables.
	Rewrite *Template
	// PreserveHost sends the client's Host instead of the endpoint's.
	PreserveHost bool
	// RequestHeaders change the headers sent.
	RequestHeaders HeaderOps
	// ForwardClaims maps a claim of the caller's principal ("sub", "scopes" or a
	// selected claim) to the header it is sent in. The client's own headers of
	// these names are always removed.
	ForwardClaims map[string]string
	// Fields, when set, rewrites the fields of JSON answers, read whole up to
	// MaxFieldsBody bytes; a larger one is a 502.
	Fields        *FieldMap
	MaxFieldsBody int64
	// TrustForwarded reports whether the request came from a trusted proxy, whose
	// X-Forwarded-For is kept and appended to; from anyone else it is replaced.
	TrustForwarded func(r *http.Request) bool
	// OnResponse, when set, may add headers to every answer (sticky cookies).
	OnResponse func(r *http.Request, h http.Header)
	// OnAttempt, when set, is told of every attempt's end: whether it failed (no
	// answer, or a 5xx).
	OnAttempt func(ctx context.Context, failed bool)
	// Log is told of failed requests.
	Log *slog.Logger
}

// Proxy errors, as the error handler reports them.
var (
	errTryTimeout = errors.New("the upstream did not answer in time")
	errTooLarge   = errors.New("the upstream's answer is too large to transform")
	errBadBody    = errors.New("the request's body could not be read")
	errBadUpgrade = errors.New("the upstream switched to another protocol than asked")
)

// transforms bounds the JSON answers read whole at once, across all routes: each
// may hold MaxFieldsBody bytes and their decoded form.
var transforms = semaphore.NewWeighted(4)

// NewProxy returns a handler that streams requests to the pool's endpoints and
// their answers back, through httputil.ReverseProxy (hop-by-hop headers, trailers,
// WebSocket and other upgrades, flushing of streamed answers).
func NewProxy(o ProxyOptions) http.Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	rp := &httputil.ReverseProxy{
		Rewrite:    o.rewrite,
		Transport:  &poolTransport{pool: o.Pool, rt: o.Transport, onAttempt: o.OnAttempt},
		BufferPool: buffers,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			status, code, msg := http.StatusBadGateway, "UPSTREAM_UNAVAILABLE", "the upstream cannot be reached"
			switch {
			case r.Context().Err() != nil:
				w.WriteHeader(499) // the client went away: nobody reads this
				return
			case errors.Is(err, lb.ErrCircuitOpen):
				status, code, msg = http.StatusServiceUnavailable, "CIRCUIT_OPEN", "the upstream is unavailable"
			case errors.Is(err, errTryTimeout):
				status, code, msg = http.StatusGatewayTimeout, "UPSTREAM_TIMEOUT", errTryTimeout.Error()
			case errors.Is(err, errTooLarge):
				msg = errTooLarge.Error()
			case errors.Is(err, errBadBody) || strings.HasPrefix(err.Error(), "client tried to switch"):
				status, code, msg = http.StatusBadRequest, "BAD_REQUEST", "the request cannot be forwarded: "+err.Error()
			case errors.Is(err, errBadUpgrade):
				msg = errBadUpgrade.Error()
			case errors.Is(err, errBadStatus), errors.Is(err, errTooManyInterim), errors.Is(err, errBadFieldName):
				code, msg = "UPSTREAM_BAD_RESPONSE", "the upstream's answer is malformed"
			}
			o.Log.Warn("proxy", "pool", o.Pool.Name(), "error", err)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = fmt.Fprintf(w, `{"error":{"code":%q,"message":%q,"upstream":%q}}`, code, msg, o.Pool.Name())
		},
	}
	rp.ModifyResponse = func(resp *http.Response) error {
		if resp.StatusCode == http.StatusSwitchingProtocols &&
			!strings.EqualFold(resp.Header.Get("Upgrade"), resp.Request.Header.Get("Upgrade")) {
			_ = resp.Body.Close() // ReverseProxy would leave the connection open
			return errBadUpgrade
		}
		if o.OnResponse != nil {
			o.OnResponse(resp.Request, resp.Header)
		}
		if o.Fields != nil {
			return o.rewriteFields(resp)
		}
		return nil
	}
	return rp
}

func (o *ProxyOptions) rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	out.URL.Scheme = "http"
	out.URL.Host = o.Pool.Name() + ".pool" // the transport puts the endpoint's here
	if !o.PreserveHost {
		out.Host = ""
	}
	switch {
	case o.Rewrite != nil:
		escaped := o.Rewrite.Expand(Vars(in.Context()))
		if p, err := url.PathUnescape(escaped); err == nil {
			out.URL.Path, out.URL.RawPath = p, escaped
		}
	case o.StripPrefix != "":
		// On the escaped path, so that an escaped slash stays one.
		esc := strings.TrimPrefix(in.URL.EscapedPath(), strings.TrimSuffix(o.StripPrefix, "/"))
		if !strings.HasPrefix(esc, "/") {
			esc = "/" + esc
		}
		if p, err := url.PathUnescape(esc); err == nil {
			out.URL.Path, out.URL.RawPath = p, esc
		}
	}
	if o.TrustForwarded != nil && o.TrustForwarded(in) {
		if prior := in.Header["X-Forwarded-For"]; len(prior) > 0 {
			out.Header["X-Forwarded-For"] = prior
		}
	}
	pr.SetXForwarded()
	// The request's id, as the GraphQL path sends it: the client's when acceptable,
	// else the gateway's (a client's other value is not passed on).
	if info := inbound.From(in.Context()); info != nil && info.ID != "" {
		out.Header["X-Request-Id"] = []string{info.ID}
	}
	o.RequestHeaders.Apply(out.Header)
	if o.Fields != nil {
		out.Header.Del("Accept-Encoding") // the answer is read: it must not be compressed
	}
	if len(o.ForwardClaims) > 0 {
		p := policies.PrincipalFrom(in.Context())
		for claim, header := range o.ForwardClaims {
			out.Header.Del(header)
			if v := p.Claim(claim); v != "" {
				out.Header.Set(header, v)
			}
		}
	}
}

// rewriteFields applies the field map to a successful JSON answer.
func (o *ProxyOptions) rewriteFields(resp *http.Response) error {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode < 200 || resp.StatusCode > 299 || resp.StatusCode == http.StatusNoContent ||
		resp.Request.Method == http.MethodHead || resp.ContentLength == 0 ||
		(mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil
	}
	if err := transforms.Acquire(resp.Request.Context(), 1); err != nil {
		return err
	}
	defer transforms.Release(1)
	if resp.Header.Get("Content-Encoding") != "" {
		return fmt.Errorf("a %s-encoded answer cannot be transformed", resp.Header.Get("Content-Encoding"))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, o.MaxFieldsBody+1))
	_ = resp.Body.Close()
	if err != nil {
		return err
	}
	if int64(len(body)) > o.MaxFieldsBody {
		return errTooLarge
	}
	if len(bytes.TrimSpace(body)) == 0 {
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return nil
	}
	if out, err := o.Fields.Apply(body); err == nil {
		body = out
	} else {
		return fmt.Errorf("the upstream's JSON answer does not parse: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// poolTransport sends a request to the pool's endpoints: the pool chooses each
// attempt's endpoint and learns its outcome. A request that could not connect is
// sent to another endpoint; so is a bodiless idempotent one that failed or got a
// 5xx answer. Each attempt must have its answer's head by the pool's per-try
// deadline; the body then streams without one.
type poolTransport struct {
	pool      *lb.Pool
	rt        http.RoundTripper
	onAttempt func(ctx context.Context, failed bool)
}

func (t *poolTransport) attempted(ctx context.Context, failed bool) {
	if t.onAttempt != nil {
		t.onAttempt(ctx, failed)
	}
}

func (t *poolTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	fwd, err := t.pool.Forward(ctx, req.Method)
	if err != nil {
		return nil, err
	}
	defer fwd.Finish()
	hasBody := req.Body != nil && req.Body != http.NoBody
	var body *clientBody
	if hasBody {
		body = &clientBody{r: req.Body} // the server closes it; attempts must not
	}
	var (
		lastErr  error
		pending  *http.Response // a 5xx answer, returned when there is no retry
		pendStop context.CancelFunc
	)
	var st tryState
	tryParent := traced(ctx, &st)
	for {
		at := fwd.Next(!hasBody)
		if at == nil {
			break
		}
		if pending != nil {
			discard(pending)
			pendStop()
			pending = nil
		}
		st = tryState{}
		resp, cancel, err := t.try(tryParent, req, at, body)
		if err != nil {
			cancel()
			if hasBody && body.failed() != nil { // the client's fault, not the endpoint's
				at.Abandon()
				return nil, fmt.Errorf("%w: %v", errBadBody, body.failed())
			}
			if isDial(err, st) {
				err = lb.ReachError(err)
			}
			at.End(0, err)
			t.attempted(ctx, true)
			lastErr = err
			continue
		}
		at.End(resp.StatusCode, nil)
		t.attempted(ctx, resp.StatusCode >= 500)
		resp.Body = withCancel(resp.Body, cancel)
		if resp.StatusCode < 500 {
			return resp, nil
		}
		pending, pendStop = resp, cancel
	}
	if pending != nil {
		return pending, nil
	}
	if lastErr == nil {
		lastErr = lb.ErrCircuitOpen // no endpoint would take it
	}
	var de *lb.DialError
	if errors.As(lastErr, &de) {
		return nil, de.Err
	}
	return nil, lastErr
}

// try sends req once, to at's endpoint, within at's deadline (the try's own
// timeout ends it as errTryTimeout); body, when not nil, is the client's body. An
// answer that breaks HTTP's rules is an error. cancel ends the try's context: call
// it when done with the answer.
func (t *poolTransport) try(parent context.Context, req *http.Request, at *lb.Attempt, body *clientBody) (_ *http.Response, cancel context.CancelFunc, _ error) {
	tryCtx, cancel := context.WithCancel(parent)
	var timer *time.Timer
	timedOut := make(chan struct{})
	if !at.Deadline.IsZero() {
		timer = time.AfterFunc(time.Until(at.Deadline), func() { close(timedOut); cancel() })
	}
	out := req.WithContext(tryCtx)
	u := *req.URL
	u.Host = at.Host
	if strings.HasPrefix(at.URL, "https:") {
		u.Scheme = "https"
	}
	out.URL = &u
	if body != nil {
		out.Body = body
		out.GetBody = nil
	}
	resp, err := t.rt.RoundTrip(out)
	if timer != nil && !timer.Stop() {
		<-timedOut // the timer fired: its callback closes this, and cancels the try
		if err == nil {
			discard(resp)
		}
		resp, err = nil, errTryTimeout
	}
	if err == nil {
		if err = checkAnswer(resp); err != nil {
			_ = resp.Body.Close()
			resp = nil
		}
	}
	return resp, cancel, err
}

// clientBody is the client's request body as the attempts read it: it is not
// closed by them, and it remembers a failure to read it.
type clientBody struct {
	r   io.Reader
	mu  sync.Mutex // the transport reads in a goroutine of its own
	err error
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.mu.Lock()
		b.err = err
		b.mu.Unlock()
	}
	return n, err
}

func (b *clientBody) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

func (b *clientBody) Close() error { return nil }

// isDial reports whether err is a failure to connect: the request was not sent,
// or not served. A TLS handshake that failed counts: the endpoint's certificate was
// not trusted, the endpoint did not speak TLS, or it refused the handshake with an
// alert, which in TLS 1.3 the client reads in place of its first answer (a client
// certificate refused).
//
// A TLS handshake that failed is one too: a certificate the pool does not trust, an
// endpoint that does not speak TLS, an alert during the handshake, or the alert by
// which a TLS 1.3 server refuses the client's certificate after the handshake, in
// place of the first answer on a new connection. Any other alert or garbage, on a
// connection whose handshake succeeded or that served before, may come after the
// request was served: it is not a reason to send the request elsewhere.
func isDial(err error, st tryState) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var verify *tls.CertificateVerificationError
	if errors.As(err, &verify) {
		return true
	}
	if st.reused {
		return false
	}
	var record tls.RecordHeaderError
	if !st.handshook && (errors.As(err, &record) || (op != nil && op.Op == "remote error")) {
		return true
	}
	return lb.IsCertificateRefusal(err)
}

// discard closes an answer that will not be used, reading a little of it first so
// that its connection may be reused.
func discard(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	_ = resp.Body.Close()
}

// withCancel calls cancel when body is closed. An upgraded connection's body is
// also a writer, and stays one.
func withCancel(body io.ReadCloser, cancel context.CancelFunc) io.ReadCloser {
	if rwc, ok := body.(io.ReadWriteCloser); ok {
		return &cancelRWC{ReadWriteCloser: rwc, cancel: cancel}
	}
	return &cancelBody{ReadCloser: body, cancel: cancel}
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

type cancelRWC struct {
	io.ReadWriteCloser
	cancel context.CancelFunc
}

func (b *cancelRWC) Close() error {
	err := b.ReadWriteCloser.Close()
	b.cancel()
	return err
}

// buffers are the proxies' copy buffers.
var buffers = &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(s []byte) { b.p.Put(&s) }

package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/otel/propagation"

	"github.com/switchyard/switchyard/inbound"
	"github.com/switchyard/switchyard/tracing"
)

// requestIDs makes request ids: a random prefix per process and a counter, unique
// without a random read per request.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &requestIDs{prefix: hex.EncodeToString(b[:]) + "-"}
}

func (r *requestIDs) next() string {
	return r.prefix + strconv.FormatUint(r.n.Add(1), 36)
}

// acceptableID reports whether a client's X-Request-Id may be kept: up to 128
// printable ASCII characters, so that it cannot break a log line or a header.
func acceptableID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return false
		}
	}
	return true
}

// statusWriter remembers the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush passes a flush on, for streaming responses.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe gives every request an id (the client's X-Request-Id when acceptable, else
// a new one), returns it in the response, sends it to the upstreams, and writes one
// access log line per request (a sample of them, but every 5xx) at level INFO: the
// id, method, path (never the query string), status, bytes, duration, client
// address, GraphQL operation name and schema version, the principal, and the number
// of upstream calls and failed ones. Never a header value, token, API key or body.
func (g *Gateway) observe(next http.Handler) http.Handler {
	ids := newRequestIDs()
	sample := *g.cfg.AccessLog.Sample
	logging := *g.cfg.AccessLog.Enabled
	var seen atomic.Uint64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := header(r.Header, hdrRequestID)
		if !acceptableID(id) {
			id = ids.next()
		}
		setHeader(w.Header(), hdrRequestID, id)
		info := &inbound.Info{ID: id, Traced: g.obs.recording()}
		ctx := r.Context()
		if _, ok := r.Header["Traceparent"]; ok {
			ctx = tracing.Propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
			info.Traced = true
		}
		ctx = inbound.With(ctx, info)
		logged := logging && g.log.Enabled(ctx, slog.LevelInfo)
		if !logged && g.obs.metrics == nil {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		start := time.Now()
		rec := info
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(ctx)
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := time.Since(start)
		if g.obs.metrics != nil {
			route := "unmatched"
			if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
				route = rc.RoutePattern()
			}
			if rec.Route != "" {
				route = rec.Route
			}
			g.obs.metrics.HTTPRequest(route, sw.status, d)
		}
		if !logged || (sw.status < 500 && sample < 1 && !sampled(seen.Add(1), sample)) {
			return
		}
		principal := "anonymous"
		if rec.Principal != "" {
			principal = rec.Principal
		}
		g.log.LogAttrs(ctx, slog.LevelInfo, "access",
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Int64("bytes", sw.bytes),
			slog.Float64("duration_ms", float64(d.Microseconds())/1000),
			slog.String("client", g.auth.clientIPs.Of(r)),
			slog.String("operation", rec.Operation),
			slog.String("version", rec.Version),
			slog.String("route", strings.TrimPrefix(rec.Route, "route:")),
			slog.String("principal", principal),
			slog.Int64("upstream_calls", info.Calls.Load()),
			slog.Int64("upstream_errors", info.Errors.Load()),
		)
	})
}

// sampled reports whether the n-th request (from 1) is logged at rate (0 to 1):
// evenly, so that of any k requests about k*rate are.
func sampled(n uint64, rate float64) bool {
	if rate <= 0 {
		return false
	}
	return math.Floor(float64(n)*rate) != math.Floor(float64(n-1)*rate)
}

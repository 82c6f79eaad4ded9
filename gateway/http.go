package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/execution"
	"github.com/switchyard/switchyard/inbound"
	"github.com/switchyard/switchyard/lb"
	"github.com/switchyard/switchyard/policies"
	"github.com/switchyard/switchyard/resolvers"
	"github.com/switchyard/switchyard/schema"
	"github.com/switchyard/switchyard/upstreams"
)

// listCost is the cost of a list field with a `first` argument of default def.
func listCost(def int) func(child int, first *int) int {
	return func(child int, first *int) int {
		n := def
		if first != nil {
			n = max(*first, 0)
		}
		return timesPlusOne(child, n)
	}
}

func idsCost(child int, ids []string) int { return timesPlusOne(child, len(ids)) }

// timesPlusOne is 1 + child*n, saturating instead of wrapping, so that a query built
// to overflow its cost is refused as the most costly.
func timesPlusOne(child, n int) int {
	if n > 0 && child > (math.MaxInt32-1)/n {
		return math.MaxInt32
	}
	return 1 + child*n
}

// graphqlHandler serves GraphQL over HTTP (GET and POST, application/json and
// application/graphql-response+json) on one schema version, over the same clients as
// every other version.
func (g *Gateway) graphqlHandler(version string) http.Handler {
	srv := g.graphqlServer(version)
	wait := g.cfg.GraphQL.LoaderWait.Duration
	def, maxTimeout := g.cfg.GraphQL.RequestTimeout.Duration, g.cfg.GraphQL.MaxRequestTimeout.Duration
	deprecation, sunset := g.versionHeaders(version)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if deprecation != "" {
			w.Header().Set("Deprecation", deprecation)
		}
		if sunset != "" {
			w.Header().Set("Sunset", sunset)
		}
		timeout, err := requestTimeout(header(r.Header, hdrRequestTimeout), def, maxTimeout)
		if err != nil {
			w.Header().Set("Content-Type", mediaJSON)
			writeErrors(w, http.StatusBadRequest, gqlerror.List{codedError(codeBadRequest, err.Error())})
			return
		}
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		if g.pools.affinity {
			ctx = lb.WithAffinity(ctx, lb.NewAffinity(r, g.auth.clientIPs.Of(r)))
		}
		if g.pools.headers != nil {
			info := inbound.From(ctx)
			if info == nil {
				info = &inbound.Info{}
				ctx = inbound.With(ctx, info)
			}
			info.Headers = g.pools.headersFor(policies.PrincipalFrom(ctx))
		}
		if g.versions.declared != nil {
			ctx = connectors.WithClientHeader(ctx, r.Header)
		} else {
			ctx = upstreams.WithLoaders(ctx, upstreams.NewLoaders(g.versions.clients, wait))
		}
		srv.ServeHTTP(w, r.WithContext(ctx))
	})
}

// graphqlServer is version's gqlgen server: the executor (direct or gqlgen's), the
// transport, the caches and the extensions in the order they must run.
func (g *Gateway) graphqlServer(version string) *handler.Server {
	es := g.versions.executable(version)
	if *g.cfg.GraphQL.DirectExecution && g.versions.declared == nil {
		var err error
		if es, err = execution.Schema(es, versionNamed(version).synchronous...); err != nil {
			panic(err) // the lists are the code's own, checked by the tests
		}
	}
	srv := handler.New(es)
	required := map[string]bool{}
	for name, pc := range g.cfg.Pools {
		if pc.Required {
			required[name] = true
		}
	}
	srv.AddTransport(httpTransport{maxBody: g.cfg.GraphQL.MaxBodyBytes, metrics: g.obs.metrics, version: version,
		maxQuery: max(g.cfg.GraphQL.Limits.MaxQueryBytes, 0)})
	if g.limits.rates.LimitsCost() {
		// First: an operation refused for its cost is neither traced nor counted.
		srv.Use(costBudget{rates: g.limits.rates})
	}
	hooks := operationHooks{version: version, required: required, metrics: g.obs.metrics}
	if g.obs.recording() {
		hooks.tracer = g.obs.tracer
	}
	srv.Use(hooks) // it wraps the other extensions' work
	srv.SetQueryCache(lru.New[*ast.QueryDocument](g.cfg.GraphQL.QueryCacheSize))
	srv.SetParserTokenLimit(max(g.cfg.GraphQL.Limits.MaxTokens, 0)) // 0: none
	if *g.cfg.GraphQL.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(policies.NoIntrospection{})
	}
	lim := g.cfg.GraphQL.Limits
	off := func(n int) int { return max(n, 0) } // -1: no limit
	srv.Use(policies.QueryLimits{MaxBytes: off(lim.MaxQueryBytes), MaxDepth: off(lim.MaxDepth), MaxAliases: off(lim.MaxAliases)})
	if lim.MaxCost > 0 || g.limits.rates.LimitsCost() {
		srv.Use(&policies.CostLimit{Limit: max(lim.MaxCost, 0)}) // 0: computes the cost the rate limits spend
	}
	if g.versions.trusted != nil {
		srv.Use(g.versions.trusted) // before APQ, which must not serve what is not listed
	}
	if *g.cfg.GraphQL.APQ.Enabled {
		srv.Use(policies.APQ{AutomaticPersistedQuery: extension.AutomaticPersistedQuery{Cache: g.apq.cache}})
	}
	if g.versions.trusted != nil {
		srv.Use(g.versions.trusted.Verifier()) // whatever APQ's cache held, only listed text runs
	}
	if g.auth.opRules != nil {
		srv.Use(g.auth.opRules)
	}
	if g.versions.declared == nil {
		srv.Use(resolvers.NewRootFetch(g.versions.clients)) // the demo's root fields, fetched together
	}
	if fb := g.versions.fallbacks[version]; fb != nil {
		srv.Use(*fb)
	}
	srv.SetErrorPresenter(resolvers.ErrorPresenter(g.log))
	srv.SetRecoverFunc(resolvers.Recover(g.log))
	return srv
}

// versionHeaders are the Deprecation (RFC 9745) and Sunset (RFC 8594) header values
// of a version, empty when it is not deprecated.
func (g *Gateway) versionHeaders(version string) (deprecation, sunset string) {
	vc, ok := g.cfg.Versions[version]
	if !ok {
		return "", ""
	}
	if !vc.Deprecated.IsZero() {
		deprecation = "@" + strconv.FormatInt(vc.Deprecated.Unix(), 10)
	}
	if !vc.Sunset.IsZero() {
		sunset = vc.Sunset.UTC().Format(http.TimeFormat)
	}
	return deprecation, sunset
}

// byVersionHeader sends a request to /graphql to the version its API-Version header
// names ("1", "v1", "2", "v2"), the current one when there is none; an unknown
// version is a 400 that names the versions served.
func byVersionHeader(handlers map[string]http.Handler, versions []string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := header(r.Header, hdrAPIVersion)
		if v == "" {
			handlers[schema.Current].ServeHTTP(w, r)
			return
		}
		if !strings.HasPrefix(v, "v") {
			v = "v" + v
		}
		h, ok := handlers[v]
		if !ok {
			w.Header().Set("Content-Type", mediaJSON)
			writeErrors(w, http.StatusBadRequest, gqlerror.List{codedError("UNKNOWN_API_VERSION",
				fmt.Sprintf("API-Version %q is not served; the versions are %s", header(r.Header, hdrAPIVersion), strings.Join(versions, ", ")))})
			return
		}
		h.ServeHTTP(w, r)
	}
}

// requestTimeout is the deadline budget of one request: the Request-Timeout header
// (seconds, as in "2.5", or a duration, as in "250ms") capped at maxTimeout, or else
// def; 0 means none. Every upstream call of the request gets what remains of it.
func requestTimeout(header string, def, maxTimeout time.Duration) (time.Duration, error) {
	if header == "" {
		return def, nil
	}
	d, err := time.ParseDuration(header)
	if err != nil {
		secs, ferr := strconv.ParseFloat(header, 64)
		if ferr != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return 0, errors.New("the Request-Timeout header must be a number of seconds or a duration such as 250ms")
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d <= 0 {
		return 0, errors.New("the Request-Timeout header must be positive")
	}
	if maxTimeout > 0 && d > maxTimeout {
		d = maxTimeout
	}
	return d, nil
}

// securityHeaders sets the headers every answer carries: no content sniffing, no
// referrer, no framing (the playground sets its own policy), and HSTS behind TLS.
func securityHeaders(tls bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("X-Frame-Options", "DENY")
			if tls {
				h.Set("Strict-Transport-Security", "max-age=31536000")
			}
			next.ServeHTTP(w, r)
		})
	}
}

// closeAfterChunked closes the client's connection after answering a request with
// a chunked body. RFC 9112, section 6.1, says a server must close the connection
// after a request that carried both Transfer-Encoding and Content-Length: what a
// proxy in front took for its end may not be this server's, and the bytes after it
// could be read as a request of someone else's (request smuggling). net/http takes
// the chunked framing and drops the Content-Length before a handler sees it, so
// every chunked request's connection is closed; browsers and GraphQL clients send
// bodies with a length, and a chunked upload costs a new connection afterwards.
//
// The header is set when the final answer's head is written: a proxied interim
// answer (103) takes the headers set before it with it (httputil.ReverseProxy
// clears them after each).
func closeAfterChunked(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 && len(r.TransferEncoding) > 0 {
			w = &closingWriter{ResponseWriter: w}
		}
		next.ServeHTTP(w, r)
	})
}

// closingWriter sets Connection: close on the final answer's head.
type closingWriter struct {
	http.ResponseWriter
	final bool
}

func (w *closingWriter) WriteHeader(status int) {
	if !w.final && status >= 200 {
		w.final = true
		w.Header().Set("Connection", "close")
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *closingWriter) Write(b []byte) (int, error) {
	if !w.final {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes, upgrades).
func (w *closingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recoverer turns a panic in any handler into a logged 500 with a coded error, never
// a stack in the response.
func recoverer(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.Error("panic in handler", "panic", v, "path", r.URL.Path, "stack", string(debug.Stack()))
					writeJSONError(w, http.StatusInternalServerError, "INTERNAL_SERVER_ERROR", "internal error")
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// readyz answers whether this gateway should get traffic: 200 while it is not
// draining and every pool marked required (pools.NAME.required, without which no
// answer can be given) has a healthy endpoint, 503 otherwise. Other pools are shown
// with their healthy endpoints but do not count: one dead side service must not
// take every replica out of its load balancer, since the rest of each answer
// still arrives. Endpoint addresses are not shown: this route is public.
func (g *Gateway) readyz(w http.ResponseWriter, _ *http.Request) {
	type pool struct {
		Ready     bool `json:"ready"`
		Required  bool `json:"required,omitempty"`
		Healthy   int  `json:"healthy"`
		Endpoints int  `json:"endpoints"`
	}
	out := struct {
		Ready    bool            `json:"ready"`
		Draining bool            `json:"draining,omitempty"`
		Pools    map[string]pool `json:"pools"`
	}{Ready: !g.shared.draining.Load(), Draining: g.shared.draining.Load(), Pools: map[string]pool{}}
	for _, p := range g.pools.list {
		ps := pool{Ready: p.Ready(), Required: g.cfg.Pools[p.Name()].Required}
		for _, e := range p.Status() {
			ps.Endpoints++
			if e.Healthy {
				ps.Healthy++
			}
		}
		out.Pools[p.Name()] = ps
		if ps.Required {
			out.Ready = out.Ready && ps.Ready
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !out.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(out)
}

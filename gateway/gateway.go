// Package gateway assembles one running gateway from a validated configuration: the
// upstream pools, the typed clients over them, the executable schema with its
// resolvers, and the HTTP router in front (GraphQL, playground, health and readiness).
// It holds no logic of its own beyond wiring; cmd/gateway owns flags, signals and the
// listener.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/go-chi/chi/v5"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/connectors"
	"github.com/switchyard/switchyard/l7"
	"github.com/switchyard/switchyard/lb"
	"github.com/switchyard/switchyard/metrics"
	"github.com/switchyard/switchyard/playground"
	"github.com/switchyard/switchyard/policies"
	"github.com/switchyard/switchyard/resolvers"
	"github.com/switchyard/switchyard/rest"
	"github.com/switchyard/switchyard/schema"
	"github.com/switchyard/switchyard/tracing"
	"github.com/switchyard/switchyard/upstreams"
)

// Gateway is one assembled gateway. Create it with New, start its background work
// with Run, and serve its Handler.
type Gateway struct {
	cfg     *config.Config
	log     *slog.Logger
	pools   []*lb.Pool // sorted by name
	clients *upstreams.Clients
	handler http.Handler

	// affinity says whether a pool balances by what the request carries (ring
	// hash, sticky sessions), so that requests need an lb.Affinity.
	affinity bool
	// fallbacks answer failed fields with configured values, by schema version;
	// empty when none are configured.
	fallbacks map[string]*resolvers.Fallbacks
	// metrics are nil when disabled; shared with the gateways that reloads make.
	metrics *metrics.Metrics
	// apq holds the automatic persisted queries of every version, by hash.
	apq graphql.Cache[string]
	// auth identifies callers (API keys, bearer tokens) on the GraphQL and REST
	// routes; routeRules and opRules are what routes and operations require.
	auth       *policies.Authenticator
	routeRules map[string]policies.Requirement
	opRules    policies.OperationRules
	// trusted, when set, are the only documents clients may run.
	trusted *policies.TrustedDocuments
	// limits are the rate limits of the routes; redis, when set, is where they
	// are shared with other instances (kept across reloads that do not change it).
	limits *policies.RateLimits
	redis  *policies.SharedLimits
	// clientIPs finds a request's client address behind the trusted proxies.
	clientIPs *policies.ClientIPs
	// l7 are the L7 routes; transports, their proxies' connections to each pool.
	l7         *l7.Router
	transports map[*lb.Pool]*http.Transport
	// poolHeaders are what the pools' configurations add to the resolvers' calls.
	poolHeaders map[string]poolHeaders
	// declared, when the configuration names a declared schema, is what every
	// GraphQL route serves in place of the built-in demo.
	declared *connectors.Executable
	// rest are the composed REST endpoints, and openapi their description.
	rest    []*rest.Endpoint
	openapi []byte
	// shared is what the gateways of one process share across reloads.
	shared *shared
	admin  http.Handler
}

// shared is the state that outlives a reload.
type shared struct {
	draining atomic.Bool             // shutting down: /readyz says no
	current  atomic.Pointer[Gateway] // the gateway serving now, for the pool metrics
	tracing  *tracing.Provider
	tracer   trace.Tracer
}

// Drain makes /readyz answer 503 from now on, so that load balancers stop sending
// requests before the listener closes. Requests are still served.
func (g *Gateway) Drain() { g.shared.draining.Store(true) }

// New builds a gateway from cfg, which must have its defaults set and be valid (as
// config.Load returns it). New starts no goroutine.
func New(cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	return build(cfg, log, nil)
}

// Rebuild builds the gateway of a new configuration to replace prev, which keeps
// serving until the caller swaps them. A pool whose configuration did not change is
// prev's own, with its health, ejections and breakers; a changed pool starts with
// the health and latency of the endpoints it keeps. Metrics carry on.
func Rebuild(prev *Gateway, cfg *config.Config) (*Gateway, error) {
	return build(cfg, prev.log, prev)
}

// build makes a gateway from cfg, one component after another. On a reload prev
// is the gateway it replaces: each component is kept from prev when its
// configuration did not change (pools, persisted queries, shared Redis state,
// metrics, tracing) or made anew and handed what prev learnt (health, buckets,
// keys). If the build fails, what it made is closed and prev is left as it was.
func build(cfg *config.Config, log *slog.Logger, prev *Gateway) (_ *Gateway, err error) {
	g := &Gateway{cfg: cfg, log: log, shared: &shared{}}
	var made closers
	defer func() {
		if err != nil {
			made.close()
		}
	}()
	for _, step := range []func(prev *Gateway, made *closers) error{
		g.buildObservability,
		g.buildPersistedQueries,
		g.buildPools,
		g.buildDeclared,
		g.buildClients,
		g.buildFallbacks,
		g.buildAuth,
		g.buildREST,
		g.buildLimits,
		g.buildRouter,
	} {
		if err := step(prev, &made); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// closers close what one build made, newest first, if the build fails.
type closers []func()

func (m *closers) add(close func()) { *m = append(*m, close) }

func (m closers) close() {
	for i := len(m) - 1; i >= 0; i-- {
		m[i]()
	}
}

// buildObservability takes metrics and tracing from prev, or makes them on the
// first build: both live as long as the process.
func (g *Gateway) buildObservability(prev *Gateway, _ *closers) error {
	cfg := g.cfg
	switch {
	case prev != nil:
		g.shared = prev.shared
		if *cfg.Metrics.Enabled {
			g.metrics = prev.metrics
		}
		if g.metrics == nil && *cfg.Metrics.Enabled {
			return errors.New("metrics: turning them on needs a restart")
		}
	case *cfg.Metrics.Enabled:
		g.metrics = metrics.New()
	}
	g.shared.current.CompareAndSwap(nil, g)
	if prev != nil {
		return nil
	}
	tp, err := tracing.New(tracing.Options{Enabled: cfg.Tracing.Enabled, Endpoint: cfg.Tracing.Endpoint,
		Sample: *cfg.Tracing.Sample, ServiceName: cfg.Tracing.ServiceName})
	if err != nil {
		return err
	}
	g.shared.tracing = tp
	g.shared.tracer = tp.Tracer("github.com/switchyard/switchyard")
	return nil
}

// buildPersistedQueries keeps prev's cache of automatic persisted queries when its
// configuration is the same (they outlive a reload), else makes it: in Redis,
// shared with the other instances, or in the process.
func (g *Gateway) buildPersistedQueries(prev *Gateway, made *closers) error {
	switch a := g.cfg.GraphQL.APQ; {
	case prev != nil && reflect.DeepEqual(prev.cfg.GraphQL.APQ, a):
		g.apq = prev.apq
	case a.Redis != nil:
		shared, err := policies.NewSharedAPQ(policies.APQOptions{Redis: *a.Redis, TTL: a.TTL.Duration, Size: a.CacheSize,
			Log: g.log.With("component", "apq")})
		if err != nil {
			return fmt.Errorf("graphql.apq.redis.url: %w", err)
		}
		g.apq = shared
		made.add(func() { _ = shared.Close() })
	default:
		g.apq = lru.New[string](max(1, a.CacheSize))
	}
	return nil
}

// buildFallbacks checks the configured fallbacks and required fields against each
// version's schema: against the current one strictly, the others skipping the
// fields they lack.
func (g *Gateway) buildFallbacks(*Gateway, *closers) error {
	gc := g.cfg.GraphQL
	if len(gc.Fallbacks) == 0 && len(gc.RequiredFields) == 0 {
		return nil
	}
	g.fallbacks = map[string]*resolvers.Fallbacks{}
	for _, v := range g.versions() {
		sdl := g.executableSchema(v).Schema()
		fb, err := resolvers.NewFallbacks(sdl, gc.Fallbacks, gc.RequiredFields)
		if err != nil && v == schema.Current {
			return fmt.Errorf("graphql.fallbacks or graphql.required_fields: %w", err)
		}
		if err != nil {
			fb, _ = resolvers.NewFallbacks(sdl, onlyIn(sdl, gc.Fallbacks), onlyFieldsIn(sdl, gc.RequiredFields))
		}
		g.fallbacks[v] = &fb
	}
	return nil
}

// buildREST loads the composed REST endpoints against the versions' schemas, the
// trusted documents (with the endpoints' own operations) and the OpenAPI document.
func (g *Gateway) buildREST(*Gateway, *closers) error {
	schemas := map[string]*ast.Schema{}
	for _, v := range g.versions() {
		schemas[v] = g.executableSchema(v).Schema()
	}
	var eps []*rest.Endpoint
	if g.declared == nil { // the built-in demo's stored operations
		var err error
		if eps, err = rest.Load(schema.Rest, schemas); err != nil {
			return fmt.Errorf("composed REST endpoints: %w", err)
		}
	}
	g.rest = eps
	var err error
	if f := g.cfg.GraphQL.TrustedDocuments; f != "" {
		if g.trusted, err = policies.LoadTrustedDocuments(f); err != nil {
			return fmt.Errorf("graphql.trusted_documents: %s: %w", f, err)
		}
		for _, ep := range eps {
			g.trusted.Add(ep.Query) // the composed REST endpoints' own operations
		}
	}
	g.openapi, err = rest.OpenAPI("Switchyard composed REST endpoints", "2", eps)
	return err
}

// buildRouter makes the L7 routes (their proxies keep prev's connections to the
// pools kept) and the handlers of the public and admin listeners.
func (g *Gateway) buildRouter(prev *Gateway, _ *closers) error {
	if prev != nil {
		for _, p := range g.pools {
			if t := prev.transports[p]; t != nil {
				if g.transports == nil {
					g.transports = map[*lb.Pool]*http.Transport{}
				}
				g.transports[p] = t
			}
		}
	}
	g.upstreamHeaders()
	var err error
	if g.l7, err = g.l7Routes(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSONError(w, http.StatusNotFound, "NOT_FOUND", "no such route")
	})); err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	g.handler = g.routes()
	g.admin = g.adminRoutes()
	return nil
}

func (g *Gateway) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(g.observe, recoverer(g.log), securityHeaders(g.cfg.TLS != nil), closeAfterChunked) // a panic is a logged, counted 500
	// A guarded route authenticates first, so that its requirement and its limit
	// know the caller.
	limited := func(route string, h http.Handler) http.Handler {
		return g.auth.Middleware(g.limits.Middleware(route, h))
	}
	if c := g.cfg.CORS; len(c.AllowedOrigins) > 0 {
		origins := make([]string, len(c.AllowedOrigins))
		for i, o := range c.AllowedOrigins {
			origins[i] = strings.TrimSuffix(o, "/") // browsers send origins without one
		}
		r.Use(cors.New(cors.Options{
			AllowedOrigins:   origins,
			AllowedMethods:   []string{http.MethodGet, http.MethodPost},
			AllowedHeaders:   c.AllowedHeaders,
			ExposedHeaders:   []string{"X-Request-Id", "Deprecation", "Sunset", "Switchyard-Errors"},
			AllowCredentials: c.AllowCredentials,
			MaxAge:           int(c.MaxAge.Seconds()),
		}).Handler)
	}
	handlers := map[string]http.Handler{}
	for _, v := range g.versions() {
		// The GraphQL route rules hold however a version is reached (/graphql with
		// or without API-Version, /vN/graphql, a composed REST endpoint): the rule
		// of /graphql for every version, that of /vN/graphql for version N.
		handlers[v] = g.graphqlHandler(v)
		for _, route := range []string{"/" + v + "/graphql", "/graphql"} {
			if r, ok := g.routeRules[route]; ok {
				handlers[v] = policies.Require(r, handlers[v])
			}
		}
		h := limited("/"+v+"/graphql", handlers[v])
		r.Get("/"+v+"/graphql", h.ServeHTTP)
		r.Post("/"+v+"/graphql", h.ServeHTTP)
	}
	byHeader := limited("/graphql", byVersionHeader(handlers, g.versions()))
	r.Get("/graphql", byHeader.ServeHTTP)
	r.Post("/graphql", byHeader.ServeHTTP)
	for _, ep := range g.rest {
		h := ep.Handler(handlers[ep.Version], chi.URLParam)
		if rule, ok := g.routeRules[ep.Path]; ok {
			h = policies.Require(rule, h)
		}
		r.Method(ep.Method, ep.Path, policies.RESTErrors(limited(ep.Path, h)))
	}
	r.Get("/rest/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(g.openapi)
	})
	if *g.cfg.GraphQL.Playground {
		eps := []playground.Endpoint{{Name: schema.Current + " (current)", URL: "/graphql"}}
		for _, v := range slices.Backward(g.versions()) {
			if v != schema.Current {
				eps = append(eps, playground.Endpoint{Name: v, URL: "/" + v + "/graphql"})
			}
		}
		pg := playground.Handler("Switchyard", eps...)
		r.Handle("/playground", pg)
		r.Handle("/playground/*", pg)
	}
	r.Get("/healthz", healthz)
	r.Get("/readyz", g.readyz)
	if g.metrics != nil && g.cfg.Admin.Listen == "" {
		r.Method(http.MethodGet, "/metrics", g.metrics.Handler())
	}
	r.NotFound(g.l7.ServeHTTP) // the L7 routes, in order, then 404
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		writeJSONError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "method not allowed on this route")
	})
	return r
}

// MetricsHandler serves the metrics, or is nil when they are disabled. The gateway
// serves it at /metrics on the public listener unless there is an admin listener.
func (g *Gateway) MetricsHandler() http.Handler {
	if g.metrics == nil {
		return nil
	}
	return g.metrics.Handler()
}

// Handler returns the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler { return g.handler }

// onlyIn keeps the fallbacks whose "Type.field" the schema has.
func onlyIn(schema *ast.Schema, values map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range values {
		if resolvers.FieldNamed(schema, k) != nil {
			out[k] = v
		}
	}
	return out
}

func onlyFieldsIn(schema *ast.Schema, names []string) []string {
	var out []string
	for _, n := range names {
		if resolvers.FieldNamed(schema, n) != nil {
			out = append(out, n)
		}
	}
	return out
}

// Config returns the configuration the gateway was built from.
func (g *Gateway) Config() *config.Config { return g.cfg }

// Run runs the pools' health checks until ctx ends, then returns once they stopped.
func (g *Gateway) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range g.pools {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Run(ctx)
		}()
	}
	wg.Wait()
}

// Close releases the pools' idle connections and flushes the spans not yet
// exported.
func (g *Gateway) Close() {
	for _, p := range g.pools {
		p.Close()
	}
	if g.redis != nil {
		_ = g.redis.Close()
	}
	if c, ok := g.apq.(io.Closer); ok {
		_ = c.Close()
	}
	for _, t := range g.transports {
		t.CloseIdleConnections()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = g.shared.tracing.Shutdown(ctx)
}

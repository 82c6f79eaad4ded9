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

func build(cfg *config.Config, log *slog.Logger, prev *Gateway) (_ *Gateway, err error) {
	g := &Gateway{cfg: cfg, log: log, shared: &shared{}}
	var made []*lb.Pool // the pools this build made, not those it kept from prev
	var madeRedis *policies.SharedLimits
	var madeAPQ *policies.SharedAPQ
	defer func() {
		if err != nil {
			if madeAPQ != nil {
				_ = madeAPQ.Close()
			}
			for _, p := range made { // their health checks stop; prev keeps its own
				p.Close()
			}
			if madeRedis != nil {
				_ = madeRedis.Close()
			}
		}
	}()
	switch {
	case prev != nil:
		g.shared = prev.shared
		if *cfg.Metrics.Enabled {
			g.metrics = prev.metrics
		}
		if g.metrics == nil && *cfg.Metrics.Enabled {
			return nil, errors.New("metrics: turning them on needs a restart")
		}
	case *cfg.Metrics.Enabled:
		g.metrics = metrics.New()
	}
	g.shared.current.CompareAndSwap(nil, g)
	switch a := cfg.GraphQL.APQ; {
	case prev != nil && reflect.DeepEqual(prev.cfg.GraphQL.APQ, a):
		g.apq = prev.apq // persisted queries outlive a reload
	case a.Redis != nil:
		shared, err := policies.NewSharedAPQ(policies.APQOptions{URL: a.Redis.URL, Prefix: a.Redis.KeyPrefix, TTL: a.TTL.Duration,
			Timeout: a.Redis.Timeout.Duration, Size: a.CacheSize, Log: g.log.With("component", "apq")})
		if err != nil {
			return nil, fmt.Errorf("graphql.apq.redis.url: %w", err)
		}
		g.apq, madeAPQ = shared, shared
	default:
		g.apq = lru.New[string](max(1, a.CacheSize))
	}
	if prev == nil {
		tp, err := tracing.New(tracing.Options{Enabled: cfg.Tracing.Enabled, Endpoint: cfg.Tracing.Endpoint,
			Sample: *cfg.Tracing.Sample, ServiceName: cfg.Tracing.ServiceName})
		if err != nil {
			return nil, err
		}
		g.shared.tracing = tp
		g.shared.tracer = tp.Tracer("github.com/switchyard/switchyard")
	}
	byName := map[string]*lb.Pool{}
	names := make([]string, 0, len(cfg.Pools))
	for name := range cfg.Pools {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		pc := cfg.Pools[name]
		var onResult func(string, int, time.Duration)
		if m := g.metrics; m != nil {
			onResult = func(endpoint string, status int, d time.Duration) {
				m.UpstreamRequest(name, endpointLabel(endpoint), status, d)
			}
		}
		if prev != nil {
			// Unchanged: the same configuration, and the same contents in the TLS
			// files it names (new certificates need new connections).
			if old := prev.pool(name); old != nil && reflect.DeepEqual(prev.cfg.Pools[name], pc) && !old.TLSFilesChanged() {
				byName[name] = old
				g.pools = append(g.pools, old)
				if pc.Policy == lb.RingHash || pc.Sticky.Cookie != "" {
					g.affinity = true
				}
				continue
			}
		}
		opts := pc.Options
		opts.OnResult = onResult
		pool, err := lb.New(name, opts, log)
		if err != nil {
			return nil, fmt.Errorf("building pool %s: %w", name, err)
		}
		made = append(made, pool)
		if prev != nil {
			if old := prev.pool(name); old != nil {
				pool.Adopt(old)
			}
		}
		byName[name] = pool
		if pc.Policy == lb.RingHash || pc.Sticky.Cookie != "" {
			g.affinity = true
		}
		g.pools = append(g.pools, pool)
	}
	for _, name := range config.RequiredPools {
		if byName[name] == nil {
			return nil, fmt.Errorf("pool %s is not configured", name)
		}
	}
	g.clients = &upstreams.Clients{
		Users:   upstreams.NewUsers("users", byName["users"]),
		Orders:  upstreams.NewOrders("orders", byName["orders"]),
		Catalog: upstreams.NewCatalog("catalog", byName["catalog"]),
		Reviews: upstreams.NewReviews("reviews", byName["reviews"]),
	}
	for _, c := range []interface{ SetLogger(*slog.Logger) }{g.clients.Users, g.clients.Orders, g.clients.Catalog, g.clients.Reviews} {
		c.SetLogger(log)
	}
	if g.shared.tracing.Recording() {
		for _, c := range []interface{ SetTracer(trace.Tracer) }{g.clients.Users, g.clients.Orders, g.clients.Catalog, g.clients.Reviews} {
			c.SetTracer(g.shared.tracer)
		}
	}
	if g.metrics != nil {
		g.clients.OnBatch = g.metrics.LoaderBatch
		if prev == nil {
			sh := g.shared
			err := g.metrics.Register(metrics.PoolCollector(func() []metrics.PoolState {
				return sh.current.Load().poolStates()
			}))
			if err != nil {
				return nil, fmt.Errorf("registering metrics: %w", err)
			}
		}
	}
	if len(cfg.GraphQL.Fallbacks) > 0 || len(cfg.GraphQL.RequiredFields) > 0 {
		// Checked against the current schema; a version without a field skips it.
		g.fallbacks = map[string]*resolvers.Fallbacks{}
		for _, v := range versions {
			schema := g.executableSchema(v).Schema()
			fb, err := resolvers.NewFallbacks(schema, cfg.GraphQL.Fallbacks, cfg.GraphQL.RequiredFields)
			if err != nil && v == currentVersion {
				return nil, fmt.Errorf("graphql.fallbacks or graphql.required_fields: %w", err)
			}
			if err != nil {
				fb, _ = resolvers.NewFallbacks(schema, onlyIn(schema, cfg.GraphQL.Fallbacks), onlyFieldsIn(schema, cfg.GraphQL.RequiredFields))
			}
			g.fallbacks[v] = &fb
		}
	}
	issuers := slices.Clone(cfg.Auth.OIDC)
	for i := range issuers {
		issuers[i].Log = g.log.With("component", "oidc")
	}
	auth, err := policies.NewAuthenticator(policies.AuthOptions{
		Required: cfg.Auth.Required, APIKeyHeader: cfg.Auth.APIKeyHeader, APIKeys: cfg.Auth.APIKeys, Issuers: issuers,
	})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	g.auth = auth
	if prev != nil {
		g.auth.Adopt(prev.auth)
	}
	if g.metrics != nil {
		g.auth.OnDecision = g.metrics.AuthDecision
	}
	if g.clientIPs, err = policies.NewClientIPs(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted_proxies: %w", err)
	}
	schemas := map[string]*ast.Schema{}
	for _, v := range versions {
		schemas[v] = g.executableSchema(v).Schema()
	}
	eps, err := rest.Load(schema.Rest, schemas)
	if err != nil {
		return nil, fmt.Errorf("composed REST endpoints: %w", err)
	}
	g.rest = eps
	if f := cfg.GraphQL.TrustedDocuments; f != "" {
		if g.trusted, err = policies.LoadTrustedDocuments(f); err != nil {
			return nil, fmt.Errorf("graphql.trusted_documents: %s: %w", f, err)
		}
		for _, ep := range eps {
			g.trusted.Add(ep.Query) // the composed REST endpoints' own operations
		}
	}
	if g.openapi, err = rest.OpenAPI("Switchyard composed REST endpoints", "2", eps); err != nil {
		return nil, err
	}
	if g.limits, err = g.rateLimits(); err != nil {
		return nil, err
	}
	if err := g.authorization(); err != nil {
		return nil, err
	}
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
	if prev != nil {
		g.limits.Adopt(prev.limits)
	}
	if rc := cfg.RateLimits.Redis; rc != nil {
		if prev != nil && prev.redis != nil && reflect.DeepEqual(*prev.cfg.RateLimits.Redis, *rc) {
			g.redis = prev.redis
		} else {
			if g.redis, err = policies.NewSharedLimits(policies.SharedOptions{
				URL: rc.URL, Prefix: rc.KeyPrefix, Timeout: rc.Timeout.Duration, Log: g.log.With("component", "ratelimit"),
			}); err != nil {
				return nil, fmt.Errorf("rate_limits.redis.url: %w", err)
			}
			madeRedis = g.redis
			if g.metrics != nil {
				g.redis.OnState, g.redis.OnFallback = g.metrics.SharedLimitsUp, g.metrics.SharedLimitsFallback
				g.metrics.SharedLimitsUp(true)
			}
		}
		g.limits.Share(g.redis)
	}
	// After the limits have adopted prev's buckets: the routes take theirs.
	g.upstreamHeaders()
	if g.l7, err = g.l7Routes(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSONError(w, http.StatusNotFound, "NOT_FOUND", "no such route")
	})); err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	g.handler = g.routes()
	g.admin = g.adminRoutes()
	return g, nil
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
	for _, v := range versions {
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
	byHeader := limited("/graphql", byVersionHeader(handlers))
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
		pg := playground.Handler("Switchyard", playground.Endpoint{Name: "v2 (current)", URL: "/graphql"},
			playground.Endpoint{Name: "v1", URL: "/v1/graphql"})
		r.Handle("/playground", pg)
		r.Handle("/playground/*", pg)
	}
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
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

// poolStates is the pools' state for the metrics, at scrape time.
func (g *Gateway) poolStates() []metrics.PoolState {
	out := make([]metrics.PoolState, 0, len(g.pools))
	for _, p := range g.pools {
		st := p.Stats()
		ps := metrics.PoolState{Name: p.Name(), Breaker: st.Breaker, Retries: st.Retries, RetriesRefused: st.RetriesRefused,
			Discards: make(map[string]int64, len(st.Discards))}
		for i, n := range st.Discards {
			if i > 0 { // DiscardReasons[0] is "none"
				ps.Discards[lb.DiscardReasons[i]] = n
			}
		}
		for _, e := range p.Status() {
			switch {
			case !e.Healthy:
				ps.Unhealthy++
			case e.Ejected:
				ps.Ejected++
			default:
				ps.Healthy++
			}
		}
		out = append(out, ps)
	}
	return out
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

// endpointLabel is an endpoint's URL without its scheme, as metrics name it.
func endpointLabel(url string) string {
	if _, rest, ok := strings.Cut(url, "://"); ok {
		return rest
	}
	return url
}

// Pools returns the gateway's pools, sorted by name.
func (g *Gateway) Pools() []*lb.Pool { return g.pools }

func (g *Gateway) pool(name string) *lb.Pool {
	for _, p := range g.pools {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// Ready reports whether every pool has a healthy endpoint.
func (g *Gateway) Ready() bool {
	for _, p := range g.pools {
		if !p.Ready() {
			return false
		}
	}
	return true
}

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

// guardedRoutes are the patterns of the routes that authenticate and limit their
// callers: the GraphQL endpoints and the composed REST endpoints.
func (g *Gateway) guardedRoutes() []string {
	routes := []string{"/graphql"}
	for _, v := range versions {
		routes = append(routes, "/"+v+"/graphql")
	}
	for _, ep := range g.rest {
		routes = append(routes, ep.Path)
	}
	return routes
}

// authorization builds the configured requirements of routes and operations. A
// route rule must name a guarded route; an operation rule, an operation whose text
// the gateway fixes.
func (g *Gateway) authorization() error {
	c := g.cfg.Auth
	routes := g.guardedRoutes()
	g.routeRules = map[string]policies.Requirement{}
	for route, r := range c.Routes {
		if !slices.Contains(routes, route) {
			return fmt.Errorf("auth.routes: no route %q (the guarded routes are %s)", route, strings.Join(routes, ", "))
		}
		g.routeRules[route] = r
	}
	if len(c.Operations) == 0 {
		return nil
	}
	if g.trusted == nil {
		return errors.New("auth.operations needs graphql.trusted_documents: without it a client may give any operation the name a rule protects (for a composed REST endpoint, put the rule on its route in auth.routes)")
	}
	fixed := g.trusted.OperationNames()
	for _, ep := range g.rest {
		fixed = append(fixed, ep.Name)
	}
	g.opRules = policies.OperationRules{}
	for name, r := range c.Operations {
		if !slices.Contains(fixed, name) {
			return fmt.Errorf("auth.operations: %q is not the name of a composed REST endpoint's operation or of a trusted document's: a client could name any operation so", name)
		}
		g.opRules[name] = r
	}
	return nil
}

// rateLimits builds the configured rate limits; a per-route limit must name a route
// that is served.
func (g *Gateway) rateLimits() (*policies.RateLimits, error) {
	c := g.cfg.RateLimits
	var tiers []policies.Rate
	for _, k := range g.cfg.Auth.APIKeys {
		if k.RateLimit != nil {
			tiers = append(tiers, *k.RateLimit)
		}
	}
	routes := g.guardedRoutes()
	for _, rc := range g.cfg.Routes {
		routes = append(routes, "route:"+rc.Name) // the L7 routes, by name
	}
	perRoute := map[string]policies.Rate{}
	for route, r := range c.PerRoute {
		if !slices.Contains(routes, route) {
			return nil, fmt.Errorf("rate_limits.per_route: no route %q (the limited routes are %s)", route, strings.Join(routes, ", "))
		}
		perRoute[route] = r
	}
	var onLimited func(string, string)
	if g.metrics != nil {
		onLimited = g.metrics.RateLimited
	}
	rl := policies.NewRateLimits(c.PerCaller, tiers, perRoute, c.IdleTimeout.Duration, g.clientIPs.Of, onLimited)
	if c.CostPerCaller != nil {
		rl.LimitCost(*c.CostPerCaller, c.IdleTimeout.Duration)
	}
	return rl, nil
}

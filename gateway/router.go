package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/rs/cors"
	"golang.org/x/time/rate"

	"github.com/switchyard/switchyard/lb"
	"github.com/switchyard/switchyard/playground"
	"github.com/switchyard/switchyard/policies"
	"github.com/switchyard/switchyard/schema"
)

// router is what serves the gateway's listeners: the routes of the public one
// (GraphQL, composed REST, playground, health, then the L7 routes) and of the
// admin one, with the HTTP transports of the L7 proxies to each pool.
type router struct {
	handler, admin http.Handler
	// transports are the L7 proxies' connections to each pool, kept across
	// reloads that keep the pool.
	transports map[*lb.Pool]*http.Transport
}

// newRouter makes the routes; the L7 proxies keep prev's connections to the pools
// the gateway keeps.
func newRouter(g *Gateway, prev *router) (*router, error) {
	rt := &router{transports: map[*lb.Pool]*http.Transport{}}
	if prev != nil {
		for _, p := range g.pools.list {
			if t := prev.transports[p]; t != nil {
				rt.transports[p] = t
			}
		}
	}
	l7, err := g.l7Routes(rt, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSONError(w, http.StatusNotFound, "NOT_FOUND", "no such route")
	}))
	if err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	rt.handler = g.routes(l7)
	rt.admin = g.adminRoutes()
	return rt, nil
}

// release closes the idle connections of the transports keep does not use;
// requests still on them finish.
func (rt *router) release(keep component) {
	next, _ := keep.(*router)
	for p, t := range rt.transports {
		if next == nil || next.transports[p] != t {
			t.CloseIdleConnections()
		}
	}
}

// routes are the public listener's routes; l7 serves the requests none of them takes.
func (g *Gateway) routes(l7 http.Handler) http.Handler {
	r := chi.NewRouter()
	r.Use(g.observe, recoverer(g.log), securityHeaders(g.cfg.TLS != nil), closeAfterChunked) // a panic is a logged, counted 500
	// A guarded route authenticates first, so that its requirement and its limit
	// know the caller.
	limited := func(route string, h http.Handler) http.Handler {
		return g.auth.authn.Middleware(g.limits.rates.Middleware(route, h))
	}
	if c := g.cfg.CORS; len(c.AllowedOrigins) > 0 {
		origins := make([]string, len(c.AllowedOrigins))
		for i, o := range c.AllowedOrigins {
			origins[i] = strings.TrimSuffix(o, "/") // browsers send origins without one
		}
		r.Use(g.logRefusedPreflights(c.AllowedHeaders))
		r.Use(cors.New(cors.Options{
			AllowedOrigins: origins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost},
			AllowedHeaders: c.AllowedHeaders,
			// What a browser's script may read of an answer: the request's id, the
			// versions' deprecation, the rate limits' state and when to retry.
			ExposedHeaders: []string{"X-Request-Id", "Deprecation", "Sunset", "Switchyard-Errors",
				"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"},
			AllowCredentials: c.AllowCredentials,
			MaxAge:           int(c.MaxAge.Seconds()),
		}).Handler)
	}
	handlers := map[string]http.Handler{}
	for _, v := range g.versions.names {
		// The GraphQL route rules hold however a version is reached (/graphql with
		// or without API-Version, /vN/graphql, a composed REST endpoint): the rule
		// of /graphql for every version, that of /vN/graphql for version N.
		handlers[v] = g.graphqlHandler(v)
		for _, route := range []string{"/" + v + "/graphql", "/graphql"} {
			if r, ok := g.auth.routeRules[route]; ok {
				handlers[v] = policies.Require(r, handlers[v])
			}
		}
		h := limited("/"+v+"/graphql", handlers[v])
		r.Get("/"+v+"/graphql", h.ServeHTTP)
		r.Post("/"+v+"/graphql", h.ServeHTTP)
	}
	byHeader := limited("/graphql", byVersionHeader(handlers, g.versions.names))
	r.Get("/graphql", byHeader.ServeHTTP)
	r.Post("/graphql", byHeader.ServeHTTP)
	for _, ep := range g.versions.rest {
		h := ep.Handler(handlers[ep.Version], chi.URLParam)
		if rule, ok := g.auth.routeRules[ep.Path]; ok {
			h = policies.Require(rule, h)
		}
		r.Method(ep.Method, ep.Path, policies.RESTErrors(limited(ep.Path, h)))
	}
	r.Get("/rest/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(g.versions.openapi)
	})
	if *g.cfg.GraphQL.Playground {
		eps := []playground.Endpoint{{Name: schema.Current + " (current)", URL: "/graphql"}}
		for _, v := range slices.Backward(g.versions.names) {
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
	if g.obs.metrics != nil && g.cfg.Admin.Listen == "" {
		r.Method(http.MethodGet, "/metrics", g.obs.metrics.Handler())
	}
	r.NotFound(l7.ServeHTTP) // the L7 routes, in order, then 404
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) {
		writeJSONError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "method not allowed on this route")
	})
	return r
}

// logRefusedPreflights logs, at most once a minute, a CORS preflight asking for a
// header that cors.allowed_headers does not allow: the browser then sends nothing,
// and without the log the refusal is silent.
func (g *Gateway) logRefusedPreflights(allowed []string) func(http.Handler) http.Handler {
	ok := make(map[string]bool, len(allowed))
	for _, h := range allowed {
		ok[http.CanonicalHeaderKey(h)] = true
	}
	var sometimes rate.Sometimes
	sometimes.Interval = time.Minute
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodOptions && r.Header.Get("Origin") != "" {
				var refused []string
				for _, list := range r.Header.Values("Access-Control-Request-Headers") {
					for h := range strings.SplitSeq(list, ",") {
						if h = http.CanonicalHeaderKey(strings.TrimSpace(h)); h != "" && !ok[h] {
							refused = append(refused, h)
						}
					}
				}
				if len(refused) > 0 {
					sometimes.Do(func() {
						g.log.Warn("CORS preflight refused: a header is not in cors.allowed_headers",
							"headers", refused, "origin", r.Header.Get("Origin"), "path", r.URL.Path)
					})
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

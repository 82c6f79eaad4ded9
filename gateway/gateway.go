// Package gateway assembles one running gateway from a validated configuration: the
// upstream pools, the typed clients over them, the executable schema with its
// resolvers, and the HTTP router in front (GraphQL, playground, health and readiness).
// Each of these is a component made from its configuration and the instance it
// replaces, in a file named for it; Runtime rebuilds them on a reload and retires
// what the new gateway no longer uses. cmd/gateway owns flags, signals, loading the
// configuration and the listeners.
package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/switchyard/switchyard/config"
)

// Gateway is one assembled gateway. Create it with New, start its background work
// with Run, and serve its Handler.
type Gateway struct {
	cfg *config.Config
	log *slog.Logger
	// shared is what the gateways of one process share across reloads.
	shared *shared

	// The components, in the order build makes them (see components).
	obs      *observability
	apq      *persistedQueries
	pools    *poolSet
	versions *versionSet
	auth     *auth
	limits   *limits
	router   *router
}

// shared is the state that outlives a reload.
type shared struct {
	draining atomic.Bool             // shutting down: /readyz says no
	current  atomic.Pointer[Gateway] // the gateway serving now, for the pool metrics
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
// the health and latency of the endpoints it keeps. Metrics carry on. Once the new
// gateway serves, prev.Retire(new) releases what only prev used.
func Rebuild(prev *Gateway, cfg *config.Config) (*Gateway, error) {
	return build(cfg, prev.log, prev)
}

// A component is one part of a gateway with a life cycle. It is made by a
// function newX(g, prev) from g's configuration, the components made before it in
// g, and prev, the same component of the gateway g replaces (nil on the first
// build): it keeps prev, or the parts of prev, whose configuration did not change,
// or makes itself anew and adopts what prev learnt.
type component interface {
	// release releases what the component holds and keep does not use. keep is
	// the component's successor once a reload swapped it in, its predecessor when
	// the build that made it failed, or nil when the gateway closes.
	release(keep component)
}

// part is one entry of components: how to make a component into its field.
type part struct {
	make func(g, prev *Gateway) error
	of   func(g *Gateway) component // nil when g is nil or has not made it
}

// partOf makes the entry of the component that field points to and newX makes.
func partOf[C interface {
	comparable
	component
}](field func(*Gateway) *C, newX func(g *Gateway, prev C) (C, error)) part {
	var zero C
	return part{
		make: func(g, prev *Gateway) error {
			var p C
			if prev != nil {
				p = *field(prev)
			}
			c, err := newX(g, p)
			if err != nil {
				return err
			}
			*field(g) = c
			return nil
		},
		of: func(g *Gateway) component {
			if g == nil || *field(g) == zero {
				return nil
			}
			return *field(g)
		},
	}
}

// components are the parts of a gateway in the order they depend on each other.
var components = []part{
	partOf(func(g *Gateway) **observability { return &g.obs }, newObservability),
	partOf(func(g *Gateway) **persistedQueries { return &g.apq }, newPersistedQueries),
	partOf(func(g *Gateway) **poolSet { return &g.pools }, newPools),
	partOf(func(g *Gateway) **versionSet { return &g.versions }, newVersions),
	partOf(func(g *Gateway) **auth { return &g.auth }, newAuth),
	partOf(func(g *Gateway) **limits { return &g.limits }, newLimits),
	partOf(func(g *Gateway) **router { return &g.router }, newRouter),
}

// build makes a gateway from cfg, one component after another. On a reload prev
// is the gateway it replaces, whose components each new one keeps or learns from.
// If the build fails, what it made and prev does not use is released, newest
// first, and prev is left as it was.
func build(cfg *config.Config, log *slog.Logger, prev *Gateway) (*Gateway, error) {
	g := &Gateway{cfg: cfg, log: log, shared: &shared{}}
	if prev != nil {
		g.shared = prev.shared
	}
	for i, c := range components {
		if err := c.make(g, prev); err != nil {
			for _, made := range slices.Backward(components[:i]) {
				made.of(g).release(made.of(prev))
			}
			return nil, err
		}
	}
	g.shared.current.CompareAndSwap(nil, g)
	return g, nil
}

// Retire releases what g holds and next, the gateway that replaced it, does not
// use: pools, Redis clients, caches and connections. Requests still running on g
// finish; its retired pools keep working without their idle connections.
func (g *Gateway) Retire(next *Gateway) {
	for _, c := range components {
		c.of(g).release(c.of(next))
	}
}

// Close releases everything the gateway holds: the pools' idle connections, the
// Redis clients, and the spans not yet exported.
func (g *Gateway) Close() {
	for _, c := range slices.Backward(components) {
		if own := c.of(g); own != nil {
			own.release(nil)
		}
	}
}

// MetricsHandler serves the metrics, or is nil when they are disabled. The gateway
// serves it at /metrics on the public listener unless there is an admin listener.
func (g *Gateway) MetricsHandler() http.Handler {
	if g.obs.metrics == nil {
		return nil
	}
	return g.obs.metrics.Handler()
}

// Handler returns the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler { return g.router.handler }

// Config returns the configuration the gateway was built from.
func (g *Gateway) Config() *config.Config { return g.cfg }

// Run runs the pools' health checks until ctx ends, then returns once they stopped.
func (g *Gateway) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range g.pools.list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Run(ctx)
		}()
	}
	wg.Wait()
}

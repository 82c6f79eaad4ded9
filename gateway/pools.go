package gateway

import (
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/lb"
	"github.com/switchyard/switchyard/metrics"
	"github.com/switchyard/switchyard/upstreams"
)

// buildPools makes the configured pools, in name order. A pool whose configuration
// is unchanged (and whose TLS files still hold the same contents) is kept from prev
// with its connections and health; a changed one is made anew and adopts the old
// one's health, so that a reload does not send traffic to endpoints known down.
func (g *Gateway) buildPools(prev *Gateway, made *closers) error {
	for _, name := range slices.Sorted(maps.Keys(g.cfg.Pools)) {
		pc := g.cfg.Pools[name]
		if pc.Policy == lb.RingHash || pc.Sticky.Cookie != "" {
			g.affinity = true
		}
		var old *lb.Pool
		if prev != nil {
			old = prev.pool(name)
		}
		if old != nil && reflect.DeepEqual(prev.cfg.Pools[name], pc) && !old.TLSFilesChanged() {
			g.pools = append(g.pools, old)
			continue
		}
		opts := pc.Options
		if m := g.metrics; m != nil {
			opts.OnResult = func(endpoint string, status int, d time.Duration) {
				m.UpstreamRequest(name, endpointLabel(endpoint), status, d)
			}
		}
		pool, err := lb.New(name, opts, g.log)
		if err != nil {
			return fmt.Errorf("building pool %s: %w", name, err)
		}
		made.add(pool.Close) // its health checks stop; prev keeps its own
		if old != nil {
			pool.Adopt(old)
		}
		g.pools = append(g.pools, pool)
	}
	for _, name := range config.RequiredPools {
		if len(g.cfg.GraphQL.Schema) > 0 {
			break // a declared schema needs the pools its sources name
		}
		if g.pool(name) == nil {
			return fmt.Errorf("pool %s is not configured", name)
		}
	}
	return nil
}

// buildClients makes the demo schema's typed clients over their pools, and on the
// first build registers the pools' collector with the metrics.
func (g *Gateway) buildClients(prev *Gateway, _ *closers) error {
	g.clients = &upstreams.Clients{
		Users:   upstreams.NewUsers("users", g.pool("users")),
		Orders:  upstreams.NewOrders("orders", g.pool("orders")),
		Catalog: upstreams.NewCatalog("catalog", g.pool("catalog")),
		Reviews: upstreams.NewReviews("reviews", g.pool("reviews")),
	}
	for _, c := range []interface{ SetLogger(*slog.Logger) }{g.clients.Users, g.clients.Orders, g.clients.Catalog, g.clients.Reviews} {
		c.SetLogger(g.log)
	}
	if g.shared.tracing.Recording() {
		for _, c := range []interface{ SetTracer(trace.Tracer) }{g.clients.Users, g.clients.Orders, g.clients.Catalog, g.clients.Reviews} {
			c.SetTracer(g.shared.tracer)
		}
	}
	if g.metrics == nil {
		return nil
	}
	g.clients.OnBatch = g.metrics.LoaderBatch
	if prev != nil {
		return nil
	}
	sh := g.shared
	if err := g.metrics.Register(metrics.PoolCollector(func() []metrics.PoolState {
		return sh.current.Load().poolStates()
	})); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	return nil
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

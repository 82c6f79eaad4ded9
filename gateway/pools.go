package gateway

import (
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/lb"
	"github.com/switchyard/switchyard/metrics"
	"github.com/switchyard/switchyard/policies"
)

// poolSet is the gateway's upstream pools, sorted by name, with what their
// configurations ask of the requests that use them.
type poolSet struct {
	list []*lb.Pool
	cfg  map[string]config.Pool // what the pools were made from, by name
	// affinity says whether a pool balances by what the request carries (ring
	// hash, sticky sessions), so that requests need an lb.Affinity.
	affinity bool
	// headers are what the pools' configurations add to the resolvers' calls, by
	// pool; nil when none do.
	headers map[string]poolHeaders
	// metrics are told of the endpoints a reload retires; nil when disabled.
	metrics *metrics.Metrics
}

// newPools makes the configured pools, in name order. A pool whose configuration
// is unchanged (and whose TLS files still hold the same contents) is kept from prev
// with its connections and health; a changed one is made anew and adopts the old
// one's health, so that a reload does not send traffic to endpoints known down.
func newPools(g *Gateway, prev *poolSet) (*poolSet, error) {
	s := &poolSet{cfg: g.cfg.Pools, metrics: g.obs.metrics, headers: upstreamHeaders(g.cfg.Pools)}
	for _, name := range slices.Sorted(maps.Keys(g.cfg.Pools)) {
		pc := g.cfg.Pools[name]
		if pc.Policy == lb.RingHash || pc.Sticky.Cookie != "" {
			s.affinity = true
		}
		old := prev.named(name)
		if old != nil && reflect.DeepEqual(prev.cfg[name], pc) && !old.TLSFilesChanged() {
			s.list = append(s.list, old)
			continue
		}
		opts := pc.Options
		if m := g.obs.metrics; m != nil {
			opts.OnResult = func(endpoint string, status int, d time.Duration) {
				m.UpstreamRequest(name, endpointLabel(endpoint), status, d)
			}
		}
		pool, err := lb.New(name, opts, g.log)
		if err == nil && old != nil {
			pool.Adopt(old)
		}
		if err != nil {
			s.release(prev) // its health checks stop; prev keeps its own
			return nil, fmt.Errorf("building pool %s: %w", name, err)
		}
		s.list = append(s.list, pool)
	}
	return s, nil
}

// release closes the pools keep does not hold; with metrics, the endpoints that
// keep has no more are forgotten.
func (s *poolSet) release(keep component) {
	next, _ := keep.(*poolSet)
	live := map[*lb.Pool]bool{}
	endpoints := map[string]bool{}
	if next != nil {
		for _, p := range next.list {
			live[p] = true
			for _, e := range p.Status() {
				endpoints[p.Name()+" "+e.URL] = true
			}
		}
	}
	for _, p := range s.list {
		if live[p] {
			continue
		}
		// Requests still running on the old gateway may use it: it keeps working
		// without its probes, and its idle connections close.
		p.Close()
	}
	if next == nil || next.metrics == nil {
		return
	}
	for _, p := range s.list {
		for _, e := range p.Status() {
			if !endpoints[p.Name()+" "+e.URL] {
				next.metrics.ForgetEndpoint(p.Name(), endpointLabel(e.URL))
			}
		}
	}
}

// changes names the pools of s that next keeps, makes anew and retires.
func (s *poolSet) changes(next *poolSet) (kept, started, stopped []string) {
	inNew := map[*lb.Pool]bool{}
	for _, p := range next.list {
		inNew[p] = true
		if s.named(p.Name()) == p {
			kept = append(kept, p.Name())
		} else {
			started = append(started, p.Name())
		}
	}
	for _, p := range s.list {
		if !inNew[p] {
			stopped = append(stopped, p.Name())
		}
	}
	return kept, started, stopped
}

// states is the pools' state for the metrics, at scrape time.
func (s *poolSet) states() []metrics.PoolState {
	out := make([]metrics.PoolState, 0, len(s.list))
	for _, p := range s.list {
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

// named is the pool of that name, or nil; s may be nil.
func (s *poolSet) named(name string) *lb.Pool {
	if s == nil {
		return nil
	}
	for _, p := range s.list {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// Pools returns the gateway's pools, sorted by name.
func (g *Gateway) Pools() []*lb.Pool { return g.pools.list }

// Ready reports whether every pool has a healthy endpoint.
func (g *Gateway) Ready() bool {
	for _, p := range g.pools.list {
		if !p.Ready() {
			return false
		}
	}
	return true
}

type poolHeaders struct {
	fixed  [][2]string // name, value
	claims [][2]string // claim, header name
}

// upstreamHeaders prepares the header fields the pools' configurations add to the
// GraphQL resolvers' calls: the fixed ones once, the forwarded claims per caller.
func upstreamHeaders(pools map[string]config.Pool) map[string]poolHeaders {
	var out map[string]poolHeaders
	for name, pc := range pools {
		if len(pc.RequestHeaders) == 0 && len(pc.ForwardClaims) == 0 {
			continue
		}
		if out == nil {
			out = map[string]poolHeaders{}
		}
		var ph poolHeaders
		for k, v := range pc.RequestHeaders {
			ph.fixed = append(ph.fixed, [2]string{http.CanonicalHeaderKey(k), v})
		}
		for claim, h := range pc.ForwardClaims {
			ph.claims = append(ph.claims, [2]string{claim, http.CanonicalHeaderKey(h)})
		}
		out[name] = ph
	}
	return out
}

// headersFor returns the extra header fields of each pool's calls for the caller
// p (nil: anonymous).
func (s *poolSet) headersFor(p *policies.Principal) map[string][][2]string {
	out := make(map[string][][2]string, len(s.headers))
	for name, ph := range s.headers {
		if len(ph.claims) == 0 || p == nil {
			out[name] = ph.fixed
			continue
		}
		h := append([][2]string(nil), ph.fixed...)
		for _, c := range ph.claims {
			if v := p.Claim(c[0]); v != "" {
				h = append(h, [2]string{c[1], v})
			}
		}
		out[name] = h
	}
	return out
}

// Package lb owns the pools of upstream endpoints: the choice of an endpoint for
// each request (round robin over the healthy ones, or another policy), active health
// checks, ejection, breakers, and failover of a failed request to another endpoint.
// Each endpoint is reached through its own HTTP/1.1 client (package lb/h1). It knows
// nothing of JSON or GraphQL: a Pool takes a Request and fills a Response.
package lb

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/lb/h1"
	"github.com/switchyard/switchyard/setting"
)

// ErrNoEndpoints is returned by New for a pool without endpoints.
var ErrNoEndpoints = errors.New("pool has no endpoints")

// Pool is a set of interchangeable endpoints of one upstream service. Do sends a
// request to one of them; Run keeps their health up to date. A Pool is safe for
// concurrent use. Create it with New.
type Pool struct {
	name      string
	opts      Options
	log       *slog.Logger
	endpoints []*endpoint

	// snap is what Do picks from, rebuilt whenever an endpoint's health changes.
	snap atomic.Pointer[snapshot]
	next atomic.Uint64 // the round-robin counter, kept across snapshots
	mu   sync.Mutex    // serialises rebuilds of snap

	breaker *breaker // the pool's; nil when breakers are disabled
	// tls is what the https endpoints' TLS configurations are made from, nil when
	// there is none; tlsSum is the digest of the files it was read from.
	tls    *tls.Config
	tlsSum [32]byte
	budget retryBudget
	active atomic.Int64 // calls started and not finished

	retries, retriesRefused atomic.Int64 // retries sent, and refused by the budget
}

// snapshot is an immutable view of the pool for picking.
type snapshot struct {
	healthy []*endpoint // healthy and not ejected, in configuration order
	set     []*endpoint // what picker picks from
	picker  picker      // over healthy, or over every endpoint when none is
	expires time.Time   // when the first ejection in it ends; zero when none
}

// endpoint is one instance of the pool's service.
type endpoint struct {
	url    string
	id     string // opaque and stable, for sticky cookies
	weight int
	host   string     // the Host header its requests carry
	conns  *h1.Client // its connections

	healthy  atomic.Bool
	inflight atomic.Int64
	latency  latency
	outlier  outlier
	breaker  *breaker     // nil when breakers are disabled
	since    atomic.Int64 // unix nanoseconds when it last became available; 0 at start
	avail    bool         // available in the last snapshot; guarded by the pool's mu
	ejected  bool         // in the last snapshot, ejected; guarded by the pool's mu

	// Probe state, touched only by the endpoint's probe loop.
	successes, failures int
}

// New validates opts and returns a pool over its endpoints. Every endpoint starts
// healthy; call Run to start probing. log receives the pool's state changes; nil
// discards them.
func New(name string, opts Options, log *slog.Logger) (*Pool, error) {
	opts.SetDefaults()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.IntN
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(opts.Endpoints) == 0 {
		return nil, ErrNoEndpoints
	}
	var problems setting.Problems
	opts.Validate(nil, &problems)
	if err := problems.Err(); err != nil {
		return nil, err
	}
	p := &Pool{name: name, opts: opts, log: log.With("pool", name)}
	p.breaker = newBreaker(name, &opts.Breaker, p.log)
	p.budget = retryBudget{ratio: *opts.RetryBudget.Ratio, min: int64(*opts.RetryBudget.MinRetries), active: &p.active}
	if err := p.loadTLS(); err != nil {
		return nil, err
	}
	seen := make(map[string]bool)
	for _, raw := range opts.Endpoints {
		addr, host, secure, err := parseEndpoint(raw)
		if err != nil {
			return nil, err
		}
		if !secure && opts.TLS != nil {
			return nil, fmt.Errorf("endpoint %q is plain http, but the pool configures TLS", raw)
		}
		if seen[addr] {
			return nil, fmt.Errorf("endpoint %q is listed twice", raw)
		}
		seen[addr] = true
		w := 1
		if v, ok := opts.Weights[raw]; ok {
			if v < 1 || v > 100 {
				return nil, fmt.Errorf("endpoint %q: weight %d is not between 1 and 100", raw, v)
			}
			w = v
		}
		ep := &endpoint{url: raw, id: endpointID(raw), weight: w, host: host, conns: h1.NewClient(h1.Options{
			Addr:           addr,
			Host:           host,
			ConnectTimeout: opts.ConnectTimeout.Duration,
			MaxIdle:        opts.MaxIdleConnsPerEndpoint,
			IdleTimeout:    opts.IdleConnTimeout.Duration,
			MaxBody:        opts.MaxResponseBytes,
			MaxHead:        opts.MaxResponseHeaderBytes,
			TLS:            p.endpointTLS(secure, addr, host),
		})}
		ep.healthy.Store(true)
		if opts.Breaker.PerEndpoint {
			ep.breaker = newBreaker(name+" "+raw, &opts.Breaker, p.log)
		}
		p.endpoints = append(p.endpoints, ep)
	}
	p.rebuild()
	return p, nil
}

// parseEndpoint checks an endpoint URL and returns the address to dial, the Host
// header to send, and whether it is https.
func parseEndpoint(raw string) (addr, host string, secure bool, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", false, fmt.Errorf("endpoint %q: %w", raw, err)
	}
	port := "80"
	switch u.Scheme {
	case "http":
	case "https":
		secure, port = true, "443"
	default:
		return "", "", false, fmt.Errorf("endpoint %q: scheme must be http or https", raw)
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", "", false, fmt.Errorf("endpoint %q: want %s://host:port with no path, query or credentials", raw, u.Scheme)
	}
	host = u.Host
	addr = host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), port)
	}
	return addr, host, secure, nil
}

// Name returns the pool's name.
func (p *Pool) Name() string { return p.name }

// Options returns the options the pool runs with, defaults applied.
func (p *Pool) Options() Options { return p.opts }

// Ready reports whether at least one endpoint is healthy.
func (p *Pool) Ready() bool { return len(p.current(p.opts.Now()).healthy) > 0 }

// EndpointStatus is a snapshot of one endpoint, for readiness and admin pages.
type EndpointStatus struct {
	URL      string
	Healthy  bool   // by the active probes
	Ejected  bool   // by passive outlier detection
	Breaker  string // closed, half-open, open or disabled
	InFlight int64
	Latency  time.Duration // the moving average the least-request policy uses
}

// Status returns a snapshot of every endpoint in configuration order.
func (p *Pool) Status() []EndpointStatus {
	out := make([]EndpointStatus, len(p.endpoints))
	for i, ep := range p.endpoints {
		now := p.opts.Now()
		out[i] = EndpointStatus{URL: ep.url, Healthy: ep.healthy.Load(), InFlight: ep.inflight.Load(),
			Ejected: !ep.outlier.ejectedUntil(now).IsZero(), Breaker: breakerState(ep.breaker),
			Latency: time.Duration(ep.latency.current(now.UnixNano()))}
	}
	return out
}

// Adopt takes over what old knows of the endpoints the two pools share (same URL):
// their health by the probes, their latency, and their outlier state, so that a
// pool rebuilt by a reload does not start blind. Call it before the pool serves.
func (p *Pool) Adopt(old *Pool) {
	byURL := make(map[string]*endpoint, len(old.endpoints))
	for _, ep := range old.endpoints {
		byURL[ep.url] = ep
	}
	for _, ep := range p.endpoints {
		o := byURL[ep.url]
		if o == nil {
			continue
		}
		ep.healthy.Store(o.healthy.Load())
		ep.latency.set(math.Float64frombits(o.latency.cost.Load()), o.latency.stamp.Load())
		o.outlier.mu.Lock()
		ep.outlier.failures, ep.outlier.ejections, ep.outlier.until = o.outlier.failures, o.outlier.ejections, o.outlier.until
		o.outlier.mu.Unlock()
		ep.since.Store(o.since.Load())
	}
	p.rebuild()
}

// Stats are a pool's counters since it was made.
type Stats struct {
	Breaker        string // the pool's breaker: closed, half-open, open or disabled
	Retries        int64  // retries sent
	RetriesRefused int64  // retries the budget refused
	// Discards counts the keep-alive connections closed instead of reused, by
	// reason, indexed as DiscardReasons.
	Discards [h1.NumDiscardReasons]int64
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	st := Stats{Breaker: breakerState(p.breaker), Retries: p.retries.Load(), RetriesRefused: p.retriesRefused.Load()}
	for _, ep := range p.endpoints {
		for i, n := range ep.conns.Discards() {
			st.Discards[i] += n
		}
	}
	return st
}

// Close closes the pool's idle connections, and those that requests still running
// hand back later. Requests may still be sent afterwards; they open connections of
// their own, closed when done.
func (p *Pool) Close() {
	for _, ep := range p.endpoints {
		ep.conns.CloseIdle(true)
	}
}

func (p *Pool) rebuild() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rebuildLocked(p.opts.Now())
}

// rebuildLocked builds the snapshot as of now. p.mu must be held.
func (p *Pool) rebuildLocked(now time.Time) {
	healthy := make([]*endpoint, 0, len(p.endpoints))
	var expires time.Time
	for _, ep := range p.endpoints {
		until := ep.outlier.ejectedUntil(now)
		ejected := !until.IsZero()
		wasEjected := ep.ejected
		if wasEjected && !ejected {
			p.log.Info("endpoint readmitted after ejection", "endpoint", ep.url)
		}
		ep.ejected = ejected
		if ejected && (expires.IsZero() || until.Before(expires)) {
			expires = until
		}
		available := ep.healthy.Load() && !ejected
		if available && !ep.avail && p.snap.Load() != nil {
			// Back after an absence: its slow start begins (when its ejection
			// ended, if that is what kept it out: the snapshot is rebuilt only on
			// the next request), and its latency is taken to be the others' until
			// measured, since what it was before it left says little of it now.
			back := now
			if end := ep.outlier.lastEnd(); wasEjected && !end.IsZero() && end.Before(now) {
				back = end
			}
			ep.since.Store(back.UnixNano())
			ep.latency.set(p.meanLatency(ep, now), now.UnixNano())
			ep.outlier.readmit()
		}
		ep.avail = available
		if available {
			healthy = append(healthy, ep)
		}
	}
	// When no endpoint is available the pool picks among all of them: the probes
	// may be wrong, and an attempt costs less than a certain failure.
	set := healthy
	if len(set) == 0 {
		set = p.endpoints
	}
	p.snap.Store(&snapshot{healthy: healthy, set: set, picker: p.newPicker(set, healthy), expires: expires})
}

// meanLatency is the mean latency of the endpoints other than ep, or 0.
func (p *Pool) meanLatency(ep *endpoint, now time.Time) float64 {
	var sum float64
	n := 0
	for _, e := range p.endpoints {
		if e == ep || !e.avail {
			continue
		}
		if c := e.latency.current(now.UnixNano()); c > 0 {
			sum += c
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// current returns the snapshot as of now, rebuilding it first when an ejection in it
// has ended.
func (p *Pool) current(now time.Time) *snapshot {
	s := p.snap.Load()
	if s.expires.IsZero() || now.Before(s.expires) {
		return s
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s = p.snap.Load(); !s.expires.IsZero() && !now.Before(s.expires) {
		p.rebuildLocked(now)
	}
	return p.snap.Load()
}

// eject takes ep out of the pool after its failure crossed the threshold, unless
// that would eject more than the configured share.
func (p *Pool) eject(ep *endpoint, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ejected := 0
	for _, e := range p.endpoints {
		if !e.outlier.ejectedUntil(now).IsZero() {
			ejected++
		}
	}
	if ejected >= maxEjected(len(p.endpoints), *p.opts.Outlier.MaxEjectionPercent) {
		return
	}
	d := ep.outlier.eject(now, &p.opts.Outlier)
	if d == 0 {
		return
	}
	p.log.Warn("endpoint ejected after consecutive failures", "endpoint", ep.url, "for", d.String())
	p.rebuildLocked(now)
}

// pick returns an endpoint for a request, other than avoid when there is another.
func (p *Pool) pick(avoid *endpoint) *endpoint {
	return p.current(p.opts.Now()).picker.pick(pickInfo{avoid: avoid})
}

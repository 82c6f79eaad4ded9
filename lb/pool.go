// Package lb owns the pools of upstream endpoints: the HTTP/1.1 transport each endpoint
// is reached through, the choice of an endpoint for each request (round robin over the
// healthy ones), active health checks, and failover of a failed request to another
// endpoint. It knows nothing of JSON or GraphQL: a Pool takes a Request and fills a
// Response.
package lb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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
	transport

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
		ep := &endpoint{url: raw, id: endpointID(raw), weight: w, transport: transport{
			addr:           addr,
			host:           host,
			connectTimeout: opts.ConnectTimeout.Duration,
			maxIdle:        opts.MaxIdleConnsPerEndpoint,
			idleTimeout:    opts.IdleConnTimeout.Duration,
			maxBody:        opts.MaxResponseBytes,
			maxHead:        opts.MaxResponseHeaderBytes,
			tls:            p.endpointTLS(secure, addr, host),
		}}
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
	Discards [numDiscardReasons]int64
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	st := Stats{Breaker: breakerState(p.breaker), Retries: p.retries.Load(), RetriesRefused: p.retriesRefused.Load()}
	for _, ep := range p.endpoints {
		for i := range ep.discards {
			st.Discards[i] += ep.discards[i].Load()
		}
	}
	return st
}

// Close closes the pool's idle connections, and those that requests still running
// hand back later. Requests may still be sent afterwards; they open connections of
// their own, closed when done.
func (p *Pool) Close() {
	for _, ep := range p.endpoints {
		ep.closeIdle(true)
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
	var pk picker
	rr := &roundRobin{eps: weightedSequence(set), next: &p.next, rand: p.opts.Rand, now: p.opts.Now, slowStart: p.opts.SlowStart.Duration}
	switch p.opts.Policy {
	case LeastRequest:
		pk = &leastRequest{eps: set, rand: p.opts.Rand, now: p.opts.Now, slowStart: p.opts.SlowStart.Duration}
	case RingHash:
		pk = newRing(set, rr)
	default:
		pk = rr
	}
	p.snap.Store(&snapshot{healthy: healthy, set: set, picker: pk, expires: expires})
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
	return p.current(p.opts.Now()).picker.pick(avoid)
}

// Do sends req to one endpoint and fills resp with its answer. A request that could
// not connect, or an idempotent one that failed or got a 5xx answer, is sent once more
// to another endpoint. A 5xx answer that survives failover is returned as a response,
// not an error. Errors are the context's error when ctx was cancelled, an error
// wrapping os.ErrDeadlineExceeded when the deadline (ctx's or RequestTimeout's,
// whichever is sooner) passed, a *DialError when no endpoint could be reached, or the
// I/O error of the last attempt.
func (p *Pool) Do(ctx context.Context, req *Request, resp *Response) error {
	var call Call
	p.start(&call, ctx, req)
	return call.Finish(resp)
}

// Call is a request that Start has sent and whose answer Finish reads.
type Call struct {
	pool     *Pool
	ctx      context.Context
	req      *Request
	deadline time.Time // of the whole call, retries included
	tryEnd   time.Time // of the first attempt
	started  time.Time
	ep       *endpoint
	c        *conn
	reused   bool
	stop     func() bool
	err      error       // the request could not be sent
	invalid  bool        // the request is malformed: no endpoint will take it
	pdone    func(error) // reports the outcome to the pool's breaker
	edone    func(error) // reports the first attempt's outcome to its endpoint's breaker
}

// Start sends req to one endpoint and returns without waiting for the answer, which
// Finish reads. Between the two the caller may start other calls, on this pool or
// others, and then finish them in turn: their waits overlap as if each had its own
// goroutine, without the goroutines. Every Call must be finished, once.
func (p *Pool) Start(ctx context.Context, req *Request) *Call {
	call := new(Call)
	p.start(call, ctx, req)
	return call
}

func (p *Pool) start(call *Call, ctx context.Context, req *Request) {
	// The pool's timeout becomes a deadline on the connection rather than a derived
	// context: the same bound, without a timer and a context per call.
	now := p.opts.Now()
	var deadline time.Time
	if p.opts.RequestTimeout.Duration > 0 {
		deadline = now.Add(p.opts.RequestTimeout.Duration)
	}
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	*call = Call{pool: p, ctx: ctx, req: req, deadline: deadline, started: now}
	p.active.Add(1)
	if call.err = validRequest(req); call.err != nil {
		call.invalid = true
		return
	}
	pdone, ok := allow(p.breaker)
	if !ok {
		call.err, call.invalid = ErrCircuitOpen, true
		return
	}
	call.pdone = pdone
	ep, edone := p.chooseFor(ctx, p.current(now), nil)
	if ep == nil {
		call.err, call.invalid = ErrCircuitOpen, true
		return
	}
	call.ep, call.edone = ep, edone
	call.tryEnd = p.tryDeadline(now, deadline)
	ep.inflight.Add(1)
	call.c, call.reused, call.stop, call.err = ep.begin(ctx, call.tryEnd, req, false)
}

// lateFinish is how long after its start a call may be finished and still have its
// time count as the endpoint's latency.
const lateFinish = time.Millisecond

// tryDeadline is the deadline of one attempt: the call's, or sooner by the per-try
// timeout.
func (p *Pool) tryDeadline(now, deadline time.Time) time.Time {
	if p.opts.PerTryTimeout.Duration > 0 {
		if d := now.Add(p.opts.PerTryTimeout.Duration); deadline.IsZero() || d.Before(deadline) {
			return d
		}
	}
	return deadline
}

// chooseFor chooses the endpoint of a request, other than avoid: the one its sticky
// cookie pins it to while that one is available, else the policy's choice (by the
// request's key for ring hash); a sticky pool then pins the request to it.
func (p *Pool) chooseFor(ctx context.Context, s *snapshot, avoid *endpoint) (*endpoint, func(error)) {
	if p.opts.Policy != RingHash && p.opts.Sticky.Cookie == "" {
		return p.choose(s, avoid, 0, false) // the common case, without the context lookup
	}
	aff := AffinityFrom(ctx)
	if aff == nil {
		return p.choose(s, avoid, 0, false)
	}
	if name := p.opts.Sticky.Cookie; name != "" {
		if id := aff.pinned(name); id != "" {
			for _, ep := range s.healthy {
				if ep.id == id && ep != avoid {
					if done, ok := allow(ep.breaker); ok {
						return ep, done
					}
				}
			}
		}
	}
	key, hasKey := uint64(0), false
	if p.opts.Policy == RingHash {
		key, hasKey = p.opts.HashOn.key(aff)
	}
	ep, done := p.choose(s, avoid, key, hasKey)
	if ep != nil && p.opts.Sticky.Cookie != "" {
		aff.pin(p.opts.Sticky.Cookie, ep.id)
	}
	return ep, done
}

// choose picks an endpoint other than avoid whose breaker lets a request through,
// and returns it with the callback that reports the outcome to that breaker. With a
// key, a ring-hash picker picks by it. It returns nil when no endpoint will take the
// request.
func (p *Pool) choose(s *snapshot, avoid *endpoint, key uint64, hasKey bool) (*endpoint, func(error)) {
	n := len(s.set)
	keyed, _ := s.picker.(*ring)
	for range 2 * n {
		var ep *endpoint
		if hasKey && keyed != nil {
			ep = keyed.pickKey(key, avoid)
			key = mix(key) // if its breaker refuses, the next try lands elsewhere
		} else {
			ep = s.picker.pick(avoid)
		}
		if ep == avoid {
			return nil, nil // there is no other
		}
		if done, ok := allow(ep.breaker); ok {
			return ep, done
		}
	}
	for _, ep := range s.set { // the picker kept landing on open breakers
		if ep == avoid {
			continue
		}
		if done, ok := allow(ep.breaker); ok {
			return ep, done
		}
	}
	return nil, nil
}

// Finish reads the answer of the call into resp. A request that could not connect,
// or an idempotent one that failed or got a 5xx answer, is sent again to another
// endpoint, up to Retries times, after a jittered backoff, within the call's deadline
// and within the retry budget.
func (call *Call) Finish(resp *Response) error {
	p, ep, ctx := call.pool, call.ep, call.ctx
	// A call finished long after it started waited in its caller's queue, not
	// (only) on its endpoint: its time says little of the endpoint's latency.
	timed := call.invalid || p.opts.Now().Sub(call.started) < lateFinish
	defer p.active.Add(-1)
	err := call.err
	if call.invalid {
		if call.pdone != nil {
			call.pdone(errCallerEnded) // nothing was sent: no outcome to count
		}
		return err
	}
	sent, answered := err == nil, false
	if sent {
		answered, err = ep.finish(ctx, call.c, call.stop, call.req, resp)
	}
	if err != nil && call.c != nil && ctx.Err() == nil && (call.tryEnd.IsZero() || p.opts.Now().Before(call.tryEnd)) &&
		retryStale(call.req, call.reused, sent, answered, err) {
		resp.Reset()
		err = ep.roundTripOn(ctx, call.tryEnd, call.req, resp, true)
	}
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	ep.inflight.Add(-1)
	p.observe(ctx, ep, call.started, resp, err, timed)
	if call.edone != nil {
		call.edone(outcome(ctx, resp, err))
	}
	err = p.retry(ctx, call.deadline, call.req, resp, ep, err)
	if call.pdone != nil {
		call.pdone(outcome(ctx, resp, err))
	}
	return err
}

// retry sends a failed request again, as Finish describes, and returns the last
// outcome.
func (p *Pool) retry(ctx context.Context, deadline time.Time, req *Request, resp *Response, last *endpoint, err error) error {
	tried := []*endpoint{last}
	for attempt := 1; attempt <= p.opts.retryLimit(); attempt++ {
		if !p.shouldRetry(ctx, deadline, req, resp, err) {
			return err
		}
		if !p.budget.acquire() {
			p.retriesRefused.Add(1)
			return err
		}
		if !p.backoff(ctx, deadline, attempt) {
			p.budget.release()
			return err
		}
		next, done := p.chooseRetry(ctx, p.current(p.opts.Now()), tried)
		if next == nil {
			p.budget.release()
			return err
		}
		p.retries.Add(1)
		prevErr := err
		resp.Reset()
		err = p.do(ctx, next, deadline, req, resp)
		if err == nil && resp.Status < 500 {
			p.repin(ctx, tried[len(tried)-1], next, prevErr)
		}
		if done != nil {
			done(outcome(ctx, resp, err))
		}
		p.budget.release()
		tried = append(tried, next)
	}
	return err
}

// repin moves a sticky client from the endpoint that failed to the one that served
// it, when the failed one could not be reached or is no longer available: a single
// failure of an endpoint that still serves does not break the session.
func (p *Pool) repin(ctx context.Context, failed, served *endpoint, err error) {
	if p.opts.Sticky.Cookie == "" {
		return
	}
	aff := AffinityFrom(ctx)
	if aff == nil || aff.pinned(p.opts.Sticky.Cookie) != failed.id {
		return
	}
	var de *DialError
	if errors.As(err, &de) || !slices.Contains(p.current(p.opts.Now()).healthy, failed) {
		aff.pin(p.opts.Sticky.Cookie, served.id)
	}
}

// chooseRetry chooses the endpoint of a retry: one not tried yet by the call if
// there is one, else one other than the last tried. A retry does not move a sticky
// client: only an unavailable endpoint does.
func (p *Pool) chooseRetry(ctx context.Context, s *snapshot, tried []*endpoint) (*endpoint, func(error)) {
	last := tried[len(tried)-1]
	key, hasKey := uint64(0), false
	if p.opts.Policy == RingHash {
		key, hasKey = p.opts.HashOn.key(AffinityFrom(ctx))
	}
	for range 2 * len(s.set) {
		ep, done := p.choose(s, last, key, hasKey)
		if ep == nil || !slices.Contains(tried, ep) {
			return ep, done
		}
		if done != nil {
			done(errCallerEnded) // not used: no outcome to count
		}
		key = mix(key)
	}
	for _, ep := range s.set {
		if !slices.Contains(tried, ep) {
			if done, ok := allow(ep.breaker); ok {
				return ep, done
			}
		}
	}
	return p.choose(s, last, key, hasKey)
}

// backoff waits before retry number attempt: a random time up to RetryBackoff
// doubled for each earlier retry ("full jitter"), capped at 32 times it. It reports
// false, without waiting, when the wait would outlast the deadline or ctx ends.
func (p *Pool) backoff(ctx context.Context, deadline time.Time, attempt int) bool {
	base := p.opts.RetryBackoff.Duration
	if base <= 0 {
		return ctx.Err() == nil
	}
	ceiling := base << min(attempt-1, 5)
	wait := time.Duration(p.opts.Rand(int(ceiling) + 1))
	if !deadline.IsZero() && !p.opts.Now().Add(wait).Before(deadline) {
		return false
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *Pool) shouldRetry(ctx context.Context, deadline time.Time, req *Request, resp *Response, err error) bool {
	if err == nil && resp.Status < 500 {
		return false
	}
	if ctx.Err() != nil || (!deadline.IsZero() && !p.opts.Now().Before(deadline)) {
		return false
	}
	if err != nil {
		var dialErr *DialError
		if errors.As(err, &dialErr) {
			return true // the request never left: always safe
		}
	}
	return req.idempotent()
}

// do sends req to this endpoint only, as a retry.
func (p *Pool) do(ctx context.Context, ep *endpoint, deadline time.Time, req *Request, resp *Response) error {
	started := p.opts.Now()
	ep.inflight.Add(1)
	err := ep.roundTrip(ctx, p.tryDeadline(started, deadline), req, resp)
	ep.inflight.Add(-1)
	p.observe(ctx, ep, started, resp, err, true)
	return err
}

// observe records the latency of a finished request on its endpoint. A failure
// counts as at least failurePenalty, so that an endpoint failing fast does not look
// fast. A request cut short by its caller (cancelled, or past the caller's own
// deadline) says nothing of the endpoint.
func (p *Pool) observe(ctx context.Context, ep *endpoint, started time.Time, resp *Response, err error, timed bool) {
	now := p.opts.Now()
	d := now.Sub(started)
	if p.opts.OnResult != nil {
		status := resp.Status
		if err != nil {
			status = 0
		}
		p.opts.OnResult(ep.url, status, d)
	}
	if err != nil && ctx.Err() != nil {
		return
	}
	failed := err != nil || resp.Status >= 500
	if failed && d < failurePenalty {
		d = failurePenalty
	}
	if timed {
		ep.latency.observe(d, now.UnixNano())
	}
	if threshold := p.opts.Outlier.threshold(); threshold > 0 {
		if !failed {
			ep.outlier.succeed(now)
		} else if ep.outlier.fail(now, threshold) {
			p.eject(ep, now)
		}
	}
}

// Run probes every endpoint until ctx ends, then returns. It must be called at most
// once per pool.
func (p *Pool) Run(ctx context.Context) {
	if p.opts.HealthCheck.Disabled {
		<-ctx.Done()
		return
	}
	var wg sync.WaitGroup
	for _, ep := range p.endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.probeLoop(ctx, ep)
		}()
	}
	wg.Wait()
}

func (p *Pool) probeLoop(ctx context.Context, ep *endpoint) {
	hc := p.opts.HealthCheck
	req := &Request{Target: hc.Path}
	var resp Response
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		resp.Reset()
		err := ep.roundTrip(ctx, time.Now().Add(hc.Timeout.Duration), req, &resp)
		if ctx.Err() != nil {
			return
		}
		ok := err == nil && resp.Status >= 200 && resp.Status < 300
		if ep.observe(ok, hc.HealthyThreshold, hc.UnhealthyThreshold) {
			if ep.healthy.Load() {
				p.log.Info("endpoint healthy", "endpoint", ep.url)
			} else {
				p.log.Warn("endpoint unhealthy", "endpoint", ep.url, "status", resp.Status, "error", errString(err))
				ep.closeIdle(false) // they would be stale by the time it recovers
			}
			p.rebuild()
		}
		next := hc.Interval.Duration
		if !ep.healthy.Load() {
			next = hc.UnhealthyInterval.Duration
		}
		t.Reset(next)
	}
}

// observe records one probe result and reports whether the endpoint's health changed.
func (ep *endpoint) observe(ok bool, healthyThreshold, unhealthyThreshold int) bool {
	if ok {
		ep.failures = 0
		ep.successes++
		if !ep.healthy.Load() && ep.successes >= healthyThreshold {
			ep.healthy.Store(true)
			return true
		}
		return false
	}
	ep.successes = 0
	ep.failures++
	if ep.healthy.Load() && ep.failures >= unhealthyThreshold {
		ep.healthy.Store(false)
		return true
	}
	return false
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

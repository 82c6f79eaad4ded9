package lb

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/switchyard/switchyard/lb/h1"
)

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
	x        h1.Exchange // the first attempt, on ep
	err      error       // why the request was not sent, when invalid
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
	if call.err = req.Check(); call.err != nil {
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
	call.x = ep.conns.Begin(ctx, call.tryEnd, req)
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
	info := pickInfo{avoid: avoid}
	cookie := p.opts.Sticky.Cookie
	if p.opts.Policy != RingHash && cookie == "" {
		return p.choose(s, info) // the common case, without the context lookup
	}
	aff := AffinityFrom(ctx)
	if aff == nil {
		return p.choose(s, info)
	}
	if cookie != "" {
		info.pinned = aff.pinned(cookie)
	}
	if p.opts.Policy == RingHash {
		info.key, info.hasKey = p.opts.HashOn.key(aff)
	}
	ep, done := p.choose(s, info)
	if ep != nil && cookie != "" && ep.id != info.pinned {
		aff.pin(cookie, ep.id)
	}
	return ep, done
}

// choose picks an endpoint other than info.avoid whose breaker lets a request
// through, and returns it with the callback that reports the outcome to that
// breaker. It returns nil when no endpoint will take the request.
func (p *Pool) choose(s *snapshot, info pickInfo) (*endpoint, func(error)) {
	n := len(s.set)
	for range 2 * n {
		ep := s.picker.pick(info)
		if info.hasKey {
			info.key = mix(info.key) // if its breaker refuses, the next try lands elsewhere
		}
		if ep == info.avoid {
			return nil, nil // there is no other
		}
		if done, ok := allow(ep.breaker); ok {
			return ep, done
		}
		info.pinned = "" // the pinned endpoint's breaker refused: the policy picks
	}
	for _, ep := range s.set { // the picker kept landing on open breakers
		if ep == info.avoid {
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
	if call.invalid {
		if call.pdone != nil {
			call.pdone(errCallerEnded) // nothing was sent: no outcome to count
		}
		return call.err
	}
	err := call.x.Finish(ctx, p.opts.Now, resp)
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
		if !p.retryable(ctx, deadline, outcome(ctx, resp, err), req.Idempotent(), true) {
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
	info := pickInfo{avoid: tried[len(tried)-1]}
	if p.opts.Policy == RingHash {
		info.key, info.hasKey = p.opts.HashOn.key(AffinityFrom(ctx))
	}
	for range 2 * len(s.set) {
		ep, done := p.choose(s, info)
		if ep == nil || !slices.Contains(tried, ep) {
			return ep, done
		}
		if done != nil {
			done(errCallerEnded) // not used: no outcome to count
		}
		info.key = mix(info.key)
	}
	for _, ep := range s.set {
		if !slices.Contains(tried, ep) {
			if done, ok := allow(ep.breaker); ok {
				return ep, done
			}
		}
	}
	return p.choose(s, info)
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

// retryable is the one rule of which failed attempts may be sent again, for calls
// (Do, Start) and forwards (Next) alike: one that never reached its endpoint (a
// *DialError) always; one that failed or answered 5xx (failure, the attempt's
// outcome, is not nil) only when the request is idempotent and its body can be sent
// again; none once the caller or the deadline has ended. Whether the retry is made
// is then the pool's retries, budget and backoff's call.
func (p *Pool) retryable(ctx context.Context, deadline time.Time, failure error, idempotent, replayable bool) bool {
	if failure == nil || ctx.Err() != nil || (!deadline.IsZero() && !p.opts.Now().Before(deadline)) {
		return false
	}
	var de *DialError
	return errors.As(failure, &de) || (idempotent && replayable)
}

// do sends req to this endpoint only, as a retry.
func (p *Pool) do(ctx context.Context, ep *endpoint, deadline time.Time, req *Request, resp *Response) error {
	started := p.opts.Now()
	ep.inflight.Add(1)
	err := ep.conns.RoundTrip(ctx, p.tryDeadline(started, deadline), req, resp)
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

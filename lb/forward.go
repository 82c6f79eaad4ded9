package lb

import (
	"context"
	"time"
)

// Forward is a request that the caller sends itself, as a streaming reverse proxy
// does, while the pool chooses its endpoints and learns from its outcomes: the
// breakers, outlier ejection, latency, in-flight counts, sticky pins and the retry
// budget work as for Do. Begin it with Pool.Forward, take attempts with Next, end
// each attempt with Attempt.End and the whole with Finish.
type Forward struct {
	pool       *Pool
	ctx        context.Context
	deadline   time.Time
	idempotent bool
	tried      []*endpoint
	pdone      func(error)
	last       error // the outcome of the last attempt, for the pool's breaker
	retries    int
	finished   bool
}

// Attempt is one try of a Forward, on one endpoint.
type Attempt struct {
	// URL is the endpoint's base URL, "http://host:port".
	URL string
	// Host is the endpoint's host:port.
	Host string
	// Deadline is when this try must have its answer's head: the sooner of the
	// forward's deadline and the pool's per-try timeout. Zero: none.
	Deadline time.Time

	f       *Forward
	ep      *endpoint
	edone   func(error)
	started time.Time
	ended   bool
	budget  bool // a retry, holding a share of the retry budget until it ends
}

// Forward begins forwarding a request with this method. It fails with
// ErrCircuitOpen when the pool's breaker refuses. Every Forward must be finished.
func (p *Pool) Forward(ctx context.Context, method string) (*Forward, error) {
	now := p.opts.Now()
	f := &Forward{pool: p, ctx: ctx, idempotent: (&Request{Method: method}).Idempotent()}
	if p.opts.RequestTimeout.Duration > 0 {
		f.deadline = now.Add(p.opts.RequestTimeout.Duration)
	}
	if d, ok := ctx.Deadline(); ok && (f.deadline.IsZero() || d.Before(f.deadline)) {
		f.deadline = d
	}
	pdone, ok := allow(p.breaker)
	if !ok {
		return nil, ErrCircuitOpen
	}
	f.pdone = pdone
	p.active.Add(1)
	return f, nil
}

// Next returns the next attempt, or nil when there is none to make. The first call
// chooses an endpoint as Do would. A later one is a retry of the previous attempt,
// made only when it is safe and allowed: the previous attempt never reached its
// endpoint (a *DialError), or it failed or answered 5xx and the request is
// idempotent and replayable (its body was not sent, or it has none); within the
// pool's retries, budget, backoff and deadline, on an endpoint not tried yet.
func (f *Forward) Next(replayable bool) *Attempt {
	p := f.pool
	var ep *endpoint
	var done func(error)
	retry := len(f.tried) > 0
	if !retry {
		ep, done = p.chooseFor(f.ctx, p.current(p.opts.Now()), nil)
		if ep == nil {
			f.last = ErrCircuitOpen
			return nil
		}
	} else {
		if f.retries >= p.opts.retryLimit() || !p.retryable(f.ctx, f.deadline, f.last, f.idempotent, replayable) {
			return nil
		}
		if !p.budget.acquire() {
			p.retriesRefused.Add(1)
			return nil
		}
		f.retries++
		if !p.backoff(f.ctx, f.deadline, f.retries) {
			p.budget.release()
			return nil
		}
		ep, done = p.chooseRetry(f.ctx, p.current(p.opts.Now()), f.tried)
		if ep == nil {
			p.budget.release()
			return nil // the last attempt's outcome stands
		}
		p.retries.Add(1)
	}
	f.tried = append(f.tried, ep)
	now := p.opts.Now()
	ep.inflight.Add(1)
	return &Attempt{URL: ep.url, Host: ep.host, Deadline: p.tryDeadline(now, f.deadline), f: f, ep: ep, edone: done, started: now, budget: retry}
}

// ReachError wraps err, an attempt's error, as a *DialError: the attempt never
// reached its endpoint, so any request may be retried.
func ReachError(err error) error { return &DialError{Err: err} }

// End reports the attempt's outcome: the answer's status, or the error that
// prevented one (wrap a failure to connect with ReachError). A proxy calls it when
// the answer's head has arrived, or when the attempt failed.
func (a *Attempt) End(status int, err error) {
	if a.ended {
		return
	}
	a.ended = true
	f, p := a.f, a.f.pool
	a.ep.inflight.Add(-1)
	if a.budget {
		p.budget.release()
	}
	resp := &Response{Status: status}
	p.observe(f.ctx, a.ep, a.started, resp, err, true)
	out := outcome(f.ctx, resp, err)
	if a.edone != nil {
		a.edone(out)
	}
	if err == nil && status < 500 && len(f.tried) > 1 {
		p.repin(f.ctx, f.tried[len(f.tried)-2], a.ep, f.last)
	}
	f.last = out
	if err != nil && f.ctx.Err() == nil {
		f.last = err // keeps a *DialError recognisable for Next
	}
}

// Abandon ends the attempt without an outcome: it failed for its caller's sake (a
// request body that could not be read), and says nothing of the endpoint. The
// forward will not retry it.
func (a *Attempt) Abandon() {
	if a.ended {
		return
	}
	a.ended = true
	a.ep.inflight.Add(-1)
	if a.budget {
		a.f.pool.budget.release()
	}
	if a.edone != nil {
		a.edone(errCallerEnded)
	}
	a.f.last = errCallerEnded
}

// Finish ends the forward: the pool's breaker learns the outcome of its last
// attempt. It must be called once, after the last attempt's End.
func (f *Forward) Finish() {
	if f.finished {
		return
	}
	f.finished = true
	f.pool.active.Add(-1)
	if f.pdone != nil {
		out := f.last
		if len(f.tried) == 0 {
			out = errCallerEnded // nothing was sent: no outcome to count
		}
		f.pdone(out)
	}
}

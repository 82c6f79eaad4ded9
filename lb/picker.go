package lb

import (
	"math"
	"sync/atomic"
	"time"
)

// Policy names how a pool chooses an endpoint for a request.
type Policy string

// The balancing policies.
const (
	// RoundRobin takes the healthy endpoints in turn.
	RoundRobin Policy = "round_robin"
	// LeastRequest draws two healthy endpoints at random and takes the one with the
	// lower load: its latency (a peak-sensitive moving average, as Finagle's and
	// Envoy's least-request balancers use) times its requests in flight plus one.
	// A slow or saturated endpoint gets little traffic; an idle fast one most.
	LeastRequest Policy = "least_request"
)

// policies are the balancing policies, in the order they are listed to users: each
// makes the picker of a snapshot over the endpoints of set.
var policies = []struct {
	name   Policy
	picker func(p *Pool, set []*endpoint) picker
}{
	{RoundRobin, func(p *Pool, set []*endpoint) picker { return p.roundRobin(set) }},
	{LeastRequest, func(p *Pool, set []*endpoint) picker {
		return &leastRequest{eps: set, rand: p.opts.Rand, now: p.opts.Now, slowStart: p.opts.SlowStart.Duration}
	}},
	{RingHash, func(p *Pool, set []*endpoint) picker { return newRing(set, p.roundRobin(set)) }},
}

// Policies lists the valid policies.
var Policies = func() []Policy {
	out := make([]Policy, len(policies))
	for i, p := range policies {
		out[i] = p.name
	}
	return out
}()

// newPicker is the picker of policy over set; sticky sessions wrap it.
func (p *Pool) newPicker(set, available []*endpoint) picker {
	var pk picker
	for _, pol := range policies {
		if pol.name == p.opts.Policy {
			pk = pol.picker(p, set)
		}
	}
	if p.opts.Sticky.Cookie != "" {
		pk = &sticky{picker: pk, available: available}
	}
	return pk
}

func (p *Pool) roundRobin(set []*endpoint) *roundRobin {
	return &roundRobin{eps: weightedSequence(set), next: &p.next, rand: p.opts.Rand, now: p.opts.Now, slowStart: p.opts.SlowStart.Duration}
}

// pickInfo is what a pick may look at, found once per attempt by the pool from the
// request (as grpc-go's PickInfo is): the endpoint the call just failed on, to be
// avoided when there is another; the request's hash key, for ring hash; and the
// endpoint sticky sessions pinned its client to.
type pickInfo struct {
	avoid  *endpoint
	key    uint64
	hasKey bool
	pinned string // an endpoint id, or ""
}

// picker chooses one endpoint among a fixed set. A picker is an immutable snapshot
// that the pool builds again whenever the set of healthy endpoints changes; pick
// never blocks and is safe for concurrent use. It returns another endpoint than
// info.avoid when there is another.
type picker interface {
	pick(info pickInfo) *endpoint
}

// sticky wraps a policy's picker for sticky sessions: a client pinned to an
// available endpoint goes there; any other is picked by the policy, and the pool
// pins the client to what it picked.
type sticky struct {
	picker
	available []*endpoint
}

func (s *sticky) pick(info pickInfo) *endpoint {
	if info.pinned != "" {
		for _, ep := range s.available {
			if ep.id == info.pinned && ep != info.avoid {
				return ep
			}
		}
	}
	return s.picker.pick(info)
}

var (
	_ picker = (*roundRobin)(nil)
	_ picker = (*leastRequest)(nil)
	_ picker = (*sticky)(nil)
)

// roundRobin takes the endpoints in turn, from a sequence in which each appears as
// often as its weight (see weightedSequence). The counter is the pool's, so the
// rotation goes on across snapshots.
type roundRobin struct {
	eps       []*endpoint
	next      *atomic.Uint64
	rand      func(n int) int
	now       func() time.Time
	slowStart time.Duration
}

func (r *roundRobin) pick(info pickInfo) *endpoint {
	avoid := info.avoid
	n := uint64(len(r.eps))
	pos := r.next.Add(1)
	if r.slowStart > 0 && n > 1 {
		// An endpoint in slow start takes its turn with a probability that grows
		// with its time back; otherwise the turn passes to the next one.
		now := r.now().UnixNano()
		for k := uint64(0); k < n; k++ {
			if ep := r.eps[pos%n]; ep != avoid && ep.share(now, r.slowStart) >= float64(r.rand(1000))/1000 {
				return ep
			}
			pos++
		}
	}
	for k := uint64(0); k < n; k++ {
		if ep := r.eps[(pos+k)%n]; ep != avoid {
			return ep
		}
	}
	return r.eps[pos%n] // there is no other than avoid
}

// weightedSequence spreads the endpoints over a sequence as long as the sum of their
// weights, each appearing as often as its weight and as evenly as possible (the
// smooth weighted round robin of nginx), so that a heavy endpoint's turns are not
// bunched together. With equal weights it is the endpoints themselves.
func weightedSequence(eps []*endpoint) []*endpoint {
	total, equal := 0, true
	for _, ep := range eps {
		total += ep.weight
		equal = equal && ep.weight == eps[0].weight
	}
	if equal {
		return eps
	}
	current := make([]int, len(eps))
	seq := make([]*endpoint, 0, total)
	for range total {
		best := 0
		for i, ep := range eps {
			current[i] += ep.weight
			if current[i] > current[best] {
				best = i
			}
		}
		current[best] -= total
		seq = append(seq, eps[best])
	}
	return seq
}

// leastRequest is the power of two choices over a load score.
type leastRequest struct {
	eps       []*endpoint
	rand      func(n int) int
	now       func() time.Time
	slowStart time.Duration
}

func (l *leastRequest) pick(info pickInfo) *endpoint {
	avoid := info.avoid
	n := len(l.eps)
	if n == 1 {
		return l.eps[0]
	}
	i := l.rand(n)
	j := l.rand(n - 1)
	if j >= i {
		j++
	}
	a, b := l.eps[i], l.eps[j]
	switch {
	case a == avoid:
		return b
	case b == avoid:
		return a
	}
	now := l.now().UnixNano()
	best, other := a, b
	if b.load(now)/float64(b.weight) < a.load(now)/float64(a.weight) {
		best, other = b, a
	}
	// An endpoint in slow start wins its draw with a probability that grows with
	// its time back.
	if share := best.share(now, l.slowStart); share < 1 && share < float64(l.rand(1000))/1000 {
		return other
	}
	return best
}

// share is the part of its traffic an endpoint gets at now: 1, or during slow start
// a part growing linearly from a tenth.
func (ep *endpoint) share(now int64, slowStart time.Duration) float64 {
	if slowStart <= 0 {
		return 1
	}
	since := ep.since.Load()
	if since == 0 {
		return 1
	}
	f := float64(now-since) / float64(slowStart)
	return min(1, max(0.1, f))
}

// latency is an endpoint's peak-sensitive moving average of request latency: a
// slower answer raises it at once, faster ones bring it down with a time constant of
// latencyDecay. It is safe for concurrent use.
type latency struct {
	cost  atomic.Uint64 // float64 bits, nanoseconds
	stamp atomic.Int64  // unix nanoseconds of the last update
}

// latencyDecay is the time constant over which a past latency peak is forgotten.
const latencyDecay = 10 * time.Second

// failurePenalty is the latency recorded for a failed request, so that an endpoint
// answering errors quickly does not look fast.
const failurePenalty = 250 * time.Millisecond

// observe records one request's latency at now (unix nanoseconds).
func (l *latency) observe(d time.Duration, now int64) {
	rtt := float64(d)
	for {
		oldBits := l.cost.Load()
		old := math.Float64frombits(oldBits)
		next := rtt
		if rtt < old {
			w := math.Exp(-float64(now-l.stamp.Load()) / float64(latencyDecay))
			next = old*w + rtt*(1-w)
		}
		if l.cost.CompareAndSwap(oldBits, math.Float64bits(next)) {
			l.stamp.Store(now)
			return
		}
	}
}

// set replaces the average, as of now.
func (l *latency) set(cost float64, now int64) {
	l.cost.Store(math.Float64bits(cost))
	l.stamp.Store(now)
}

// current returns the average decayed to now, as the picker sees it.
func (l *latency) current(now int64) float64 {
	cost := math.Float64frombits(l.cost.Load())
	if elapsed := now - l.stamp.Load(); elapsed > 0 {
		cost *= math.Exp(-float64(elapsed) / float64(latencyDecay))
	}
	return cost
}

// load is the endpoint's score for least-request: latency times requests in flight
// plus one. An endpoint never measured scores by its in-flight requests alone.
func (ep *endpoint) load(now int64) float64 {
	cost := ep.latency.current(now)
	if cost < 1 {
		cost = 1
	}
	return cost * float64(ep.inflight.Load()+1)
}

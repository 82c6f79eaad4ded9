package policies

import (
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchyard/switchyard/setting"
)

// Rate is a token bucket: PerSecond tokens come back each second, up to Burst.
// In the configuration it is written {rate: PER_SECOND, burst: N}.
type Rate struct {
	PerSecond float64 `yaml:"rate"`
	Burst     int     `yaml:"burst"`
}

// Validate reports, under at, a rate that is not a positive number of requests a
// second within bounds, or a burst below one.
func (r Rate) Validate(at setting.Path, rep setting.Reporter) {
	if r.PerSecond <= 0 || math.IsInf(r.PerSecond, 0) || math.IsNaN(r.PerSecond) {
		rep.Add(at.Key("rate"), "must be a positive number of requests per second")
	} else if r.PerSecond < 1e-6 || r.PerSecond > 1e6 {
		rep.Add(at.Key("rate"), "must be between 0.000001 and 1000000 a second, got %g", r.PerSecond)
	}
	if r.Burst < 1 {
		rep.Add(at.Key("burst"), "must be at least 1")
	}
}

// timeFor is how long the bucket takes to gain tokens.
func (r Rate) timeFor(tokens float64) time.Duration {
	return time.Duration(tokens / r.PerSecond * float64(time.Second))
}

// KeyedLimiter keeps one token bucket per key. A bucket idle long enough to have
// refilled is forgotten, so memory follows the callers of the last few minutes, not
// every caller ever seen. It is safe for concurrent use.
type KeyedLimiter struct {
	rate Rate
	idle time.Duration
	name string // names the limit's buckets in shared storage

	mu            sync.Mutex
	buckets       map[string]*bucket
	nextSweep     time.Time
	lastFullSweep time.Time // the last sweep made because the map was full
}

type bucket struct {
	lim  *rate.Limiter
	last time.Time
}

// NewKeyedLimiter returns a limiter giving each key r. Buckets idle for idle are
// dropped; never sooner than a bucket takes to refill, so dropping one gives no
// caller tokens it would not have had.
func NewKeyedLimiter(r Rate, idle time.Duration) *KeyedLimiter {
	if refill := r.timeFor(float64(r.Burst)); idle < refill {
		idle = refill
	}
	return &KeyedLimiter{rate: r, idle: idle, buckets: map[string]*bucket{}}
}

// Len returns the number of buckets held.
func (l *KeyedLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// maxBuckets bounds the buckets of one limiter. Past it, once idle buckets are
// swept, new callers share one overflow bucket: a flood of new addresses is limited
// as one caller and memory stays bounded.
const maxBuckets = 100_000

const overflowKey = "\x00overflow"

// take takes n tokens of key's bucket at now if it holds them. It returns the
// reservation (nil when refused), the tokens left, and when refused how long until
// the bucket would hold n (-1: never, n is more than the burst). A refusal reserves
// nothing, so that no refusal can cost tokens.
func (l *KeyedLimiter) take(key string, n int, now time.Time) (*rate.Reservation, float64, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.After(l.nextSweep) {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxBuckets && now.After(l.lastFullSweep.Add(time.Second)) {
			l.sweep(now)
			l.lastFullSweep = now
		}
		if len(l.buckets) >= maxBuckets {
			key = overflowKey
			b = l.buckets[key]
		}
		if b == nil {
			b = &bucket{lim: rate.NewLimiter(rate.Limit(l.rate.PerSecond), l.rate.Burst)}
			l.buckets[key] = b
		}
	}
	b.last = now
	tokens := b.lim.TokensAt(now)
	switch {
	case n > l.rate.Burst:
		return nil, tokens, -1
	case tokens < float64(n):
		return nil, tokens, l.rate.timeFor(float64(n) - tokens)
	}
	return b.lim.ReserveN(now, n), tokens - float64(n), 0
}

// sweep forgets the buckets idle longer than l.idle. l.mu must be held.
func (l *KeyedLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if now.Sub(b.last) > l.idle {
			delete(l.buckets, k)
		}
	}
	l.nextSweep = now.Add(l.idle / 2)
}

// Decision is the outcome of a rate-limit check.
type Decision struct {
	Allowed    bool
	Limit      int           // the bucket's size
	Remaining  int           // tokens left after this request
	Reset      time.Duration // until the bucket is full again
	RetryAfter time.Duration // when refused: until the request would be allowed
}

// check takes n tokens from each (limiter, key) pair, all or none.
func check(now time.Time, keys []limitKey, n int) Decision {
	d := Decision{Allowed: true, Limit: math.MaxInt, Remaining: math.MaxInt}
	taken := make([]*rate.Reservation, 0, len(keys))
	for _, k := range keys {
		res, tokens, wait := k.l.take(k.key, n, now)
		if res == nil {
			d.Allowed = false
			if wait < 0 || d.RetryAfter < 0 {
				d.RetryAfter = -1 // never: one bucket can never hold n
			} else {
				d.RetryAfter = max(d.RetryAfter, wait)
			}
		} else {
			taken = append(taken, res)
		}
		remaining := max(0, int(math.Floor(tokens)))
		// The headers describe the tightest of the limits.
		if remaining < d.Remaining || (remaining == d.Remaining && k.l.rate.Burst < d.Limit) {
			d.Limit, d.Remaining = k.l.rate.Burst, remaining
			d.Reset = k.l.rate.timeFor(float64(k.l.rate.Burst) - tokens)
		}
	}
	if !d.Allowed {
		for _, res := range taken {
			res.CancelAt(now)
		}
	}
	return d
}

type limitKey struct {
	l   *KeyedLimiter
	key string
}

// RateLimits limits requests per caller and per route. A caller is its principal's
// subject when authenticated, else its client address.
type RateLimits struct {
	perCaller *KeyedLimiter            // nil: no per-caller limit
	tiers     map[Rate]*KeyedLimiter   // the callers with a tier of their own
	perRoute  map[string]*KeyedLimiter // by route pattern
	cost      *KeyedLimiter            // nil: operations' costs are not limited
	clientIP  func(*http.Request) string
	onLimited func(route, limit string)
	now       func() time.Time
	shared    *SharedLimits // nil: the buckets are this instance's own
}

// NewRateLimits returns the limits; perCaller may be nil. tiers are the rates of
// the principals that have one of their own (Principal.RateLimit): such a caller is
// limited by its tier, not by perCaller. clientIP names an anonymous caller;
// onLimited, when not nil, is told of every refusal.
func NewRateLimits(perCaller *Rate, tiers []Rate, perRoute map[string]Rate, idle time.Duration, clientIP func(*http.Request) string, onLimited func(route, limit string)) *RateLimits {
	rl := &RateLimits{perRoute: map[string]*KeyedLimiter{}, tiers: map[Rate]*KeyedLimiter{}, clientIP: clientIP, onLimited: onLimited, now: time.Now}
	if perCaller != nil {
		rl.perCaller = NewKeyedLimiter(*perCaller, idle)
		rl.perCaller.name = "caller"
	}
	for _, t := range tiers {
		if rl.tiers[t] == nil {
			rl.tiers[t] = NewKeyedLimiter(t, idle)
			rl.tiers[t].name = fmt.Sprintf("tier:%g/%d", t.PerSecond, t.Burst)
		}
	}
	for route, r := range perRoute {
		rl.perRoute[route] = NewKeyedLimiter(r, idle)
		rl.perRoute[route].name = "route:" + route
	}
	return rl
}

// Share keeps the buckets in s, shared with the other instances using it; when s
// cannot decide, the instance's own buckets do.
func (rl *RateLimits) Share(s *SharedLimits) { rl.shared = s }

// decide takes n tokens from each (limiter, key) pair, all or none: from the
// shared buckets when there are any and Redis answers, else from the local ones.
func (rl *RateLimits) decide(r *http.Request, keys []limitKey, n int) Decision {
	if rl.shared != nil {
		if d, ok := rl.shared.check(r.Context(), keys, n); ok {
			return d
		}
	}
	return check(rl.now(), keys, n)
}

// Adopt keeps the buckets of prev, the limits before a reload, wherever a limit's
// rate is unchanged, so that a reload hands no caller a fresh burst.
func (rl *RateLimits) Adopt(prev *RateLimits) {
	same := func(a, b *KeyedLimiter) bool { return a != nil && b != nil && a.rate == b.rate && a.idle == b.idle }
	if same(rl.perCaller, prev.perCaller) {
		rl.perCaller = prev.perCaller
	}
	if same(rl.cost, prev.cost) {
		rl.cost = prev.cost
	}
	for r, l := range prev.tiers {
		if same(rl.tiers[r], l) {
			rl.tiers[r] = l
		}
	}
	for route, l := range prev.perRoute {
		if same(rl.perRoute[route], l) {
			rl.perRoute[route] = l
		}
	}
}

// LimitCost limits each caller's GraphQL operations by their computed cost: an
// operation spends as many tokens of r as it costs.
func (rl *RateLimits) LimitCost(r Rate, idle time.Duration) {
	rl.cost = NewKeyedLimiter(r, idle)
	rl.cost.name = "cost"
}

// LimitsCost reports whether operations' costs are limited.
func (rl *RateLimits) LimitsCost() bool { return rl != nil && rl.cost != nil }

// SpendCost takes cost tokens from the cost bucket of r's caller. When refused, it
// returns the answer to write instead of the operation's: 429 with Retry-After and
// the RateLimit-* headers, and a coded error; nil when the cost is spent.
func (rl *RateLimits) SpendCost(r *http.Request, route string, cost int) (refusal func(http.ResponseWriter)) {
	if rl.cost == nil || cost <= 0 {
		return nil
	}
	d := rl.decide(r, []limitKey{{rl.cost, rl.callerKey(r)}}, cost)
	if d.Allowed {
		return nil
	}
	msg := fmt.Sprintf("the operation costs %d and the caller's cost budget holds %d now", cost, d.Remaining)
	if d.RetryAfter < 0 {
		msg = fmt.Sprintf("the operation costs %d, more than the caller's cost budget of %d can ever hold", cost, d.Limit)
		d.RetryAfter = time.Hour
	}
	return func(w http.ResponseWriter) { rl.refuse(w, r, route, "cost", d, msg) }
}

// callerKey names the caller of r: its principal's subject, else its address; an
// IPv6 address by its /64, which one host can draw new addresses from at will.
func (rl *RateLimits) callerKey(r *http.Request) string {
	if p := PrincipalFrom(r.Context()); p != nil {
		if p.Issuer != "" { // two issuers' subjects are different callers
			return "principal:" + p.Issuer + "|" + p.Subject
		}
		return "principal:" + p.Subject
	}
	ip := rl.clientIP(r)
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
		if p, err := a.Prefix(64); err == nil {
			ip = p.String()
		}
	}
	return "ip:" + ip
}

// setHeaders describes d in the RateLimit-* headers.
func setHeaders(h http.Header, d Decision) {
	h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.Reset)))
}

// refuse answers 429 for the refusal d on route by a limit of requests or cost.
func (rl *RateLimits) refuse(w http.ResponseWriter, r *http.Request, route, limit string, d Decision, msg string) {
	if rl.onLimited != nil {
		rl.onLimited(route, limit)
	}
	h := w.Header()
	setHeaders(h, d)
	retry := max(1, ceilSeconds(d.RetryAfter))
	h.Set("Retry-After", strconv.Itoa(retry))
	writeError(w, r, http.StatusTooManyRequests, "RATE_LIMITED", msg+fmt.Sprintf(": retry in %d s", retry))
}

// Middleware limits the requests of route (a route pattern such as "/graphql"). It
// must run after authentication, so that a caller is known by its principal. A
// refused request gets 429 with Retry-After and a coded GraphQL error; every
// limited request gets RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset.
func (rl *RateLimits) Middleware(route string, next http.Handler) http.Handler {
	perRoute := rl.perRoute[route]
	if rl.perCaller == nil && len(rl.tiers) == 0 && perRoute == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys := make([]limitKey, 0, 2)
		p := PrincipalFrom(r.Context())
		switch {
		case p != nil && p.RateLimit != nil && rl.tiers[*p.RateLimit] != nil:
			keys = append(keys, limitKey{rl.tiers[*p.RateLimit], p.Subject})
		case rl.perCaller == nil:
		default:
			keys = append(keys, limitKey{rl.perCaller, rl.callerKey(r)})
		}
		if len(keys) == 0 && perRoute == nil {
			next.ServeHTTP(w, r)
			return
		}
		if perRoute != nil {
			keys = append(keys, limitKey{perRoute, route})
		}
		d := rl.decide(r, keys, 1)
		if !d.Allowed {
			if d.RetryAfter < 0 {
				d.RetryAfter = time.Hour
			}
			rl.refuse(w, r, route, "requests", d, "rate limit exceeded")
			return
		}
		setHeaders(w.Header(), d)
		next.ServeHTTP(w, r)
	})
}

// ceilSeconds rounds d up to whole seconds.
func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

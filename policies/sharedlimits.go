package policies

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// SharedLimits keeps the rate-limit buckets in Redis, so that every gateway
// instance using the same Redis and key prefix enforces one limit. Redis runs
// GCRA (go-redis/redis_rate), on Redis's own clock.
//
// When Redis cannot be reached or answers late, the checks fall back to each
// instance's own buckets: the limits still hold, per instance. The fallback is
// logged when it begins and ends, and counted. While Redis is down it is asked
// again once a second, by one request, not by all.
type SharedLimits struct {
	client  *redis.Client
	limiter *redis_rate.Limiter
	prefix  string
	timeout time.Duration

	down      atomic.Bool
	nextProbe atomic.Int64 // while down: when Redis may be asked again, Unix nanoseconds
	log       *slog.Logger
	// OnState, when set, is told when Redis becomes unreachable (false) and
	// reachable again (true).
	OnState func(up bool)
	// OnFallback, when set, is told of every check decided locally.
	OnFallback func()
}

// SharedOptions configure SharedLimits.
type SharedOptions struct {
	// URL is Redis's: redis://[user:password@]host:port[/db], or rediss:// for TLS.
	URL string
	// Prefix begins every key, so that gateways of different deployments can share
	// a Redis without sharing limits.
	Prefix string
	// Timeout bounds every Redis call; past it the check is decided locally.
	Timeout time.Duration
	Log     *slog.Logger
}

// NewSharedLimits connects to Redis lazily: a gateway starts while Redis is down.
func NewSharedLimits(o SharedOptions) (*SharedLimits, error) {
	opt, err := redis.ParseURL(o.URL)
	if err != nil {
		return nil, err
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = o.Timeout, o.Timeout, o.Timeout
	opt.MaxRetries = -1   // a failed call falls back; it is not repeated
	opt.DialerRetries = 1 // nor is a failed dial
	opt.ContextTimeoutEnabled = true
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	quietRedis.Do(func() { redis.SetLogger(discardLogger{}) }) // our own log says what matters
	c := redis.NewClient(opt)
	return &SharedLimits{client: c, limiter: redis_rate.NewLimiter(c), prefix: o.Prefix, timeout: o.Timeout, log: o.Log}, nil
}

var quietRedis sync.Once

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

// Close closes the connections to Redis.
func (s *SharedLimits) Close() error { return s.client.Close() }

// Up reports whether the last call to Redis succeeded.
func (s *SharedLimits) Up() bool { return !s.down.Load() }

// usable reports whether Redis should be asked now: it is up, or it is down and
// this caller is the one to probe it.
func (s *SharedLimits) usable(now time.Time) bool {
	if !s.down.Load() {
		return true
	}
	next := s.nextProbe.Load()
	return now.UnixNano() >= next && s.nextProbe.CompareAndSwap(next, now.Add(time.Second).UnixNano())
}

func (s *SharedLimits) failed(err error) {
	s.nextProbe.Store(time.Now().Add(time.Second).UnixNano())
	if s.down.CompareAndSwap(false, true) {
		s.log.Warn("shared rate limits: Redis cannot be reached; each instance limits on its own until it can", "error", err)
		if s.OnState != nil {
			s.OnState(false)
		}
	}
}

func (s *SharedLimits) succeeded() {
	if s.down.CompareAndSwap(true, false) {
		s.log.Info("shared rate limits: Redis is reachable again; the limits are shared")
		if s.OnState != nil {
			s.OnState(true)
		}
	}
}

func (s *SharedLimits) fellBack() {
	if s.OnFallback != nil {
		s.OnFallback()
	}
}

// limit is r as redis_rate has it: one token per 1/r.PerSecond seconds.
func limit(r Rate) redis_rate.Limit {
	return redis_rate.Limit{Rate: 1, Burst: r.Burst, Period: time.Duration(float64(time.Second) / r.PerSecond)}
}

// check takes n tokens from each (limiter, key) pair in Redis, all or none: when
// a later bucket refuses, the tokens taken from the earlier ones are given back.
// ok is false when Redis could not decide; the caller then decides locally.
func (s *SharedLimits) check(ctx context.Context, keys []limitKey, n int) (d Decision, ok bool) {
	if !s.usable(time.Now()) {
		s.fellBack()
		return Decision{}, false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	d = Decision{Allowed: true, Limit: math.MaxInt, Remaining: math.MaxInt}
	var taken []limitKey
	giveBack := func() {
		for _, k := range taken {
			_, _ = s.limiter.AllowN(ctx, s.key(k), limit(k.l.rate), -n)
		}
	}
	for _, k := range keys {
		if n > k.l.rate.Burst { // can never pass; Redis need not be asked
			d.Allowed, d.RetryAfter = false, -1
			d.Limit, d.Remaining = k.l.rate.Burst, 0
			break
		}
		res, err := s.limiter.AllowN(ctx, s.key(k), limit(k.l.rate), n)
		if err != nil {
			giveBack()
			if !errors.Is(err, redis.ErrClosed) { // closed by a reload: not an outage
				s.failed(err)
			}
			s.fellBack()
			return Decision{}, false
		}
		if res.Allowed == 0 {
			d.Allowed = false
			d.RetryAfter = max(d.RetryAfter, res.RetryAfter)
			d.Limit, d.Remaining, d.Reset = k.l.rate.Burst, 0, res.ResetAfter
			break
		}
		taken = append(taken, k)
		if res.Remaining < d.Remaining || (res.Remaining == d.Remaining && k.l.rate.Burst < d.Limit) {
			d.Limit, d.Remaining, d.Reset = k.l.rate.Burst, res.Remaining, res.ResetAfter
		}
	}
	if !d.Allowed {
		giveBack()
	}
	s.succeeded()
	return d, true
}

func (s *SharedLimits) key(k limitKey) string {
	return fmt.Sprintf("%s%s:%s", s.prefix, k.l.name, k.key)
}

package policies

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// SharedLimits keeps the rate-limit buckets in Redis, so that every gateway
// instance using the same Redis and key prefix enforces one limit. A Lua script
// runs GCRA on Redis's own clock over all the buckets of a request at once, so that
// a request refused by one bucket takes nothing from the others (redis_rate's
// script takes one bucket per call, which would need refunds that GCRA cannot
// always make exact).
//
// When Redis cannot be reached or answers late, the checks fall back to each
// instance's own buckets: the limits still hold, per instance. The fallback is
// logged when it begins and ends, and counted. While Redis is down it is asked
// again once a second, by one request, not by all.
type SharedLimits struct {
	client  *redis.Client
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
	return &SharedLimits{client: c, prefix: o.Prefix, timeout: o.Timeout, log: o.Log}, nil
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

// gcra takes n tokens from each bucket of KEYS, all or none, in one atomic step.
// A bucket is GCRA's "theoretical arrival time" (TAT) in seconds since 2017 on
// Redis's clock, kept until the bucket would be full again. ARGV is n, then each
// bucket's emission interval (seconds per token) and burst. It answers whether
// the tokens were taken, the wait until they could be (seconds), and each
// bucket's tokens left and time until full.
var gcra = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call("TIME")
local now = (tonumber(t[1]) - 1483228800) + tonumber(t[2]) / 1000000
local n = tonumber(ARGV[1])
local allowed, wait = 1, 0
local tats, out = {}, {}
for i, key in ipairs(KEYS) do
  local ei, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call("GET", key)) or now
  tat = math.max(tat, now)
  local new_tat = tat + ei * n
  local diff = now - (new_tat - ei * burst)
  if diff < 0 then
    allowed = 0
    wait = math.max(wait, -diff)
    out[2 * i - 1] = math.max(0, math.floor((now - (tat - ei * burst)) / ei))
    out[2 * i] = tostring(tat - now)
  else
    out[2 * i - 1] = math.floor(diff / ei)
    out[2 * i] = tostring(new_tat - now)
  end
  tats[i] = new_tat
end
if allowed == 1 then
  for i, key in ipairs(KEYS) do
    local ttl = math.ceil((tats[i] - now) * 1000)
    if ttl > 0 then redis.call("SET", key, tostring(tats[i]), "PX", ttl) end
  end
end
return {allowed, tostring(wait), out}
`)

// check takes n tokens from each (limiter, key) pair in Redis, all or none, in one
// round trip. ok is false when Redis could not decide; the caller then decides
// locally.
func (s *SharedLimits) check(ctx context.Context, keys []limitKey, n int) (d Decision, ok bool) {
	d = Decision{Allowed: true, Limit: math.MaxInt, Remaining: math.MaxInt}
	for _, k := range keys {
		if n > k.l.rate.Burst { // can never pass; Redis need not be asked
			return Decision{RetryAfter: -1, Limit: k.l.rate.Burst}, true
		}
	}
	if !s.usable(time.Now()) {
		s.fellBack()
		return Decision{}, false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.timeout)
	defer cancel()
	names := make([]string, len(keys))
	args := make([]any, 1, 1+2*len(keys))
	args[0] = n
	for i, k := range keys {
		names[i] = s.key(k)
		args = append(args, 1/k.l.rate.PerSecond, k.l.rate.Burst)
	}
	res, err := gcra.Run(ctx, s.client, names, args...).Slice()
	if err == nil && (len(res) != 3 || len(asSlice(res[2])) != 2*len(keys)) {
		err = errors.New("unexpected answer from the rate-limit script")
	}
	if err != nil {
		if !errors.Is(err, redis.ErrClosed) { // closed by a reload: not an outage
			s.failed(err)
		}
		s.fellBack()
		return Decision{}, false
	}
	s.succeeded()
	allowed, _ := res[0].(int64)
	d.Allowed = allowed == 1
	if !d.Allowed {
		d.RetryAfter = seconds(res[1])
	}
	per := asSlice(res[2])
	for i, k := range keys {
		remaining, _ := per[2*i].(int64)
		if int(remaining) < d.Remaining || (int(remaining) == d.Remaining && k.l.rate.Burst < d.Limit) {
			d.Limit, d.Remaining, d.Reset = k.l.rate.Burst, int(remaining), seconds(per[2*i+1])
		}
	}
	return d, true
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// seconds reads a script's number of seconds, sent as a string.
func seconds(v any) time.Duration {
	str, _ := v.(string)
	f, err := strconv.ParseFloat(str, 64)
	if err != nil || f < 0 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

func (s *SharedLimits) key(k limitKey) string {
	return fmt.Sprintf("%s%s:%s", s.prefix, k.l.name, k.key)
}

package policies

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strconv"
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
	*redisConn
	prefix string
	// OnFallback, when set, is told of every check decided locally.
	OnFallback func()
}

// SharedOptions configure SharedLimits.
type SharedOptions struct {
	// Redis is where the buckets are; past its timeout a check is decided locally.
	Redis Redis
	Log   *slog.Logger
	// Now is the clock that times the probes of Redis while it is down, once a
	// second; nil is time.Now. Tests pass their own.
	Now func() time.Time
}

// NewSharedLimits connects to Redis lazily: a gateway starts while Redis is down.
func NewSharedLimits(o SharedOptions) (*SharedLimits, error) {
	c, err := dialRedis(o.Redis.URL, o.Redis.Timeout.Duration, o.Log,
		"shared rate limits: Redis cannot be reached; each instance limits on its own until it can",
		"shared rate limits: Redis is reachable again; the limits are shared")
	if err != nil {
		return nil, err
	}
	c.now = o.Now
	return &SharedLimits{redisConn: c, prefix: o.Redis.KeyPrefix}, nil
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
	if !s.usable(s.clock()) {
		s.fellBack()
		return Decision{}, false
	}
	ctx, cancel := s.call(ctx)
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
	s.outcome(err)
	if err != nil {
		s.fellBack()
		return Decision{}, false
	}
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
	return s.prefix + k.l.name + ":" + k.key
}

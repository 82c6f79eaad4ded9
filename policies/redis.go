package policies

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/switchyard/switchyard/setting"
)

// redisConn is a Redis the gateway can do without: every call is bounded by a
// timeout, and while Redis cannot be reached its users fall back to what they do
// alone, asking Redis again once a second (one caller, not all). The outage is
// logged when it begins and ends.
type redisConn struct {
	client  *redis.Client
	timeout time.Duration

	down      atomic.Bool
	nextProbe atomic.Int64 // while down: when Redis may be asked again, Unix nanoseconds
	log       *slog.Logger
	downMsg   string
	upMsg     string
	// OnState, when set, is told when Redis becomes unreachable (false) and
	// reachable again (true).
	OnState func(up bool)
	now     func() time.Time // times the probes; nil is time.Now
}

// clock is the time by c's clock.
func (c *redisConn) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// Redis is a Redis that state shared by the instances lives in (rate limits,
// persisted queries), as the configuration's rate_limits.redis and
// graphql.apq.redis write it. When it cannot be reached, each instance falls back
// to its own state, and says so.
type Redis struct {
	// URL is redis://[user:password@]host:port[/db] (rediss:// for TLS).
	URL string `yaml:"url"`
	// KeyPrefix begins every key, so that gateways of different deployments can
	// share a Redis without sharing state. Default "switchyard:" for rate limits,
	// "switchyard:apq:" for persisted queries.
	KeyPrefix string `yaml:"key_prefix"`
	// Timeout bounds each Redis call; past it the instance decides alone. Default
	// 100ms; it cannot be 0.
	Timeout setting.Duration `yaml:"timeout"`
}

// SetDefaults fills the unset fields, prefix being the default key prefix.
func (r *Redis) SetDefaults(prefix string) {
	if r.KeyPrefix == "" {
		r.KeyPrefix = prefix
	}
	r.Timeout.SetDefault(100 * time.Millisecond)
}

// Validate reports, under at, a URL that is not Redis's (its password hidden) and
// a bad timeout.
func (r *Redis) Validate(at setting.Path, rep setting.Reporter) {
	if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		rep.Add(at.Key("url"), "%q is not a Redis URL (redis://host:port[/db], rediss:// for TLS)", redactURL(r.URL))
	}
	r.Timeout.Check(at.Key("timeout"), rep)
	if r.Timeout.IsSet() && r.Timeout.Duration == 0 {
		rep.Add(at.Key("timeout"), "must be more than 0")
	}
}

// redactURL hides the password of a URL that has one, for error messages.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(not a URL)"
}

// dialRedis makes the client; it connects when first used, so a gateway starts
// while Redis is down.
func dialRedis(url string, timeout time.Duration, log *slog.Logger, downMsg, upMsg string) (*redisConn, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = timeout, timeout, timeout
	opt.MaxRetries = -1   // a failed call falls back; it is not repeated
	opt.DialerRetries = 1 // nor is a failed dial
	opt.ContextTimeoutEnabled = true
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	quietRedis.Do(func() { redis.SetLogger(discardLogger{}) }) // our own log says what matters
	return &redisConn{client: redis.NewClient(opt), timeout: timeout, log: log, downMsg: downMsg, upMsg: upMsg}, nil
}

var quietRedis sync.Once

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

// Close closes the connections to Redis.
func (c *redisConn) Close() error { return c.client.Close() }

// Up reports whether the last call to Redis succeeded.
func (c *redisConn) Up() bool { return !c.down.Load() }

// usable reports whether Redis should be asked now: it is up, or it is down and
// this caller is the one to probe it.
func (c *redisConn) usable(now time.Time) bool {
	if !c.down.Load() {
		return true
	}
	next := c.nextProbe.Load()
	return now.UnixNano() >= next && c.nextProbe.CompareAndSwap(next, now.Add(time.Second).UnixNano())
}

// outcome records how a call went: err nil, or redis.Nil (no such key), is an
// answer; redis.ErrClosed (closed by a reload) is no outage.
func (c *redisConn) outcome(err error) {
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		c.succeeded()
	case errors.Is(err, redis.ErrClosed):
	default:
		c.failed(err)
	}
}

func (c *redisConn) failed(err error) {
	c.nextProbe.Store(c.clock().Add(time.Second).UnixNano())
	if c.down.CompareAndSwap(false, true) {
		c.log.Warn(c.downMsg, "error", err)
		if c.OnState != nil {
			c.OnState(false)
		}
	}
}

func (c *redisConn) succeeded() {
	if c.down.CompareAndSwap(true, false) {
		c.log.Info(c.upMsg)
		if c.OnState != nil {
			c.OnState(true)
		}
	}
}

// call bounds a call's context by the timeout, and keeps it from ending with
// the request's: a caller that gives up is not an outage.
func (c *redisConn) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
}

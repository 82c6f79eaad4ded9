package gateway

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/policies"
)

// limits are the rate limits of the routes and, when configured, the Redis they
// are shared through with other instances.
type limits struct {
	rates *policies.RateLimits
	redis *policies.SharedLimits // nil when the limits are local
	// shared is the configuration redis was made from.
	shared policies.Redis
}

// newLimits makes the rate limits, which adopt prev's buckets; the Redis client
// is kept from prev when its configuration is the same.
func newLimits(g *Gateway, prev *limits) (*limits, error) {
	rates, err := rateLimits(g)
	if err != nil {
		return nil, err
	}
	l := &limits{rates: rates}
	if prev != nil {
		l.rates.Adopt(prev.rates)
	}
	rc := g.cfg.RateLimits.Redis
	if rc == nil {
		return l, nil
	}
	l.shared = *rc
	if prev != nil && prev.redis != nil && reflect.DeepEqual(prev.shared, *rc) {
		l.redis = prev.redis
	} else {
		if l.redis, err = policies.NewSharedLimits(policies.SharedOptions{Redis: *rc, Log: g.log.With("component", "ratelimit")}); err != nil {
			return nil, fmt.Errorf("rate_limits.redis.url: %w", err)
		}
		if m := g.obs.metrics; m != nil {
			l.redis.OnState, l.redis.OnFallback = m.SharedLimitsUp, m.SharedLimitsFallback
			m.SharedLimitsUp(true)
		}
	}
	l.rates.Share(l.redis)
	return l, nil
}

// release closes the Redis client keep does not share; requests still on it
// decide locally.
func (l *limits) release(keep component) {
	next, _ := keep.(*limits)
	if l.redis != nil && (next == nil || next.redis != l.redis) {
		_ = l.redis.Close()
	}
}

// rateLimits builds the configured rate limits; a per-route limit must name a route
// that is served.
func rateLimits(g *Gateway) (*policies.RateLimits, error) {
	c := g.cfg.RateLimits
	var tiers []policies.Rate
	for _, k := range g.cfg.Auth.APIKeys {
		if k.RateLimit != nil {
			tiers = append(tiers, *k.RateLimit)
		}
	}
	routes := g.versions.guardedRoutes()
	for _, rc := range g.cfg.Routes {
		routes = append(routes, "route:"+rc.Name) // the L7 routes, by name
	}
	perRoute := map[string]policies.Rate{}
	for route, r := range c.PerRoute {
		if !slices.Contains(routes, route) {
			return nil, &config.FieldError{Key: "rate_limits.per_route." + route, Msg: fmt.Sprintf("no route %q: the limited routes are %s", route, strings.Join(routes, ", "))}
		}
		perRoute[route] = r
	}
	var onLimited func(string, string)
	if g.obs.metrics != nil {
		onLimited = g.obs.metrics.RateLimited
	}
	rl := policies.NewRateLimits(c.PerCaller, tiers, perRoute, c.IdleTimeout.Duration, g.auth.clientIPs.Of, onLimited)
	if c.CostPerCaller != nil {
		rl.LimitCost(*c.CostPerCaller, c.IdleTimeout.Duration)
	}
	return rl, nil
}

package gateway

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/policies"
)

// buildAuth makes the authenticator (it adopts prev's fetched OIDC keys) and the
// trusted proxies' client-address rule.
func (g *Gateway) buildAuth(prev *Gateway, _ *closers) error {
	cfg := g.cfg
	issuers := slices.Clone(cfg.Auth.OIDC)
	for i := range issuers {
		issuers[i].Log = g.log.With("component", "oidc")
	}
	auth, err := policies.NewAuthenticator(policies.AuthOptions{
		Required: cfg.Auth.Required, APIKeyHeader: cfg.Auth.APIKeyHeader, APIKeys: cfg.Auth.APIKeys, Issuers: issuers,
	})
	if err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	g.auth = auth
	if prev != nil {
		g.auth.Adopt(prev.auth)
	}
	if g.metrics != nil {
		g.auth.OnDecision = g.metrics.AuthDecision
	}
	if g.clientIPs, err = policies.NewClientIPs(cfg.TrustedProxies); err != nil {
		return fmt.Errorf("trusted_proxies: %w", err)
	}
	return nil
}

// buildLimits makes the rate limits, which adopt prev's buckets, and the
// requirements of routes and operations; the Redis the limits are shared through
// is kept from prev when its configuration is the same.
func (g *Gateway) buildLimits(prev *Gateway, made *closers) error {
	var err error
	if g.limits, err = g.rateLimits(); err != nil {
		return err
	}
	if err := g.authorization(); err != nil {
		return err
	}
	if prev != nil {
		g.limits.Adopt(prev.limits)
	}
	rc := g.cfg.RateLimits.Redis
	if rc == nil {
		return nil
	}
	if prev != nil && prev.redis != nil && reflect.DeepEqual(*prev.cfg.RateLimits.Redis, *rc) {
		g.redis = prev.redis
	} else {
		if g.redis, err = policies.NewSharedLimits(policies.SharedOptions{Redis: *rc, Log: g.log.With("component", "ratelimit")}); err != nil {
			return fmt.Errorf("rate_limits.redis.url: %w", err)
		}
		made.add(func() { _ = g.redis.Close() })
		if g.metrics != nil {
			g.redis.OnState, g.redis.OnFallback = g.metrics.SharedLimitsUp, g.metrics.SharedLimitsFallback
			g.metrics.SharedLimitsUp(true)
		}
	}
	g.limits.Share(g.redis)
	return nil
}

// guardedRoutes are the patterns of the routes that authenticate and limit their
// callers: the GraphQL endpoints and the composed REST endpoints.
func (g *Gateway) guardedRoutes() []string {
	routes := []string{"/graphql"}
	for _, v := range g.versions() {
		routes = append(routes, "/"+v+"/graphql")
	}
	for _, ep := range g.rest {
		routes = append(routes, ep.Path)
	}
	return routes
}

// authorization builds the configured requirements of routes and operations. A
// route rule must name a guarded route; an operation rule, an operation whose text
// the gateway fixes.
func (g *Gateway) authorization() error {
	c := g.cfg.Auth
	routes := g.guardedRoutes()
	g.routeRules = map[string]policies.Requirement{}
	for route, r := range c.Routes {
		if !slices.Contains(routes, route) {
			return fmt.Errorf("auth.routes: no route %q (the guarded routes are %s)", route, strings.Join(routes, ", "))
		}
		g.routeRules[route] = r
	}
	if len(c.Operations) == 0 {
		return nil
	}
	if g.trusted == nil {
		return errors.New("auth.operations needs graphql.trusted_documents: without it a client may give any operation the name a rule protects (for a composed REST endpoint, put the rule on its route in auth.routes)")
	}
	fixed := g.trusted.OperationNames()
	for _, ep := range g.rest {
		fixed = append(fixed, ep.Name)
	}
	g.opRules = policies.OperationRules{}
	for name, r := range c.Operations {
		if !slices.Contains(fixed, name) {
			return fmt.Errorf("auth.operations: %q is not the name of a composed REST endpoint's operation or of a trusted document's: a client could name any operation so", name)
		}
		g.opRules[name] = r
	}
	return nil
}

// rateLimits builds the configured rate limits; a per-route limit must name a route
// that is served.
func (g *Gateway) rateLimits() (*policies.RateLimits, error) {
	c := g.cfg.RateLimits
	var tiers []policies.Rate
	for _, k := range g.cfg.Auth.APIKeys {
		if k.RateLimit != nil {
			tiers = append(tiers, *k.RateLimit)
		}
	}
	routes := g.guardedRoutes()
	for _, rc := range g.cfg.Routes {
		routes = append(routes, "route:"+rc.Name) // the L7 routes, by name
	}
	perRoute := map[string]policies.Rate{}
	for route, r := range c.PerRoute {
		if !slices.Contains(routes, route) {
			return nil, fmt.Errorf("rate_limits.per_route: no route %q (the limited routes are %s)", route, strings.Join(routes, ", "))
		}
		perRoute[route] = r
	}
	var onLimited func(string, string)
	if g.metrics != nil {
		onLimited = g.metrics.RateLimited
	}
	rl := policies.NewRateLimits(c.PerCaller, tiers, perRoute, c.IdleTimeout.Duration, g.clientIPs.Of, onLimited)
	if c.CostPerCaller != nil {
		rl.LimitCost(*c.CostPerCaller, c.IdleTimeout.Duration)
	}
	return rl, nil
}

package config

import (
	"time"
)

// SetDefaults fills every unset field with its default.
func (c *Config) SetDefaults() {
	for i := range c.Routes {
		c.Routes[i].SetDefaults()
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	c.ShutdownTimeout.SetDefault(10 * time.Second)
	c.Timeouts.ReadHeader.SetDefault(5 * time.Second)
	c.Timeouts.BodyRead.SetDefault(10 * time.Second)
	c.Timeouts.Idle.SetDefault(120 * time.Second)
	c.Timeouts.Write.SetDefault(60 * time.Second)
	if c.Tracing.Sample == nil {
		c.Tracing.Sample = ptr(1.0)
	}
	if c.Auth.APIKeyHeader == "" {
		c.Auth.APIKeyHeader = "X-API-Key"
	}
	for i := range c.Auth.OIDC {
		c.Auth.OIDC[i].SetDefaults()
	}
	if len(c.CORS.AllowedHeaders) == 0 {
		c.CORS.AllowedHeaders = []string{"Content-Type", "Authorization", c.Auth.APIKeyHeader, "API-Version", "Request-Timeout", "X-Request-Id", "Traceparent", "Tracestate"}
	}
	c.CORS.MaxAge.SetDefault(10 * time.Minute)
	c.RateLimits.IdleTimeout.SetDefault(10 * time.Minute)
	if r := c.RateLimits.Redis; r != nil {
		r.SetDefaults("switchyard:")
	}
	if c.Tracing.ServiceName == "" {
		c.Tracing.ServiceName = "switchyard"
	}
	if c.Metrics.Enabled == nil {
		c.Metrics.Enabled = ptr(true)
	}
	if c.AccessLog.Enabled == nil {
		c.AccessLog.Enabled = ptr(true)
	}
	if c.AccessLog.Sample == nil {
		c.AccessLog.Sample = ptr(1.0)
	}
	c.GraphQL.setDefaults()
	for name, p := range c.Pools {
		p.SetDefaults()
		c.Pools[name] = p
	}
}

// setDefaults fills the graphql section's unset keys.
func (g *GraphQL) setDefaults() {
	g.APQ.TTL.SetDefault(24 * time.Hour)
	g.LoaderWait.SetDefault(time.Millisecond)
	if g.QueryCacheSize == 0 {
		g.QueryCacheSize = 1000
	}
	if g.MaxBodyBytes == 0 {
		g.MaxBodyBytes = 1 << 20
	}
	if g.Playground == nil {
		g.Playground = ptr(true)
	}
	if g.DirectExecution == nil {
		g.DirectExecution = ptr(true)
	}
	if g.Introspection == nil {
		g.Introspection = ptr(true)
	}
	g.MaxRequestTimeout.SetDefault(time.Minute)
	for _, l := range []struct {
		v   *int
		def int
	}{{&g.Limits.MaxQueryBytes, 16 << 10}, {&g.Limits.MaxDepth, 12}, {&g.Limits.MaxAliases, 30}, {&g.Limits.MaxTokens, 5000}, {&g.Limits.MaxCost, 10000}} {
		switch {
		case *l.v == 0:
			*l.v = l.def
		case *l.v < 0:
			*l.v = -1
		}
	}
	if g.APQ.Enabled == nil {
		g.APQ.Enabled = ptr(true)
	}
	if g.APQ.CacheSize == 0 {
		g.APQ.CacheSize = 1000
	}
	if r := g.APQ.Redis; r != nil {
		r.SetDefaults("switchyard:apq:")
	}
}

func ptr[T any](v T) *T { return &v }

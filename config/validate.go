package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/l7"
	"github.com/switchyard/switchyard/policies"
	"github.com/switchyard/switchyard/schema"
	"github.com/switchyard/switchyard/setting"
)

// Validate checks the values of a configuration whose defaults are set. Its errors
// name keys but no lines; Load adds the file and lines. requiredPools are the pools
// the built-in schema calls (gateway.DemoPools), which must be configured unless
// the configuration declares a schema of its own.
func (c *Config) Validate(requiredPools ...string) error {
	var errs errorList
	c.validateServer(&errs)
	c.validateGraphQL(&errs)
	c.validateTLS(&errs)
	c.validateRateLimits(&errs)
	c.validateAuth(&errs)
	l7.ValidateRoutes(c.Routes, func(name string) bool { _, ok := c.Pools[name]; return ok }, path{"routes"}, &errs)
	c.validateCORS(&errs)
	c.validateVersions(&errs)
	c.validatePools(requiredPools, &errs)
	return errs.err()
}

// validateServer checks the listeners, shutdown, tracing, access log and admin keys.
func (c *Config) validateServer(errs *errorList) {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs.Add(path{"listen"}, "%q is not a host:port address", c.Listen)
	}
	c.ShutdownTimeout.Check(path{"shutdown_timeout"}, errs)
	c.ShutdownDelay.Check(path{"shutdown_delay"}, errs)
	for key, d := range map[string]Duration{"read_header": c.Timeouts.ReadHeader, "body_read": c.Timeouts.BodyRead, "idle": c.Timeouts.Idle} {
		d.Check(path{"timeouts", key}, errs)
		if d.Duration <= 0 {
			errs.Add(path{"timeouts", key}, "must be more than 0: without it a client that sends nothing holds a connection for ever")
		}
	}
	c.Timeouts.Write.Check(path{"timeouts", "write"}, errs)
	if c.Tracing.Enabled {
		if u, err := url.Parse(c.Tracing.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs.Add(path{"tracing", "endpoint"}, "%q is not a collector URL (want http://host:4318)", c.Tracing.Endpoint)
		}
	}
	if s := *c.Tracing.Sample; s < 0 || s > 1 {
		errs.Add(path{"tracing", "sample"}, "must be between 0 and 1, got %g", s)
	}
	if s := *c.AccessLog.Sample; s < 0 || s > 1 {
		errs.Add(path{"access_log", "sample"}, "must be between 0 and 1, got %g", s)
	}
	if c.Admin.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Admin.Listen); err != nil {
			errs.Add(path{"admin", "listen"}, "%q is not a host:port address", c.Admin.Listen)
		}
	}
}

// validateGraphQL checks the graphql section.
func (c *Config) validateGraphQL(errs *errorList) {
	g := path{"graphql"}
	c.GraphQL.LoaderWait.Check(g.Key("loader_wait"), errs)
	c.GraphQL.RequestTimeout.Check(g.Key("request_timeout"), errs)
	c.GraphQL.MaxRequestTimeout.Check(g.Key("max_request_timeout"), errs)
	if c.GraphQL.QueryCacheSize < 0 {
		errs.Add(g.Key("query_cache_size"), "must not be negative")
	}
	if c.GraphQL.APQ.CacheSize < 0 {
		errs.Add(g.Key("apq").Key("cache_size"), "must not be negative")
	}
	if f := c.GraphQL.TrustedDocuments; f != "" {
		if _, err := policies.LoadTrustedDocuments(f); err != nil {
			errs.Add(g.Key("trusted_documents"), "%s: %v", f, err)
		}
	}
	if c.GraphQL.MaxBodyBytes < 0 {
		errs.Add(g.Key("max_body_bytes"), "must not be negative")
	}
	if r := c.GraphQL.APQ.Redis; r != nil {
		r.Validate(path{"graphql", "apq", "redis"}, errs)
	}
	c.GraphQL.APQ.TTL.Check(path{"graphql", "apq", "ttl"}, errs)
}

// validateTLS checks that the TLS files can be read.
func (c *Config) validateTLS(errs *errorList) {
	if t := c.TLS; t != nil {
		if len(t.Certificates) == 0 {
			errs.Add(path{"tls", "certificates"}, "TLS needs at least one certificate")
		}
		for i, ck := range t.Certificates {
			for _, f := range []struct{ key, file string }{{"cert", ck.Cert}, {"key", ck.Key}} {
				if _, err := os.Stat(f.file); err != nil {
					errs.Add(path{"tls", "certificates"}.Index(i).Key(f.key), "cannot read %q", f.file)
				}
			}
		}
		if t.ClientCA != "" {
			if _, err := os.Stat(t.ClientCA); err != nil {
				errs.Add(path{"tls", "client_ca"}, "cannot read %q", t.ClientCA)
			}
		}
		if t.RedirectListen != "" {
			if _, _, err := net.SplitHostPort(t.RedirectListen); err != nil {
				errs.Add(path{"tls", "redirect_listen"}, "%q is not a host:port address", t.RedirectListen)
			}
		}
	}
}

// validateRateLimits checks the rate_limits section.
func (c *Config) validateRateLimits(errs *errorList) {
	if r := c.RateLimits.PerCaller; r != nil {
		r.Validate(path{"rate_limits", "per_caller"}, errs)
	}
	for route, r := range c.RateLimits.PerRoute {
		at := path{"rate_limits", "per_route", route}
		if !strings.HasPrefix(route, "/") && !strings.HasPrefix(route, "route:") {
			errs.Add(at, "%q is not a route pattern (it starts with /) or an L7 route (route:NAME)", route)
		} else if msg := c.unknownRoute(route, true); msg != "" {
			errs.Add(at, "%s", msg)
		}
		r.Validate(at, errs)
	}
	if r := c.RateLimits.CostPerCaller; r != nil {
		at := path{"rate_limits", "cost_per_caller"}
		r.Validate(at, errs)
		if m := c.GraphQL.Limits.MaxCost; r.Burst >= 1 && m > 0 && r.Burst < m {
			errs.Add(at.Key("burst"), "must be at least graphql.limits.max_cost (%d): an operation within that limit could never run", m)
		}
	}
	c.RateLimits.IdleTimeout.Check(path{"rate_limits", "idle_timeout"}, errs)
	if r := c.RateLimits.Redis; r != nil {
		r.Validate(path{"rate_limits", "redis"}, errs)
	}
}

// unknownRoute says why route names no route the gateway serves, or returns "":
// /graphql, /VERSION/graphql, route:NAME for an L7 route (with l7), and paths under
// /rest/ (the composed REST endpoints, which the gateway checks when it builds
// them).
func (c *Config) unknownRoute(route string, l7 bool) string {
	if name, ok := strings.CutPrefix(route, "route:"); ok && l7 {
		for _, rc := range c.Routes {
			if rc.Name == name {
				return ""
			}
		}
		return fmt.Sprintf("no L7 route is named %q (see routes)", name)
	}
	if route == "/graphql" || strings.HasPrefix(route, "/rest/") {
		return ""
	}
	for _, v := range schema.Versions {
		if route == "/"+v+"/graphql" {
			return ""
		}
	}
	known := []string{"/graphql"}
	for _, v := range schema.Versions {
		known = append(known, "/"+v+"/graphql")
	}
	known = append(known, "/rest/... (a composed REST endpoint)")
	if l7 {
		known = append(known, "route:NAME (an L7 route)")
	}
	return fmt.Sprintf("no route %q: the routes are %s", route, strings.Join(known, ", "))
}

// validateAuth checks the auth section and the trusted proxies.
func (c *Config) validateAuth(errs *errorList) {
	for i, p := range c.TrustedProxies {
		if _, err := policies.ParseProxy(p); err != nil {
			errs.Add(path{"trusted_proxies"}.Index(i), "%v", err)
		}
	}
	policies.ValidateAPIKeys(c.Auth.APIKeys, path{"auth", "api_keys"}, errs)
	policies.ValidateIssuers(c.Auth.OIDC, path{"auth", "oidc"}, errs)
	if len(c.Auth.Operations) > 0 && c.GraphQL.TrustedDocuments == "" {
		errs.Add(path{"auth", "operations"}, "needs graphql.trusted_documents: without it a client may give any operation the name a rule protects (for a composed REST endpoint, put the rule on its route in auth.routes)")
	}
	for _, rules := range []struct {
		key   string
		rules map[string]Requirement
	}{{"routes", c.Auth.Routes}, {"operations", c.Auth.Operations}} {
		for name, r := range rules.rules {
			at := path{"auth", rules.key, name}
			if !r.Authenticated && len(r.Scopes) == 0 {
				errs.Add(at, "a requirement needs authenticated: true or scopes")
			}
			if slices.Contains(r.Scopes, "") {
				errs.Add(at.Key("scopes"), "a scope cannot be empty")
			}
			if rules.key == "routes" && !strings.HasPrefix(name, "/") {
				errs.Add(at, "%q is not a route pattern (it starts with /)", name)
			} else if rules.key == "routes" {
				if msg := c.unknownRoute(name, false); msg != "" {
					errs.Add(at, "%s", msg)
				}
			}
		}
	}
	if len(c.Auth.OIDC) > 0 && strings.EqualFold(c.Auth.APIKeyHeader, "Authorization") {
		errs.Add(path{"auth", "api_key_header"}, "cannot be Authorization: bearer tokens are sent in it")
	}
}

// validateCORS checks the cors section.
func (c *Config) validateCORS(errs *errorList) {
	for i, o := range c.CORS.AllowedOrigins {
		if o == "*" {
			if c.CORS.AllowCredentials {
				errs.Add(path{"cors", "allow_credentials"}, `credentials cannot go with the origin "*"`)
			}
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs.Add(path{"cors", "allowed_origins"}.Index(i), "%q is not an origin (scheme://host[:port])", o)
		}
	}
	c.CORS.MaxAge.Check(path{"cors", "max_age"}, errs)
}

// validateVersions checks that the versions named are served.
func (c *Config) validateVersions(errs *errorList) {
	for name := range c.Versions {
		if !slices.Contains(schema.Versions, name) {
			errs.Add(path{"versions", name}, "no such version (the versions are %s)", strings.Join(schema.Versions, ", "))
		}
	}
}

// validatePools checks that the schema's pools are there, and each pool.
func (c *Config) validatePools(required []string, errs *errorList) {
	if len(c.GraphQL.Schema) > 0 {
		if _, err := c.GraphQL.SchemaFiles(); err != nil {
			errs.Add(path{"graphql", "schema"}, "%v", err)
		}
	} else if len(c.GraphQL.SchemaConfig) > 0 {
		errs.Add(path{"graphql", "schema_config"}, "values for a declared schema, but graphql.schema names none")
	}
	for _, name := range required {
		if len(c.GraphQL.Schema) > 0 {
			break // a declared schema's pools are its sources, checked when it loads
		}
		if _, ok := c.Pools[name]; !ok {
			errs.Add(path{"pools"}, "pool %q is missing: the schema's resolvers call it", name)
		}
	}
	for name, p := range c.Pools {
		at := path{"pools", name}
		HeaderOps{Set: p.RequestHeaders}.Validate(at.Key("request_headers"), errs)
		for claim, h := range p.ForwardClaims {
			if !setting.Token(h) {
				errs.Add(at.Key("forward_claims").Key(claim), "%q is not a header name", h)
			}
		}
	}
	names := make([]string, 0, len(c.Pools))
	for name := range c.Pools {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := c.Pools[name]
		p.Validate(path{"pools", name}, errs)
	}
}

// Package config owns the gateway's configuration file: its types, its defaults, and
// its validation. Load refuses a file with unknown keys, values of the wrong type, bad
// URLs or bad durations, and every error names the file, the line and the key.
package config

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/switchyard/switchyard/l7"
	"github.com/switchyard/switchyard/lb"
	"github.com/switchyard/switchyard/policies"
	"github.com/switchyard/switchyard/setting"
)

// Config is the whole configuration of one gateway process.
type Config struct {
	// Listen is the address of the public listener. Default "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// ShutdownTimeout bounds how long in-flight requests may run after a stop signal.
	// Default 10s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// ShutdownDelay is how long, after a stop signal, /readyz answers 503 while the
	// listener still serves, so that load balancers stop sending first. Set it to
	// their probe interval or more. Default 0s.
	ShutdownDelay Duration `yaml:"shutdown_delay"`
	// GraphQL configures the GraphQL endpoint.
	GraphQL GraphQL `yaml:"graphql"`
	// Admin configures the private admin listener.
	Admin Admin `yaml:"admin"`
	// TLS, when set, terminates TLS on the public listener.
	TLS *TLS `yaml:"tls"`
	// CORS lets browsers on other origins call the gateway. Off by default.
	CORS CORS `yaml:"cors"`
	// Auth configures who may call the gateway.
	Auth Auth `yaml:"auth"`
	// RateLimits limit requests per caller and per route. Off by default.
	RateLimits RateLimits `yaml:"rate_limits"`
	// TrustedProxies are the addresses and CIDR prefixes of the proxies in front of
	// the gateway whose X-Forwarded-For is believed when finding a client's address
	// (for the access log, anonymous callers' rate limits and client_ip hashing).
	// Empty by default: the client is the peer of the connection, and
	// X-Forwarded-For is ignored.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// AccessLog configures the access log.
	AccessLog AccessLog `yaml:"access_log"`
	// Metrics configures the Prometheus metrics.
	Metrics Metrics `yaml:"metrics"`
	// Tracing configures OpenTelemetry tracing.
	Tracing Tracing `yaml:"tracing"`
	// Versions configure the schema versions served (v1, v2) by name.
	Versions map[string]Version `yaml:"versions"`
	// Pools are the upstream pools by name. The demo schema needs the pools users,
	// orders, catalog and reviews.
	Pools map[string]Pool `yaml:"pools"`
	// Routes are L7 routes, tried in order for the requests the gateway's own
	// routes do not serve: the first that matches proxies the request to a pool,
	// answers a fixed response or redirects.
	Routes []Route `yaml:"routes"`
}

// GraphQL configures the GraphQL endpoint.
type GraphQL struct {
	// LoaderWait is how long a batch of ids stays open for more ids after its first.
	// Default 1ms.
	LoaderWait Duration `yaml:"loader_wait"`
	// QueryCacheSize is how many parsed and validated queries are kept. Default 1000.
	QueryCacheSize int `yaml:"query_cache_size"`
	// MaxBodyBytes refuses larger request bodies with 413. Default 1 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Playground serves GraphiQL at /playground. Default true.
	Playground *bool `yaml:"playground"`
	// Introspection allows schema introspection queries. Default true.
	Introspection *bool `yaml:"introspection"`
	// DirectExecution runs queries with the generated direct executor, which
	// writes the answer without gqlgen's per-field marshaler tree; false runs every
	// operation with gqlgen's executor. The answers are the same. Default true.
	DirectExecution *bool `yaml:"direct_execution"`
	// RequestTimeout bounds each request and every upstream call it makes; 0 leaves
	// only the pools' request_timeout. Default 0.
	RequestTimeout Duration `yaml:"request_timeout"`
	// MaxRequestTimeout caps the budget a client asks for with the Request-Timeout
	// header. Default 60s.
	MaxRequestTimeout Duration `yaml:"max_request_timeout"`
	// Fallbacks answer a field whose upstream failed with a value instead of null
	// ("Product.reviews": []); the failure is still reported, with
	// extensions.fallback. Checked against the schema when the gateway starts.
	Fallbacks map[string]any `yaml:"fallbacks"`
	// RequiredFields fail the whole answer (HTTP 502, no data) when they fail for
	// an upstream, as a required pool does ("Query.order").
	RequiredFields []string `yaml:"required_fields"`
	// APQ configures automatic persisted queries (Apollo's protocol): a client may
	// send a query's SHA-256 instead of its text once the gateway has seen it.
	APQ APQ `yaml:"apq"`
	// Limits refuse operations too large, deep, aliased or costly, before they run.
	Limits Limits `yaml:"limits"`
	// TrustedDocuments, when set, is the file of the only operations clients may
	// run (an Apollo persisted query manifest, or a JSON object from SHA-256 to
	// document); clients may send a listed document's hash in place of its text.
	// Read again on reload.
	TrustedDocuments string `yaml:"trusted_documents"`
}

// Limits bound what one operation may ask for; -1 is no limit.
type Limits struct {
	MaxQueryBytes int `yaml:"max_query_bytes"` // default 16384; checked before parsing
	MaxDepth      int `yaml:"max_depth"`       // default 12
	MaxAliases    int `yaml:"max_aliases"`     // default 30
	// MaxTokens bounds the lexical tokens the parser reads. Default 5000.
	MaxTokens int `yaml:"max_tokens"`
	// MaxCost bounds the operation's cost: each field costs 1 plus what it selects,
	// times N for a list of N (first:, ids:). Default 10000.
	MaxCost int `yaml:"max_cost"`
}

// APQ configures automatic persisted queries.
type APQ struct {
	// Enabled turns them on. Default true.
	Enabled *bool `yaml:"enabled"`
	// CacheSize is how many queries are kept, least recently used first out.
	// Default 1000.
	CacheSize int `yaml:"cache_size"`
	// Redis, when set, keeps the queries in Redis too, shared by the instances.
	Redis *Redis `yaml:"redis"`
	// TTL is how long Redis keeps a query after it was last registered.
	// Default 24h.
	TTL Duration `yaml:"ttl"`
}

// Tracing configures OpenTelemetry: a span per GraphQL operation and per upstream
// call, exported to an OTLP/HTTP collector. Off, a client's traceparent is still
// passed on to the upstreams.
type Tracing struct {
	Enabled     bool     `yaml:"enabled"`      // default false
	Endpoint    string   `yaml:"endpoint"`     // the collector, http://host:4318; required when enabled
	Sample      *float64 `yaml:"sample"`       // share of new traces recorded, 0 to 1; default 1
	ServiceName string   `yaml:"service_name"` // default switchyard
}

// Metrics configures the Prometheus metrics at GET /metrics: on the admin listener
// when there is one, else on the public listener.
type Metrics struct {
	// Enabled turns them on. Default true.
	Enabled *bool `yaml:"enabled"`
}

// AccessLog configures the access log: one JSON line per request at level info.
type AccessLog struct {
	// Enabled turns it on. Default true.
	Enabled *bool `yaml:"enabled"`
	// Sample is the share of requests logged, 0 to 1; responses with a 5xx status
	// are always logged. Default 1.
	Sample *float64 `yaml:"sample"`
}

// Auth configures authentication. API keys are held only as SHA-256 hashes
// (echo -n KEY | sha256sum).
type Auth struct {
	// Required refuses requests without credentials with 401. Default false.
	Required bool `yaml:"required"`
	// APIKeyHeader is the header machine clients send their key in. Default
	// X-API-Key.
	APIKeyHeader string `yaml:"api_key_header"`
	// APIKeys are the machine clients.
	APIKeys []APIKey `yaml:"api_keys"`
	// OIDC are the issuers whose signed JWTs are accepted as bearer tokens
	// (Authorization: Bearer TOKEN).
	OIDC []OIDCIssuer `yaml:"oidc"`
	// Routes are requirements of every request to a route, by route pattern
	// ("/v1/graphql", "/rest/v2/products/{id}").
	Routes map[string]Requirement `yaml:"routes"`
	// Operations are requirements of GraphQL operations by name. Only operations
	// whose text the gateway fixes may be named: the composed REST endpoints' and
	// the trusted documents'.
	Operations map[string]Requirement `yaml:"operations"`
}

// Route is an L7 route: a match and one action (proxy, respond or redirect).
type Route struct {
	// Name names the route in metrics and logs. Required, unique.
	Name  string     `yaml:"name"`
	Match RouteMatch `yaml:"match"`
	// Proxy sends the request to a pool, streaming both ways.
	Proxy *RouteProxy `yaml:"proxy"`
	// Respond answers a fixed response.
	Respond *FixedResponse `yaml:"respond"`
	// Redirect answers a redirect.
	Redirect *Redirect `yaml:"redirect"`
	// Auth, when set, authenticates the caller (API key or bearer token) and
	// requires what it says; without it the route reads no credential.
	Auth *Requirement `yaml:"auth"`
	// ResponseHeaders change the answer's headers, whatever the action.
	ResponseHeaders HeaderOps `yaml:"response_headers"`
}

// RouteMatch is what a request must have to match; every condition set must hold.
type RouteMatch struct {
	// Hosts: one must equal the request's host (without port), or "*.example.com"
	// match a subdomain of example.com.
	Hosts []string `yaml:"hosts"`
	// PathPrefix matches a path equal to it or under it, by whole segments
	// ("/static" matches /static and /static/a.css, not /statics).
	PathPrefix string `yaml:"path_prefix"`
	// Path is a pattern: literal segments, {name} for one segment, {name...} for
	// the rest ("/files/{id}/{rest...}"). The names may be used in rewrite and
	// redirect templates.
	Path string `yaml:"path"`
	// Methods: the request's must be one of them.
	Methods []string `yaml:"methods"`
	// Headers: each must be present with this value, or with any value for "*".
	Headers map[string]string `yaml:"headers"`
	// Query: each parameter must be present with this value, or any for "*".
	Query map[string]string `yaml:"query"`
}

// RouteProxy sends matching requests to a pool's endpoints, with its balancing,
// retries (dial failures always; idempotent requests whose body was not sent),
// breakers and timeouts. Bodies stream both ways; WebSocket upgrades pass through.
type RouteProxy struct {
	Pool string `yaml:"pool"`
	// StripPrefix is removed from the start of the path.
	StripPrefix string `yaml:"strip_prefix"`
	// Rewrite replaces the path with a template of the path pattern's names,
	// "/v2/items/{id}".
	Rewrite string `yaml:"rewrite"`
	// PreserveHost sends the client's Host header instead of the endpoint's.
	PreserveHost bool `yaml:"preserve_host"`
	// RequestHeaders change the headers sent to the upstream.
	RequestHeaders HeaderOps `yaml:"request_headers"`
	// ForwardClaims sends the caller's principal to the upstream: claim (or
	// "sub", "scopes") to header. A client's own headers of these names are
	// removed first. Needs auth.
	ForwardClaims map[string]string `yaml:"forward_claims"`
	// ResponseFields rewrites a JSON answer's fields (of the object, or of each
	// object of an array); the answer is then read whole, up to 10 MiB. Other
	// answers stream untouched.
	ResponseFields *FieldMap `yaml:"response_fields"`
}

// FixedResponse is an answer the gateway gives itself.
type FixedResponse struct {
	Status  int               `yaml:"status"` // default 200
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
}

// Redirect answers with a Location built from a template.
type Redirect struct {
	// Status is 301, 302 (default), 303, 307 or 308.
	Status int `yaml:"status"`
	// To is the target: a URL or path with {scheme}, {host}, {path}, {query} and
	// the path pattern's names, "https://{host}{path}". The request's query is
	// appended unless To uses {query} or DropQuery is set.
	To        string `yaml:"to"`
	DropQuery bool   `yaml:"drop_query"`
	// {host} is the request's host only when the route's match.hosts names it
	// exactly or Hosts lists it; for any other Host header a client sends it is
	// DefaultHost, which defaults to the first exact name in match.hosts and is
	// required when there is none and To uses {host}.
	Hosts       []string `yaml:"hosts"`
	DefaultHost string   `yaml:"default_host"`
}

// RedirectDefaultHost is the host {host} stands for when the request's is not one
// the route names: DefaultHost, else the first exact name of matched (the route's
// match.hosts), else "".
func (rd *Redirect) RedirectDefaultHost(matched []string) string {
	if rd.DefaultHost != "" {
		return rd.DefaultHost
	}
	for _, h := range matched {
		if !strings.HasPrefix(h, "*") {
			return h
		}
	}
	return ""
}

// HeaderOps change headers: Remove first, then Set (replacing), then Add.
type HeaderOps struct {
	Set    map[string]string `yaml:"set"`
	Add    map[string]string `yaml:"add"`
	Remove []string          `yaml:"remove"`
}

// FieldMap rewrites the fields of JSON objects: Keep (when set) drops every other
// field, then Drop removes, then Rename renames. Fields are top-level names or
// dotted paths into nested objects ("owner.email").
type FieldMap struct {
	Rename map[string]string `yaml:"rename"`
	Drop   []string          `yaml:"drop"`
	Keep   []string          `yaml:"keep"`
}

// Requirement is what a route or operation asks of its caller (policies owns it).
type Requirement = policies.Requirement

// OIDCIssuer is an OpenID Connect issuer the gateway trusts: policies.Issuer, whose
// comments are the reference of its keys.
type OIDCIssuer = policies.Issuer

// APIKey is one machine client's key (policies.APIKey).
type APIKey = policies.APIKey

// RateLimits configures the token buckets that limit requests.
type RateLimits struct {
	// PerCaller is each caller's bucket: an authenticated caller's is its subject's,
	// an anonymous caller's its client address's. Off when not set.
	PerCaller *Rate `yaml:"per_caller"`
	// PerRoute are buckets shared by all callers of a route, by route pattern
	// ("/graphql", "/v1/graphql", "/rest/users/{id}") or, for an L7 route, by
	// "route:NAME".
	PerRoute map[string]Rate `yaml:"per_route"`
	// CostPerCaller limits each caller's GraphQL operations by their cost (as
	// graphql.limits.max_cost computes it): an operation spends as many tokens as it
	// costs. Its burst must hold the costliest operation max_cost allows. Off when
	// not set.
	CostPerCaller *Rate `yaml:"cost_per_caller"`
	// IdleTimeout is how long a caller's bucket is kept after its last request
	// (never less than the bucket takes to refill). Default 10m.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// Redis, when set, keeps the buckets in Redis, shared by every instance that
	// uses it with the same key prefix.
	Redis *Redis `yaml:"redis"`
}

// Redis is a Redis that state shared by the instances lives in (rate limits,
// persisted queries). When it cannot be reached, each instance falls back to its
// own state, and says so.
type Redis struct {
	// URL is redis://[user:password@]host:port[/db] (rediss:// for TLS).
	URL string `yaml:"url"`
	// KeyPrefix begins every key. Default "switchyard:" for rate limits,
	// "switchyard:apq:" for persisted queries.
	KeyPrefix string `yaml:"key_prefix"`
	// Timeout bounds each Redis call; past it the instance decides alone.
	// Default 100ms.
	Timeout Duration `yaml:"timeout"`
}

// Rate is a token bucket, {rate: PER_SECOND, burst: N} (policies.Rate).
type Rate = policies.Rate

// CORS configures cross-origin requests from browsers.
type CORS struct {
	// AllowedOrigins are the origins allowed, such as https://shop.example; "*"
	// allows any (and then no credentials). Empty: CORS off.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AllowedHeaders a browser may send. Default: Content-Type, Authorization,
	// API-Version, Request-Timeout, X-Request-Id, Traceparent.
	AllowedHeaders []string `yaml:"allowed_headers"`
	// AllowCredentials lets browsers send cookies and authorization. Default false.
	AllowCredentials bool `yaml:"allow_credentials"`
	// MaxAge is how long a browser may cache a preflight answer. Default 10m.
	MaxAge Duration `yaml:"max_age"`
}

// TLS configures TLS termination on the public listener.
type TLS struct {
	// Certificates are certificate and key files (PEM); the one whose names match
	// the client's server name (SNI) is used, else the first. Required.
	Certificates []CertKey `yaml:"certificates"`
	// ClientCA, when set, is a PEM file of the CAs whose client certificates are
	// required (mTLS).
	ClientCA string `yaml:"client_ca"`
	// RedirectListen, when set, is a plain HTTP listener that redirects every
	// request to HTTPS.
	RedirectListen string `yaml:"redirect_listen"`
}

// CertKey is a certificate file and its key file.
type CertKey struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Version configures one schema version.
type Version struct {
	// Deprecated is the date from which the version is deprecated: its responses
	// then carry a Deprecation header (RFC 9745). Zero: not deprecated.
	Deprecated Date `yaml:"deprecated"`
	// Sunset is the date after which it may stop being served: a Sunset header
	// (RFC 8594). Zero: none announced.
	Sunset Date `yaml:"sunset"`
}

// Date is a day written as 2026-12-31 (or a full RFC 3339 time).
type Date struct{ time.Time }

// UnmarshalYAML parses the date.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	for _, layout := range []string{"2006-01-02", time.RFC3339} {
		if t, err := time.Parse(layout, n.Value); err == nil {
			d.Time = t
			return nil
		}
	}
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a date (write 2026-12-31)", n.Line, n.Value)}}
}

// ServedVersions are the schema versions the gateway serves.
var ServedVersions = []string{"v1", "v2"}

// Admin configures the admin listener, which shows the pools' state with upstream
// addresses: keep it private.
type Admin struct {
	// Listen is its address, such as 127.0.0.1:9901; empty turns it off. Default off.
	Listen string `yaml:"listen"`
}

// Pool is one upstream service's set of interchangeable endpoints: the pool's own
// options (lb.Options, whose comments are the reference of their keys) and what the
// gateway adds to every request it sends through the pool.
type Pool struct {
	lb.Options `yaml:",inline"`
	// RequestHeaders are set on every request to the pool, from GraphQL
	// resolvers and L7 routes alike (a route's own request_headers win).
	RequestHeaders map[string]string `yaml:"request_headers"`
	// ForwardClaims send the authenticated caller with every request to the pool:
	// claim ("sub", "scopes" or a claim kept by auth.oidc[].claims) to header.
	// Without a caller, the headers are not sent.
	ForwardClaims map[string]string `yaml:"forward_claims"`
	// Required makes the pool's failure fail the whole response (HTTP 502, no data)
	// instead of nulling only the fields that need it. Default false.
	Required bool `yaml:"required"`
}

// RequiredPools are the pools the demo schema's resolvers call.
var RequiredPools = []string{"users", "orders", "catalog", "reviews"}

// Duration is a time.Duration written as a Go duration string ("250ms", "2s").
type Duration = setting.Duration

// D returns d as a Duration, for building configurations in code.
func D(d time.Duration) Duration { return setting.D(d) }

// SetDefaults fills every unset field with its default.
func (c *Config) SetDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	c.ShutdownTimeout.SetDefault(10 * time.Second)
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
		c.CORS.AllowedHeaders = []string{"Content-Type", "Authorization", "API-Version", "Request-Timeout", "X-Request-Id", "Traceparent"}
	}
	c.CORS.MaxAge.SetDefault(10 * time.Minute)
	c.RateLimits.IdleTimeout.SetDefault(10 * time.Minute)
	if r := c.RateLimits.Redis; r != nil {
		r.setDefaults("switchyard:")
	}
	if r := c.GraphQL.APQ.Redis; r != nil {
		r.setDefaults("switchyard:apq:")
	}
	c.GraphQL.APQ.TTL.SetDefault(24 * time.Hour)
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
	g := &c.GraphQL
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
	for name, p := range c.Pools {
		p.SetDefaults()
		c.Pools[name] = p
	}
}

func ptr[T any](v T) *T { return &v }

// Validate checks the values of a configuration whose defaults are set. Its errors
// name keys but no lines; Load adds the file and lines.
func (c *Config) Validate() error {
	var errs errorList
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs.Add(path{"listen"}, "%q is not a host:port address", c.Listen)
	}
	c.ShutdownTimeout.Check(path{"shutdown_timeout"}, &errs)
	c.ShutdownDelay.Check(path{"shutdown_delay"}, &errs)
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
	g := path{"graphql"}
	c.GraphQL.LoaderWait.Check(g.Key("loader_wait"), &errs)
	c.GraphQL.RequestTimeout.Check(g.Key("request_timeout"), &errs)
	c.GraphQL.MaxRequestTimeout.Check(g.Key("max_request_timeout"), &errs)
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
	if r := c.RateLimits.PerCaller; r != nil {
		r.Validate(path{"rate_limits", "per_caller"}, &errs)
	}
	for route, r := range c.RateLimits.PerRoute {
		at := path{"rate_limits", "per_route", route}
		if !strings.HasPrefix(route, "/") && !strings.HasPrefix(route, "route:") {
			errs.Add(at, "%q is not a route pattern (it starts with /) or an L7 route (route:NAME)", route)
		}
		r.Validate(at, &errs)
	}
	if r := c.RateLimits.CostPerCaller; r != nil {
		at := path{"rate_limits", "cost_per_caller"}
		r.Validate(at, &errs)
		if m := c.GraphQL.Limits.MaxCost; r.Burst >= 1 && m > 0 && r.Burst < m {
			errs.Add(at.Key("burst"), "must be at least graphql.limits.max_cost (%d): an operation within that limit could never run", m)
		}
	}
	c.RateLimits.IdleTimeout.Check(path{"rate_limits", "idle_timeout"}, &errs)
	if r := c.RateLimits.Redis; r != nil {
		r.check(path{"rate_limits", "redis"}, &errs)
	}
	if r := c.GraphQL.APQ.Redis; r != nil {
		r.check(path{"graphql", "apq", "redis"}, &errs)
	}
	c.GraphQL.APQ.TTL.Check(path{"graphql", "apq", "ttl"}, &errs)
	for i, p := range c.TrustedProxies {
		if _, err := policies.ParseProxy(p); err != nil {
			errs.Add(path{"trusted_proxies"}.Index(i), "%v", err)
		}
	}
	policies.ValidateAPIKeys(c.Auth.APIKeys, path{"auth", "api_keys"}, &errs)
	c.checkRoutes(&errs)
	policies.ValidateIssuers(c.Auth.OIDC, path{"auth", "oidc"}, &errs)
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
			}
		}
	}
	if len(c.Auth.OIDC) > 0 && strings.EqualFold(c.Auth.APIKeyHeader, "Authorization") {
		errs.Add(path{"auth", "api_key_header"}, "cannot be Authorization: bearer tokens are sent in it")
	}
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
	c.CORS.MaxAge.Check(path{"cors", "max_age"}, &errs)
	for name := range c.Versions {
		if !slices.Contains(ServedVersions, name) {
			errs.Add(path{"versions", name}, "no such version (the versions are %s)", strings.Join(ServedVersions, ", "))
		}
	}
	for _, name := range RequiredPools {
		if _, ok := c.Pools[name]; !ok {
			errs.Add(path{"pools"}, "pool %q is missing: the schema's resolvers call it", name)
		}
	}
	for name, p := range c.Pools {
		at := path{"pools", name}
		checkHeaderOps(HeaderOps{Set: p.RequestHeaders}, at.Key("request_headers"), &errs)
		for claim, h := range p.ForwardClaims {
			if !validToken(h) {
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
		p.Validate(path{"pools", name}, &errs)
	}
	return errs.err()
}

// validToken reports whether s is an RFC 9110 token, as header and cookie names
// are.
func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return s != ""
}

// redactURL hides the password of a URL that has one, for error messages.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "(not a URL)"
}

var routeNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// checkRoutes validates the L7 routes.
func (c *Config) checkRoutes(errs *errorList) {
	names := map[string]bool{}
	for i := range c.Routes {
		rt := &c.Routes[i]
		at := path{"routes"}.Index(i)
		switch {
		case rt.Name == "":
			errs.Add(at.Key("name"), "every route needs a name")
		case !routeNameRE.MatchString(rt.Name):
			errs.Add(at.Key("name"), "%q: use letters, digits, _, . and -", rt.Name)
		case names[rt.Name]:
			errs.Add(at.Key("name"), "%q is used twice", rt.Name)
		}
		names[rt.Name] = true
		actions := 0
		for _, set := range []bool{rt.Proxy != nil, rt.Respond != nil, rt.Redirect != nil} {
			if set {
				actions++
			}
		}
		if actions != 1 {
			errs.Add(at, "a route needs exactly one of proxy, respond and redirect")
		}
		if rd := rt.Redirect; rd != nil {
			checkRedirectHosts(rd, rt.Match.Hosts, at.Key("redirect"), errs)
		}
		m := &rt.Match
		for j, h := range m.Hosts {
			if h == "" || strings.ContainsAny(h, "/: ") || strings.Contains(h[1:], "*") || (strings.HasPrefix(h, "*") && !strings.HasPrefix(h, "*.")) {
				errs.Add(at.Key("match").Key("hosts").Index(j), "%q is not a host name or *.domain", h)
			}
		}
		if m.PathPrefix != "" && !strings.HasPrefix(m.PathPrefix, "/") {
			errs.Add(at.Key("match").Key("path_prefix"), "%q does not start with /", m.PathPrefix)
		}
		var pattern *l7.Pattern
		if m.Path != "" {
			var err error
			if pattern, err = l7.ParsePattern(m.Path); err != nil {
				errs.Add(at.Key("match").Key("path"), "%v", err)
			} else {
				for _, name := range pattern.Names() {
					if slices.Contains(l7.TemplateNames, name) {
						errs.Add(at.Key("match").Key("path"), "{%s} is a name redirects keep for themselves (%s): choose another", name, strings.Join(l7.TemplateNames, ", "))
					}
				}
			}
		}
		for j, meth := range m.Methods {
			if !routeNameRE.MatchString(meth) || strings.ToUpper(meth) != meth {
				errs.Add(at.Key("match").Key("methods").Index(j), "%q is not a method (upper case, as GET)", meth)
			}
		}
		for name := range m.Headers {
			if !validToken(name) {
				errs.Add(at.Key("match").Key("headers").Key(name), "not a header name")
			}
		}
		for name := range m.Query {
			if name == "" {
				errs.Add(at.Key("match").Key("query"), "a parameter needs a name")
			}
		}
		if rt.Auth != nil && len(rt.Auth.Scopes) > 0 {
			rt.Auth.Authenticated = true
		}
		checkHeaderOps(rt.ResponseHeaders, at.Key("response_headers"), errs)
		var vars []string
		if pattern != nil {
			vars = pattern.Names()
		}
		if p := rt.Proxy; p != nil {
			at := at.Key("proxy")
			if _, ok := c.Pools[p.Pool]; !ok {
				errs.Add(at.Key("pool"), "no pool %q", p.Pool)
			}
			if p.StripPrefix != "" && !strings.HasPrefix(p.StripPrefix, "/") {
				errs.Add(at.Key("strip_prefix"), "%q does not start with /", p.StripPrefix)
			}
			if p.Rewrite != "" {
				if p.StripPrefix != "" {
					errs.Add(at.Key("rewrite"), "use rewrite or strip_prefix, not both")
				}
				if !strings.HasPrefix(p.Rewrite, "/") {
					errs.Add(at.Key("rewrite"), "%q does not start with /", p.Rewrite)
				} else if _, err := l7.ParseTemplate(p.Rewrite, vars); err != nil {
					errs.Add(at.Key("rewrite"), "%v (the names come from match.path)", err)
				}
			}
			checkHeaderOps(p.RequestHeaders, at.Key("request_headers"), errs)
			if len(p.ForwardClaims) > 0 && rt.Auth == nil {
				errs.Add(at.Key("forward_claims"), "needs the route's auth, which finds the caller")
			}
			for claim, h := range p.ForwardClaims {
				if !validToken(h) {
					errs.Add(at.Key("forward_claims").Key(claim), "%q is not a header name", h)
				}
			}
			if f := p.ResponseFields; f != nil && len(f.Keep) == 0 && len(f.Drop) == 0 && len(f.Rename) == 0 {
				errs.Add(at.Key("response_fields"), "name fields to keep, drop or rename")
			}
		}
		if f := rt.Respond; f != nil {
			if f.Status == 0 {
				f.Status = 200
			}
			if f.Status < 200 || f.Status > 599 {
				errs.Add(at.Key("respond").Key("status"), "%d is not a status between 200 and 599", f.Status)
			}
			for name := range f.Headers {
				if !validToken(name) {
					errs.Add(at.Key("respond").Key("headers").Key(name), "not a header name")
				}
			}
		}
		if rd := rt.Redirect; rd != nil {
			if rd.Status == 0 {
				rd.Status = http.StatusFound
			}
			switch rd.Status {
			case 301, 302, 303, 307, 308:
			default:
				errs.Add(at.Key("redirect").Key("status"), "%d is not a redirect status (301, 302, 303, 307, 308)", rd.Status)
			}
			if rd.To == "" {
				errs.Add(at.Key("redirect").Key("to"), "a redirect needs its target")
			} else if _, err := l7.ParseTemplate(rd.To, append(slices.Clone(l7.TemplateNames), vars...)); err != nil {
				errs.Add(at.Key("redirect").Key("to"), "%v", err)
			}
		}
	}
}

func checkHeaderOps(o HeaderOps, at path, errs *errorList) {
	for _, m := range []map[string]string{o.Set, o.Add} {
		for name, v := range m {
			if !validToken(name) || strings.ContainsAny(v, "\r\n") {
				errs.Add(at.Key(name), "not a header name, or a value with a line break")
			}
		}
	}
	for j, name := range o.Remove {
		if !validToken(name) {
			errs.Add(at.Key("remove").Index(j), "%q is not a header name", name)
		}
	}
}

func (r *Redis) setDefaults(prefix string) {
	if r.KeyPrefix == "" {
		r.KeyPrefix = prefix
	}
	r.Timeout.SetDefault(100 * time.Millisecond)
}

func (r *Redis) check(at path, errs *errorList) {
	if u, err := url.Parse(r.URL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
		errs.Add(at.Key("url"), "%q is not a Redis URL (redis://host:port[/db], rediss:// for TLS)", redactURL(r.URL))
	}
	r.Timeout.Check(at.Key("timeout"), errs)
	if r.Timeout.IsSet() && r.Timeout.Duration == 0 {
		errs.Add(at.Key("timeout"), "must be more than 0")
	}
}

// checkRedirectHosts checks the hosts a redirect's {host} may be.
func checkRedirectHosts(rd *Redirect, matched []string, at path, errs *errorList) {
	for j, h := range rd.Hosts {
		if h == "" || strings.ContainsAny(h, "/:* ") {
			errs.Add(at.Key("hosts").Index(j), "%q is not a host name", h)
		}
	}
	switch {
	case strings.ContainsAny(rd.DefaultHost, "/* "):
		errs.Add(at.Key("default_host"), "%q is not a host name (with a port, if any)", rd.DefaultHost)
	case rd.RedirectDefaultHost(matched) == "" && strings.Contains(rd.To, "{host}"):
		errs.Add(at.Key("default_host"), "the redirect uses {host}: name the host it means when the request's Host is one the route does not name (match.hosts or redirect.hosts)")
	}
}

// Package config owns the gateway's configuration file: its types, its defaults, and
// its validation. Load refuses a file with unknown keys, values of the wrong type, bad
// URLs or bad durations, and every error names the file, the line and the key.
package config

import (
	"fmt"
	"path/filepath"
	"slices"
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
	// MemoryLimit is a soft limit of the process's memory, as GOMEMLIMIT sets one
	// ("200MiB"): near it the garbage collector runs more often, trading CPU for
	// memory. 0: none. GOMEMLIMIT in the environment, when set, wins. A reload
	// applies a changed limit.
	MemoryLimit setting.Bytes `yaml:"memory_limit"`
	// Timeouts bound how long clients may take on the public listener.
	Timeouts Timeouts `yaml:"timeouts"`
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

	// source is the file the configuration was read from, for Locate.
	source *source
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
	// Schema, when set, are the SDL files (paths or globs, relative to the
	// configuration file) of a declared schema the gateway serves instead of its
	// built-in demo: types whose fields say with @source and @connect which REST
	// calls answer them (see docs/connectors.md). Its sources are pools of this
	// file; the demo's pools are then not needed. Read again on reload.
	Schema []string `yaml:"schema"`
	// SchemaConfig are the values a declared schema reads as $config, in its
	// templates ("Bearer {$config.token}"), headers and selections
	// ("region: $config.region"): any YAML. Only with Schema.
	SchemaConfig map[string]any `yaml:"schema_config"`
}

// SchemaFiles are the files the schema patterns name, sorted, each once.
func (g *GraphQL) SchemaFiles() ([]string, error) {
	var out []string
	for _, p := range g.Schema {
		matches, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", p, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("%q names no file", p)
		}
		out = append(out, matches...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
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

// The L7 routes' entries are l7's types, whose comments are the reference of their
// keys.
type (
	Route         = l7.RouteConfig
	RouteMatch    = l7.MatchConfig
	RouteProxy    = l7.ProxyConfig
	FixedResponse = l7.FixedResponse
	Redirect      = l7.RedirectConfig
	HeaderOps     = l7.HeaderOps
	FieldMap      = l7.FieldMap
)

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

// Redis is a Redis shared state lives in (policies.Redis).
type Redis = policies.Redis

// Rate is a token bucket, {rate: PER_SECOND, burst: N} (policies.Rate).
type Rate = policies.Rate

// CORS configures cross-origin requests from browsers.
type CORS struct {
	// AllowedOrigins are the origins allowed, such as https://shop.example; "*"
	// allows any (and then no credentials). Empty: CORS off.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AllowedHeaders a browser may send. Default: Content-Type, Authorization,
	// the API key header (auth.api_key_header), API-Version, Request-Timeout,
	// X-Request-Id, Traceparent, Tracestate. A preflight asking for another is
	// refused, and the refusal logged (at most once a minute).
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

// Timeouts bound how long a client may take on the public listener, so that slow or
// stalled clients cannot hold its connections. Changing them needs a restart.
type Timeouts struct {
	// ReadHeader is how long a client has to send a request's head. Default 5s.
	ReadHeader Duration `yaml:"read_header"`
	// BodyRead bounds each wait for more of a request's body: a body that stops
	// coming for this long ends the request, but one that keeps coming may take
	// as long as it needs (a large upload through an L7 route). Default 10s.
	BodyRead Duration `yaml:"body_read"`
	// Write bounds writing a response, from the end of its request's head; 0: no
	// bound (long downloads and event streams on L7 routes). Default 60s.
	Write Duration `yaml:"write"`
	// Idle is how long a keep-alive connection may wait for its next request.
	// Default 120s.
	Idle Duration `yaml:"idle"`
}

// Duration is a time.Duration written as a Go duration string ("250ms", "2s").
type Duration = setting.Duration

// D returns d as a Duration, for building configurations in code.
func D(d time.Duration) Duration { return setting.D(d) }

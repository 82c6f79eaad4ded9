package lb

import (
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/switchyard/switchyard/setting"
)

// Options configure a Pool; they are also the pool's section of the configuration
// file (pools.NAME), key for key. SetDefaults fills what is unset, Validate reports
// what is wrong by key, and New does both. Zero means the default for every field
// whose comment gives one; the pointer fields tell unset (nil, the default) from
// zero, which turns their feature off.
type Options struct {
	// Endpoints are the base URLs of the pool's instances, "http://host:port" or
	// "https://host:port" (the port defaults to 80 or 443). Required.
	Endpoints []string `yaml:"endpoints"`
	// TLS configures the connections to https endpoints; without it they are
	// verified against the system's roots. With it, every endpoint is https.
	TLS *TLS `yaml:"tls"`
	// Weights give endpoints, by URL, a share of traffic proportional to their
	// weight, 1 to 100; an endpoint not listed weighs 1.
	Weights map[string]int `yaml:"weights"`
	// ConnectTimeout bounds dialing one endpoint. Default 1s.
	ConnectTimeout setting.Duration `yaml:"connect_timeout"`
	// RequestTimeout bounds one call to the pool, failover included; the caller's
	// context may end it sooner. Default 10s.
	RequestTimeout setting.Duration `yaml:"request_timeout"`
	// MaxIdleConnsPerEndpoint is how many keep-alive connections stay open to each
	// endpoint while unused. Default 256.
	MaxIdleConnsPerEndpoint int `yaml:"max_idle_conns_per_endpoint"`
	// IdleConnTimeout closes a keep-alive connection unused for longer. Keep it below
	// the upstream servers' own idle timeout. Default 30s.
	IdleConnTimeout setting.Duration `yaml:"idle_conn_timeout"`
	// MaxResponseBytes refuses larger upstream answers. Default 16 MiB.
	MaxResponseBytes int `yaml:"max_response_bytes"`
	// MaxResponseHeaderBytes refuses answers whose head (interim answers, status
	// line and header fields) is larger. Default DefaultMaxHeaderBytes, 64 KiB.
	MaxResponseHeaderBytes int `yaml:"max_response_header_bytes"`
	// Policy chooses each request's endpoint: round_robin, least_request (power of
	// two choices over latency times requests in flight) or ring_hash (consistent
	// hashing on HashOn). Default round_robin.
	Policy Policy `yaml:"policy"`
	// HashOn is what ring_hash hashes: exactly one of header, cookie, client_ip.
	HashOn HashOn `yaml:"hash_on"`
	// Sticky pins each client to an endpoint with a cookie the gateway sets, while
	// that endpoint is available. Off by default.
	Sticky Sticky `yaml:"sticky"`
	// HealthCheck configures the active probes.
	HealthCheck HealthCheck `yaml:"health_check"`
	// Outlier configures passive ejection of failing endpoints.
	Outlier OutlierDetection `yaml:"outlier_detection"`
	// Retries is how many times a failed request may be sent again, each to another
	// endpoint: any request that could not connect, an idempotent one that failed or
	// got a 5xx. Default 1; 0 for none.
	Retries *int `yaml:"retries"`
	// RetryBackoff is the base of the jittered wait before a retry (a random time up
	// to it, doubled for each further retry), at most 10s. Default 0: the first
	// retry goes to another endpoint at once.
	RetryBackoff setting.Duration `yaml:"retry_backoff"`
	// PerTryTimeout bounds each attempt; RequestTimeout bounds them all. Default 0:
	// no bound of its own.
	PerTryTimeout setting.Duration `yaml:"per_try_timeout"`
	// RetryBudget bounds the retries in flight to a share of the calls in flight, so
	// that a sick upstream is not hit by a retry storm.
	RetryBudget RetryBudget `yaml:"retry_budget"`
	// SlowStart is how long an endpoint that becomes available again (healthy after
	// unhealthy, readmitted after ejection) takes to get its full share of traffic,
	// growing linearly from a tenth. Default 0: at once.
	SlowStart setting.Duration `yaml:"slow_start"`
	// Breaker configures the circuit breakers of the pool and its endpoints.
	Breaker CircuitBreaker `yaml:"circuit_breaker"`

	// OnResult, if set, is told of every request to an endpoint (retries
	// included): its URL, the answer's status (0 when none came) and its time. It
	// must be quick and safe for concurrent use; the gateway feeds metrics with it.
	OnResult func(endpoint string, status int, d time.Duration) `yaml:"-"`

	// Now and Rand stand in for the clock and for randomness; tests set them so that
	// picks are reproducible. Default time.Now and math/rand/v2's IntN.
	Now  func() time.Time `yaml:"-"`
	Rand func(n int) int  `yaml:"-"`
}

// retryLimit is how many retries a call may make: Retries, or none when the retry
// budget allows none.
func (o *Options) retryLimit() int {
	if o.RetryBudget.none() {
		return 0
	}
	return *o.Retries
}

// HealthCheck configures the active probes of a pool: every Interval, each endpoint
// gets GET Path, and a 2xx answer within Timeout is a success.
type HealthCheck struct {
	// Disabled turns probing off; every endpoint is then always healthy.
	Disabled bool `yaml:"disabled"`
	// Path is probed on every endpoint. Default "/healthz".
	Path string `yaml:"path"`
	// Interval between probes of one endpoint. Default 5s; written as zero, an
	// error (use disabled).
	Interval setting.Duration `yaml:"interval"`
	// UnhealthyInterval is the interval while the endpoint is unhealthy, so that a
	// recovered one is noticed sooner. Default Interval.
	UnhealthyInterval setting.Duration `yaml:"unhealthy_interval"`
	// Timeout of one probe. Default 1s.
	Timeout setting.Duration `yaml:"timeout"`
	// HealthyThreshold is the number of consecutive successes that make an unhealthy
	// endpoint healthy. Default 2.
	HealthyThreshold int `yaml:"healthy_threshold"`
	// UnhealthyThreshold is the number of consecutive failures that make a healthy
	// endpoint unhealthy. Default 2.
	UnhealthyThreshold int `yaml:"unhealthy_threshold"`
}

// SetDefaults fills every unset configuration field with its default (New fills
// Now and Rand). It is idempotent.
func (o *Options) SetDefaults() {
	o.ConnectTimeout.OrDefault(time.Second)
	o.RequestTimeout.OrDefault(10 * time.Second)
	if o.MaxIdleConnsPerEndpoint == 0 {
		o.MaxIdleConnsPerEndpoint = 256
	}
	o.IdleConnTimeout.OrDefault(30 * time.Second)
	if o.MaxResponseBytes == 0 {
		o.MaxResponseBytes = 16 << 20
	}
	if o.MaxResponseHeaderBytes == 0 {
		o.MaxResponseHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.Policy == "" {
		o.Policy = RoundRobin
	}
	if o.Retries == nil {
		o.Retries = setting.Ptr(1)
	}
	o.TLS.setDefaults()
	o.Outlier.setDefaults()
	o.Breaker.setDefaults()
	o.RetryBudget.setDefaults()
	h := &o.HealthCheck
	if h.Path == "" {
		h.Path = "/healthz"
	}
	h.Interval.OrDefault(5 * time.Second)
	h.UnhealthyInterval.OrDefault(h.Interval.Duration)
	h.Timeout.OrDefault(time.Second)
	if h.HealthyThreshold == 0 {
		h.HealthyThreshold = 2
	}
	if h.UnhealthyThreshold == 0 {
		h.UnhealthyThreshold = 2
	}
}

// Validate reports, under at, every problem of options with their defaults set. It
// reads the TLS files, as the pool will.
func (o *Options) Validate(at setting.Path, r setting.Reporter) {
	if len(o.Endpoints) == 0 {
		r.Add(at.Key("endpoints"), "a pool needs at least one endpoint")
	}
	seen := map[string]bool{}
	for i, raw := range o.Endpoints {
		ep := at.Key("endpoints").Index(i)
		u, err := url.Parse(raw)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "":
			r.Add(ep, "%q is not an endpoint URL (want http://host:port or https://host:port)", raw)
		case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
			r.Add(ep, "%q: an endpoint URL has no path, query or credentials", raw)
		case seen[u.Host]:
			r.Add(ep, "%q is listed twice", raw)
		case o.TLS != nil && u.Scheme != "https":
			r.Add(ep, "%q is plain http, but the pool has a tls block (use https://, or move it to a pool of its own)", raw)
		}
		if err == nil {
			seen[u.Host] = true
		}
	}
	weighted := make([]string, 0, len(o.Weights))
	for u := range o.Weights {
		weighted = append(weighted, u)
	}
	slices.Sort(weighted)
	for _, u := range weighted {
		switch w := o.Weights[u]; {
		case !slices.Contains(o.Endpoints, u):
			r.Add(at.Key("weights").Key(u), "not one of the pool's endpoints")
		case w < 1 || w > 100:
			r.Add(at.Key("weights").Key(u), "must be between 1 and 100, got %d", w)
		}
	}
	o.TLS.validate(at.Key("tls"), r)
	o.ConnectTimeout.Check(at.Key("connect_timeout"), r)
	o.RequestTimeout.Check(at.Key("request_timeout"), r)
	o.IdleConnTimeout.Check(at.Key("idle_conn_timeout"), r)
	for key, n := range map[string]int{"max_idle_conns_per_endpoint": o.MaxIdleConnsPerEndpoint,
		"max_response_header_bytes": o.MaxResponseHeaderBytes, "max_response_bytes": o.MaxResponseBytes} {
		if n < 0 {
			r.Add(at.Key(key), "must not be negative")
		}
	}
	if !slices.Contains(Policies, o.Policy) {
		r.Add(at.Key("policy"), "%q is not a balancing policy (use %s)", o.Policy, policyList())
	}
	hashed := 0
	for _, b := range []bool{o.HashOn.Header != "", o.HashOn.Cookie != "", o.HashOn.ClientIP} {
		if b {
			hashed++
		}
	}
	switch {
	case o.Policy == RingHash && hashed != 1:
		r.Add(at.Key("hash_on"), "ring_hash needs exactly one of header, cookie or client_ip")
	case o.Policy != RingHash && hashed != 0:
		r.Add(at.Key("hash_on"), "only the ring_hash policy hashes")
	}
	if c := o.Sticky.Cookie; c != "" && !setting.Token(c) {
		r.Add(at.Key("sticky").Key("cookie"), "%q is not a cookie name", c)
	}
	if n := *o.Retries; n < 0 || n > 5 {
		r.Add(at.Key("retries"), "must be between 0 and 5, got %d", n)
	}
	o.RetryBackoff.Check(at.Key("retry_backoff"), r)
	if o.RetryBackoff.Duration > 10*time.Second {
		r.Add(at.Key("retry_backoff"), "must be at most 10s, got %s", o.RetryBackoff.Duration)
	}
	o.PerTryTimeout.Check(at.Key("per_try_timeout"), r)
	o.SlowStart.Check(at.Key("slow_start"), r)
	o.RetryBudget.validate(at.Key("retry_budget"), r)
	o.Breaker.validate(at.Key("circuit_breaker"), r)
	o.Outlier.validate(at.Key("outlier_detection"), r)
	o.HealthCheck.validate(at.Key("health_check"), r)
}

func (h *HealthCheck) validate(at setting.Path, r setting.Reporter) {
	if h.Path == "" || h.Path[0] != '/' {
		r.Add(at.Key("path"), "%q does not start with '/'", h.Path)
	}
	h.Interval.Check(at.Key("interval"), r)
	h.UnhealthyInterval.Check(at.Key("unhealthy_interval"), r)
	h.Timeout.Check(at.Key("timeout"), r)
	if h.Interval.WrittenZero() && !h.Disabled {
		r.Add(at.Key("interval"), "must be positive")
	}
	if h.HealthyThreshold < 1 {
		r.Add(at.Key("healthy_threshold"), "must be at least 1")
	}
	if h.UnhealthyThreshold < 1 {
		r.Add(at.Key("unhealthy_threshold"), "must be at least 1")
	}
}

func policyList() string {
	names := make([]string, len(Policies))
	for i, p := range Policies {
		names[i] = string(p)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// hostName reports whether n is an IP address or could be a DNS name.
func hostName(n string) bool {
	return net.ParseIP(n) != nil || (!strings.ContainsAny(n, ":/ ") && strings.Trim(n, ".") == n)
}

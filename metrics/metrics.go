// Package metrics owns the gateway's Prometheus metrics: their names, labels and
// buckets, the registry they live in, and the bounds on label cardinality. Other
// packages report through the small methods here (or through hooks the gateway wires
// to them); none of them imports Prometheus.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MaxOperations is how many distinct GraphQL operation names get a label value of
// their own; the rest are counted as "other", unnamed ones as "anonymous".
const MaxOperations = 100

// Metrics is the set of the gateway's metrics. Its methods are safe for concurrent
// use. Create it with New.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	gqlOperations *prometheus.CounterVec
	gqlDuration   *prometheus.HistogramVec
	upstreamCalls *prometheus.CounterVec
	upstreamTime  *prometheus.HistogramVec
	loaderBatch   *prometheus.HistogramVec
	rateLimited   *prometheus.CounterVec
	authDecisions *prometheus.CounterVec
	sharedUp      prometheus.Gauge
	sharedOn      atomic.Bool
	localDecided  prometheus.Counter

	mu         sync.RWMutex
	operations map[string]bool // names with a label value of their own
}

// latencyBuckets suit a gateway: from a tenth of a millisecond to ten seconds.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// New returns the metrics, registered with Go runtime and process collectors in a
// registry of their own.
func New() *Metrics {
	m := &Metrics{
		reg:        prometheus.NewRegistry(),
		operations: map[string]bool{},
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_http_requests_total",
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "switchyard_http_request_duration_seconds", Buckets: latencyBuckets,
			Help: "Time to serve an HTTP request, by route pattern.",
		}, []string{"route"}),
		gqlOperations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_graphql_operations_total",
			Help: "GraphQL operations, by schema version, operation name and outcome (ok, partial, error).",
		}, []string{"version", "operation", "outcome"}),
		gqlDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "switchyard_graphql_operation_duration_seconds", Buckets: latencyBuckets,
			Help: "Time to run a GraphQL operation, by schema version and operation name.",
		}, []string{"version", "operation"}),
		upstreamCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_upstream_requests_total",
			Help: "Requests sent to upstream endpoints (retries included), by upstream, endpoint and status code (0: no answer).",
		}, []string{"upstream", "endpoint", "status"}),
		upstreamTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "switchyard_upstream_request_duration_seconds", Buckets: latencyBuckets,
			Help: "Time of one request to an upstream endpoint, by upstream.",
		}, []string{"upstream"}),
		loaderBatch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchyard_loader_batch_size",
			Help:    "Ids per batched upstream lookup, by loader.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100},
		}, []string{"loader"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_rate_limited_total",
			Help: "Requests refused with 429 by a rate limit, by route pattern and limit (requests, cost).",
		}, []string{"route", "limit"}),
		authDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchyard_auth_decisions_total",
			Help: "Authentications of requests, by result (authenticated, anonymous, missing, invalid).",
		}, []string{"result"}),
		sharedUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchyard_rate_limit_redis_up",
			Help: "1 while the shared rate limits' Redis answers, 0 while the limits fall back to this instance's own (absent: limits not shared).",
		}),
		localDecided: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchyard_rate_limit_fallback_total",
			Help: "Rate-limit checks decided by this instance's own buckets because the shared ones' Redis could not be reached.",
		}),
	}
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.gqlOperations, m.gqlDuration,
		m.upstreamCalls, m.upstreamTime, m.loaderBatch, m.rateLimited, m.authDecisions,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Register adds collectors, such as the pools' state, to the registry.
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// statusText is the label value of each status code, made once.
var statusText = func() [600]string {
	var s [600]string
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func status(code int) string {
	if code >= 0 && code < len(statusText) {
		return statusText[code]
	}
	return "other"
}

// HTTPRequest records one served request; route is its pattern, never its path.
func (m *Metrics) HTTPRequest(route string, code int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, status(code)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// operation bounds the label value of an operation name.
func (m *Metrics) operation(name string) string {
	if name == "" {
		return "anonymous"
	}
	m.mu.RLock()
	known := m.operations[name]
	full := len(m.operations) >= MaxOperations
	m.mu.RUnlock()
	if known {
		return name
	}
	if full || !graphqlName(name) {
		return "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.operations) >= MaxOperations {
		return "other"
	}
	m.operations[name] = true
	return name
}

// graphqlName reports whether s is a GraphQL name of at most 100 characters:
// [_A-Za-z][_0-9A-Za-z]*.
func graphqlName(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || (i > 0 && '0' <= c && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// GraphQLInvalid records a request that did not parse or validate: its operation
// name is the client's and is not trusted as a label.
func (m *Metrics) GraphQLInvalid(version string, d time.Duration) {
	m.gqlOperations.WithLabelValues(version, "invalid", "error").Inc()
	m.gqlDuration.WithLabelValues(version, "invalid").Observe(d.Seconds())
}

// GraphQLOperation records one operation's outcome ("ok", "partial" or "error").
func (m *Metrics) GraphQLOperation(version, name, outcome string, d time.Duration) {
	op := m.operation(name)
	m.gqlOperations.WithLabelValues(version, op, outcome).Inc()
	m.gqlDuration.WithLabelValues(version, op).Observe(d.Seconds())
}

// UpstreamRequest records one request to an upstream endpoint; code 0 means no
// answer (refused, reset, timed out).
func (m *Metrics) UpstreamRequest(upstream, endpoint string, code int, d time.Duration) {
	m.upstreamCalls.WithLabelValues(upstream, endpoint, status(code)).Inc()
	m.upstreamTime.WithLabelValues(upstream).Observe(d.Seconds())
}

// ForgetEndpoint drops the series of an endpoint a reload removed, so that labels
// do not pile up as endpoints come and go.
func (m *Metrics) ForgetEndpoint(upstream, endpoint string) {
	m.upstreamCalls.DeletePartialMatch(prometheus.Labels{"upstream": upstream, "endpoint": endpoint})
}

// LoaderBatch records the size of one batched lookup.
func (m *Metrics) LoaderBatch(loader string, size int) {
	m.loaderBatch.WithLabelValues(loader).Observe(float64(size))
}

// RateLimited counts a request refused by a rate limit of requests or of cost.
func (m *Metrics) RateLimited(route, limit string) {
	m.rateLimited.WithLabelValues(route, limit).Inc()
}

// SharedLimitsUp records whether the shared rate limits' Redis answers; the first
// call makes the gauge appear.
func (m *Metrics) SharedLimitsUp(up bool) {
	if m.sharedOn.CompareAndSwap(false, true) {
		_ = m.reg.Register(m.sharedUp)
		_ = m.reg.Register(m.localDecided)
	}
	if up {
		m.sharedUp.Set(1)
	} else {
		m.sharedUp.Set(0)
	}
}

// SharedLimitsFallback counts a rate-limit check decided locally.
func (m *Metrics) SharedLimitsFallback() { m.localDecided.Inc() }

// AuthDecision counts an authentication's result.
func (m *Metrics) AuthDecision(result string) {
	m.authDecisions.WithLabelValues(result).Inc()
}

// PoolState is a pool's state at scrape time.
type PoolState struct {
	Name                        string
	Healthy, Unhealthy, Ejected int
	Breaker                     string // closed, half-open, open or disabled
	Retries, RetriesRefused     int64
	// Discards counts keep-alive connections closed instead of reused, by reason.
	Discards map[string]int64
}

// PoolCollector reports the pools' state when scraped, from states, so that the hot
// path pays nothing for it.
func PoolCollector(states func() []PoolState) prometheus.Collector {
	return &poolCollector{states: states}
}

type poolCollector struct{ states func() []PoolState }

var (
	poolEndpoints = prometheus.NewDesc("switchyard_pool_endpoints",
		"Endpoints of a pool by state: healthy (and not ejected), unhealthy (by the probes), ejected (by outlier detection).",
		[]string{"pool", "state"}, nil)
	poolBreaker = prometheus.NewDesc("switchyard_pool_breaker_state",
		"The pool's circuit breaker: 1 for its current state.", []string{"pool", "state"}, nil)
	poolRetries = prometheus.NewDesc("switchyard_pool_retries_total",
		"Retries the pool sent.", []string{"pool"}, nil)
	poolRefused = prometheus.NewDesc("switchyard_pool_retries_refused_total",
		"Retries the pool's retry budget refused.", []string{"pool"}, nil)
	poolDiscards = prometheus.NewDesc("switchyard_pool_connections_discarded_total",
		"Keep-alive connections to the pool's endpoints closed instead of reused, by reason: idle_data (bytes nobody asked for arrived while idle), idle_closed (the upstream closed it while idle), trailing_bytes (bytes after an answer's end), broken (the exchange failed or was cancelled), idle_timeout.",
		[]string{"pool", "reason"}, nil)
)

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolEndpoints
	ch <- poolBreaker
	ch <- poolRetries
	ch <- poolRefused
	ch <- poolDiscards
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.states() {
		ch <- prometheus.MustNewConstMetric(poolEndpoints, prometheus.GaugeValue, float64(p.Healthy), p.Name, "healthy")
		ch <- prometheus.MustNewConstMetric(poolEndpoints, prometheus.GaugeValue, float64(p.Unhealthy), p.Name, "unhealthy")
		ch <- prometheus.MustNewConstMetric(poolEndpoints, prometheus.GaugeValue, float64(p.Ejected), p.Name, "ejected")
		for _, st := range []string{"closed", "half-open", "open", "disabled"} {
			v := 0.0
			if p.Breaker == st {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(poolBreaker, prometheus.GaugeValue, v, p.Name, st)
		}
		ch <- prometheus.MustNewConstMetric(poolRetries, prometheus.CounterValue, float64(p.Retries), p.Name)
		ch <- prometheus.MustNewConstMetric(poolRefused, prometheus.CounterValue, float64(p.RetriesRefused), p.Name)
		for reason, n := range p.Discards {
			ch <- prometheus.MustNewConstMetric(poolDiscards, prometheus.CounterValue, float64(n), p.Name, reason)
		}
	}
}

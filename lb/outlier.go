package lb

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchyard/switchyard/setting"
)

// OutlierDetection configures passive health checking: an endpoint whose requests
// fail ConsecutiveFailures times in a row (a 5xx answer, a refused or broken
// connection, a timeout) is ejected from the pool for BaseEjectionTime, twice as long
// each time it is ejected again without a success in between, up to
// MaxEjectionTime. No more than MaxEjectionPercent of the endpoints are ejected at
// once, so that a pool-wide failure does not empty the pool.
type OutlierDetection struct {
	// ConsecutiveFailures ejects an endpoint after that many failures in a row; 0
	// turns ejection off. Default 5.
	ConsecutiveFailures *int `yaml:"consecutive_failures"`
	// BaseEjectionTime is the first ejection's length. Default 10s.
	BaseEjectionTime setting.Duration `yaml:"base_ejection_time"`
	// MaxEjectionTime caps the growing ejection time. Default 5m.
	MaxEjectionTime setting.Duration `yaml:"max_ejection_time"`
	// MaxEjectionPercent is the largest share of the pool ejected at once, rounded
	// down, but at least one endpoint of a pool of two or more; 0 ejects none.
	// Default 50.
	MaxEjectionPercent *int `yaml:"max_ejection_percent"`
}

func (o *OutlierDetection) setDefaults() {
	if o.ConsecutiveFailures == nil {
		o.ConsecutiveFailures = setting.Ptr(5)
	}
	o.BaseEjectionTime.OrDefault(10 * time.Second)
	o.MaxEjectionTime.OrDefault(5 * time.Minute)
	if o.MaxEjectionPercent == nil {
		o.MaxEjectionPercent = setting.Ptr(50)
	}
}

func (o *OutlierDetection) validate(at setting.Path, r setting.Reporter) {
	if *o.ConsecutiveFailures < 0 {
		r.Add(at.Key("consecutive_failures"), "must not be negative (0 turns ejection off)")
	}
	o.BaseEjectionTime.Check(at.Key("base_ejection_time"), r)
	o.MaxEjectionTime.Check(at.Key("max_ejection_time"), r)
	if p := *o.MaxEjectionPercent; p < 0 || p > 100 {
		r.Add(at.Key("max_ejection_percent"), "must be between 0 and 100, got %d", p)
	}
}

// threshold is the number of failures in a row that ejects, 0 when nothing is.
func (o *OutlierDetection) threshold() int {
	if *o.MaxEjectionPercent == 0 {
		return 0
	}
	return *o.ConsecutiveFailures
}

// outlier is an endpoint's passive health state. Its methods are safe for concurrent
// use.
type outlier struct {
	clean     atomic.Bool // no failure and no ejection on record: succeed has nothing to do
	mu        sync.Mutex
	failures  int       // consecutive failures
	ejections int       // consecutive ejections, without a success in between
	until     time.Time // ejected until then; zero when not ejected
}

// succeed records a request that did not fail.
func (o *outlier) succeed(now time.Time) {
	if o.clean.Load() {
		return // the common case, without the lock
	}
	o.mu.Lock()
	o.failures = 0
	if o.until.IsZero() || !now.Before(o.until) {
		o.ejections = 0
	}
	o.clean.Store(o.failures == 0 && o.ejections == 0)
	o.mu.Unlock()
}

// fail records a failed request and reports whether it crossed the threshold of an
// endpoint that is not ejected already; the pool then decides whether to eject it.
func (o *outlier) fail(now time.Time, threshold int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.clean.Store(false)
	if !o.until.IsZero() && now.Before(o.until) {
		return false // ejected: the failures of requests already in flight do not count
	}
	o.failures++
	return o.failures >= threshold
}

// eject takes the endpoint out until now plus its ejection time, which doubles with
// each ejection without a success in between, and returns that time; or returns 0
// when it is ejected already (failures that arrived together).
func (o *outlier) eject(now time.Time, cfg *OutlierDetection) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.until.IsZero() && now.Before(o.until) {
		return 0
	}
	d := cfg.BaseEjectionTime.Duration << min(o.ejections, 20)
	if d > cfg.MaxEjectionTime.Duration || d <= 0 {
		d = cfg.MaxEjectionTime.Duration
	}
	o.ejections++
	o.failures = 0
	o.until = now.Add(d)
	return d
}

// readmit forgets the failures counted before the endpoint came back.
func (o *outlier) readmit() {
	o.mu.Lock()
	o.failures = 0
	o.mu.Unlock()
}

// lastEnd returns when the last ejection ended or ends; zero when there was none.
func (o *outlier) lastEnd() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.until
}

// ejectedUntil returns when the current ejection ends, or zero when there is none.
func (o *outlier) ejectedUntil(now time.Time) time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.until.IsZero() && now.Before(o.until) {
		return o.until
	}
	return time.Time{}
}

// maxEjected is how many of n endpoints may be ejected at once.
func maxEjected(n, percent int) int {
	m := n * percent / 100
	if m == 0 && n > 1 {
		m = 1
	}
	return m
}

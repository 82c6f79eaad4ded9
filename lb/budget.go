package lb

import (
	"sync/atomic"

	"github.com/switchyard/switchyard/setting"
)

// RetryBudget bounds the retries in flight to Ratio of the calls in flight, but
// allows at least MinRetries at once, as Envoy's retry budgets do: when an upstream
// fails, retries add at most that share of extra load instead of multiplying it.
type RetryBudget struct {
	// Ratio is the largest share of calls in flight that may be retries, 0 to 1.
	// Default 0.2.
	Ratio *float64 `yaml:"ratio"`
	// MinRetries are always allowed in flight, so that a quiet pool can retry.
	// Default 10. With both at 0, the pool makes no retries.
	MinRetries *int `yaml:"min_retries"`
}

func (b *RetryBudget) setDefaults() {
	if b.Ratio == nil {
		b.Ratio = setting.Ptr(0.2)
	}
	if b.MinRetries == nil {
		b.MinRetries = setting.Ptr(10)
	}
}

func (b *RetryBudget) validate(at setting.Path, r setting.Reporter) {
	if v := *b.Ratio; v < 0 || v > 1 {
		r.Add(at.Key("ratio"), "must be between 0 and 1, got %g", v)
	}
	if *b.MinRetries < 0 {
		r.Add(at.Key("min_retries"), "must not be negative")
	}
}

// none reports whether the budget allows no retry at all.
func (b *RetryBudget) none() bool { return *b.Ratio == 0 && *b.MinRetries == 0 }

// retryBudget counts the retries in flight against the calls in flight.
type retryBudget struct {
	ratio    float64
	min      int64
	active   *atomic.Int64 // calls in flight, the pool's counter
	inflight atomic.Int64  // retries in flight
}

// acquire reserves a retry, or reports false when the budget is spent. A reserved
// retry must be released.
func (b *retryBudget) acquire() bool {
	limit := int64(b.ratio * float64(b.active.Load()))
	limit = max(limit, b.min)
	if b.inflight.Add(1) > limit {
		b.inflight.Add(-1)
		return false
	}
	return true
}

func (b *retryBudget) release() { b.inflight.Add(-1) }

package lb

import "sync/atomic"

// RetryBudget bounds the retries in flight to Ratio of the calls in flight, but
// allows at least MinRetries at once, as Envoy's retry budgets do: when an upstream
// fails, retries add at most that share of extra load instead of multiplying it.
type RetryBudget struct {
	// Ratio is the largest share of calls in flight that may be retries.
	Ratio float64
	// MinRetries are always allowed in flight, so that a quiet pool can retry.
	MinRetries int
	// The zero RetryBudget is Ratio 0.2 and MinRetries 10.
}

// setDefaults gives the zero budget its defaults; a budget with either field set is
// taken as it is.
func (b *RetryBudget) setDefaults() {
	if b.Ratio == 0 && b.MinRetries == 0 {
		b.Ratio, b.MinRetries = 0.2, 10
	}
}

// retryBudget counts the retries in flight against the calls in flight.
type retryBudget struct {
	cfg      RetryBudget
	active   *atomic.Int64 // calls in flight, the pool's counter
	inflight atomic.Int64  // retries in flight
}

// acquire reserves a retry, or reports false when the budget is spent. A reserved
// retry must be released.
func (b *retryBudget) acquire() bool {
	limit := int64(b.cfg.Ratio * float64(b.active.Load()))
	limit = max(limit, int64(b.cfg.MinRetries))
	if b.inflight.Add(1) > limit {
		b.inflight.Add(-1)
		return false
	}
	return true
}

func (b *retryBudget) release() { b.inflight.Add(-1) }

package lb

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/switchyard/switchyard/setting"
)

// CircuitBreaker configures the breakers of a pool: one for the pool and, with
// PerEndpoint, one for each endpoint. A breaker opens when, within the last Window, at least MinRequests
// requests were made and at least FailureRatio of them failed (a 5xx answer, a
// refused or broken connection, a timeout). An open breaker refuses requests at once
// for OpenTime, then lets HalfOpenRequests through: if they succeed it closes, if one
// fails it opens again. An endpoint whose breaker is open is passed over; when the
// pool's breaker is open, or every endpoint's, a request fails at once with
// ErrCircuitOpen instead of waiting for a timeout.
type CircuitBreaker struct {
	// Disabled turns the breakers off.
	Disabled bool `yaml:"disabled"`
	// PerEndpoint adds a breaker to each endpoint, which takes it out on its error
	// rate; outlier detection takes it out on consecutive failures. Default false.
	PerEndpoint bool `yaml:"per_endpoint"`
	// FailureRatio is the share of failed requests that opens a breaker, above 0
	// and at most 1. Default 0.5.
	FailureRatio float64 `yaml:"failure_ratio"`
	// MinRequests is the fewest requests in the window before a breaker may open.
	// Default 20.
	MinRequests int `yaml:"min_requests"`
	// Window is how far back requests are counted, in ten buckets. Default 10s.
	Window setting.Duration `yaml:"window"`
	// OpenTime is how long an open breaker refuses requests. Default 5s.
	OpenTime setting.Duration `yaml:"open_time"`
	// HalfOpenRequests is how many trial requests a half-open breaker lets through.
	// Default 3.
	HalfOpenRequests int `yaml:"half_open_requests"`
}

func (c *CircuitBreaker) setDefaults() {
	if c.FailureRatio == 0 {
		c.FailureRatio = 0.5
	}
	if c.MinRequests == 0 {
		c.MinRequests = 20
	}
	c.Window.OrDefault(10 * time.Second)
	c.OpenTime.OrDefault(5 * time.Second)
	if c.HalfOpenRequests == 0 {
		c.HalfOpenRequests = 3
	}
}

func (c *CircuitBreaker) validate(at setting.Path, r setting.Reporter) {
	if c.FailureRatio <= 0 || c.FailureRatio > 1 {
		r.Add(at.Key("failure_ratio"), "must be above 0 and at most 1, got %g", c.FailureRatio)
	}
	if c.MinRequests < 1 {
		r.Add(at.Key("min_requests"), "must be at least 1")
	}
	if c.HalfOpenRequests < 1 {
		r.Add(at.Key("half_open_requests"), "must be at least 1")
	}
	c.Window.Check(at.Key("window"), r)
	c.OpenTime.Check(at.Key("open_time"), r)
}

// ErrCircuitOpen is returned, without a request being sent, when the pool's breaker is
// open or every endpoint's is.
var ErrCircuitOpen = errors.New("circuit breaker open")

// breaker is a two-step circuit breaker; nil is a breaker that always allows.
type breaker = gobreaker.TwoStepCircuitBreaker[struct{}]

// newBreaker returns a breaker with cfg's settings that logs its changes, or nil
// when breakers are disabled.
func newBreaker(name string, cfg *CircuitBreaker, log *slog.Logger) *breaker {
	if cfg.Disabled {
		return nil
	}
	ratio, minReq := cfg.FailureRatio, uint32(cfg.MinRequests)
	return gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         name,
		MaxRequests:  uint32(cfg.HalfOpenRequests),
		Interval:     cfg.Window.Duration,
		BucketPeriod: cfg.Window.Duration / 10,
		Timeout:      cfg.OpenTime.Duration,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			// Requests counts excluded ones (the caller ended them) and those still
			// in flight: only outcomes count.
			n := c.TotalSuccesses + c.TotalFailures
			return n >= minReq && float64(c.TotalFailures) >= ratio*float64(n)
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			level := slog.LevelInfo
			if to == gobreaker.StateOpen {
				level = slog.LevelWarn
			}
			log.Log(context.Background(), level, "circuit breaker "+to.String(), "breaker", name, "from", from.String())
		},
		// A request its caller ended says nothing of the upstream.
		IsExcluded: func(err error) bool { return errors.Is(err, errCallerEnded) },
	})
}

// errCallerEnded marks, for the breakers, a request that its caller cancelled or let
// pass its own deadline.
var errCallerEnded = errors.New("caller ended the request")

// errFailed marks, for the breakers, a request that failed with a 5xx answer.
var errFailed = errors.New("upstream failed")

// allow asks b whether a request may go; a nil breaker always allows.
func allow(b *breaker) (done func(error), ok bool) {
	if b == nil {
		return nil, true
	}
	done, err := b.Allow()
	return done, err == nil
}

// outcome is what a finished request tells the breakers.
func outcome(ctx context.Context, resp *Response, err error) error {
	switch {
	case err != nil && ctx.Err() != nil:
		return errCallerEnded
	case err != nil:
		return err
	case resp.Status >= 500:
		return errFailed
	}
	return nil
}

// breakerState names a breaker's state for status pages: closed, half-open or open.
func breakerState(b *breaker) string {
	if b == nil {
		return "disabled"
	}
	return b.State().String()
}

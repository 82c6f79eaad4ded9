package lb

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/setting"
)

func TestPoolBreakerFailsFastAndRecovers(t *testing.T) {
	var failing atomic.Bool
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if failing.Load() {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	p := newPool(t, Options{Endpoints: []string{srv.URL}, Retries: setting.Ptr(0),
		Breaker: CircuitBreaker{MinRequests: 10, FailureRatio: 0.5, Window: setting.D(time.Minute), OpenTime: setting.D(100 * time.Millisecond), HalfOpenRequests: 1}})
	do := func() (Response, error) {
		var resp Response
		err := p.Do(context.Background(), &Request{Target: "/"}, &resp)
		return resp, err
	}
	failing.Store(true)
	for range 10 {
		if resp, err := do(); err != nil || resp.Status != 503 {
			t.Fatalf("before the breaker opens: %d %v", resp.Status, err)
		}
	}
	before := hits.Load()
	for range 20 {
		if _, err := do(); !errors.Is(err, ErrCircuitOpen) {
			t.Fatalf("want ErrCircuitOpen, got %v", err)
		}
	}
	if hits.Load() != before {
		t.Fatal("an open breaker let requests through")
	}
	if s := p.Stats().Breaker; s != "open" {
		t.Fatalf("breaker %s, want open", s)
	}
	failing.Store(false)
	// After OpenTime (on the breaker's own clock) it is half-open: one trial passes.
	waitUntil(t, func() bool { return p.Stats().Breaker == "half-open" })
	if resp, err := do(); err != nil || resp.Status != 200 {
		t.Fatalf("the trial request: %d %v", resp.Status, err)
	}
	if s := p.Stats().Breaker; s != "closed" {
		t.Fatalf("breaker %s after a good trial, want closed", s)
	}
}

func TestEndpointBreakerPassesOverAnEndpoint(t *testing.T) {
	var hits [2]atomic.Int64
	var urls []string
	for i := range hits {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			if i == 0 {
				w.WriteHeader(500)
			}
		}))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	p := newPool(t, Options{Endpoints: urls,
		Breaker: CircuitBreaker{PerEndpoint: true, MinRequests: 5, FailureRatio: 0.5, Window: setting.D(time.Minute), OpenTime: setting.D(time.Minute)}})
	for range 40 {
		var resp Response
		if err := p.Do(context.Background(), &Request{Target: "/"}, &resp); err != nil || resp.Status != 200 {
			t.Fatalf("%d %v: the retry should have reached the good endpoint", resp.Status, err)
		}
	}
	// Round robin sends half to the failing endpoint, whose failures are retried on
	// the other, until its breaker opens after five failures; then everything goes
	// to the other.
	if n := hits[0].Load(); n > 6 {
		t.Fatalf("the failing endpoint got %d of 40 requests", n)
	}
	if st := p.Status()[0].Breaker; st != "open" {
		t.Fatalf("its breaker is %s", st)
	}
	if st := p.Stats().Breaker; st != "closed" {
		t.Fatalf("the pool's breaker is %s, want closed: most requests succeed", st)
	}
}

func TestRetriesGoToOtherEndpointsWithinTheBudget(t *testing.T) {
	var hits [3]atomic.Int64
	var urls []string
	for i := range hits {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			if i < 2 {
				w.WriteHeader(502)
			}
		}))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	p := newPool(t, Options{Endpoints: urls, Retries: setting.Ptr(2), RetryBackoff: setting.D(time.Millisecond), Breaker: CircuitBreaker{Disabled: true}})
	for range 9 {
		var resp Response
		if err := p.Do(context.Background(), &Request{Target: "/"}, &resp); err != nil || resp.Status != 200 {
			t.Fatalf("%d %v", resp.Status, err)
		}
	}
	if p.Stats().Retries == 0 {
		t.Fatal("no retry was counted")
	}

	b := retryBudget{ratio: 0.2, min: 2, active: new(atomic.Int64)}
	b.active.Store(20)
	var got int
	for b.acquire() {
		got++
	}
	if got != 4 {
		t.Fatalf("20 calls in flight allowed %d retries, want 20%% = 4", got)
	}
	b.active.Store(1)
	b.inflight.Store(0)
	first, second, third := b.acquire(), b.acquire(), b.acquire()
	if !first || !second || third {
		t.Fatal("the minimum of 2 retries in flight is not honoured")
	}
}

package policies

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/policies/redistest"
	"github.com/switchyard/switchyard/setting"
)

// TestSharedLimits: two instances sharing a real Redis enforce one limit between
// them; with Redis killed they fall back to their own buckets (told once, counted
// every time); when Redis is back, they share again.
func TestSharedLimits(t *testing.T) {
	srv := redistest.Start(t)
	var downs, ups, fallbacks atomic.Int64
	clock := newTestClock() // times the probes of Redis while it is down
	instance := func() (*RateLimits, *SharedLimits, http.Handler) {
		s, err := NewSharedLimits(SharedOptions{Redis: Redis{URL: srv.URL, KeyPrefix: t.Name() + ":", Timeout: setting.D(200 * time.Millisecond)},
			Log: slog.New(slog.DiscardHandler), Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		s.OnState = func(up bool) {
			if up {
				ups.Add(1)
			} else {
				downs.Add(1)
			}
		}
		s.OnFallback = func() { fallbacks.Add(1) }
		rl := NewRateLimits(&Rate{PerSecond: 0.01, Burst: 4}, nil, map[string]Rate{"/graphql": {PerSecond: 0.01, Burst: 100}}, time.Minute,
			func(*http.Request) string { return "192.0.2.1" }, nil)
		rl.Share(s)
		return rl, s, rl.Middleware("/graphql", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	}
	_, a, ha := instance()
	_, _, hb := instance()
	status := func(h http.Handler) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/graphql", nil))
		return rec.Code
	}
	allowed := 0
	for i := range 10 {
		h := ha
		if i%2 == 1 {
			h = hb
		}
		if status(h) == 200 {
			allowed++
		}
	}
	if allowed != 4 {
		t.Fatalf("two instances let %d of 10 requests through a shared burst of 4", allowed)
	}
	if fallbacks.Load() != 0 {
		t.Fatalf("%d checks fell back while Redis was up", fallbacks.Load())
	}

	srv.Kill()
	allowed = 0
	for range 6 {
		if status(ha) == 200 {
			allowed++
		}
	}
	if allowed != 4 || a.Up() || downs.Load() != 1 || fallbacks.Load() < 6 {
		t.Fatalf("with Redis down: %d of 6 allowed (want this instance's own 4), up=%v, downs=%d, fallbacks=%d", allowed, a.Up(), downs.Load(), fallbacks.Load())
	}

	srv.Restart()
	clock.Advance(1100 * time.Millisecond) // the next probe
	if status(hb) != 200 || status(ha) != 200 || !a.Up() || ups.Load() != 1 {
		t.Fatalf("with Redis back (empty): up=%v ups=%d", a.Up(), ups.Load())
	}
}

// TestSharedLimitsAllOrNone: a request refused by its second bucket gives back the
// token its first bucket gave.
func TestSharedLimitsAllOrNone(t *testing.T) {
	srv := redistest.Start(t)
	s, err := NewSharedLimits(SharedOptions{Redis: Redis{URL: srv.URL, KeyPrefix: t.Name() + ":", Timeout: setting.D(200 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	caller := NewKeyedLimiter(Rate{PerSecond: 0.01, Burst: 3}, time.Minute)
	caller.name = "caller"
	route := NewKeyedLimiter(Rate{PerSecond: 0.01, Burst: 1}, time.Minute)
	route.name = "route"
	keys := []limitKey{{caller, "ada"}, {route, "/graphql"}}
	ctx := t.Context()
	if d, ok := s.check(ctx, keys, 1); !ok || !d.Allowed || d.Remaining != 0 || d.Limit != 1 {
		t.Fatalf("first: %+v ok=%v", d, ok)
	}
	for range 3 {
		if d, ok := s.check(ctx, keys, 1); !ok || d.Allowed || d.RetryAfter <= 0 {
			t.Fatalf("refused by the route: %+v ok=%v", d, ok)
		}
	}
	// The caller's bucket still holds 2 of 3: the refusals took nothing from it.
	if d, ok := s.check(ctx, keys[:1], 1); !ok || !d.Allowed || d.Remaining != 1 {
		t.Fatalf("the caller's bucket: %+v", d)
	}
	// A caller whose bucket is full, refused by the exhausted route: still full.
	bob := []limitKey{{caller, "bob"}, {route, "/graphql"}}
	for range 3 {
		if d, ok := s.check(ctx, bob, 1); !ok || d.Allowed {
			t.Fatalf("bob through the exhausted route: %+v ok=%v", d, ok)
		}
	}
	if d, ok := s.check(ctx, bob[:1], 1); !ok || !d.Allowed || d.Remaining != 2 {
		t.Fatalf("bob's bucket after three refusals: %+v", d)
	}
	if d, ok := s.check(ctx, keys[:1], 5); !ok || d.Allowed || d.RetryAfter >= 0 {
		t.Fatalf("more than the burst: %+v", d)
	}
}

package policies

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestKeyedLimiterForgetsIdleBuckets(t *testing.T) {
	l := NewKeyedLimiter(Rate{PerSecond: 10, Burst: 10}, time.Minute)
	now := time.Unix(1000, 0)
	for i := range 100 {
		l.take(fmt.Sprint("k", i), 1, now)
	}
	if l.Len() != 100 {
		t.Fatalf("%d buckets, want 100", l.Len())
	}
	l.take("k0", 1, now.Add(50*time.Second))
	l.take("late", 1, now.Add(100*time.Second))
	if got := l.Len(); got != 2 {
		t.Errorf("%d buckets after the others went idle, want 2 (k0 and late)", got)
	}
}

func TestKeyedLimiterKeepsBucketsUntilRefilled(t *testing.T) {
	// 1 token a minute, burst 5: a bucket takes 5 minutes to refill, so a 1s idle
	// timeout must not forget it sooner.
	l := NewKeyedLimiter(Rate{PerSecond: 1.0 / 60, Burst: 5}, time.Second)
	if l.idle < 5*time.Minute {
		t.Fatalf("idle timeout %v, want at least the refill time 5m", l.idle)
	}
}

func TestCheckIsAllOrNone(t *testing.T) {
	caller := NewKeyedLimiter(Rate{PerSecond: 0.001, Burst: 5}, time.Minute)
	route := NewKeyedLimiter(Rate{PerSecond: 0.001, Burst: 1}, time.Minute)
	now := time.Unix(1000, 0)
	keys := []limitKey{{caller, "c"}, {route, "r"}}
	if d := check(now, keys, 1); !d.Allowed || d.Limit != 1 || d.Remaining != 0 {
		t.Fatalf("first request: %+v, want allowed with the route's limit 1, 0 left", d)
	}
	d := check(now, keys, 1)
	if d.Allowed || d.RetryAfter <= 0 {
		t.Fatalf("second request: %+v, want refused with a retry time", d)
	}
	// The refusal by the route gave the caller's token back.
	if got := check(now, keys[:1], 1); got.Remaining != 3 {
		t.Errorf("caller has %d tokens left after one allowed, one refused and this request, want 3", got.Remaining)
	}
}

// BenchmarkRateLimitCheck measures what a limited request pays: a caller bucket and a
// route bucket, over 10,000 callers.
func BenchmarkRateLimitCheck(b *testing.B) {
	caller := NewKeyedLimiter(Rate{PerSecond: 1e9, Burst: 1 << 30}, time.Minute)
	route := NewKeyedLimiter(Rate{PerSecond: 1e9, Burst: 1 << 30}, time.Minute)
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprint("ip:10.0.", i/256, ".", i%256)
	}
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if d := check(now, []limitKey{{caller, keys[i%len(keys)]}, {route, "/graphql"}}, 1); !d.Allowed {
			b.Fatal("refused")
		}
	}
}

func TestRefusalsCostNothing(t *testing.T) {
	l := NewKeyedLimiter(Rate{PerSecond: 1, Burst: 1}, time.Minute)
	now := time.Unix(1000, 0)
	if res, _, _ := l.take("k", 1, now); res == nil {
		t.Fatal("the first token was refused")
	}
	for range 1000 {
		if res, _, wait := l.take("k", 1, now); res != nil || wait != time.Second {
			t.Fatalf("an empty bucket gave a token, or says wait %v", wait)
		}
	}
	// A second later the bucket holds its one token, however many were refused.
	if res, _, _ := l.take("k", 1, now.Add(time.Second)); res == nil {
		t.Error("refusals ran the bucket into debt")
	}
	if res, _, wait := l.take("k", 2, now.Add(time.Hour)); res != nil || wait != -1 {
		t.Errorf("more than the burst: %v, wait %v, want a refusal for ever", res, wait)
	}
}

func TestBucketsAreCapped(t *testing.T) {
	l := NewKeyedLimiter(Rate{PerSecond: 1, Burst: 2}, time.Hour)
	now := time.Unix(1000, 0)
	for i := range maxBuckets + 10 {
		l.take(fmt.Sprint(i), 1, now)
	}
	if got := l.Len(); got != maxBuckets+1 {
		t.Fatalf("%d buckets, want %d and the overflow one", got, maxBuckets+1)
	}
	// New callers past the cap share the overflow bucket: its two tokens went to
	// the first two, and the rest are refused.
	if res, _, _ := l.take("another", 1, now); res != nil {
		t.Error("a new caller past the cap got a token of its own")
	}
}

func TestIPv6CallersByPrefix(t *testing.T) {
	rl := NewRateLimits(&Rate{PerSecond: 0.001, Burst: 1}, nil, nil, time.Minute, (&ClientIPs{}).Of, nil)
	h := rl.Middleware("/graphql", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	status := func(peer string) int {
		r := httptest.NewRequest("POST", "/graphql", nil)
		r.RemoteAddr = peer
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for _, tc := range []struct {
		peer string
		want int
	}{
		{"[2001:db8:1:2::1]:1000", 200},
		{"[2001:db8:1:2::ffff]:1000", 429}, // the same /64
		{"[2001:db8:1:3::1]:1000", 200},    // another /64
		{"192.0.2.1:1000", 200},
		{"192.0.2.2:1000", 200}, // IPv4 addresses each count
	} {
		if got := status(tc.peer); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.peer, got, tc.want)
		}
	}
}

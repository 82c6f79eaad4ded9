package lb

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/setting"
)

// fakeClock is a clock that moves only when told to.
type fakeClock struct{ t atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.t.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.t.Add(int64(d)) }

func seeded(seed uint64) func(int) int {
	r := rand.New(rand.NewPCG(seed, seed))
	var mu sync.Mutex
	return func(n int) int {
		mu.Lock()
		defer mu.Unlock()
		return r.IntN(n)
	}
}

func pickPool(t *testing.T, policy Policy, n int, clock *fakeClock) *Pool {
	t.Helper()
	var eps []string
	for i := range n {
		eps = append(eps, "http://127.0.0.1:"+string(rune('1'+i))+"0")
	}
	opts := Options{Endpoints: eps, Policy: policy, Now: clock.now, Rand: seeded(1), HealthCheck: HealthCheck{Disabled: true}}
	if policy == RingHash {
		opts.HashOn = HashOn{Header: "X-Key"}
	}
	p, err := New("pick", opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func counts(p *Pool, picks int) map[*endpoint]int {
	out := map[*endpoint]int{}
	for range picks {
		out[p.pick(nil)]++
	}
	return out
}

func TestLeastRequestSpreadsEvenLoad(t *testing.T) {
	clock := &fakeClock{}
	p := pickPool(t, LeastRequest, 4, clock)
	got := counts(p, 8000)
	for _, ep := range p.endpoints {
		if n := got[ep]; n < 1600 || n > 2400 {
			t.Errorf("%s got %d of 8000 picks with equal load", ep.url, n)
		}
	}
}

func TestLeastRequestAvoidsASlowEndpoint(t *testing.T) {
	clock := &fakeClock{}
	p := pickPool(t, LeastRequest, 3, clock)
	now := clock.now().UnixNano()
	fast1, fast2, slow := p.endpoints[0], p.endpoints[1], p.endpoints[2]
	fast1.latency.observe(time.Millisecond, now)
	fast2.latency.observe(time.Millisecond, now)
	slow.latency.observe(500*time.Millisecond, now)
	got := counts(p, 3000)
	if share := float64(got[slow]) / 3000; share > 0.01 {
		t.Errorf("the slow endpoint got %.1f%% of picks", share*100)
	}
	// Requests in flight count too: a fast endpoint with many is passed over.
	fast1.inflight.Store(1000)
	got = counts(p, 3000)
	if got[fast1] > got[fast2]/10 {
		t.Errorf("a saturated endpoint got %d picks against %d", got[fast1], got[fast2])
	}
	fast1.inflight.Store(0)
	// The peak is forgotten over time, so a recovered endpoint gets traffic again.
	clock.advance(2 * time.Minute)
	fast1.latency.observe(time.Millisecond, clock.now().UnixNano())
	fast2.latency.observe(time.Millisecond, clock.now().UnixNano())
	got = counts(p, 3000)
	if got[slow] < 500 {
		t.Errorf("two minutes after its peak the slow endpoint got only %d of 3000 picks", got[slow])
	}
}

func TestPickAvoidsTheFailedEndpoint(t *testing.T) {
	for _, policy := range Policies {
		t.Run(string(policy), func(t *testing.T) {
			p := pickPool(t, policy, 2, &fakeClock{})
			for range 100 {
				if ep := p.pick(p.endpoints[0]); ep == p.endpoints[0] {
					t.Fatal("picked the endpoint to avoid")
				}
			}
		})
	}
}

func TestLatencyIsPeakSensitive(t *testing.T) {
	var l latency
	l.observe(10*time.Millisecond, 0)
	l.observe(time.Second, 1)
	if got := l.current(1); got < float64(time.Second)*0.99 {
		t.Fatalf("a slow answer did not raise the average at once: %v", time.Duration(got))
	}
	l.observe(time.Millisecond, int64(latencyDecay))
	if got := time.Duration(l.current(int64(latencyDecay))); got > 400*time.Millisecond || got < 300*time.Millisecond {
		t.Fatalf("after one time constant the average is %v, want about 1s/e", got)
	}
}

func TestLeastRequestSendsLittleToASlowServer(t *testing.T) {
	var hits [2]atomic.Int64
	var urls []string
	for i := range hits {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			if i == 1 {
				time.Sleep(50 * time.Millisecond)
			}
		}))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	p := newPool(t, Options{Endpoints: urls, Policy: LeastRequest})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				var resp Response
				if err := p.Do(context.Background(), &Request{Target: "/"}, &resp); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if slow, all := hits[1].Load(), hits[0].Load()+hits[1].Load(); float64(slow)/float64(all) > 0.10 {
		t.Errorf("the slow server got %d of %d requests", slow, all)
	}
}

func TestOutlierEjection(t *testing.T) {
	clock := &fakeClock{}
	p := pickPool(t, RoundRobin, 3, clock)
	p.opts.Outlier = OutlierDetection{ConsecutiveFailures: setting.Ptr(3), BaseEjectionTime: setting.D(10 * time.Second),
		MaxEjectionTime: setting.D(25 * time.Second), MaxEjectionPercent: setting.Ptr(50)}
	bad, other := p.endpoints[0], p.endpoints[1]
	fail := func(ep *endpoint) {
		p.observe(context.Background(), ep, clock.now(), &Response{Status: 503}, nil, true)
	}
	ok := func(ep *endpoint) {
		p.observe(context.Background(), ep, clock.now(), &Response{Status: 200}, nil, true)
	}
	available := func(ep *endpoint) bool {
		for _, e := range p.current(clock.now()).healthy {
			if e == ep {
				return true
			}
		}
		return false
	}

	fail(bad)
	fail(bad)
	ok(bad) // a success resets the count
	fail(bad)
	fail(bad)
	if !available(bad) {
		t.Fatal("ejected before three failures in a row")
	}
	fail(bad)
	if available(bad) {
		t.Fatal("not ejected after three failures in a row")
	}
	for range 30 {
		if p.pick(nil) == bad {
			t.Fatal("an ejected endpoint was picked")
		}
	}
	// A second endpoint may not be ejected too: at most 50% of three, rounded down.
	for range 3 {
		fail(other)
	}
	if !available(other) {
		t.Fatal("ejected more than the allowed share")
	}

	// Readmitted after 10s; failing again, ejected for twice as long, capped at 25s.
	clock.advance(10 * time.Second)
	if !available(bad) {
		t.Fatal("not readmitted after its ejection time")
	}
	for range 3 {
		fail(bad)
	}
	clock.advance(19 * time.Second)
	if available(bad) {
		t.Fatal("the second ejection was not longer")
	}
	clock.advance(time.Second)
	if !available(bad) {
		t.Fatal("not readmitted after 20s")
	}
	for range 3 {
		fail(bad)
	}
	clock.advance(24 * time.Second)
	if available(bad) {
		t.Fatal("the third ejection was shorter than the cap")
	}
	clock.advance(time.Second)
	if !available(bad) {
		t.Fatal("the ejection time was not capped")
	}
	// A success after readmission forgets the past ejections.
	ok(bad)
	for range 3 {
		fail(bad)
	}
	clock.advance(10 * time.Second)
	if !available(bad) {
		t.Fatal("after a success the ejection time did not start over")
	}
	// A request its caller ended says nothing of the endpoint.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		p.observe(ctx, other, clock.now(), &Response{}, context.Canceled, true)
	}
	if !available(other) {
		t.Fatal("caller cancellations ejected an endpoint")
	}
}

func TestSlowStartAfterReadmission(t *testing.T) {
	for _, policy := range Policies {
		t.Run(string(policy), func(t *testing.T) {
			clock := &fakeClock{}
			p := pickPool(t, policy, 2, clock)
			p.opts.SlowStart = setting.D(10 * time.Second)
			p.opts.Outlier = OutlierDetection{ConsecutiveFailures: setting.Ptr(1), BaseEjectionTime: setting.D(time.Second), MaxEjectionTime: setting.D(time.Second), MaxEjectionPercent: setting.Ptr(50)}
			p.rebuild()
			back := p.endpoints[0]
			p.endpoints[1].latency.observe(time.Millisecond, clock.now().UnixNano())
			p.observe(context.Background(), back, clock.now(), &Response{Status: 500}, nil, true)
			clock.advance(time.Second) // readmitted now
			share := func() float64 { return float64(counts(p, 4000)[back]) / 4000 }
			if s := share(); s > 0.12 {
				t.Fatalf("just readmitted, it got %.0f%% of picks", s*100)
			}
			clock.advance(5 * time.Second)
			if s := share(); s < 0.2 || s > 0.45 {
				t.Fatalf("halfway through slow start it got %.0f%% of picks", s*100)
			}
			clock.advance(5 * time.Second)
			if s := share(); s < 0.45 {
				t.Fatalf("after slow start it got %.0f%% of picks", s*100)
			}
		})
	}
}

func TestWeights(t *testing.T) {
	for _, policy := range Policies {
		t.Run(string(policy), func(t *testing.T) {
			clock := &fakeClock{}
			eps := []string{"http://127.0.0.1:10", "http://127.0.0.1:20"}
			opts := Options{Endpoints: eps, Policy: policy, Now: clock.now, Rand: seeded(3),
				Weights: map[string]int{eps[1]: 3}, HealthCheck: HealthCheck{Disabled: true}}
			if policy == RingHash {
				opts.HashOn = HashOn{Header: "X-Key"}
			}
			p, err := New("w", opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			heavy := 0
			const picks = 4000
			// Eight requests stay in flight, so that least-request sees load: with
			// none, the heavier endpoint would always score better.
			var inflight []*endpoint
			for k := range picks {
				ctx := WithAffinity(context.Background(), inbound(fmt.Sprint("key-", k), ""))
				ep, _ := p.chooseFor(ctx, p.current(clock.now()), nil)
				if ep == p.endpoints[1] {
					heavy++
				}
				ep.inflight.Add(1)
				if inflight = append(inflight, ep); len(inflight) > 8 {
					inflight[0].inflight.Add(-1)
					inflight = inflight[1:]
				}
			}
			if share := float64(heavy) / picks; share < 0.65 || share > 0.85 {
				t.Errorf("the endpoint of weight 3 against 1 got %.0f%% of picks", share*100)
			}
		})
	}
	if _, err := New("w", Options{Endpoints: []string{"http://127.0.0.1:1"}, Weights: map[string]int{"http://127.0.0.1:1": 0}}, nil); err == nil {
		t.Error("a weight of 0 was accepted")
	}
}

func TestWeightedSequenceIsSmooth(t *testing.T) {
	a, b, c := &endpoint{url: "a", weight: 5}, &endpoint{url: "b", weight: 1}, &endpoint{url: "c", weight: 1}
	var got string
	for _, ep := range weightedSequence([]*endpoint{a, b, c}) {
		got += ep.url
	}
	if got != "aabacaa" {
		t.Fatalf("sequence %s, want aabacaa (nginx's smooth weighted round robin)", got)
	}
}

func TestReviewFixes(t *testing.T) {
	t.Run("round robin in slow start still avoids", func(t *testing.T) {
		clock := &fakeClock{}
		p := pickPool(t, RoundRobin, 2, clock)
		p.opts.SlowStart = setting.D(time.Minute)
		p.endpoints[1].since.Store(clock.now().UnixNano()) // just back
		p.rebuild()
		for range 1000 {
			if ep, _ := p.choose(p.current(clock.now()), pickInfo{avoid: p.endpoints[0]}); ep != p.endpoints[1] {
				t.Fatal("a retry found no other endpoint, or the one to avoid")
			}
		}
	})
	t.Run("failures arriving together eject once", func(t *testing.T) {
		clock := &fakeClock{}
		p := pickPool(t, RoundRobin, 3, clock)
		p.opts.Outlier = OutlierDetection{ConsecutiveFailures: setting.Ptr(1), BaseEjectionTime: setting.D(10 * time.Second), MaxEjectionTime: setting.D(time.Hour), MaxEjectionPercent: setting.Ptr(50)}
		bad := p.endpoints[0]
		for range 8 {
			p.observe(context.Background(), bad, clock.now(), &Response{Status: 502}, nil, true)
		}
		clock.advance(10 * time.Second)
		if !slices.Contains(p.current(clock.now()).healthy, bad) {
			t.Fatal("eight failures at once ejected it for longer than the base time")
		}
	})
	t.Run("failures during an ejection do not count after it", func(t *testing.T) {
		clock := &fakeClock{}
		p := pickPool(t, RoundRobin, 3, clock)
		p.opts.Outlier = OutlierDetection{ConsecutiveFailures: setting.Ptr(5), BaseEjectionTime: setting.D(time.Second), MaxEjectionTime: setting.D(time.Hour), MaxEjectionPercent: setting.Ptr(50)}
		bad := p.endpoints[0]
		for range 25 { // 5 eject it, 20 more were in flight
			p.observe(context.Background(), bad, clock.now(), &Response{Status: 502}, nil, true)
		}
		clock.advance(time.Second)
		p.current(clock.now())
		p.observe(context.Background(), bad, clock.now(), &Response{Status: 502}, nil, true)
		if !slices.Contains(p.current(clock.now()).healthy, bad) {
			t.Fatal("one failure after readmission ejected it again")
		}
	})
	t.Run("a late finish does not teach a latency", func(t *testing.T) {
		clock := &fakeClock{}
		p := pickPool(t, LeastRequest, 2, clock)
		clock.advance(200 * time.Millisecond)
		p.observe(context.Background(), p.endpoints[0], clock.now().Add(-200*time.Millisecond), &Response{Status: 200}, nil, false)
		if got := p.endpoints[0].latency.current(clock.now().UnixNano()); got != 0 {
			t.Fatalf("an untimed call set the latency to %v", time.Duration(got))
		}
	})
	t.Run("sticky within one request", func(t *testing.T) {
		clock := &fakeClock{}
		p := pickPool(t, RoundRobin, 3, clock)
		p.opts.Sticky = Sticky{Cookie: "sy"}
		p.rebuild() // the snapshot's picker is made from the options
		aff := inbound("", "")
		ctx := WithAffinity(context.Background(), aff)
		first, _ := p.chooseFor(ctx, p.current(clock.now()), nil)
		for range 10 {
			if ep, _ := p.chooseFor(ctx, p.current(clock.now()), nil); ep != first {
				t.Fatal("calls of one request went to several endpoints of a sticky pool")
			}
		}
	})
}

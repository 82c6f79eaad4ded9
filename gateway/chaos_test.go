package gateway_test

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/demo"
	"github.com/switchyard/switchyard/gateway"
	"github.com/switchyard/switchyard/lb"
)

// loadRun is a query sent over and over from several goroutines, until stop.
type loadRun struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	settled *sync.Cond // broadcast whenever a query finishes
	n       int
	failed  []string
	begin   time.Time
	took    []loadSample
}

type loadSample struct{ at, took time.Duration }

// load runs query from workers goroutines until its stop is called.
func load(t *testing.T, s *stack, workers int, query string) *loadRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &loadRun{cancel: cancel, begin: time.Now()}
	l.settled = sync.NewCond(&l.mu)
	for range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for ctx.Err() == nil {
				start := time.Now()
				got := s.query(t, query)
				l.mu.Lock()
				l.took = append(l.took, loadSample{start.Sub(l.begin), time.Since(start)})
				l.n++
				if got.Status != 200 || len(got.Errors) != 0 {
					l.failed = append(l.failed, got.Raw)
				}
				l.settled.Broadcast()
				l.mu.Unlock()
			}
		}()
	}
	t.Cleanup(func() { l.stop() })
	return l
}

// settle waits until more queries than now have finished: whatever happened
// before it was called is then seen by that many queries at least.
func (l *loadRun) settle(t *testing.T, more int) {
	t.Helper()
	timedOut := false
	timer := time.AfterFunc(10*time.Second, func() {
		l.mu.Lock()
		timedOut = true
		l.settled.Broadcast()
		l.mu.Unlock()
	})
	defer timer.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	for target := l.n + more; l.n < target && !timedOut; {
		l.settled.Wait()
	}
	if timedOut {
		t.Fatalf("%d queries did not finish within 10s", more)
	}
}

// stop ends the load and reports how many queries ran and the answers of those
// that failed.
func (l *loadRun) stop() (queries int, failures []string) {
	l.cancel()
	l.wg.Wait()
	return l.n, l.failed
}

// durations are the sorted durations of the queries that started after the given
// time into the run; call it once stopped.
func (l *loadRun) durations(after time.Duration) []time.Duration {
	var out []time.Duration
	for _, x := range l.took {
		if x.at >= after {
			out = append(out, x.took)
		}
	}
	slices.Sort(out)
	return out
}

// waitUntil polls cond until it holds, for at most 5s.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
	}
}

// poolOf is the pool of that name of a gateway.
func poolOf(t *testing.T, gw *gateway.Gateway, name string) *lb.Pool {
	t.Helper()
	for _, p := range gw.Pools() {
		if p.Name() == name {
			return p
		}
	}
	t.Fatalf("no pool %s", name)
	return nil
}

func TestChaosAnInstanceAnswering500IsEjected(t *testing.T) {
	s := startStack(t, 2, func(c *config.Config) {
		for name, p := range c.Pools {
			p.HealthCheck.Interval = config.D(time.Hour) // only passive detection sees it
			p.Outlier.ConsecutiveFailures = ptr(3)
			p.Outlier.BaseEjectionTime = config.D(time.Minute)
			c.Pools[name] = p
		}
	})
	bad := s.cluster.Instances(demo.Catalog)[0]
	bad.SetFault(demo.Fault{Status: 500})
	run := load(t, s, 8, `{ product(id:"p1"){ name } user(id:"u1"){ name } }`)
	run.settle(t, 100) // every one calls catalog
	queries, failures := run.stop()
	if len(failures) > 0 {
		t.Fatalf("%d of %d queries failed; first: %s", len(failures), queries, failures[0])
	}
	good := s.cluster.Instances(demo.Catalog)[1]
	t.Logf("%d queries, none failed; the failing instance got %d calls, the good one %d", queries, bad.Calls(), good.Calls())
	if bad.Calls() > 12 || good.Calls() < 50 {
		t.Fatalf("the failing instance got %d calls and the good one %d: not ejected", bad.Calls(), good.Calls())
	}
}

func TestChaosLeastRequestAvoidsASlowInstance(t *testing.T) {
	s := startStack(t, 2, func(c *config.Config) {
		p := c.Pools["users"]
		p.Policy = "least_request"
		c.Pools["users"] = p
	})
	slow := s.cluster.Instances(demo.Users)[0]
	slow.SetFault(demo.Fault{Delay: 100 * time.Millisecond})
	run := load(t, s, 8, `{ user(id:"u1"){ name } }`)
	time.Sleep(500 * time.Millisecond) // a span of time, over which the tail is measured
	queries, failures := run.stop()
	// The first round of queries teaches the balancer which instance is slow.
	took := run.durations(200 * time.Millisecond)
	p50, p99 := took[len(took)/2], took[len(took)*99/100]
	t.Logf("after the first 200ms: p50 %v, p99 %v over %d queries", p50, p99, len(took))
	if p99 > 50*time.Millisecond {
		t.Errorf("p99 %v: the slow instance's 100ms shows in the tail", p99)
	}
	if len(failures) > 0 {
		t.Fatalf("%d of %d queries failed; first: %s", len(failures), queries, failures[0])
	}
	fast := s.cluster.Instances(demo.Users)[1]
	t.Logf("%d queries, none failed; the slow instance got %d of %d calls", queries, slow.Calls(), slow.Calls()+fast.Calls())
	if share := float64(slow.Calls()) / float64(slow.Calls()+fast.Calls()); share >= 0.10 {
		t.Fatalf("the slow instance got %.0f%% of %d calls", share*100, slow.Calls()+fast.Calls())
	}
}

func ptr[T any](v T) *T { return &v }

func TestChaosAWholeUpstreamDownOpensTheBreaker(t *testing.T) {
	s := startStack(t, 2, func(c *config.Config) {
		p := c.Pools["catalog"]
		p.RequestTimeout = config.D(200 * time.Millisecond)
		p.Breaker.MinRequests = 10
		p.Breaker.OpenTime = config.D(time.Minute)
		c.Pools["catalog"] = p
	})
	// Every catalog instance hangs: without a breaker each query would wait for the
	// 200ms timeout.
	s.cluster.SetFault(demo.Catalog, demo.Fault{Delay: 10 * time.Second})
	q := `{ product(id:"p1"){ name } user(id:"u1"){ name } }`
	run := load(t, s, 8, q)
	catalog := poolOf(t, s.gw, "catalog")
	waitUntil(t, func() bool { return catalog.Stats().Breaker == "open" })
	run.stop()
	s.cluster.ResetCounters()

	var durations []time.Duration
	for range 50 {
		start := time.Now()
		got := s.query(t, q)
		durations = append(durations, time.Since(start))
		jsonEqual(t, got.Data, `{"product":null,"user":{"name":"Ada Lovelace"}}`)
		if len(got.Errors) != 1 || got.Errors[0].Extensions["code"] != "CIRCUIT_OPEN" || got.Errors[0].Extensions["upstream"] != "catalog" {
			t.Fatalf("want one CIRCUIT_OPEN error for catalog, got %s", got.Raw)
		}
	}
	slices.Sort(durations)
	t.Logf("with the breaker open: p50 %v, p99 %v over %d queries", durations[len(durations)/2], durations[len(durations)*99/100], len(durations))
	if p99 := durations[len(durations)*99/100]; p99 > 50*time.Millisecond {
		t.Errorf("p99 of queries with the breaker open is %v, want under 50ms", p99)
	}
	if n := s.cluster.Calls(demo.Catalog); n != 0 {
		t.Errorf("an open breaker let %d calls through", n)
	}
}

func TestChaosRetryBudgetCapsExtraLoad(t *testing.T) {
	s := startStack(t, 2, func(c *config.Config) {
		p := c.Pools["users"]
		p.Retries = ptr(3)
		p.RetryBudget = lb.RetryBudget{Ratio: ptr(0.2), MinRetries: ptr(1)}
		p.Breaker.Disabled = true
		p.Outlier.ConsecutiveFailures = ptr(0)
		c.Pools["users"] = p
	})
	s.cluster.SetFault(demo.Users, demo.Fault{Status: 503})
	run := load(t, s, 8, `{ user(id:"u1"){ name } }`)
	run.settle(t, 200)
	queries, _ := run.stop()
	calls := s.cluster.Calls(demo.Users)
	t.Logf("%d queries made %d calls (%.2f each; 4 without a budget)", queries, calls, float64(calls)/float64(queries))
	// Without a budget every query would make four calls; with it, retries are at
	// most a fifth of the calls in flight, or one.
	if ratio := float64(calls) / float64(queries); ratio > 2.2 {
		t.Errorf("%d queries made %d calls (%.1f each): the budget did not cap the retries", queries, calls, ratio)
	}
}

func TestChaosARecoveredInstanceGetsTrafficAgain(t *testing.T) {
	var ahead atomic.Int64 // how far the pool's clock runs ahead of the real one
	s := startStack(t, 2, func(c *config.Config) {
		p := c.Pools["users"]
		p.Outlier.ConsecutiveFailures = ptr(2)
		p.Outlier.BaseEjectionTime = config.D(200 * time.Millisecond)
		p.SlowStart = config.D(100 * time.Millisecond)
		p.Now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
		c.Pools["users"] = p
	})
	sick := s.cluster.Instances(demo.Users)[0]
	q := `{ user(id:"u1"){ name } }`

	// Passive: answers 500, is ejected, recovers, is readmitted.
	sick.SetFault(demo.Fault{Status: 500})
	for range 20 {
		if got := s.query(t, q); len(got.Errors) != 0 {
			t.Fatalf("query failed: %s", got.Raw)
		}
	}
	sick.SetFault(demo.Fault{})
	sick.ResetCounters()
	ahead.Add(int64(300 * time.Millisecond)) // past the ejection and the slow start
	for range 40 {
		s.query(t, q)
	}
	if n := sick.Calls(); n < 10 {
		t.Fatalf("after its ejection the recovered instance got %d of 40 calls", n)
	}

	// Active: stopped, probed unhealthy, started, probed healthy, back in rotation.
	sick.Stop()
	for range 20 {
		if got := s.query(t, q); len(got.Errors) != 0 {
			t.Fatalf("query failed while an instance was down: %s", got.Raw)
		}
	}
	if err := sick.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for sick.ResetCounters(); sick.Calls() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the restarted instance never got traffic again")
		}
		s.query(t, q)
	}
}

func TestStickySessionsAndRingHashThroughTheGateway(t *testing.T) {
	s := startStack(t, 3, func(c *config.Config) {
		u := c.Pools["users"]
		u.Sticky.Cookie = "sy_users"
		c.Pools["users"] = u
		p := c.Pools["catalog"]
		p.Policy = "ring_hash"
		p.HashOn.Header = "X-Shopper"
		c.Pools["catalog"] = p
	})
	post := func(cookie *http.Cookie, shopper string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", s.url+"/graphql", strings.NewReader(`{"query":"{ user(id:\"u1\"){ name } product(id:\"p1\"){ name } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Shopper", shopper)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if strings.Contains(string(body), "errors") {
			t.Fatalf("errors: %s", body)
		}
		return resp, string(body)
	}
	pinOf := func(resp *http.Response) *http.Cookie {
		for _, c := range resp.Cookies() {
			if c.Name == "sy_users" {
				return c
			}
		}
		return nil
	}
	resp, _ := post(nil, "alice")
	pin := pinOf(resp)
	if pin == nil || !pin.HttpOnly {
		t.Fatalf("no HttpOnly sticky cookie set: %v", resp.Header["Set-Cookie"])
	}
	if strings.Contains(pin.Value, "127.0.0.1") {
		t.Fatal("the cookie shows the endpoint's address")
	}
	s.cluster.ResetCounters()
	for range 12 {
		if resp, _ := post(pin, "alice"); pinOf(resp) != nil {
			t.Fatal("the same pin was set again")
		}
	}
	busy := func(svc demo.Service) (hit int) {
		for _, in := range s.cluster.Instances(svc) {
			if in.Calls() > 0 {
				hit++
			}
		}
		return hit
	}
	if busy(demo.Users) != 1 {
		t.Fatal("a pinned client's calls went to several users instances")
	}
	if busy(demo.Catalog) != 1 {
		t.Fatal("one shopper's calls went to several catalog instances")
	}
	// The pinned instance dies: the client is moved, and told so.
	for _, in := range s.cluster.Instances(demo.Users) {
		if in.Calls() > 0 {
			in.Stop()
		}
	}
	resp, _ = post(pin, "alice")
	if moved := pinOf(resp); moved == nil || moved.Value == pin.Value {
		t.Fatalf("the client was not re-pinned: %v", resp.Header["Set-Cookie"])
	}
}

package gateway_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/demo"
)

// load runs query from workers goroutines until the returned stop is called, and
// then reports how many queries ran and the answers of those that failed.
func load(t *testing.T, s *stack, workers int, query string) (stop func() (queries int, failures []string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var n int
	var failed []string
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				got := s.query(t, query)
				mu.Lock()
				n++
				if got.Status != 200 || len(got.Errors) != 0 {
					failed = append(failed, got.Raw)
				}
				mu.Unlock()
			}
		}()
	}
	return func() (int, []string) {
		cancel()
		wg.Wait()
		return n, failed
	}
}

func TestChaosAnInstanceAnswering500IsEjected(t *testing.T) {
	s := startStack(t, 2, func(c *config.Config) {
		for name, p := range c.Pools {
			p.HealthCheck.Interval = config.D(time.Hour) // only passive detection sees it
			p.OutlierDetection.ConsecutiveFailures = ptr(3)
			p.OutlierDetection.BaseEjectionTime = config.D(time.Minute)
			c.Pools[name] = p
		}
	})
	bad := s.cluster.Instances(demo.Catalog)[0]
	bad.SetFault(demo.Fault{Status: 500})
	stop := load(t, s, 8, `{ product(id:"p1"){ name } user(id:"u1"){ name } }`)
	time.Sleep(300 * time.Millisecond)
	queries, failures := stop()
	if len(failures) > 0 {
		t.Fatalf("%d of %d queries failed; first: %s", len(failures), queries, failures[0])
	}
	good := s.cluster.Instances(demo.Catalog)[1]
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
	stop := load(t, s, 8, `{ user(id:"u1"){ name } }`)
	time.Sleep(500 * time.Millisecond)
	queries, failures := stop()
	if len(failures) > 0 {
		t.Fatalf("%d of %d queries failed; first: %s", len(failures), queries, failures[0])
	}
	fast := s.cluster.Instances(demo.Users)[1]
	if share := float64(slow.Calls()) / float64(slow.Calls()+fast.Calls()); share >= 0.10 {
		t.Fatalf("the slow instance got %.0f%% of %d calls", share*100, slow.Calls()+fast.Calls())
	}
}

func ptr[T any](v T) *T { return &v }

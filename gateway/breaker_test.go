package gateway_test

import (
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/demo"
	"github.com/switchyard/switchyard/setting"
)

// Through the gateway, with per-endpoint breakers, outlier detection and one retry
// (a combination a review once saw fail every call while the pool's breaker stayed
// closed): one users instance answering 500, every query still gets its user, by
// the retry and then by the other instance alone, and the failing instance stops
// getting requests once its breaker opens or it is ejected.
func TestBreakersOutliersAndRetriesThroughTheGateway(t *testing.T) {
	s := startStack(t, 2, func(c *config.Config) {
		p := c.Pools["users"]
		p.Breaker.PerEndpoint = true
		p.Breaker.MinRequests = 4
		p.Outlier.ConsecutiveFailures = setting.Ptr(3)
		p.Retries = setting.Ptr(1)
		p.HealthCheck.Disabled = true
		c.Pools["users"] = p
	})
	bad := s.cluster.Instances(demo.Users)[0]
	bad.SetFault(demo.Fault{Status: 500})
	var cut int64 = -1
	for i := range 20 {
		for _, q := range []string{`{ user(id:"u1"){ name } }`, `{ user(id:"u2"){ name } product(id:"p1"){ name } }`} {
			got := s.query(t, q)
			if len(got.Errors) > 0 || got.Status != 200 {
				t.Fatalf("query %d: %d %s", i, got.Status, got.Raw)
			}
		}
		for _, pool := range s.gw.Pools() {
			if pool.Name() != "users" {
				continue
			}
			for _, ep := range pool.Status() {
				if ep.URL == bad.URL() && cut < 0 && (ep.Breaker == "open" || ep.Ejected) {
					cut = bad.Calls()
				}
			}
		}
	}
	if cut < 0 {
		t.Fatal("the failing instance was never taken out")
	}
	if n := bad.Calls(); n != cut {
		t.Errorf("the failing instance got %d calls after it was taken out", n-cut)
	}
}

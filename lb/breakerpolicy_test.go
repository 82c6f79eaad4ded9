package lb

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/switchyard/switchyard/setting"
)

// With per-endpoint breakers, outlier detection and one retry (the combination a
// review found failing every call while the pool's breaker stayed closed and
// requests kept going to an endpoint whose breaker was open): one endpoint failing
// and one healthy, every call succeeds through the healthy one, whether or not the
// client is pinned to the failing one by a sticky cookie, and once the failing
// endpoint's breaker opens or it is ejected, it gets no more requests.
func TestPerEndpointBreakersWithOutliersAndRetries(t *testing.T) {
	for _, sticky := range []bool{false, true} {
		t.Run(fmt.Sprintf("sticky=%v", sticky), func(t *testing.T) {
			var hitsBad, hitsGood atomic.Int64
			bad := rawServer(t, func(*http.Request) string {
				hitsBad.Add(1)
				return "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nfail"
			})
			good := rawServer(t, func(*http.Request) string {
				hitsGood.Add(1)
				return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
			})
			opts := Options{Endpoints: []string{bad, good}, Retries: setting.Ptr(1)}
			opts.Breaker.PerEndpoint = true
			opts.Breaker.MinRequests = 4
			opts.Outlier.ConsecutiveFailures = setting.Ptr(3)
			if sticky {
				opts.Sticky.Cookie = "sy"
			}
			opts.SetDefaults()
			p := newPool(t, opts)
			badID := endpointID(bad)
			var cutAt int64 = -1
			for i := range 20 {
				ctx := context.Background()
				if sticky {
					r := httptest.NewRequest(http.MethodGet, "/", nil)
					r.AddCookie(&http.Cookie{Name: "sy", Value: badID}) // pinned to the failing endpoint
					ctx = WithAffinity(ctx, NewAffinity(r, "10.0.0.1"))
				}
				var resp Response
				if err := p.Do(ctx, &Request{Target: "/x"}, &resp); err != nil || resp.Status != 200 {
					t.Fatalf("call %d: status %d, err %v", i, resp.Status, err)
				}
				st := p.Status()[0]
				if cutAt < 0 && (st.Breaker == "open" || st.Ejected) {
					cutAt = hitsBad.Load()
				}
			}
			if cutAt < 0 {
				t.Fatal("the failing endpoint was never taken out")
			}
			if got := hitsBad.Load(); got != cutAt {
				t.Errorf("the failing endpoint got %d requests after it was taken out (breaker open or ejected)", got-cutAt)
			}
			if st := p.Stats(); st.Breaker != "closed" {
				t.Errorf("the pool's breaker is %s with a healthy endpoint", st.Breaker)
			}
		})
	}
}

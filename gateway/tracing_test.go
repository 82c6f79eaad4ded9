package gateway_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/demo"
	"github.com/switchyard/switchyard/gateway"
)

func TestTraceContextReachesTheUpstreams(t *testing.T) {
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	const parent = "00-" + traceID + "-00f067aa0ba902b7-01"
	var exported atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method == "POST" && r.URL.Path == "/v1/traces" && len(body) > 0 {
			exported.Add(1)
		}
	}))
	defer collector.Close()

	for _, tracingOn := range []bool{false, true} {
		name := map[bool]string{false: "tracing off", true: "tracing on"}[tracingOn]
		t.Run(name, func(t *testing.T) {
			cluster := startCluster(t, 1)
			cfg := demoConfig(t, cluster, func(c *config.Config) {
				c.Tracing = config.Tracing{Enabled: tracingOn, Endpoint: collector.URL}
			})
			gw, err := gateway.New(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(gw.Handler())
			defer srv.Close()
			for _, q := range []string{
				`{"query":"{ user(id:\"u1\"){ name } }"}`,                            // one call
				`{"query":"{ user(id:\"u1\"){ name } product(id:\"p1\"){ name } }"}`, // the root fetch
			} {
				req, _ := http.NewRequest("POST", srv.URL+"/graphql", strings.NewReader(q))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Traceparent", parent)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				got := cluster.Instances(demo.Users)[0].LastHeader("Traceparent")
				if !strings.HasPrefix(got, "00-"+traceID+"-") {
					t.Fatalf("the upstream got traceparent %q, want trace %s", got, traceID)
				}
				if tracingOn == (got == parent) {
					t.Errorf("traceparent %q: with tracing on the upstream call is a span of its own, off it is the client's", got)
				}
			}
			before := exported.Load()
			gw.Close() // flushes the spans
			if tracingOn && exported.Load() == before {
				t.Error("no span reached the collector")
			}
			if !tracingOn && exported.Load() != 0 {
				t.Error("spans were exported with tracing off")
			}
		})
	}
}

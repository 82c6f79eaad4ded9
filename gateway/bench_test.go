package gateway_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/demo"
	"github.com/switchyard/switchyard/gateway"
	"github.com/switchyard/switchyard/lb"
)

// The cost of the benchmark's queries inside one process: the gateway's handler
// called directly over the demo services on loopback. Allocations per operation
// count every goroutine of the process, the demo services' included, so they
// compare builds, not gateways. The load benchmark (cmd/bench) measures rates.
//
//	go test -run XXX -bench Queries -benchmem ./gateway
func BenchmarkQueries(b *testing.B) {
	cluster, err := demo.StartCluster(dataset(), 1)
	if err != nil {
		b.Fatal(err)
	}
	defer cluster.Close()
	cfg := &config.Config{Pools: map[string]config.Pool{}}
	for _, svc := range demo.Services {
		cfg.Pools[string(svc)] = config.Pool{Options: lb.Options{Endpoints: cluster.URLs(svc), HealthCheck: lb.HealthCheck{Disabled: true}}}
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	rt, err := gateway.NewRuntime(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	h := rt.Handler()
	for _, c := range []struct{ name, query string }{
		{"w1", `{ user(id:"u1"){name} product(id:"p1"){name} order(id:"o1"){status total{amount}} }`},
		{"w2", `{ user(id:"u1"){ name orders(first:10){ id total{amount} items{ quantity product{ name price{amount} } } } } }`},
	} {
		body := `{"query":` + strings.ReplaceAll(`"`+strings.ReplaceAll(c.query, `"`, `\"`)+`"`, "\n", " ") + `}`
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), `"errors"`) {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

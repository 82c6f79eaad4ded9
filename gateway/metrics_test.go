package gateway_test

import (
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/switchyard/switchyard/demo"
)

// scrape reads /metrics with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return mfs
}

// value returns the value of the sample of family name whose labels include want
// (a counter's value, a gauge's, or a histogram's count); -1 when there is none.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
next:
	for _, m := range mf.Metric {
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func TestMetricsMove(t *testing.T) {
	s := startStack(t, 1, nil)
	s.query(t, `query Dashboard { user(id:"u1"){ name } product(id:"p1"){ name } }`)
	before := scrape(t, s.url)
	s.query(t, `query Dashboard { user(id:"u1"){ name } product(id:"p1"){ name } }`)
	s.cluster.SetFault(demo.Catalog, demo.Fault{Status: 500})
	s.query(t, `query Dashboard { user(id:"u1"){ name } product(id:"p1"){ name } }`)
	s.query(t, `{ users(ids:["u1","u2"]){ name } }`)
	s.cluster.SetFault(demo.Catalog, demo.Fault{})
	s.query(t, `{ order(id:"o1"){ user{ name } } }`) // the users loader
	after := scrape(t, s.url)

	delta := func(name string, labels map[string]string) float64 {
		return max(value(after, name, labels), 0) - max(value(before, name, labels), 0)
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"switchyard_http_requests_total", map[string]string{"route": "/graphql", "status": "200"}, 4},
		{"switchyard_graphql_operations_total", map[string]string{"operation": "Dashboard", "outcome": "ok", "version": "v2"}, 1},
		{"switchyard_graphql_operations_total", map[string]string{"operation": "Dashboard", "outcome": "partial"}, 1},
		{"switchyard_graphql_operations_total", map[string]string{"operation": "anonymous", "outcome": "ok"}, 2},
		{"switchyard_upstream_requests_total", map[string]string{"upstream": "catalog", "status": "500"}, 1},
		{"switchyard_upstream_requests_total", map[string]string{"upstream": "users", "status": "200"}, 4},
		{"switchyard_loader_batch_size", map[string]string{"loader": "users"}, 1},
	}
	for _, c := range checks {
		if got := delta(c.name, c.labels); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if v := value(after, "switchyard_pool_endpoints", map[string]string{"pool": "catalog", "state": "healthy"}); v != 1 {
		t.Errorf("pool gauge: %v", v)
	}
	if v := value(after, "switchyard_pool_breaker_state", map[string]string{"pool": "users", "state": "closed"}); v != 1 {
		t.Errorf("breaker gauge: %v", v)
	}
	if value(after, "go_goroutines", nil) <= 0 {
		t.Error("no runtime metrics")
	}
	// A client's name for a request that does not even parse is not a label.
	for _, name := range []string{"%FF", "j1", "j2"} {
		resp, err := http.Get(s.url + "/graphql?query=%7B&operationName=" + name)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	after = scrape(t, s.url)
	if v := value(after, "switchyard_graphql_operations_total", map[string]string{"operation": "invalid"}); v != 3 {
		t.Errorf("invalid requests counted %v times, want 3", v)
	}
	// Operation names are bounded: raw query text never becomes a label.
	for _, m := range after["switchyard_graphql_operations_total"].Metric {
		for _, l := range m.Label {
			if l.GetName() == "operation" && len(l.GetValue()) > 100 {
				t.Errorf("an operation label of %d bytes", len(l.GetValue()))
			}
		}
	}
}

package gateway

import (
	"io"
	"log/slog"
	"reflect"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/lb"
)

// TestEveryPoolKeyReachesThePool sets every key of a pool's section to a value
// other than its default and checks that the running pool has each of them: the
// section is the pool's own options (lb.Options), so nothing is mapped by hand and
// nothing can be parsed, validated and then dropped.
func TestEveryPoolKeyReachesThePool(t *testing.T) {
	const yaml = `
pools:
  users:
    endpoints: [http://127.0.0.1:1, http://127.0.0.1:2]
    weights: {http://127.0.0.1:2: 3}
    connect_timeout: 2s
    request_timeout: 3s
    max_idle_conns_per_endpoint: 7
    idle_conn_timeout: 4s
    max_response_bytes: 1000
    max_response_header_bytes: 2000
    policy: ring_hash
    hash_on: {header: X-Key}
    sticky: {cookie: sy}
    health_check: {disabled: true, path: /up, interval: 6s, unhealthy_interval: 7s, timeout: 800ms, healthy_threshold: 3, unhealthy_threshold: 4}
    outlier_detection: {consecutive_failures: 9, base_ejection_time: 8s, max_ejection_time: 9m, max_ejection_percent: 30}
    retries: 3
    retry_backoff: 20ms
    per_try_timeout: 900ms
    retry_budget: {ratio: 0.5, min_retries: 4}
    slow_start: 11s
    circuit_breaker: {disabled: true, per_endpoint: true, failure_ratio: 0.7, min_requests: 12, window: 13s, open_time: 14s, half_open_requests: 5}
    request_headers: {X-Env: test}
  orders: {endpoints: [http://127.0.0.1:3]}
  catalog: {endpoints: [http://127.0.0.1:4]}
  reviews: {endpoints: [http://127.0.0.1:5]}
`
	cfg, err := config.Parse("gw.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var pool *lb.Pool
	for _, p := range g.Pools() {
		if p.Name() == "users" {
			pool = p
		}
	}
	want := cfg.Pools["users"].Options
	got := pool.Options()
	got.OnResult, got.Now, got.Rand = nil, nil, nil
	// Every field of the section is set, so a field the test forgot is a zero here;
	// but tls, which needs https endpoints and certificates, is driven from the
	// configuration in upstream_tls_test.go.
	v := reflect.ValueOf(want)
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if tag := f.Tag.Get("yaml"); tag != "-" && tag != "tls" && v.Field(i).IsZero() {
			t.Errorf("the test leaves %s (%s) unset", f.Name, f.Tag.Get("yaml"))
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the pool runs with\n%+v\nthe configuration says\n%+v", got, want)
	}
	if *got.Retries != 3 || got.HealthCheck.Path != "/up" || got.Breaker.Window.Duration.String() != "13s" || got.SlowStart.Duration.String() != "11s" {
		t.Fatalf("values not as written: %+v", got)
	}
}

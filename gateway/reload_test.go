package gateway_test

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/demo"
	"github.com/switchyard/switchyard/gateway"
	"github.com/switchyard/switchyard/internal/testpki"
	"github.com/switchyard/switchyard/lb"
)

func TestReloadUnderLoad(t *testing.T) {
	cluster := startCluster(t, 2)
	users := cluster.Instances(demo.Users)
	configWith := func(usersEndpoint string, edit func(*config.Config)) *config.Config {
		cfg := &config.Config{Pools: map[string]config.Pool{}}
		for _, svc := range demo.Services {
			cfg.Pools[string(svc)] = config.Pool{Options: lb.Options{
				Endpoints:   cluster.URLs(svc)[:1],
				HealthCheck: lb.HealthCheck{Interval: config.D(20 * time.Millisecond), HealthyThreshold: 1, UnhealthyThreshold: 1},
			}}
		}
		p := cfg.Pools["users"]
		p.Endpoints = []string{usersEndpoint}
		cfg.Pools["users"] = p
		if edit != nil {
			edit(cfg)
		}
		validate(t, cfg)
		return cfg
	}
	rt, err := gateway.NewRuntime(configWith(users[0].URL(), nil), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rt.Handler())
	defer srv.Close()
	s := &stack{ds: dataset(), cluster: cluster, url: srv.URL}

	// An endpoint the probes find unhealthy, in a pool the reload does not change.
	orders := cluster.Instances(demo.Orders)[0]
	orders.SetFault(demo.Fault{FailHealth: true})
	poolNamed := func(name string) *lb.Pool {
		for _, p := range rt.Current().Pools() {
			if p.Name() == name {
				return p
			}
		}
		t.Fatalf("no pool %s", name)
		return nil
	}
	waitUntil(t, func() bool { return !poolNamed("orders").Status()[0].Healthy })
	ordersPool := poolNamed("orders")

	run := load(t, s, 8, `{ user(id:"u1"){ name } product(id:"p1"){ name } }`)
	run.settle(t, 20)
	// A good reload that moves the users pool to the other instance.
	if err := rt.Reload(configWith(users[1].URL(), nil)); err != nil {
		t.Fatal(err)
	}
	run.settle(t, 20) // on the new gateway
	// A bad one: refused, nothing changes.
	bad := configWith(users[1].URL(), func(c *config.Config) { c.GraphQL.Fallbacks = map[string]any{"Nope.nope": 1} })
	if err := rt.Reload(bad); err == nil {
		t.Fatal("a bad configuration was swapped in")
	}
	if err := rt.Reload(configWith(users[1].URL(), func(c *config.Config) { c.Listen = "127.0.0.1:1" })); err == nil {
		t.Fatal("a new listen address was accepted without a restart")
	}
	if err := rt.Reload(configWith(users[1].URL(), func(c *config.Config) {
		c.Tracing = config.Tracing{Enabled: true, Endpoint: "http://127.0.0.1:4318"}
	})); err == nil {
		t.Fatal("turning tracing on was accepted without a restart")
	}
	run.settle(t, 20)
	queries, failures := run.stop()
	if len(failures) > 0 {
		t.Fatalf("%d of %d queries failed across reloads; first: %s", len(failures), queries, failures[0])
	}

	users[0].ResetCounters()
	users[1].ResetCounters()
	for range 10 {
		if got := s.query(t, `{ user(id:"u1"){ name } }`); len(got.Errors) > 0 {
			t.Fatal(got.Raw)
		}
	}
	if users[0].Calls() != 0 || users[1].Calls() != 10 {
		t.Fatalf("after the reload users got %d and %d calls, want 0 and 10", users[0].Calls(), users[1].Calls())
	}
	if p := poolNamed("orders"); p != ordersPool || p.Status()[0].Healthy {
		t.Fatal("an unchanged pool lost its health state across the reload")
	}
	rt.Close()
	if err := rt.Reload(configWith(users[0].URL(), nil)); err == nil {
		t.Fatal("a reload after Close was accepted")
	}
}

// TestFailedReloadLeavesPoolsAlone checks that a reload refused late in its build
// (here by a rate limit for a route that is not served) leaves the running gateway's
// pools as they were: still reusing their connections.
func TestFailedReloadLeavesPoolsAlone(t *testing.T) {
	cluster := startCluster(t, 1)
	target, _ := url.Parse(cluster.URLs(demo.Users)[0])
	var conns atomic.Int64
	front := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	front.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	front.Start()
	defer front.Close()
	configWith := func(perRoute map[string]config.Rate) *config.Config {
		return demoConfig(t, cluster, func(c *config.Config) {
			c.Pools[string(demo.Users)] = config.Pool{Options: lb.Options{Endpoints: []string{front.URL}, HealthCheck: lb.HealthCheck{Disabled: true}}}
			c.RateLimits.PerRoute = perRoute
		})
	}
	rt, srv := serveRuntime(t, configWith(nil))
	query := func() {
		resp, err := http.Post(srv.URL+"/graphql", "application/json", strings.NewReader(`{"query":"{ user(id:\"u1\"){ name } }"}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	query()
	if err := rt.Reload(configWith(map[string]config.Rate{"/rest/v2/no-such-route": {PerSecond: 1, Burst: 1}})); err == nil {
		t.Fatal("a limit for a route that is not served was accepted")
	}
	before := conns.Load()
	for range 10 {
		query()
	}
	if n := conns.Load() - before; n > 1 {
		t.Errorf("after a failed reload, 10 sequential queries opened %d connections to users: its pool was closed", n)
	}
}

// TestReloadOfTheTLSTermination: the runtime reads a reload's certificates before
// anything changes (unreadable ones refuse the reload, and the gateway and the
// certificates in use stay), serves new ones once read, and refuses turning TLS
// off, which needs a restart.
func TestReloadOfTheTLSTermination(t *testing.T) {
	cluster := startCluster(t, 1)
	ca := testpki.NewCA(t)
	certA, keyA := testpki.WriteKeyPair(t, t.TempDir(), ca.Server(t, "a.test"))
	withCert := func(cert, key string, edit func(*config.Config)) *config.Config {
		return demoConfig(t, cluster, func(c *config.Config) {
			c.TLS = &config.TLS{Certificates: []config.CertKey{{Cert: cert, Key: key}}}
			if edit != nil {
				edit(c)
			}
		})
	}
	rt, err := gateway.NewRuntime(withCert(certA, keyA, nil), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	names := func() string { return strings.Join(rt.TLS().Names(), ",") }
	if names() != "a.test" {
		t.Fatalf("serving %s", names())
	}
	before := rt.Current()
	gone, goneKey := testpki.WriteKeyPair(t, t.TempDir(), ca.Server(t, "gone.test"))
	unreadable := withCert(gone, goneKey, nil)
	if err := os.Remove(gone); err != nil { // after the configuration was loaded
		t.Fatal(err)
	}
	if err := rt.Reload(unreadable); err == nil {
		t.Fatal("a reload with an unreadable certificate was accepted")
	}
	if rt.Current() != before || names() != "a.test" {
		t.Fatal("a refused reload changed the gateway or its certificates")
	}
	certB, keyB := testpki.WriteKeyPair(t, t.TempDir(), ca.Server(t, "b.test"))
	if err := rt.Reload(withCert(certB, keyB, nil)); err != nil {
		t.Fatal(err)
	}
	if rt.Current() == before || names() != "b.test" {
		t.Fatalf("after the reload: serving %s", names())
	}
	plain := demoConfig(t, cluster, nil)
	if err := rt.Reload(plain); !errors.Is(err, gateway.ErrNeedsRestart) {
		t.Fatalf("turning TLS off: %v, want ErrNeedsRestart", err)
	}
}

// TestReloadRefusesTurningTLSOn: a gateway that serves plain HTTP cannot start
// terminating TLS without a restart.
func TestReloadRefusesTurningTLSOn(t *testing.T) {
	cluster := startCluster(t, 1)
	rt, _ := serveRuntime(t, demoConfig(t, cluster, nil))
	if rt.TLS() != nil {
		t.Fatal("a plain gateway has a TLS termination")
	}
	cert, key := testpki.WriteKeyPair(t, t.TempDir(), testpki.NewCA(t).Server(t, "a.test"))
	withTLS := demoConfig(t, cluster, func(c *config.Config) {
		c.TLS = &config.TLS{Certificates: []config.CertKey{{Cert: cert, Key: key}}}
	})
	if err := rt.Reload(withTLS); !errors.Is(err, gateway.ErrNeedsRestart) {
		t.Fatalf("turning TLS on: %v, want ErrNeedsRestart", err)
	}
}

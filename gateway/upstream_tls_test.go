package gateway_test

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/demo"
	"github.com/switchyard/switchyard/internal/testpki"
	"github.com/switchyard/switchyard/lb"
)

// tlsDemo is the demo upstreams served over TLS on loopback: each service by one
// server whose certificate the server CA issued for 127.0.0.1, and which requires a
// client certificate of the client CA. The servers remember the client
// certificates they saw.
type tlsDemo struct {
	servers           map[demo.Service]*httptest.Server
	serverCA          *testpki.CA
	clientCA          *testpki.CA
	dir               string
	caFile            string
	certFile, keyFile string

	mu    sync.Mutex
	peers []string
}

func startTLSDemo(t *testing.T) *tlsDemo {
	t.Helper()
	d := &tlsDemo{servers: map[demo.Service]*httptest.Server{}, serverCA: testpki.NewCA(t), clientCA: testpki.NewCA(t), dir: t.TempDir()}
	d.caFile = d.serverCA.WriteFile(t, d.dir)
	d.certFile, d.keyFile = testpki.WriteKeyPair(t, d.dir, d.clientCA.Client(t, "gateway"))
	for _, svc := range demo.Services {
		d.servers[svc] = d.serve(t, d.serverCA, demo.NewHandler(dataset(), svc))
	}
	return d
}

// serve starts a server of h with a certificate ca issues.
func (d *tlsDemo) serve(t *testing.T, ca *testpki.CA, h http.Handler) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) > 0 {
			d.mu.Lock()
			d.peers = append(d.peers, r.TLS.PeerCertificates[0].Subject.CommonName)
			d.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "127.0.0.1")},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: d.clientCA.Pool()}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func (d *tlsDemo) lastPeer() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.peers) == 0 {
		return ""
	}
	return d.peers[len(d.peers)-1]
}

// config is a gateway configuration over the servers, with probes; edit, if not
// nil, changes it before it is validated.
func (d *tlsDemo) config(t *testing.T, edit func(*config.Config)) *config.Config {
	t.Helper()
	cfg := &config.Config{Pools: map[string]config.Pool{}}
	for svc, srv := range d.servers {
		cfg.Pools[string(svc)] = config.Pool{Options: lb.Options{
			Endpoints:   []string{srv.URL},
			TLS:         &lb.TLS{CAFile: d.caFile, CertFile: d.certFile, KeyFile: d.keyFile},
			HealthCheck: lb.HealthCheck{Interval: config.D(20 * time.Millisecond), HealthyThreshold: 1, UnhealthyThreshold: 1},
		}}
	}
	if edit != nil {
		edit(cfg)
	}
	validate(t, cfg)
	return cfg
}

func TestUpstreamTLS(t *testing.T) {
	d := startTLSDemo(t)
	rt, srv := serveRuntime(t, d.config(t, nil))
	s := &stack{url: srv.URL}
	const q = `{ user(id:"u1"){ name } product(id:"p1"){ name reviews{ rating } } }`
	got := s.query(t, q)
	if got.Status != 200 || len(got.Errors) > 0 || !strings.Contains(string(got.Data), "Ada Lovelace") {
		t.Fatalf("over TLS: %d %s", got.Status, got.Raw)
	}
	if !rt.Current().Ready() {
		t.Fatal("not ready: the probes fail over TLS")
	}

	// The reviews upstream now shows a certificate of an authority the pool does
	// not trust: its fields fail as an unavailable upstream.
	other := testpki.NewCA(t)
	d.servers[demo.Reviews] = d.serve(t, other, demo.NewHandler(dataset(), demo.Reviews))
	if err := rt.Reload(d.config(t, nil)); err != nil {
		t.Fatal(err)
	}
	got = s.query(t, q)
	if got.Status != 200 || !strings.Contains(string(got.Data), "Ada Lovelace") || len(got.Errors) == 0 {
		t.Fatalf("with an untrusted reviews upstream: %d %s", got.Status, got.Raw)
	}
	for _, e := range got.Errors {
		if e.Extensions["code"] != "UPSTREAM_UNAVAILABLE" || e.Extensions["upstream"] != "reviews" {
			t.Errorf("error %q has extensions %v, want UPSTREAM_UNAVAILABLE from reviews", e.Message, e.Extensions)
		}
	}
	if strings.Contains(got.Raw, "certificate") || strings.Contains(got.Raw, "127.0.0.1") {
		t.Errorf("the answer tells what only the log should: %s", got.Raw)
	}
}

func TestReloadTakesNewClientCertificate(t *testing.T) {
	d := startTLSDemo(t)
	cfg := d.config(t, nil)
	rt, srv := serveRuntime(t, cfg)
	s := &stack{url: srv.URL}
	const q = `{ user(id:"u1"){ name } }`
	if got := s.query(t, q); got.Status != 200 || len(got.Errors) > 0 || d.lastPeer() != "gateway" {
		t.Fatalf("%d %s, client certificate %q", got.Status, got.Raw, d.lastPeer())
	}
	users := rt.Current().Pools()[3]
	if users.Name() != "users" {
		t.Fatalf("pool %s", users.Name())
	}
	// The same configuration keeps the pool.
	if err := rt.Reload(d.config(t, nil)); err != nil {
		t.Fatal(err)
	}
	if rt.Current().Pools()[3] != users {
		t.Fatal("an unchanged pool was made again")
	}
	// A new certificate in the same files makes it again, with the new one.
	newCert, newKey := testpki.WriteKeyPair(t, d.dir, d.clientCA.Client(t, "gateway-renewed"))
	for _, f := range [][2]string{{newCert, d.certFile}, {newKey, d.keyFile}} {
		if err := os.Rename(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := rt.Reload(d.config(t, nil)); err != nil {
		t.Fatal(err)
	}
	if rt.Current().Pools()[3] == users {
		t.Fatal("the pool was kept with its old certificate")
	}
	if got := s.query(t, q); got.Status != 200 || len(got.Errors) > 0 || d.lastPeer() != "gateway-renewed" {
		t.Fatalf("%d %s, client certificate %q", got.Status, got.Raw, d.lastPeer())
	}
}

func TestL7RouteToHTTPSPool(t *testing.T) {
	d := startTLSDemo(t)
	echo := d.serve(t, d.serverCA, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+r.Host)
	}))
	other := d.serve(t, testpki.NewCA(t), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	_, srv := serveRuntime(t, d.config(t, func(c *config.Config) {
		for name, url := range map[string]string{"echo": echo.URL, "untrusted": other.URL} {
			c.Pools[name] = config.Pool{Options: lb.Options{
				Endpoints:   []string{url},
				HealthCheck: lb.HealthCheck{Disabled: true},
				TLS:         &lb.TLS{CAFile: d.caFile, CertFile: d.certFile, KeyFile: d.keyFile},
			}}
			c.Routes = append(c.Routes, config.Route{Name: name, Match: config.RouteMatch{PathPrefix: "/" + name + "/"},
				Proxy: &config.RouteProxy{Pool: name}})
		}
	}))
	for i := range 3 {
		resp, err := http.Post(srv.URL+"/echo/things", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := "POST /echo/things " + strings.TrimPrefix(echo.URL, "https://"); resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("request %d: %d %q, want 200 %q", i, resp.StatusCode, b, want)
		}
	}
	resp, err := http.Get(srv.URL + "/untrusted/x")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway && resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("to an untrusted upstream: %d %s", resp.StatusCode, b)
	}
}

package lb

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testpki"
	"github.com/switchyard/switchyard/setting"
)

// tlsUpstream is an https server on loopback that counts its connections and
// remembers what it saw of each request's TLS connection.
type tlsUpstream struct {
	*httptest.Server
	conns   atomic.Int64 // connections accepted
	mu      sync.Mutex
	resumed []bool   // per request: DidResume of its connection
	peers   []string // per request: the client certificate's subject, if any
}

// startTLSUpstream starts an upstream whose certificate ca issues for name;
// configure, if not nil, changes its TLS configuration first.
func startTLSUpstream(t *testing.T, ca *testpki.CA, name string, configure func(*tls.Config)) *tlsUpstream {
	t.Helper()
	u := &tlsUpstream{}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.resumed = append(u.resumed, r.TLS.DidResume)
		peer := ""
		if len(r.TLS.PeerCertificates) > 0 {
			peer = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		u.peers = append(u.peers, peer)
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"host":"`+r.Host+`"}`)
	}))
	u.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	u.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(t, name)}}
	if configure != nil {
		configure(u.TLS)
	}
	u.StartTLS()
	t.Cleanup(u.Close)
	return u
}

func (u *tlsUpstream) seen() (resumed []bool, peers []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]bool(nil), u.resumed...), append([]string(nil), u.peers...)
}

// logBuffer collects a pool's log.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTLSPool(t *testing.T, opts Options, log io.Writer) *Pool {
	t.Helper()
	opts.HealthCheck.Disabled = true
	if log == nil {
		log = io.Discard
	}
	p, err := New("secure", opts, slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func get(t *testing.T, p *Pool) (*Response, error) {
	t.Helper()
	var resp Response
	err := p.Do(context.Background(), &Request{Target: "/things"}, &resp)
	return &resp, err
}

func TestTLSTrustedByCAFileReusesAndResumes(t *testing.T) {
	ca := testpki.NewCA(t)
	up := startTLSUpstream(t, ca, "127.0.0.1", nil)
	p := newTLSPool(t, Options{Endpoints: []string{up.URL}, TLS: &TLS{CAFile: ca.WriteFile(t, t.TempDir())}}, nil)
	for i := range 5 {
		resp, err := get(t, p)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if want := `{"host":"` + strings.TrimPrefix(up.URL, "https://") + `"}`; resp.Status != 200 || string(resp.Body) != want {
			t.Fatalf("request %d: %d %s, want 200 %s", i, resp.Status, resp.Body, want)
		}
	}
	if n := up.conns.Load(); n != 1 {
		t.Fatalf("5 sequential requests used %d connections, want 1", n)
	}
	up.CloseClientConnections() // the next request needs a new connection
	if _, err := get(t, p); err != nil {
		t.Fatal(err)
	}
	resumed, _ := up.seen()
	if n := up.conns.Load(); n != 2 {
		t.Fatalf("%d connections after the server closed the first, want 2", n)
	}
	if resumed[0] || !resumed[len(resumed)-1] {
		t.Fatalf("resumed per request %v: want the first not resumed, the last resumed", resumed)
	}
}

func TestTLSServerName(t *testing.T) {
	ca := testpki.NewCA(t)
	up := startTLSUpstream(t, ca, "upstream.test", nil)
	caFile := ca.WriteFile(t, t.TempDir())
	p := newTLSPool(t, Options{Endpoints: []string{up.URL}, TLS: &TLS{CAFile: caFile}}, nil)
	var de *DialError
	if _, err := get(t, p); !errors.As(err, &de) {
		t.Fatalf("a certificate for another name: got %v, want a *DialError", err)
	}
	p = newTLSPool(t, Options{Endpoints: []string{up.URL}, TLS: &TLS{CAFile: caFile, ServerName: "upstream.test"}}, nil)
	if resp, err := get(t, p); err != nil || resp.Status != 200 {
		t.Fatalf("with server_name: %v %v", resp, err)
	}
}

func TestTLSClientCertificate(t *testing.T) {
	for _, version := range []struct {
		name string
		max  uint16
	}{{"TLS 1.3", tls.VersionTLS13}, {"TLS 1.2", tls.VersionTLS12}} {
		t.Run(version.name, func(t *testing.T) {
			ca, clients := testpki.NewCA(t), testpki.NewCA(t)
			dir := t.TempDir()
			up := startTLSUpstream(t, ca, "127.0.0.1", func(c *tls.Config) {
				c.ClientAuth, c.ClientCAs, c.MaxVersion = tls.RequireAndVerifyClientCert, clients.Pool(), version.max
			})
			caFile := ca.WriteFile(t, dir)
			var log logBuffer
			p := newTLSPool(t, Options{Endpoints: []string{up.URL}, TLS: &TLS{CAFile: caFile}, Retries: setting.Ptr(0)}, &log)
			var de *DialError
			for i := range 2 { // the first failure is logged, not the next
				if _, err := get(t, p); !errors.As(err, &de) {
					t.Fatalf("without a client certificate, try %d: got %v, want a *DialError", i, err)
				}
			}
			if n := strings.Count(log.String(), "TLS handshake with endpoint failed"); n != 1 {
				t.Fatalf("logged %d times, want once:\n%s", n, log.String())
			}
			certFile, keyFile := testpki.WriteKeyPair(t, dir, clients.Client(t, "gateway"))
			p = newTLSPool(t, Options{Endpoints: []string{up.URL}, TLS: &TLS{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}}, nil)
			if resp, err := get(t, p); err != nil || resp.Status != 200 {
				t.Fatalf("with a client certificate: %v %v", resp, err)
			}
			if _, peers := up.seen(); len(peers) != 1 || peers[0] != "gateway" {
				t.Fatalf("the server saw %v", peers)
			}
		})
	}
}

func TestTLSUntrustedCertificateIsADialErrorAndFailsOver(t *testing.T) {
	ca, other := testpki.NewCA(t), testpki.NewCA(t)
	good := startTLSUpstream(t, ca, "127.0.0.1", nil)
	bad := startTLSUpstream(t, other, "127.0.0.1", nil)
	var log logBuffer
	p := newTLSPool(t, Options{Endpoints: []string{bad.URL, good.URL}, TLS: &TLS{CAFile: ca.WriteFile(t, t.TempDir())},
		Policy: RoundRobin, Rand: func(int) int { return 0 }}, &log)
	for i := range 4 {
		var resp Response
		// A POST is retried only when it never reached its endpoint.
		if err := p.Do(context.Background(), &Request{Method: "POST", Target: "/x", Body: []byte("{}")}, &resp); err != nil || resp.Status != 200 {
			t.Fatalf("request %d: %v %d", i, err, resp.Status)
		}
	}
	if !strings.Contains(log.String(), "certificate signed by unknown authority") {
		t.Fatalf("the reason is not logged:\n%s", log.String())
	}
	p = newTLSPool(t, Options{Endpoints: []string{bad.URL}, Retries: setting.Ptr(0), TLS: &TLS{CAFile: ca.WriteFile(t, t.TempDir())}}, nil)
	var de *DialError
	if _, err := get(t, p); !errors.As(err, &de) {
		t.Fatalf("got %v, want a *DialError", err)
	}
}

func TestTLSHealthProbes(t *testing.T) {
	ca, other := testpki.NewCA(t), testpki.NewCA(t)
	good := startTLSUpstream(t, ca, "127.0.0.1", nil)
	bad := startTLSUpstream(t, other, "127.0.0.1", nil)
	p, err := New("secure", Options{Endpoints: []string{good.URL, bad.URL}, TLS: &TLS{CAFile: ca.WriteFile(t, t.TempDir())},
		HealthCheck: HealthCheck{Interval: setting.D(5 * time.Millisecond), HealthyThreshold: 1, UnhealthyThreshold: 1}}, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s := p.Status()
		if s[0].Healthy && !s[1].Healthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v: want the trusted endpoint healthy, the other not", s)
		}
	}
}

func TestTLSOptionsRefused(t *testing.T) {
	dir := t.TempDir()
	ca := testpki.NewCA(t)
	certFile, keyFile := testpki.WriteKeyPair(t, dir, ca.Client(t, "gateway"))
	junk := dir + "/junk.pem"
	os.WriteFile(junk, []byte("not PEM"), 0o600)
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"http endpoint with TLS", Options{Endpoints: []string{"http://127.0.0.1:1"}, TLS: &TLS{}}, "plain http"},
		{"missing CA file", Options{Endpoints: []string{"https://127.0.0.1:1"}, TLS: &TLS{CAFile: dir + "/none.pem"}}, "no such file"},
		{"CA file without PEM", Options{Endpoints: []string{"https://127.0.0.1:1"}, TLS: &TLS{CAFile: junk}}, "no PEM certificate"},
		{"certificate without key", Options{Endpoints: []string{"https://127.0.0.1:1"}, TLS: &TLS{CertFile: certFile}}, "tls.key_file: cert_file needs its key_file"},
		{"key without certificate", Options{Endpoints: []string{"https://127.0.0.1:1"}, TLS: &TLS{KeyFile: keyFile}}, "tls.cert_file: key_file needs its cert_file"},
		{"key of another certificate", Options{Endpoints: []string{"https://127.0.0.1:1"}, TLS: &TLS{CertFile: certFile, KeyFile: junk}}, "tls.cert_file: "},
		{"unknown version", Options{Endpoints: []string{"https://127.0.0.1:1"}, TLS: &TLS{MinVersion: "1.1"}}, `tls.min_version: "1.1" is not a TLS version`},
		{"another scheme", Options{Endpoints: []string{"ftp://127.0.0.1:1"}}, "endpoints[0]: \"ftp://127.0.0.1:1\" is not an endpoint URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New("p", tc.opts, discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestTLSFilesChanged(t *testing.T) {
	ca, clients := testpki.NewCA(t), testpki.NewCA(t)
	dir := t.TempDir()
	up := startTLSUpstream(t, ca, "127.0.0.1", func(c *tls.Config) {
		c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, clients.Pool()
	})
	certFile, keyFile := testpki.WriteKeyPair(t, dir, clients.Client(t, "first"))
	opts := Options{Endpoints: []string{up.URL}, TLS: &TLS{CAFile: ca.WriteFile(t, dir), CertFile: certFile, KeyFile: keyFile}}
	p := newTLSPool(t, opts, nil)
	if _, err := get(t, p); err != nil {
		t.Fatal(err)
	}
	if p.TLSFilesChanged() {
		t.Fatal("changed before any change")
	}
	newCert, newKey := testpki.WriteKeyPair(t, dir, clients.Client(t, "second"))
	for _, f := range [][2]string{{newCert, certFile}, {newKey, keyFile}} {
		if err := os.Rename(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	if !p.TLSFilesChanged() {
		t.Fatal("a new certificate in the same file is not a change")
	}
	p = newTLSPool(t, opts, nil) // what a reload does with a changed pool
	if _, err := get(t, p); err != nil {
		t.Fatal(err)
	}
	if _, peers := up.seen(); len(peers) != 2 || peers[0] != "first" || peers[1] != "second" {
		t.Fatalf("client certificates seen: %v, want first then second", peers)
	}
	os.Remove(keyFile)
	if !p.TLSFilesChanged() {
		t.Fatal("a file that cannot be read is not a change")
	}
}

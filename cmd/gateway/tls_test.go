package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/demo"
	"github.com/switchyard/switchyard/internal/testpki"
)

// issue writes a certificate of ca for name (a server name, or a client's) and its
// key to dir, and returns the files and the serial number.
func issue(t *testing.T, ca *testpki.CA, dir, name string, client bool) (certFile, keyFile string, serial int64) {
	c := ca.Server(t, name)
	if client {
		c = ca.Client(t, name)
	}
	certFile, keyFile = testpki.WriteKeyPair(t, dir, c)
	return certFile, keyFile, c.Leaf.SerialNumber.Int64()
}

func TestTLSTermination(t *testing.T) {
	cluster, err := demo.StartCluster(demo.NewDataset(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	dir := t.TempDir()
	ca := testpki.NewCA(t)
	caFile := filepath.Join(dir, "ca.PEM")
	os.WriteFile(caFile, ca.PEM, 0o600)
	aCert, aKey, aSerial := issue(t, ca, dir, "a.test", false)
	bCert, bKey, bSerial := issue(t, ca, dir, "b.test", false)
	file := filepath.Join(dir, "gw.yaml")
	write := func(tlsBlock string) {
		var b strings.Builder
		b.WriteString("listen: 127.0.0.1:0\n" + tlsBlock + "pools:\n")
		for _, svc := range demo.Services {
			fmt.Fprintf(&b, "  %s: {endpoints: [%s]}\n", svc, cluster.URLs(svc)[0])
		}
		os.WriteFile(file, []byte(b.String()), 0o644)
	}
	redirectLn, _ := net.Listen("tcp", "127.0.0.1:0")
	redirectAddr := redirectLn.Addr().String()
	redirectLn.Close()
	write(fmt.Sprintf("tls:\n  redirect_listen: %s\n  certificates:\n    - {cert: %s, key: %s}\n    - {cert: %s, key: %s}\n", redirectAddr, aCert, aKey, bCert, bKey))
	base := start(t, "-config", file)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("base URL %s", base)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	get := func(serverName string, clientCert *tls.Certificate) (*http.Response, error) {
		cfg := &tls.Config{RootCAs: roots, ServerName: serverName}
		if clientCert != nil {
			cfg.Certificates = []tls.Certificate{*clientCert}
		}
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
		resp, err := c.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	for _, tc := range []struct {
		name   string
		serial int64
	}{{"a.test", aSerial}, {"b.test", bSerial}} {
		resp, err := get(tc.name, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != tc.serial {
			t.Errorf("SNI %s got certificate %d, want %d", tc.name, got, tc.serial)
		}
		if resp.Proto != "HTTP/2.0" || resp.TLS.Version < tls.VersionTLS12 {
			t.Errorf("%s: %s over TLS %x", tc.name, resp.Proto, resp.TLS.Version)
		}
	}
	// Plain HTTP is redirected to HTTPS, path and query kept.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get("http://" + redirectAddr + "/graphql?query=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != 308 || !strings.HasPrefix(loc, "https://a.test:") || !strings.HasSuffix(loc, "/graphql?query=x") {
		t.Fatalf("redirect %d to %q", resp.StatusCode, loc)
	}
	// A forged Host header does not choose where the client goes.
	for _, forged := range []string{"evil.example", "a.test@evil.example", "[::1]"} {
		req, _ := http.NewRequest("GET", "http://"+redirectAddr+"/x", nil)
		req.Host = forged
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "https://a.test:") {
			t.Errorf("Host %q redirected to %q", forged, loc)
		}
	}
	req, _ := http.NewRequest("GET", "http://"+redirectAddr+"/x", nil)
	req.Host = "b.test"
	if resp, err := noFollow.Do(req); err != nil || !strings.HasPrefix(resp.Header.Get("Location"), "https://b.test:") {
		t.Errorf("a host the certificates name was not kept: %v", err)
	}

	// Reload with a new certificate for a.test and client certificates required.
	a2Cert, a2Key, a2Serial := issue(t, ca, dir, "a.test", false)
	cCert, cKey, _ := issue(t, ca, dir, "client", true)
	write(fmt.Sprintf("tls:\n  redirect_listen: %s\n  client_ca: %s\n  certificates:\n    - {cert: %s, key: %s}\n", redirectAddr, caFile, a2Cert, a2Key))
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	client, err := tls.LoadX509KeyPair(cCert, cKey)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := get("a.test", &client)
		if err == nil && resp.TLS.PeerCertificates[0].SerialNumber.Int64() == a2Serial {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reloaded certificate is not served: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := get("a.test", nil); err == nil {
		t.Fatal("a client without a certificate was let in")
	}
}

package lb

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/switchyard/switchyard/internal/testpki"
)

// BenchmarkTLS measures one call over a kept-alive TLS connection to a loopback
// server: the pool's own client against net/http's Transport, both trusting the
// same in-test authority.
func BenchmarkTLS(b *testing.B) {
	ca := testpki.NewCA(b)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"id":"u1","name":"Ada Lovelace","email":"ada@example.com","tier":"GOLD"}`))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Server(b, "127.0.0.1")}}
	srv.StartTLS()
	defer srv.Close()
	b.Run("pool", func(b *testing.B) {
		p, err := New("bench", Options{Endpoints: []string{srv.URL}, TLS: &TLS{CAFile: ca.WriteFile(b, b.TempDir())},
			HealthCheck: HealthCheck{Disabled: true}}, discard)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		req := &Request{Target: "/users/u1"}
		var resp Response
		b.ReportAllocs()
		for b.Loop() {
			resp.Reset()
			if err := p.Do(context.Background(), req, &resp); err != nil || resp.Status != 200 {
				b.Fatal(err, resp.Status)
			}
		}
	})
	b.Run("net-http", func(b *testing.B) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ClientSessionCache: tls.NewLRUClientSessionCache(0)}}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL+"/users/u1", nil)
			req.Header.Set("Accept", "application/json")
			resp, err := c.Do(req)
			if err != nil || resp.StatusCode != 200 {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

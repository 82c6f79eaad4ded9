package lb

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/setting"
)

// FuzzResponseReader sends arbitrary bytes as an upstream's answer, through a
// loopback server, and wants the reader to return within its bounds without
// panicking, and the next request on the pool to get its own answer: whatever the
// bytes (status lines, headers, chunked bodies, trailers, leftovers that look like
// pipelined answers), nothing of them is ever read as another request's answer.
func FuzzResponseReader(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\nTrailer: 1\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL",
		"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nEVIL",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
		"HTTP/1.1 999 Odd\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil eof",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n",
		"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
	} {
		f.Add([]byte(seed))
	}
	var (
		mu     sync.Mutex
		answer []byte
	)
	addr, _ := serveRaw(f, nil, func(c net.Conn, req *http.Request) bool {
		if req.URL.Path == "/fuzz" {
			mu.Lock()
			a := answer
			mu.Unlock()
			_, err := c.Write(a)
			return err == nil
		}
		_, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(req.URL.Path), req.URL.Path)
		return err == nil
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		mu.Lock()
		answer = data
		mu.Unlock()
		p, err := New("fuzz", Options{Endpoints: []string{"http://" + addr}, Retries: setting.Ptr(0),
			RequestTimeout: setting.D(50 * time.Millisecond), MaxResponseBytes: 1 << 16, MaxResponseHeaderBytes: 1 << 12,
			HealthCheck: HealthCheck{Disabled: true}}, discard)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		var resp Response
		if err := p.Do(context.Background(), &Request{Target: "/fuzz"}, &resp); err == nil {
			if resp.Status < 200 || resp.Status > 599 || len(resp.Body) > 1<<16 {
				t.Fatalf("accepted status %d with %d bytes", resp.Status, len(resp.Body))
			}
			if !strings.HasPrefix(string(data), "HTTP/1.") {
				t.Fatalf("accepted an answer that does not start with a status line: %q", data)
			}
		}
		for i := range 2 {
			target := fmt.Sprintf("/next-%d", i)
			resp.Reset()
			if err := p.Do(context.Background(), &Request{Target: target}, &resp); err != nil || string(resp.Body) != target {
				t.Fatalf("after %q, %s got %q, %v", data, target, resp.Body, err)
			}
		}
	})
}

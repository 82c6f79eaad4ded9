package lb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/testpki"
	"github.com/switchyard/switchyard/lb/h1"
	"github.com/switchyard/switchyard/setting"
)

// hostileServer answers GET /hostile with whatever misbehave writes on the raw
// connection, and every other request correctly, with its own path as the body, so
// that a desync shows as a follow-up answered with another request's body.
// misbehave returns whether the connection may go on serving.
func hostileServer(t *testing.T, misbehave func(c net.Conn) bool) string {
	return hostileServerTLS(t, nil, misbehave)
}

// hostileServerTLS is hostileServer over TLS when cfg is not nil.
func hostileServerTLS(t *testing.T, cfg *tls.Config, misbehave func(c net.Conn) bool) string {
	addr, _ := serveRaw(t, cfg, func(c net.Conn, req *http.Request) bool {
		if req.URL.Path == "/hostile" {
			return misbehave(c)
		}
		_, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(req.URL.Path), req.URL.Path)
		return err == nil
	})
	if cfg != nil {
		return "https://" + addr
	}
	return "http://" + addr
}

const okAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nhostile"

// later answers correctly, then writes extra after delay on the same connection and
// closes wrote.
func later(delay time.Duration, extra string, wrote chan struct{}) func(net.Conn) bool {
	return func(c net.Conn) bool {
		_, _ = io.WriteString(c, okAnswer)
		time.AfterFunc(delay, func() {
			_, _ = io.WriteString(c, extra)
			close(wrote)
		})
		return true
	}
}

// endless writes head, then repeats line until the client goes away or max bytes
// are written, and records how many it wrote.
func endless(head, line string, max int64, wrote *atomic.Int64) func(net.Conn) bool {
	return func(c net.Conn) bool {
		_, _ = io.WriteString(c, head)
		for wrote.Load() < max {
			n, err := io.WriteString(c, line)
			wrote.Add(int64(n))
			if err != nil {
				break
			}
		}
		return false
	}
}

func writes(s string) func(net.Conn) bool {
	return func(c net.Conn) bool { _, _ = io.WriteString(c, s); return true }
}

func TestHostileUpstream(t *testing.T) {
	const evil = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL"
	var headerBytes, lineBytes, interimBytes atomic.Int64
	tests := []struct {
		name      string
		misbehave func(c net.Conn) bool
		wrote     chan struct{} // closed when the late bytes are out
		wantBody  string        // "" when an error is wanted
		wantErr   error
		discard   h1.DiscardReason // counted once the follow-ups have run
		timeout   time.Duration
	}{
		{name: "late extra answer at 5ms", wrote: make(chan struct{}), wantBody: "hostile", discard: h1.DiscardIdleData},
		{name: "late extra answer at 300ms", wrote: make(chan struct{}), wantBody: "hostile", discard: h1.DiscardIdleData},
		{name: "late CRLF", wrote: make(chan struct{}), wantBody: "hostile", discard: h1.DiscardIdleData},
		{name: "late close", wrote: make(chan struct{}), wantBody: "hostile", discard: h1.DiscardIdleClosed},
		{name: "extra bytes in the same segment", misbehave: writes(okAnswer + evil), wantBody: "hostile", discard: h1.DiscardTrailing},
		{name: "length and chunked", misbehave: writes("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" + evil), wantBody: "ok"},
		{name: "two different lengths", misbehave: writes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 4\r\n\r\nokok"), wantErr: ErrMalformedResponse},
		{name: "two equal lengths", misbehave: writes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"), wantBody: "ok"},
		{name: "48 MB of headers", misbehave: endless("HTTP/1.1 200 OK\r\n", "X-Pad: "+strings.Repeat("a", 4<<10)+"\r\n", 48<<20, &headerBytes), wantErr: ErrMalformedResponse},
		{name: "a 1 MiB header line", misbehave: endless("HTTP/1.1 200 OK\r\nX-Long: ", strings.Repeat("a", 4<<10), 1<<20, &lineBytes), wantErr: ErrMalformedResponse},
		{name: "status 999", misbehave: writes("HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nok"), wantErr: ErrMalformedResponse},
		{name: "status 099", misbehave: writes("HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nok"), wantErr: ErrMalformedResponse},
		{name: "endless 1xx", misbehave: endless("", "HTTP/1.1 102 Processing\r\n\r\n", 1<<20, &interimBytes), wantErr: ErrMalformedResponse},
		{name: "unasked-for 101", misbehave: writes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"), wantErr: ErrMalformedResponse},
		{name: "204 with a body", misbehave: writes("HTTP/1.1 204 No Content\r\n\r\n" + evil), wantBody: "", discard: h1.DiscardTrailing},
		{name: "space before the colon", misbehave: writes("HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok"), wantErr: ErrMalformedResponse},
		{name: "folded header", misbehave: writes("HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\nContent-Length: 2\r\n\r\nok"), wantErr: ErrMalformedResponse},
		{name: "NUL in a value", misbehave: writes("HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok"), wantErr: ErrMalformedResponse},
		{name: "a drip of a byte every 100ms", misbehave: func(c net.Conn) bool {
			for _, b := range []byte(okAnswer) {
				if _, err := c.Write([]byte{b}); err != nil {
					return false
				}
				time.Sleep(100 * time.Millisecond)
			}
			return false
		}, wantErr: errTimeoutAny, timeout: 300 * time.Millisecond},
	}
	tests[0].misbehave = later(5*time.Millisecond, evil, tests[0].wrote)
	tests[1].misbehave = later(300*time.Millisecond, evil, tests[1].wrote)
	tests[2].misbehave = later(5*time.Millisecond, "\r\n", tests[2].wrote)
	tests[3].misbehave = func(c net.Conn) bool {
		_, _ = io.WriteString(c, okAnswer)
		time.AfterFunc(5*time.Millisecond, func() { c.(*net.TCPConn).CloseWrite(); close(tests[3].wrote) })
		return true
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := hostileServer(t, tc.misbehave)
			p := newPool(t, Options{Endpoints: []string{u}, Retries: setting.Ptr(0), RequestTimeout: setting.D(cmp(tc.timeout, 5*time.Second))})
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			var resp Response
			err := p.Do(context.Background(), &Request{Target: "/hostile"}, &resp)
			elapsed := time.Since(start)
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			switch {
			case tc.wantErr == errTimeoutAny:
				if err == nil || !isTimeout(err) {
					t.Fatalf("got %v, want a timeout", err)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("got %d %q, %v; want %v", resp.Status, resp.Body, err, tc.wantErr)
				}
			case err != nil || string(resp.Body) != tc.wantBody:
				t.Fatalf("got %q, %v; want %q", resp.Body, err, tc.wantBody)
			}
			if elapsed > 2*time.Second {
				t.Errorf("the answer took %v", elapsed)
			}
			// The whole process's allocations: the test's own servers and the race
			// detector count too (one run of the 48 MB head saw 5 MB under load), so
			// the bound is loose; reading a 48 MB head would pass it many times over.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
				t.Errorf("reading the answer allocated %d bytes", grew)
			}
			if tc.wrote != nil {
				<-tc.wrote
			}
			for i := range 20 {
				target := fmt.Sprintf("/follow-up-%d", i)
				resp.Reset()
				if err := p.Do(context.Background(), &Request{Target: target}, &resp); err != nil || string(resp.Body) != target {
					t.Fatalf("follow-up %d: got %q, %v; want %q", i, resp.Body, err, target)
				}
			}
			if tc.discard != h1.DiscardNone {
				if n := p.Stats().Discards[tc.discard]; n != 1 {
					t.Errorf("%s discards: %d, want 1 (all: %v)", DiscardReasons[tc.discard], n, p.Stats().Discards)
				}
			}
		})
	}
	for name, n := range map[string]int64{"headers": headerBytes.Load(), "header line": lineBytes.Load(), "interim answers": interimBytes.Load()} {
		// What the kernel's buffers hold is written before the client gives up.
		if n > 16<<20 {
			t.Errorf("the server wrote %d bytes of endless %s", n, name)
		}
	}
}

// TestHostileUpstreamOverTLS: what arrives after an answer in TLS records of its
// own, whether the TLS layer has already read them from the socket or not, retires
// the connection as it does in plain text.
func TestHostileUpstreamOverTLS(t *testing.T) {
	ca := testpki.NewCA(t)
	caFile := ca.WriteFile(t, t.TempDir())
	srvCfg := &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "127.0.0.1")}}
	const evil = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL"
	tests := []struct {
		name    string
		bad     func(c net.Conn, wrote chan struct{}) bool
		discard h1.DiscardReason
	}{
		{"a record of its own right after", func(c net.Conn, wrote chan struct{}) bool {
			_, _ = io.WriteString(c, okAnswer) // two writes: two records
			_, _ = io.WriteString(c, evil)
			close(wrote)
			return true
		}, h1.DiscardIdleData},
		{"a late record", func(c net.Conn, wrote chan struct{}) bool {
			_, _ = io.WriteString(c, okAnswer)
			time.AfterFunc(5*time.Millisecond, func() { _, _ = io.WriteString(c, evil); close(wrote) })
			return true
		}, h1.DiscardIdleData},
		{"part of a record with the answer", func(c net.Conn, wrote chan struct{}) bool {
			h := c.(*tls.Conn).NetConn().(*holdConn)
			// The answer's record is sent with the first bytes of the next; the
			// follow-ups start before the rest of that one arrives.
			h.hold, h.partial = true, wrote
			_, _ = io.WriteString(c, okAnswer)
			go func() { _, _ = io.WriteString(c, evil) }()
			return true
		}, h1.DiscardIdleData},
		{"a late close_notify", func(c net.Conn, wrote chan struct{}) bool {
			_, _ = io.WriteString(c, okAnswer)
			time.AfterFunc(5*time.Millisecond, func() { _ = c.(*tls.Conn).CloseWrite(); close(wrote) })
			return true
		}, h1.DiscardIdleData}, // an alert record on the socket: bytes, before they are read
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wrote := make(chan struct{})
			u := hostileServerTLS(t, srvCfg, func(c net.Conn) bool { return tc.bad(c, wrote) })
			p := newPool(t, Options{Endpoints: []string{u}, Retries: setting.Ptr(0), TLS: &TLS{CAFile: caFile}})
			var resp Response
			if err := p.Do(context.Background(), &Request{Target: "/hostile"}, &resp); err != nil || string(resp.Body) != "hostile" {
				t.Fatalf("got %q, %v", resp.Body, err)
			}
			<-wrote
			time.Sleep(time.Millisecond) // the record's way through loopback
			for i := range 20 {
				target := fmt.Sprintf("/follow-up-%d", i)
				resp.Reset()
				if err := p.Do(context.Background(), &Request{Target: target}, &resp); err != nil || string(resp.Body) != target {
					t.Fatalf("follow-up %d: got %q, %v; want %q", i, resp.Body, err, target)
				}
			}
			if n := p.Stats().Discards[tc.discard]; n != 1 {
				t.Errorf("%s discards: %d, want 1 (all: %v)", DiscardReasons[tc.discard], n, p.Stats().Discards)
			}
		})
	}
}

// holdListener hands out holdConns.
type holdListener struct{ net.Listener }

func (l holdListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &holdConn{Conn: c}, nil
}

// holdConn is a server's connection that, once hold is set, keeps the next write
// and sends it with the first 8 bytes of the one after it, then the rest of that one
// 20ms later: a TLS record that arrives in part along with the one before it.
type holdConn struct {
	net.Conn
	hold    bool
	held    []byte
	partial chan struct{} // closed once the first part is sent
}

func (c *holdConn) Write(b []byte) (int, error) {
	switch {
	case c.hold:
		c.hold, c.held = false, append([]byte(nil), b...)
		return len(b), nil
	case c.held != nil:
		first := append(c.held, b[:8]...)
		c.held = nil
		if _, err := c.Conn.Write(first); err != nil {
			return 0, err
		}
		close(c.partial)
		time.Sleep(20 * time.Millisecond)
		if _, err := c.Conn.Write(b[8:]); err != nil {
			return 8, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

var errTimeoutAny = errors.New("any timeout")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func cmp(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// TestCleanIdleConnectionsAreReused checks that the idle check does not retire
// connections on which nothing arrived.
func TestCleanIdleConnectionsAreReused(t *testing.T) {
	addr, conns := serveRaw(t, nil, func(c net.Conn, _ *http.Request) bool {
		_, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return err == nil
	})
	p := newPool(t, Options{Endpoints: []string{"http://" + addr}})
	for range 50 {
		var resp Response
		if err := p.Do(context.Background(), &Request{Target: "/"}, &resp); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Microsecond)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("50 sequential requests used %d connections, want 1", n)
	}
	if d := p.Stats().Discards; d != ([h1.NumDiscardReasons]int64{}) {
		t.Errorf("discards %v, want none", d)
	}
}

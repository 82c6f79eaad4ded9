package lb

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
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

	"github.com/switchyard/switchyard/setting"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func newPool(t *testing.T, opts Options) *Pool {
	t.Helper()
	opts.HealthCheck.Disabled = true
	p, err := New("test", opts, discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// rawServer answers every connection's requests with the bytes answer returns, so that
// tests control the wire format exactly.
func rawServer(t *testing.T, answer func(req *http.Request) string) string {
	addr, _ := serveRaw(t, nil, func(c net.Conn, req *http.Request) bool {
		a := answer(req)
		if _, err := io.WriteString(c, a); err != nil {
			return false
		}
		return !strings.Contains(a, "Connection: close") && !strings.HasPrefix(a, "HTTP/1.0")
	})
	return "http://" + addr
}

// serveRaw accepts connections on loopback (over TLS when cfg is not nil), reads
// requests on each and calls answer with the raw connection, which writes what it
// likes and returns whether the connection may serve another request. It returns
// the address and a count of the connections accepted; all end with the test.
func serveRaw(t testing.TB, cfg *tls.Config, answer func(c net.Conn, req *http.Request) bool) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if cfg != nil {
		ln = tls.NewListener(holdListener{ln}, cfg)
	}
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					if !answer(c, req) {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), &conns
}

func TestTransportWireFormats(t *testing.T) {
	tests := []struct {
		name, answer string
		status       int
		body         string
		wantErr      bool
	}{
		{"content length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, "hello", false},
		{"chunked with extension and trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\nTrailer: 1\r\n\r\n", 200, "hello", false},
		{"interim 100 then final", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}", 404, "{}", false},
		{"body to close", "HTTP/1.0 200 OK\r\n\r\nuntil eof", 200, "until eof", false},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", 204, "", false},
		{"bad status line", "HTTP/9 nonsense\r\n\r\n", 0, "", true},
		{"bad content length", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", 0, "", true},
		{"too large", "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", 0, "", true},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabc", 0, "", true},
		{"signed content length", "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok", 0, "", true},
		{"status glued to its reason", "HTTP/1.1 200OK\r\nContent-Length: 2\r\n\r\nok", 0, "", true},
		{"unknown version", "HTTP/1.7 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, "", true},
		{"chunked wins over a length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nok\r\n0\r\n\r\n", 200, "ok", false},
		{"status line alone", "HTTP/1.1 204\r\n\r\n", 204, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := rawServer(t, func(*http.Request) string { return tc.answer })
			p := newPool(t, Options{Endpoints: []string{u}, MaxResponseBytes: 1000})
			var resp Response
			err := p.Do(context.Background(), &Request{Target: "/x"}, &resp)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want an error, got status %d body %q", resp.Status, resp.Body)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tc.status || string(resp.Body) != tc.body {
				t.Errorf("got %d %q, want %d %q", resp.Status, resp.Body, tc.status, tc.body)
			}
		})
	}
}

func TestTransportSendsRequest(t *testing.T) {
	var got atomic.Pointer[http.Request]
	var body atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body.Store(string(b))
		got.Store(r)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	p := newPool(t, Options{Endpoints: []string{srv.URL}})
	var resp Response
	req := &Request{Method: "POST", Target: "/a/b?c=d%2Ce", Header: [][2]string{{"X-Trace", "t1"}}, Body: []byte(`{"a":1}`)}
	if err := p.Do(context.Background(), req, &resp); err != nil {
		t.Fatal(err)
	}
	r := got.Load()
	if r.Method != "POST" || r.URL.RequestURI() != "/a/b?c=d%2Ce" || r.Header.Get("X-Trace") != "t1" || body.Load() != `{"a":1}` || r.Host != strings.TrimPrefix(srv.URL, "http://") {
		t.Errorf("upstream saw %s %s host %s header %v body %v", r.Method, r.URL.RequestURI(), r.Host, r.Header, body.Load())
	}
	for _, bad := range []*Request{{Target: "no-slash"}, {Target: "/a b"}, {Target: "/a\x00"}, {Target: "/x", Header: [][2]string{{"X", "a\r\nInjected: 1"}}},
		{Target: "/x", Header: [][2]string{{"Bad Name", "v"}}}, {Target: "/x", Header: [][2]string{{"", "v"}}}, {Target: "/x", Header: [][2]string{{"X", "a\x00"}}}} {
		if err := p.Do(context.Background(), bad, &resp); err == nil {
			t.Errorf("request %+v was sent", bad)
		}
	}
}

func TestKeepAliveAndStaleConnections(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	p := newPool(t, Options{Endpoints: []string{srv.URL}})
	var resp Response
	for range 10 {
		resp.Reset()
		if err := p.Do(context.Background(), &Request{Target: "/"}, &resp); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("10 sequential requests used %d connections, want 1", n)
	}
	// The server closes its idle connections: the next request must notice the stale
	// connection and succeed on a new one, even when every idle connection is stale.
	var calls []*Call
	for range 4 {
		calls = append(calls, p.Start(context.Background(), &Request{Target: "/"}))
	}
	for _, c := range calls {
		var r Response
		if err := c.Finish(&r); err != nil {
			t.Fatal(err)
		}
	}
	srv.CloseClientConnections()
	time.Sleep(10 * time.Millisecond)
	resp.Reset()
	if err := p.Do(context.Background(), &Request{Target: "/"}, &resp); err != nil {
		t.Fatalf("request on stale connections: %v", err)
	}
}

func TestNonIdempotentRequestIsNotSentTwice(t *testing.T) {
	var runs atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			runs.Add(1)
			panic(http.ErrAbortHandler) // closes the connection without an answer
		}
	}))
	defer srv.Close()
	p := newPool(t, Options{Endpoints: []string{srv.URL}})
	var resp Response
	if err := p.Do(context.Background(), &Request{Target: "/"}, &resp); err != nil {
		t.Fatal(err) // leaves a keep-alive connection idle
	}
	if err := p.Do(context.Background(), &Request{Method: "POST", Target: "/", Body: []byte("x")}, &resp); err == nil {
		t.Fatal("a POST without an answer succeeded")
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("the POST ran %d times, want 1", n)
	}
}

func TestLeftoverBytesCloseTheConnection(t *testing.T) {
	u := rawServer(t, func(*http.Request) string {
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"
	})
	p := newPool(t, Options{Endpoints: []string{u}})
	for range 2 {
		var resp Response
		if err := p.Do(context.Background(), &Request{Target: "/"}, &resp); err != nil || string(resp.Body) != "ok" {
			t.Fatalf("got %q, %v", resp.Body, err)
		}
	}
}

func TestRoundRobinAndFailover(t *testing.T) {
	var hits [3]atomic.Int64
	var urls []string
	var fail atomic.Int64 // index+1 of the endpoint answering 500
	for i := range hits {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			if fail.Load() == int64(i+1) {
				w.WriteHeader(500)
				return
			}
			w.Write([]byte(fmt.Sprint(i)))
		}))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	p := newPool(t, Options{Endpoints: urls, Outlier: OutlierDetection{ConsecutiveFailures: setting.Ptr(0)}}) // no ejection: the POSTs must reach the failing endpoint
	do := func(method string) Response {
		var resp Response
		if err := p.Do(context.Background(), &Request{Method: method, Target: "/"}, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for range 300 {
		do("GET")
	}
	for i := range hits {
		if n := hits[i].Swap(0); n != 100 {
			t.Errorf("endpoint %d got %d of 300 requests, want 100", i, n)
		}
	}

	fail.Store(2)
	for range 30 {
		if r := do("GET"); r.Status != 200 {
			t.Fatalf("GET got %d despite failover", r.Status)
		}
	}
	fails := 0
	for range 30 {
		if r := do("POST"); r.Status == 500 {
			fails++
		}
	}
	if fails == 0 {
		t.Error("a POST answered 500 was retried: POST is not idempotent")
	}
}

func TestFailoverOnRefusedConnection(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	p := newPool(t, Options{Endpoints: []string{dead, srv.URL}})
	for range 10 {
		var resp Response
		// Even a POST: a refused connection never reached the upstream.
		if err := p.Do(context.Background(), &Request{Method: "POST", Target: "/"}, &resp); err != nil || resp.Status != 200 {
			t.Fatalf("status %d, err %v", resp.Status, err)
		}
	}
	all := newPool(t, Options{Endpoints: []string{dead}})
	var resp Response
	err := all.Do(context.Background(), &Request{Target: "/"}, &resp)
	var de *DialError
	if !errors.As(err, &de) {
		t.Fatalf("want a *DialError, got %v", err)
	}
}

func TestCancellationClosesTheConnection(t *testing.T) {
	reached, gone := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(reached)
		<-r.Context().Done()
		close(gone)
	}))
	defer srv.Close()
	p := newPool(t, Options{Endpoints: []string{srv.URL}})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		var resp Response
		errc <- p.Do(ctx, &Request{Target: "/"}, &resp)
	}()
	<-reached
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream never saw the cancellation")
	}
}

// Calls made under a Watch end with its context as calls with an AfterFunc each
// do: both calls begun before the cancellation end, their connections are not
// reused, and the watch's Stop after them leaves later calls alone.
func TestWatchEndsTheCallsUnderIt(t *testing.T) {
	var reached sync.WaitGroup
	reached.Add(2)
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hang" {
			reached.Done()
			select {
			case <-r.Context().Done():
			case <-hang:
			}
			return
		}
	}))
	defer srv.Close()
	defer close(hang)
	p := newPool(t, Options{Endpoints: []string{srv.URL}})
	base, cancel := context.WithCancel(context.Background())
	ctx, watch := WithWatch(base)
	a, b := p.Start(ctx, &Request{Target: "/hang"}), p.Start(ctx, &Request{Target: "/hang"})
	reached.Wait()
	cancel()
	for _, call := range []*Call{a, b} {
		var resp Response
		if err := call.Finish(&resp); !errors.Is(err, context.Canceled) {
			t.Errorf("a call under the watch: %v, want context.Canceled", err)
		}
	}
	watch.Stop()
	var resp Response
	if err := p.Do(context.Background(), &Request{Target: "/ok"}, &resp); err != nil || resp.Status != 200 {
		t.Fatalf("a later call: %v %d", err, resp.Status)
	}

	// A call begun under a watch already stopped is still ended by its context.
	late, cancelLate := context.WithCancel(context.Background())
	lateCtx, lateWatch := WithWatch(late)
	lateWatch.Stop()
	reached.Add(1)
	c := p.Start(lateCtx, &Request{Target: "/hang"})
	reached.Wait()
	cancelLate()
	if err := c.Finish(&resp); !errors.Is(err, context.Canceled) {
		t.Errorf("a call begun after the watch stopped: %v, want context.Canceled", err)
	}

	// A watch stopped before its context ends leaves its connections usable.
	ctx2, w2 := WithWatch(context.WithoutCancel(context.Background()))
	if w2 != nil || ctx2 == nil {
		t.Error("a context that never ends got a watch")
	}
	live, stop := context.WithCancel(context.Background())
	ctx3, w3 := WithWatch(live)
	if err := p.Do(ctx3, &Request{Target: "/ok"}, &resp); err != nil {
		t.Fatal(err)
	}
	w3.Stop()
	stop()
	if err := p.Do(context.Background(), &Request{Target: "/ok"}, &resp); err != nil || resp.Status != 200 {
		t.Fatalf("after the watch's context ended: %v %d", err, resp.Status)
	}
}

func TestDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	p := newPool(t, Options{Endpoints: []string{srv.URL}, RequestTimeout: setting.D(50 * time.Millisecond)})
	var resp Response
	err := p.Do(context.Background(), &Request{Target: "/"}, &resp)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("want os.ErrDeadlineExceeded, got %v", err)
	}
}

func TestObserveThresholds(t *testing.T) {
	ep := &endpoint{}
	ep.healthy.Store(true)
	steps := []struct {
		ok               bool
		changed, healthy bool
	}{
		{false, false, true}, // 1 failure of 2
		{true, false, true},  // success resets
		{false, false, true},
		{false, true, false}, // 2 consecutive failures
		{true, false, false}, // 1 success of 3
		{true, false, false},
		{true, true, true}, // 3 consecutive successes
	}
	for i, s := range steps {
		changed := ep.observe(s.ok, 3, 2)
		if changed != s.changed || ep.healthy.Load() != s.healthy {
			t.Fatalf("step %d: changed=%v healthy=%v, want %v %v", i, changed, ep.healthy.Load(), s.changed, s.healthy)
		}
	}
}

func TestHealthChecksDriveThePick(t *testing.T) {
	var sick atomic.Bool
	var hits [2]atomic.Int64
	var urls []string
	for i := range hits {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" {
				if i == 0 && sick.Load() {
					w.WriteHeader(503)
				}
				return
			}
			hits[i].Add(1)
		}))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	p, err := New("hc", Options{Endpoints: urls, HealthCheck: HealthCheck{Interval: setting.D(5 * time.Millisecond), HealthyThreshold: 1, UnhealthyThreshold: 1}}, discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	sick.Store(true)
	waitUntil(t, func() bool { return !p.Status()[0].Healthy })
	if !p.Ready() {
		t.Fatal("pool with one healthy endpoint is not ready")
	}
	for range 20 {
		var resp Response
		if err := p.Do(context.Background(), &Request{Target: "/"}, &resp); err != nil {
			t.Fatal(err)
		}
	}
	if n := hits[0].Load(); n != 0 {
		t.Errorf("unhealthy endpoint got %d requests", n)
	}
	sick.Store(false)
	waitUntil(t, func() bool { return p.Status()[0].Healthy })
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestNewRefusesBadEndpoints(t *testing.T) {
	for _, eps := range [][]string{nil, {"ftp://x:1"}, {"https://x:1/path"}, {"http://x:1/path"}, {"http://u:p@x:1"}, {"http://x:1", "http://x:1"}, {"::"}} {
		if _, err := New("x", Options{Endpoints: eps}, discard); err == nil {
			t.Errorf("endpoints %q accepted", eps)
		}
	}
}

func BenchmarkPoolDo(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"id":"u1","name":"Ada Lovelace","email":"ada@example.com","tier":"GOLD"}`))
	}))
	defer srv.Close()
	p, _ := New("bench", Options{Endpoints: []string{srv.URL}, HealthCheck: HealthCheck{Disabled: true}}, discard)
	req := &Request{Target: "/users/u1"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var resp Response
		for pb.Next() {
			resp.Reset()
			if err := p.Do(context.Background(), req, &resp); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkNetHTTPClient(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"id":"u1","name":"Ada Lovelace","email":"ada@example.com","tier":"GOLD"}`))
	}))
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Get(srv.URL + "/users/u1")
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

func BenchmarkPick(b *testing.B) {
	for _, policy := range Policies {
		b.Run(string(policy), func(b *testing.B) {
			opts := Options{Endpoints: []string{"http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"}, Policy: policy}
			if policy == RingHash {
				opts.HashOn = HashOn{Header: "X-Key"}
			}
			p, _ := New("bench", opts, nil)
			ctx := WithAffinity(context.Background(), inbound("user-42", ""))
			b.ReportAllocs()
			for b.Loop() {
				p.chooseFor(ctx, p.current(p.opts.Now()), nil)
			}
		})
	}
}

func TestStartedCallsAreInFlightTogether(t *testing.T) {
	// Each server answers only once all three requests have arrived: the test
	// deadlocks unless Start sends each request before any answer is read.
	var arrived sync.WaitGroup
	arrived.Add(3)
	var pools []*Pool
	for i := range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived.Done()
			arrived.Wait()
			fmt.Fprint(w, i)
		}))
		t.Cleanup(srv.Close)
		pools = append(pools, newPool(t, Options{Endpoints: []string{srv.URL}, RequestTimeout: setting.D(5 * time.Second)}))
	}
	var calls []*Call
	for _, p := range pools {
		calls = append(calls, p.Start(context.Background(), &Request{Target: "/"}))
	}
	for i, c := range calls {
		var resp Response
		if err := c.Finish(&resp); err != nil {
			t.Fatal(err)
		}
		if string(resp.Body) != fmt.Sprint(i) {
			t.Errorf("call %d got %q", i, resp.Body)
		}
	}
}

func TestStartedCallFailsOver(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	p := newPool(t, Options{Endpoints: []string{dead, srv.URL}})
	for range 4 {
		var resp Response
		if err := p.Start(context.Background(), &Request{Target: "/"}).Finish(&resp); err != nil || string(resp.Body) != "ok" {
			t.Fatalf("got %q, %v", resp.Body, err)
		}
	}
	var resp Response
	bad := &Request{Target: "bad"}
	if err := p.Start(context.Background(), bad).Finish(&resp); err == nil || !errors.Is(err, bad.Check()) {
		t.Fatalf("want the error of a bad target, got %v", err)
	}
}

func TestAnAnswerReadAfterTheDeadlineStillCounts(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("fast")) }))
	defer fast.Close()
	ps := newPool(t, Options{Endpoints: []string{slow.URL}, RequestTimeout: setting.D(100 * time.Millisecond), Retries: setting.Ptr(0)})
	pf := newPool(t, Options{Endpoints: []string{fast.URL}, RequestTimeout: setting.D(100 * time.Millisecond), Retries: setting.Ptr(0)})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	a := ps.Start(ctx, &Request{Target: "/"})
	b := pf.Start(ctx, &Request{Target: "/"})
	var ra, rb Response
	if err := a.Finish(&ra); err == nil {
		t.Fatal("the slow call did not time out")
	}
	// The fast answer arrived long before the deadline; it is read after it.
	if err := b.Finish(&rb); err != nil || string(rb.Body) != "fast" {
		t.Fatalf("the fast answer was lost: %q, %v", rb.Body, err)
	}
}

func TestUnhealthyEndpointsAreProbedFaster(t *testing.T) {
	var sick atomic.Bool
	sick.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if sick.Load() {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	p, err := New("hc", Options{Endpoints: []string{srv.URL}, HealthCheck: HealthCheck{Interval: setting.D(time.Hour),
		UnhealthyInterval: setting.D(5 * time.Millisecond), HealthyThreshold: 1, UnhealthyThreshold: 1}}, discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitUntil(t, func() bool { return !p.Status()[0].Healthy })
	sick.Store(false)
	// With the hour-long interval this would never happen within the test.
	waitUntil(t, func() bool { return p.Status()[0].Healthy })
}

func TestClosedPoolKeepsNoConnection(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	}))
	defer srv.Close()
	p, _ := New("c", Options{Endpoints: []string{srv.URL}, HealthCheck: HealthCheck{Disabled: true}}, nil)
	done := make(chan error)
	go func() {
		var resp Response
		done <- p.Do(context.Background(), &Request{Target: "/"}, &resp)
	}()
	<-started
	p.Close() // while the request runs
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := p.endpoints[0].conns.Idle(); n != 0 {
		t.Fatalf("a closed pool kept %d idle connections", n)
	}
}

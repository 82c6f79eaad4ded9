package gateway_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/lb"
)

// hostileUsers is a users service on a raw socket: GET /users/{id} answers a record
// of that id, except for the ids in misbehave, whose function writes what it likes
// on the connection (and returns whether the connection may go on).
type hostileUsers struct {
	url       string
	mu        sync.Mutex
	misbehave map[string]func(c net.Conn, id string) bool
}

func userRecord(id string) string {
	body := fmt.Sprintf(`{"id":%q,"name":"Name of %s","email":"%s@example.com","tier":"GOLD"}`, id, id, id)
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

func startHostileUsers(t *testing.T) *hostileUsers {
	h := &hostileUsers{misbehave: map[string]func(net.Conn, string) bool{}}
	h.url = serveRaw(t, func(c net.Conn, req *http.Request) bool {
		id := strings.TrimPrefix(req.URL.Path, "/users/")
		h.mu.Lock()
		bad := h.misbehave[id]
		h.mu.Unlock()
		if bad != nil {
			return bad(c, id)
		}
		_, err := io.WriteString(c, userRecord(id))
		return err == nil
	})
	return h
}

// serveRaw accepts connections on loopback, reads requests on each and calls answer
// with the raw connection, which writes what it likes and returns whether the
// connection may serve another request. It returns the server's URL.
func serveRaw(t *testing.T, answer func(c net.Conn, req *http.Request) bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
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
	return "http://" + ln.Addr().String()
}

// TestHostileUpstreamThroughTheGateway sends GraphQL queries to a users pool of one
// hostile endpoint, with no retries: each misbehaviour gets its answer (a correct
// record, or null with UPSTREAM_BAD_RESPONSE or UPSTREAM_TIMEOUT), and the 20 queries
// after it all get their own user's record: nothing desynchronises.
func TestHostileUpstreamThroughTheGateway(t *testing.T) {
	const evil = `{"id":"EVIL","name":"EVIL","email":"evil@example.com","tier":"GOLD"}`
	evilAnswer := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(evil), evil)
	up := startHostileUsers(t)
	cluster := startCluster(t, 1)
	cfg := demoConfig(t, cluster, func(c *config.Config) {
		c.Pools["users"] = config.Pool{Options: lb.Options{
			Endpoints:      []string{up.url},
			Retries:        ptr(0),
			RequestTimeout: config.D(500 * time.Millisecond),
			HealthCheck:    lb.HealthCheck{Disabled: true},
		}}
	})
	_, srv := serveRuntime(t, cfg)

	late := func(delay time.Duration, extra string, wrote chan struct{}) func(net.Conn, string) bool {
		return func(c net.Conn, id string) bool {
			_, _ = io.WriteString(c, userRecord(id))
			time.AfterFunc(delay, func() { _, _ = io.WriteString(c, extra); close(wrote) })
			return true
		}
	}
	writes := func(s string) func(net.Conn, string) bool {
		return func(c net.Conn, _ string) bool { _, _ = io.WriteString(c, s); return true }
	}
	headers := func(c net.Conn, _ string) bool {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		pad := "X-Pad: " + strings.Repeat("a", 4<<10) + "\r\n"
		for range (48 << 20) / len(pad) {
			if _, err := io.WriteString(c, pad); err != nil {
				break
			}
		}
		return false
	}
	tests := []struct {
		id       string
		bad      func(net.Conn, string) bool
		wrote    chan struct{}
		wantCode string // "" when the record is wanted
	}{
		{id: "late5", wrote: make(chan struct{})},
		{id: "late300", wrote: make(chan struct{})},
		{id: "crlf", wrote: make(chan struct{})},
		{id: "segment", bad: func(c net.Conn, id string) bool { _, _ = io.WriteString(c, userRecord(id)+evilAnswer); return true }},
		{id: "headers48mb", bad: headers, wantCode: "UPSTREAM_BAD_RESPONSE"},
		{id: "status999", bad: writes("HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\n{}"), wantCode: "UPSTREAM_BAD_RESPONSE"},
		{id: "spacecolon", bad: writes("HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\n{}"), wantCode: "UPSTREAM_BAD_RESPONSE"},
		{id: "endless1xx", bad: func(c net.Conn, _ string) bool {
			for range 1000 {
				if _, err := io.WriteString(c, "HTTP/1.1 102 Processing\r\n\r\n"); err != nil {
					break
				}
			}
			return false
		}, wantCode: "UPSTREAM_BAD_RESPONSE"},
		{id: "drip", bad: func(c net.Conn, id string) bool {
			for _, b := range []byte(userRecord(id)) {
				if _, err := c.Write([]byte{b}); err != nil {
					return false
				}
				time.Sleep(100 * time.Millisecond)
			}
			return false
		}, wantCode: "UPSTREAM_TIMEOUT"},
	}
	tests[0].bad = late(5*time.Millisecond, evilAnswer, tests[0].wrote)
	tests[1].bad = late(300*time.Millisecond, evilAnswer, tests[1].wrote)
	tests[2].bad = late(5*time.Millisecond, "\r\n", tests[2].wrote)
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			up.mu.Lock()
			up.misbehave[tc.id] = tc.bad
			up.mu.Unlock()
			start := time.Now()
			resp, body := postQuery(t, srv.URL+"/graphql", fmt.Sprintf(`{ user(id:%q) { id name } }`, tc.id), "", "")
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("the answer took %v", elapsed)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if tc.wantCode == "" {
				if want := fmt.Sprintf(`{"data":{"user":{"id":%q,"name":"Name of %s"}}}`, tc.id, tc.id); body != want {
					t.Fatalf("got %s, want %s", body, want)
				}
			} else if !strings.Contains(body, `"user":null`) || !strings.Contains(body, `"code":"`+tc.wantCode+`"`) ||
				!strings.Contains(body, `"upstream":"users"`) || strings.Contains(body, "127.0.0.1") {
				t.Fatalf("got %s, want user null with %s", body, tc.wantCode)
			}
			if tc.wrote != nil {
				<-tc.wrote
			}
			for i := range 20 {
				id := fmt.Sprintf("u%d", i+1)
				_, body := postQuery(t, srv.URL+"/graphql", fmt.Sprintf(`{ user(id:%q) { id name } }`, id), "", "")
				if want := fmt.Sprintf(`{"data":{"user":{"id":%q,"name":"Name of %s"}}}`, id, id); body != want {
					t.Fatalf("follow-up %d: got %s, want %s", i, body, want)
				}
			}
		})
	}
	mfs := scrape(t, srv.URL)
	for reason, want := range map[string]float64{"idle_data": 3, "trailing_bytes": 1} {
		if got := value(mfs, "switchyard_pool_connections_discarded_total", map[string]string{"pool": "users", "reason": reason}); got != want {
			t.Errorf("discards for %s: %v, want %v", reason, got, want)
		}
	}
}

// TestHostileUpstreamOnL7Routes sends requests through an L7 route to a raw upstream
// that misbehaves by path: heads too large, a status outside 100 to 599, interim
// answers nobody asked for, without end.
func TestHostileUpstreamOnL7Routes(t *testing.T) {
	answers := map[string]string{
		"/ok":          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"/status999":   "HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nok",
		"/continue":    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"/processing":  "HTTP/1.1 102 Processing\r\nX-A: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"/hints":       "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"/longline":    "HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("a", 1<<20) + "\r\nContent-Length: 2\r\n\r\nok",
		"/manyheaders": "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Many: a\r\n", 10000) + "Content-Length: 2\r\n\r\nok",
		"/endless1xx":  strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", 1000) + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"/spacecolon":  "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
	}
	url := serveRaw(t, func(c net.Conn, req *http.Request) bool {
		_, err := io.WriteString(c, answers[strings.TrimPrefix(req.URL.Path, "/raw")])
		return err == nil
	})
	cluster := startCluster(t, 1)
	cfg := demoConfig(t, cluster, func(c *config.Config) {
		c.Pools["raw"] = config.Pool{Options: lb.Options{Endpoints: []string{url}, Retries: ptr(0), HealthCheck: lb.HealthCheck{Disabled: true}}}
		c.Routes = []config.Route{{Name: "raw", Match: config.RouteMatch{PathPrefix: "/raw"}, Proxy: &config.RouteProxy{Pool: "raw", StripPrefix: "/raw"}}}
	})
	_, srv := serveRuntime(t, cfg)
	tests := []struct {
		path   string
		status int
		code   string
	}{
		{"/ok", 200, ""},
		{"/status999", 502, "UPSTREAM_BAD_RESPONSE"},
		{"/continue", 200, ""},
		{"/processing", 200, ""},
		{"/hints", 200, ""},
		{"/longline", 502, "UPSTREAM_UNAVAILABLE"},
		{"/manyheaders", 502, "UPSTREAM_UNAVAILABLE"},
		{"/endless1xx", 502, "UPSTREAM_BAD_RESPONSE"},
		{"/spacecolon", 502, "UPSTREAM_BAD_RESPONSE"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			// A raw client, to see every interim answer the gateway sends.
			c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _ = fmt.Fprintf(c, "GET /raw%s HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n", tc.path)
			got, _ := io.ReadAll(c)
			head, body, _ := strings.Cut(string(got), "\r\n\r\n")
			if !strings.HasPrefix(head, fmt.Sprintf("HTTP/1.1 %d ", tc.status)) && tc.path != "/hints" {
				t.Fatalf("got %q", got)
			}
			if tc.code != "" && !strings.Contains(body, `"code":"`+tc.code+`"`) {
				t.Errorf("body %q, want code %s", body, tc.code)
			}
			if len(got) > 64<<10 {
				t.Errorf("answer of %d bytes passed through", len(got))
			}
			if tc.path == "/hints" {
				if !strings.HasPrefix(string(got), "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n") || !strings.Contains(string(got), "\r\n\r\nHTTP/1.1 200 OK\r\n") {
					t.Errorf("early hints not forwarded: %q", got)
				}
			} else if strings.Contains(string(got), "HTTP/1.1 1") {
				t.Errorf("an interim answer reached the client: %q", got)
			}
		})
	}
	t.Run("a chunked request after an interim answer", func(t *testing.T) {
		// The 103 goes out first; the final answer must still close the connection.
		c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		smuggled := "GET /raw/ok HTTP/1.1\r\nHost: gw\r\n\r\n"
		_, _ = fmt.Fprintf(c, "POST /raw/hints HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n%s", 2+len(smuggled), smuggled)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("the connection stayed open: %v (read %q)", err, got)
		}
		if n := strings.Count(string(got), "HTTP/1.1 200 "); n != 1 {
			t.Fatalf("%d final answers: %q", n, got)
		}
	})
}

// TestRequestWithLengthAndChunkedClosesTheConnection: a request with both framings
// is answered, and its connection closed, so that what follows its chunked body is
// never read as another request.
func TestRequestWithLengthAndChunkedClosesTheConnection(t *testing.T) {
	cluster := startCluster(t, 1)
	_, srv := serveRuntime(t, demoConfig(t, cluster, nil))
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	query := `{"query":"{ __typename }"}`
	smuggled := "GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n"
	_, _ = fmt.Fprintf(c, "POST /graphql HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n%s",
		len(query)+len(smuggled), len(query), query, smuggled)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("the connection stayed open: %v (read %q)", err, got)
	}
	if n := strings.Count(string(got), "HTTP/1.1 "); n != 1 || !strings.HasPrefix(string(got), "HTTP/1.1 200 ") || !strings.Contains(string(got), `"__typename":"Query"`) {
		t.Fatalf("got %d answers: %q", n, got)
	}
}

package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/gateway"
	"github.com/switchyard/switchyard/lb"
)

// echoUpstream is an upstream for L7 routes: it answers what it received (method,
// path, query, host, headers, body length) as JSON, and serves a few special paths.
type echoUpstream struct {
	*httptest.Server
	calls atomic.Int64
	slow  atomic.Int64 // requests for /slow under way
	name  string
}

type echoed struct {
	Upstream string            `json:"upstream"`
	Method   string            `json:"method"`
	Path     string            `json:"path"`
	Raw      string            `json:"raw,omitempty"`
	Query    string            `json:"query"`
	Host     string            `json:"host"`
	Headers  map[string]string `json:"headers"`
	Body     int64             `json:"body"`
}

func startEcho(t *testing.T, name string) *echoUpstream {
	e := &echoUpstream{name: name}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/healthz":
			return
		case r.URL.Path == "/fail":
			e.calls.Add(1)
			_, _ = io.Copy(io.Discard, r.Body)
			http.Error(w, "failed", http.StatusInternalServerError)
			return
		case r.URL.Path == "/slow":
			e.slow.Add(1)
			defer e.slow.Add(-1)
			time.Sleep(150 * time.Millisecond) // a slow upstream
			_, _ = io.WriteString(w, name)
			return
		case r.URL.Path == "/download":
			n, _ := strconv.Atoi(r.URL.Query().Get("bytes"))
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = io.Copy(w, &repeatReader{b: 'x', n: n})
			return
		case r.URL.Path == "/ws":
			if r.Header.Get("Upgrade") != "websocket" {
				http.Error(w, "upgrade required", http.StatusUpgradeRequired)
				return
			}
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			_ = brw.Flush()
			line, err := brw.ReadString('\n') // echo one line, upper-cased
			if err == nil {
				_, _ = conn.Write([]byte(strings.ToUpper(line)))
			}
			return
		}
		e.calls.Add(1)
		n, _ := io.Copy(io.Discard, r.Body)
		h := map[string]string{}
		for k := range r.Header {
			h[k] = r.Header.Get(k)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Internal", "secret")
		_ = json.NewEncoder(w).Encode(echoed{Upstream: name, Method: r.Method, Path: r.URL.Path, Raw: r.URL.RawPath, Query: r.URL.RawQuery, Host: r.Host, Headers: h, Body: n})
	}))
	t.Cleanup(e.Close)
	return e
}

// TestL7Routes checks every matcher, the order of routes, fixed responses,
// redirects, and proxying with its path rewrites, header and field transforms,
// claims forwarding and failover, through real HTTP.
func TestL7Routes(t *testing.T) {
	cluster := startCluster(t, 1)
	a, b := startEcho(t, "a"), startEcho(t, "b")
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // an endpoint that refuses connections
	cfg := demoConfig(t, cluster, func(c *config.Config) {
		c.Pools["echo"] = config.Pool{Options: lb.Options{
			Endpoints:   []string{a.URL},
			HealthCheck: lb.HealthCheck{Disabled: true},
		},
			ForwardClaims: map[string]string{"sub": "X-Pool-User"},
		}
		c.Pools["flaky"] = config.Pool{Options: lb.Options{Endpoints: []string{dead.URL, b.URL}, HealthCheck: lb.HealthCheck{Disabled: true}}}
		c.Pools["both"] = config.Pool{Options: lb.Options{Endpoints: []string{a.URL, b.URL}, HealthCheck: lb.HealthCheck{Disabled: true}}}
		c.Auth.APIKeys = []config.APIKey{{Name: "app", SHA256: keyHash("secret-app"), Subject: "u7", Scopes: []string{"read"}}}
		c.Routes = []config.Route{
			{Name: "by-host", Match: config.RouteMatch{Hosts: []string{"*.static.example"}}, Respond: &config.FixedResponse{Body: "static"}},
			{Name: "canary", Match: config.RouteMatch{PathPrefix: "/api", Headers: map[string]string{"X-Canary": "1"}},
				Respond: &config.FixedResponse{Status: 202, Body: "canary"}},
			{Name: "debug", Match: config.RouteMatch{PathPrefix: "/api", Query: map[string]string{"debug": "*"}},
				Respond: &config.FixedResponse{Status: 418, Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"debug":true}`}},
			{Name: "api", Match: config.RouteMatch{PathPrefix: "/api", Methods: []string{"GET", "POST", "PUT"}},
				Proxy: &config.RouteProxy{Pool: "echo", StripPrefix: "/api",
					RequestHeaders: config.HeaderOps{Set: map[string]string{"X-Gateway": "switchyard"}, Remove: []string{"Cookie"}}},
				ResponseHeaders: config.HeaderOps{Remove: []string{"X-Internal"}, Add: map[string]string{"X-Route": "api"}}},
			{Name: "items", Match: config.RouteMatch{Path: "/items/{id}/{rest...}"},
				Proxy: &config.RouteProxy{Pool: "echo", Rewrite: "/v2/item/{id}/{rest}",
					ResponseFields: &config.FieldMap{Rename: map[string]string{"path": "upstreamPath"}, Drop: []string{"headers", "host"}}}},
			{Name: "me", Match: config.RouteMatch{PathPrefix: "/whoami"}, Auth: &config.Requirement{Scopes: []string{"read"}},
				Proxy: &config.RouteProxy{Pool: "echo", ForwardClaims: map[string]string{"sub": "X-User", "scopes": "X-Scopes"}}},
			{Name: "flaky", Match: config.RouteMatch{PathPrefix: "/flaky"}, Proxy: &config.RouteProxy{Pool: "flaky", StripPrefix: "/flaky"}},
			{Name: "both", Match: config.RouteMatch{PathPrefix: "/both"}, Proxy: &config.RouteProxy{Pool: "both", StripPrefix: "/both"}},
			{Name: "old", Match: config.RouteMatch{Path: "/old/{page}"}, Redirect: &config.Redirect{Status: 308, To: "/new/{page}"}},
			{Name: "go", Match: config.RouteMatch{Path: "/go/{rest...}"}, Redirect: &config.Redirect{To: "/{rest}"}},
			{Name: "https", Match: config.RouteMatch{PathPrefix: "/secure"}, Redirect: &config.Redirect{To: "https://{host}{path}", DropQuery: true,
				Hosts: []string{"shop.example"}, DefaultHost: "www.example"}},
		}
	})
	_, srv := serveRuntime(t, cfg)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string, header ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader("hello"))
		for i := 0; i+1 < len(header); i += 2 {
			if header[i] == "Host" {
				req.Host = header[i+1]
				continue
			}
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	echo := func(body string) echoed {
		t.Helper()
		var e echoed
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Fatalf("not an echo: %s", body)
		}
		return e
	}

	t.Run("host wildcard", func(t *testing.T) {
		if resp, body := do("GET", "/anything", "Host", "img.static.example"); resp.StatusCode != 200 || body != "static" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if resp, _ := do("GET", "/anything", "Host", "static.example.org"); resp.StatusCode != 404 {
			t.Fatalf("another host matched: %d", resp.StatusCode)
		}
	})
	t.Run("order: header before query before proxy", func(t *testing.T) {
		if resp, body := do("GET", "/api/x?debug=1", "X-Canary", "1"); resp.StatusCode != 202 || body != "canary" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if resp, body := do("GET", "/api/x?debug=1"); resp.StatusCode != 418 || body != `{"debug":true}` || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("proxy: prefix, headers, forwarded-for", func(t *testing.T) {
		resp, body := do("POST", "/api/users/7?x=1", "Cookie", "session=1", "X-Forwarded-For", "6.6.6.6", "X-Pool-User", "admin")
		e := echo(body)
		if resp.StatusCode != 200 || e.Method != "POST" || e.Path != "/users/7" || e.Query != "x=1" || e.Body != 5 {
			t.Fatalf("%d %+v", resp.StatusCode, e)
		}
		if e.Headers["X-Pool-User"] != "" {
			t.Errorf("a client's copy of a forwarded-claim header reached the upstream: %q", e.Headers["X-Pool-User"])
		}
		if e.Headers["X-Gateway"] != "switchyard" || e.Headers["Cookie"] != "" || e.Headers["X-Forwarded-For"] != "127.0.0.1" || e.Host != strings.TrimPrefix(a.URL, "http://") {
			t.Errorf("headers sent: %+v host %s", e.Headers, e.Host)
		}
		if resp.Header.Get("X-Internal") != "" || resp.Header.Get("X-Route") != "api" {
			t.Errorf("response headers: %v", resp.Header)
		}
		if id := resp.Header.Get("X-Request-Id"); id == "" || e.Headers["X-Request-Id"] != id {
			t.Errorf("the upstream got request id %q, the client %q", e.Headers["X-Request-Id"], id)
		}
		// A client's own id, when acceptable, is the one the upstream sees; another
		// is replaced by the gateway's.
		if resp, body := do("GET", "/api/users/7", "X-Request-Id", "client-id-1"); echo(body).Headers["X-Request-Id"] != "client-id-1" || resp.Header.Get("X-Request-Id") != "client-id-1" {
			t.Errorf("a client's id: the upstream got %q", echo(body).Headers["X-Request-Id"])
		}
		bad := strings.Repeat("x", 300)
		if resp, body := do("GET", "/api/users/7", "X-Request-Id", bad); echo(body).Headers["X-Request-Id"] != resp.Header.Get("X-Request-Id") || resp.Header.Get("X-Request-Id") == bad {
			t.Errorf("an unacceptable client id reached the upstream: %q", echo(body).Headers["X-Request-Id"])
		}
	})
	t.Run("method not matched", func(t *testing.T) {
		if resp, _ := do("DELETE", "/api/users/7"); resp.StatusCode != 404 {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	t.Run("pattern, rewrite and field map", func(t *testing.T) {
		resp, body := do("GET", "/items/42/a/b%20c")
		if resp.StatusCode != 200 || body != `{"body":5,"method":"GET","query":"","upstream":"a","upstreamPath":"/v2/item/42/a/b c"}` {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Errorf("Content-Length %q for %d bytes", resp.Header.Get("Content-Length"), len(body))
		}
	})
	t.Run("auth and forwarded claims", func(t *testing.T) {
		if resp, _ := do("GET", "/whoami"); resp.StatusCode != 401 {
			t.Fatalf("anonymous: %d", resp.StatusCode)
		}
		resp, body := do("GET", "/whoami", "X-API-Key", "secret-app", "X-User", "admin")
		e := echo(body)
		if resp.StatusCode != 200 || e.Headers["X-User"] != "u7" || e.Headers["X-Scopes"] != "read" || e.Headers["X-Api-Key"] != "" {
			t.Fatalf("%d %+v", resp.StatusCode, e.Headers)
		}
	})
	t.Run("failover from a dead endpoint", func(t *testing.T) {
		for i := range 4 {
			resp, body := do("POST", "/flaky/x")
			if resp.StatusCode != 200 || echo(body).Upstream != "b" || echo(body).Body != 5 {
				t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
			}
		}
	})
	t.Run("5xx: a GET is retried, a POST is not", func(t *testing.T) {
		a.calls.Store(0)
		b.calls.Store(0)
		if resp, _ := do("POST", "/both/fail"); resp.StatusCode != 500 || a.calls.Load()+b.calls.Load() != 1 {
			t.Fatalf("POST: %d after %d calls", resp.StatusCode, a.calls.Load()+b.calls.Load())
		}
		req, _ := http.NewRequest("GET", srv.URL+"/both/fail", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// Retried once, on the other endpoint: three calls in all, each endpoint one at least.
		if resp.StatusCode != 500 || a.calls.Load()+b.calls.Load() != 3 || a.calls.Load() == 0 || b.calls.Load() == 0 {
			t.Fatalf("GET: %d after %d and %d calls", resp.StatusCode, a.calls.Load(), b.calls.Load())
		}
	})
	t.Run("an escaped slash stays escaped through strip_prefix", func(t *testing.T) {
		req, _ := http.NewRequest("GET", srv.URL+"/api/files/a%2Fb", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if e := echo(string(body)); e.Path != "/files/a/b" || e.Raw != "/files/a%2Fb" {
			t.Fatalf("%+v", e)
		}
	})
	t.Run("dot segments are refused", func(t *testing.T) {
		for _, path := range []string{"/api/../admin", "/api/%2e%2e/admin", "/api/./x"} {
			req, _ := http.NewRequest("GET", srv.URL+"/", nil)
			req.URL.Opaque = path // sent as it is, not cleaned by the client
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Errorf("%s: %d", path, resp.StatusCode)
			}
		}
	})
	t.Run("a client's broken body is its own fault", func(t *testing.T) {
		for range 6 {
			conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.WriteString(conn, "POST /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nnot a chunk\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			conn.Close()
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 400 {
				t.Fatalf("a malformed chunked body: %d", resp.StatusCode)
			}
		}
		if resp, body := do("GET", "/api/x"); resp.StatusCode != 200 {
			t.Fatalf("after bad bodies the pool refuses: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("HEAD on a route that rewrites fields", func(t *testing.T) {
		if resp, _ := do("HEAD", "/items/42/a"); resp.StatusCode != 200 {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	t.Run("redirects", func(t *testing.T) {
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		req.URL.Opaque = "/go//evil.example/x"
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != 302 || strings.HasPrefix(loc, "//") {
			t.Fatalf("an open redirect: %d %q", resp.StatusCode, loc)
		}
		resp, _ = do("GET", "/old/intro?lang=en")
		if resp.StatusCode != 308 || resp.Header.Get("Location") != "/new/intro?lang=en" {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, _ = do("GET", "/secure/pay?card=1", "Host", "shop.example")
		if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://shop.example/secure/pay" {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		// A Host the route does not name is not where clients are sent.
		resp, _ = do("GET", "/secure/pay", "Host", "evil.example")
		if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://www.example/secure/pay" {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, _ = do("GET", "/secure/pay", "Host", "SHOP.example:8443")
		if resp.StatusCode != 302 || resp.Header.Get("Location") != "https://shop.example:8443/secure/pay" {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("the gateway's own routes come first", func(t *testing.T) {
		resp, body := do("GET", "/healthz")
		if resp.StatusCode != 200 || strings.Contains(body, "static") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if resp, _ := do("GET", "/nowhere"); resp.StatusCode != 404 {
			t.Fatalf("unmatched: %d", resp.StatusCode)
		}
	})
	t.Run("metrics name the route", func(t *testing.T) {
		if v := value(scrape(t, srv.URL), "switchyard_http_requests_total", map[string]string{"route": "route:api"}); v < 1 {
			t.Errorf("switchyard_http_requests_total{route=route:api} = %v", v)
		}
	})
}

// TestL7Streaming: 100 MB up and 100 MB down pass through a proxy route without
// the gateway holding them, and a WebSocket upgrade passes through.
func TestL7Streaming(t *testing.T) {
	cluster := startCluster(t, 1)
	up := startEcho(t, "up")
	cfg := demoConfig(t, cluster, func(c *config.Config) {
		c.Pools["echo"] = config.Pool{Options: lb.Options{Endpoints: []string{up.URL}, HealthCheck: lb.HealthCheck{Disabled: true}}}
		c.Routes = []config.Route{{Name: "all", Match: config.RouteMatch{PathPrefix: "/files"}, Proxy: &config.RouteProxy{Pool: "echo", StripPrefix: "/files"}}}
	})
	_, srv := serveRuntime(t, cfg)

	const size = 100 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, err := http.Post(srv.URL+"/files/upload", "application/octet-stream", &repeatReader{b: 'y', n: size})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e echoed
	if err := json.Unmarshal(body, &e); err != nil || e.Body != size {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get(fmt.Sprintf("%s/files/download?bytes=%d", srv.URL, size))
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != size {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
	runtime.ReadMemStats(&after)
	// Everything the process allocated meanwhile (client and upstream included):
	// a fraction of the 200 MB that went through.
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 40<<20 {
		t.Errorf("200 MB through the proxy allocated %d MB", grown>>20)
	}

	t.Run("websocket", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, _ = fmt.Fprintf(conn, "GET /files/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		_, _ = conn.Write([]byte("ping over the tunnel\n"))
		line, err := br.ReadString('\n')
		if err != nil || line != "PING OVER THE TUNNEL\n" {
			t.Fatalf("echo: %q %v", line, err)
		}
	})
}

// TestReloadRoutesUnderLoad: under concurrent load on L7 routes and GraphQL, a
// reload that changes pools and routes drops no request (requests under way finish
// on the configuration they started with), a bad reload changes nothing, and new
// requests follow the new routes.
func TestReloadRoutesUnderLoad(t *testing.T) {
	cluster := startCluster(t, 1)
	a, b := startEcho(t, "a"), startEcho(t, "b")
	configWith := func(edit func(*config.Config)) *config.Config {
		return demoConfig(t, cluster, func(c *config.Config) {
			c.Pools["echo"] = config.Pool{Options: lb.Options{Endpoints: []string{a.URL}, HealthCheck: lb.HealthCheck{Disabled: true}}}
			c.Routes = []config.Route{{Name: "svc", Match: config.RouteMatch{PathPrefix: "/svc"}, Proxy: &config.RouteProxy{Pool: "echo", StripPrefix: "/svc"}}}
			if edit != nil {
				edit(c)
			}
		})
	}
	rt, srv := serveRuntime(t, configWith(nil))

	var (
		wg       sync.WaitGroup
		stop     atomic.Bool
		requests atomic.Int64
		mu       sync.Mutex
		failures []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for w := range 6 {
		wg.Go(func() {
			for !stop.Load() {
				requests.Add(1)
				if w%2 == 0 {
					if status, body := get("/svc/x"); status != 200 {
						fail("route: %d %s", status, body)
					}
					continue
				}
				req, _ := http.NewRequest("POST", srv.URL+"/graphql", strings.NewReader(`{"query":"{ product(id:\"p1\"){ name } }"}`))
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					fail("graphql: %v", err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || strings.Contains(string(body), "errors") {
					fail("graphql: %d %s", resp.StatusCode, body)
				}
			}
		})
	}
	// Slow requests under way across the reload finish on the old route.
	slow := make(chan string, 4)
	for range 4 {
		wg.Go(func() {
			status, body := get("/svc/slow")
			if status != 200 {
				fail("slow: %d %s", status, body)
			}
			slow <- body
		})
	}
	waitUntil(t, func() bool { return a.slow.Load() == 4 })
	// The route moves to a new pool; a fixed response joins ahead of it.
	if err := rt.Reload(configWith(func(c *config.Config) {
		c.Pools["echo2"] = config.Pool{Options: lb.Options{Endpoints: []string{b.URL}, HealthCheck: lb.HealthCheck{Disabled: true}}}
		delete(c.Pools, "echo")
		c.Routes = []config.Route{
			{Name: "ping", Match: config.RouteMatch{Path: "/ping"}, Respond: &config.FixedResponse{Body: "pong"}},
			{Name: "svc", Match: config.RouteMatch{PathPrefix: "/svc"}, Proxy: &config.RouteProxy{Pool: "echo2", StripPrefix: "/svc"}},
		}
	})); err != nil {
		t.Fatal(err)
	}
	settle := func(more int64) { // until more requests than now have started
		n := requests.Load() + more
		waitUntil(t, func() bool { return requests.Load() >= n })
	}
	settle(30)
	// A bad one: refused, nothing changes.
	bad := configWith(nil)
	bad.Routes[0].Proxy.Pool = "gone"
	if err := rt.Reload(bad); err == nil {
		t.Fatal("a route to a missing pool was swapped in")
	}
	settle(30)
	stop.Store(true)
	wg.Wait()
	close(slow)
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed across reloads; first: %s", len(failures), requests.Load(), failures[0])
	}
	for body := range slow {
		if body != "a" {
			t.Errorf("a request under way during the reload was answered by %q, want the old route's a", body)
		}
	}
	if status, body := get("/ping"); status != 200 || body != "pong" {
		t.Errorf("the new fixed route: %d %s", status, body)
	}
	if _, body := get("/svc/x"); !strings.Contains(body, `"upstream":"b"`) {
		t.Errorf("after the reload the route went to %s", body)
	}
}

// TestUpstreamHeaders: a pool's request_headers and forward_claims reach the
// GraphQL resolvers' calls to it, with the caller's subject; not for anonymous
// callers, whose copies of the header are never passed on.
func TestUpstreamHeaders(t *testing.T) {
	cluster := startCluster(t, 1)
	var mu sync.Mutex
	var seen []http.Header
	users := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"u1","name":"Ada Lovelace","email":"ada@example.com","tier":"GOLD"}`)
	}))
	defer users.Close()
	cfg := demoConfig(t, cluster, func(c *config.Config) {
		c.Pools["users"] = config.Pool{Options: lb.Options{
			Endpoints:   []string{users.URL},
			HealthCheck: lb.HealthCheck{Disabled: true},
		},
			RequestHeaders: map[string]string{"X-Tenant": "shop"},
			ForwardClaims:  map[string]string{"sub": "X-User-Id"},
		}
		c.Auth.APIKeys = []config.APIKey{{Name: "app", SHA256: keyHash("secret-app"), Subject: "u1"}}
	})
	_, srv := serveRuntime(t, cfg)
	query := func(key string) {
		req, _ := http.NewRequest("POST", srv.URL+"/graphql", strings.NewReader(`{"query":"{ user(id:\"u1\"){ name } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-User-Id", "forged")
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "Ada Lovelace") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	query("secret-app")
	query("")
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 {
		t.Fatalf("%d calls to users", len(seen))
	}
	if h := seen[0]; h.Get("X-Tenant") != "shop" || h.Get("X-User-Id") != "u1" {
		t.Errorf("authenticated: %v", h)
	}
	if h := seen[1]; h.Get("X-Tenant") != "shop" || h.Get("X-User-Id") != "" {
		t.Errorf("anonymous: %v", h)
	}
}

// TestL7RouteRateLimits: an L7 route is limited by its own per-route bucket
// ("route:NAME") and by the caller's, as the GraphQL routes are.
func TestL7RouteRateLimits(t *testing.T) {
	cluster := startCluster(t, 1)
	up := startEcho(t, "up")
	cfg := demoConfig(t, cluster, func(c *config.Config) {
		c.Pools["echo"] = config.Pool{Options: lb.Options{Endpoints: []string{up.URL}, HealthCheck: lb.HealthCheck{Disabled: true}}}
		c.Routes = []config.Route{
			{Name: "svc", Match: config.RouteMatch{PathPrefix: "/svc"}, Proxy: &config.RouteProxy{Pool: "echo"}},
			{Name: "ping", Match: config.RouteMatch{PathPrefix: "/ping"}, Respond: &config.FixedResponse{Body: "pong"}},
		}
		c.RateLimits = config.RateLimits{
			PerCaller: &config.Rate{PerSecond: 0.001, Burst: 5},
			PerRoute:  map[string]config.Rate{"route:svc": {PerSecond: 0.001, Burst: 2}},
		}
	})
	rt, srv := serveRuntime(t, cfg)
	statuses := func(path string, n int) []int {
		var out []int
		for range n {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			out = append(out, resp.StatusCode)
		}
		return out
	}
	if got := fmt.Sprint(statuses("/svc/x", 3)); got != "[200 200 429]" {
		t.Fatalf("the route's burst of 2: %s", got)
	}
	// A reload that keeps the limits keeps the route's spent bucket.
	if err := rt.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(statuses("/svc/x", 1)); got != "[429]" {
		t.Fatalf("after a reload the route's bucket is fresh: %s", got)
	}
	// The caller spent 2 of its 5 above (the refusals took nothing): 3 more pass.
	if got := fmt.Sprint(statuses("/ping", 4)); got != "[200 200 200 429]" {
		t.Fatalf("the caller's burst of 5 across routes: %s", got)
	}
	bad := demoConfig(t, cluster, nil)
	// The configuration's checks refuse it already; the gateway's own check holds
	// for a configuration made in code.
	bad.RateLimits.PerRoute = map[string]config.Rate{"route:nope": {PerSecond: 1, Burst: 1}}
	if _, err := gateway.NewRuntime(bad, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a limit for an L7 route that does not exist was accepted")
	}
}

// TestL7AccessLog: an L7 request's access-log line names its route, its caller and
// its upstream attempts.
func TestL7AccessLog(t *testing.T) {
	cluster := startCluster(t, 1)
	up := startEcho(t, "up")
	cfg := demoConfig(t, cluster, func(c *config.Config) {
		c.Pools["echo"] = config.Pool{Options: lb.Options{Endpoints: []string{up.URL}, HealthCheck: lb.HealthCheck{Disabled: true}}}
		c.Auth.APIKeys = []config.APIKey{{Name: "app", SHA256: keyHash("secret-app"), Subject: "u7"}}
		c.Routes = []config.Route{{Name: "svc", Match: config.RouteMatch{PathPrefix: "/svc"}, Auth: &config.Requirement{Authenticated: true},
			Proxy: &config.RouteProxy{Pool: "echo"}}}
	})
	log := &syncBuffer{}
	rt, err := gateway.NewRuntime(cfg, slog.New(slog.NewJSONHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	srv := httptest.NewServer(rt.Handler())
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("GET", srv.URL+"/svc/x", nil)
	req.Header.Set("X-API-Key", "secret-app")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var line struct {
		Route     string `json:"route"`
		Principal string `json:"principal"`
		Calls     int    `json:"upstream_calls"`
		Status    int    `json:"status"`
	}
	for l := range strings.SplitSeq(strings.TrimSpace(log.String()), "\n") {
		if strings.Contains(l, `"msg":"access"`) {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line.Route != "svc" || line.Principal != "u7" || line.Calls != 1 || line.Status != 200 {
		t.Fatalf("access log: %+v\n%s", line, log.String())
	}
	if strings.Contains(log.String(), "secret-app") {
		t.Fatal("the API key is in the log")
	}
}

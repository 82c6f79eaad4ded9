package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchyard/switchyard/demo"
)

// start runs the gateway with args until the test ends and returns its base URL.
func start(t *testing.T, args ...string) string {
	t.Helper()
	return startLogging(t, io.Discard, args...)
}

// startLogging is start with the gateway's log written to stderr.
func startLogging(t *testing.T, stderr io.Writer, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append(args, "-listen", "127.0.0.1:0", "-log-level", "error"), pw, stderr)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "GraphQL endpoint: "); ok {
			go io.Copy(io.Discard, pr)
			return strings.TrimSuffix(rest, "/graphql")
		}
	}
	t.Fatal("the gateway never printed its endpoint")
	return ""
}

func TestDemoServesAQuery(t *testing.T) {
	base := start(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("never ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Post(base+"/graphql", "application/json",
		strings.NewReader(`{"query":"{ user(id:\"u1\"){ name orders(first:1){ items{ product{ name } } } } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"Ada Lovelace"`) || strings.Contains(string(body), "errors") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	for _, path := range []string{"/playground", "/healthz"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
}

func TestBadConfigIsRefusedWithFileLineAndKey(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "gw.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:0\npools:\n  users:\n    endpoints: [http://127.0.0.1:1]\n    helth_check: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"-config", file}, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{file + ":5: pools.users.helth_check: unknown key", `pool "orders" is missing`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestGracefulShutdownUnderLoad(t *testing.T) {
	cluster, err := demo.StartCluster(demo.NewDataset(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	cluster.SetFault(demo.Users, demo.Fault{Delay: 300 * time.Millisecond})
	var b strings.Builder
	b.WriteString("listen: 127.0.0.1:0\nshutdown_delay: 200ms\nshutdown_timeout: 5s\npools:\n")
	for _, svc := range demo.Services {
		fmt.Fprintf(&b, "  %s: {endpoints: [%s]}\n", svc, cluster.URLs(svc)[0])
	}
	file := filepath.Join(t.TempDir(), "gw.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-config", file, "-log-level", "error"}, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var base string
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "GraphQL endpoint: "); ok {
			base = strings.TrimSuffix(rest, "/graphql")
			break
		}
	}
	go io.Copy(io.Discard, pr)

	query := func() (int, string, error) {
		resp, err := http.Post(base+"/graphql", "application/json", strings.NewReader(`{"query":"{ user(id:\"u1\"){ name } }"}`))
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), nil
	}
	type result struct {
		status int
		body   string
		err    error
	}
	inflight := make(chan result, 1)
	go func() {
		s, b, err := query()
		inflight <- result{s, b, err}
	}()
	users := cluster.Instances(demo.Users)[0]
	for deadline := time.Now().Add(5 * time.Second); users.Calls() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the query never reached the users service")
		}
	}
	cancel() // SIGTERM, with the query under way

	// Readiness turns false at once, while the listener still serves.
	deadline := time.Now().Add(150 * time.Millisecond)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 503 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("readiness did not turn false first")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r := <-inflight
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, "Ada Lovelace") {
		t.Fatalf("the in-flight request did not complete: %d %q %v", r.status, r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, _, err := query(); err == nil {
		t.Fatal("the listener still accepts after shutdown")
	}
}

func TestVersionAndCheck(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"version"}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "switchyard gateway") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"check", "-config", "../../gateway.example.yaml"}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "ok (4 pools)") {
		t.Fatalf("check: %v %q", err, out.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("pools:\n  users: {endpoints: [htp://x]}\n"), 0o644)
	err := run(context.Background(), []string{"check", "-config", bad}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), bad+":2: pools.users.endpoints[0]") {
		t.Fatalf("check of a bad file: %v", err)
	}
	// A route only the built gateway knows is wrong: still with file, line and key.
	os.WriteFile(bad, []byte("pools:\n  users: {endpoints: [http://127.0.0.1:1]}\n  orders: {endpoints: [http://127.0.0.1:2]}\n"+
		"  catalog: {endpoints: [http://127.0.0.1:3]}\n  reviews: {endpoints: [http://127.0.0.1:4]}\n"+
		"auth:\n  routes:\n    /rest/v2/nope: {authenticated: true}\n"), 0o644)
	err = run(context.Background(), []string{"check", "-config", bad}, io.Discard, io.Discard)
	if want := fmt.Sprintf("%s:%d: auth.routes./rest/v2/nope: no route", bad, 8); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("check of an unknown REST route: %v, want %s", err, want)
	}
}

// Help, however asked for, prints the commands and flags to stdout and is no error
// (the process exits 0); an unknown command or a stray argument is one, and starts
// nothing.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"-help"}, {"-config", "x.yaml", "-h"}, {"check", "-h"}} {
		var out, errOut strings.Builder
		if err := run(context.Background(), args, &out, &errOut); err != nil {
			t.Errorf("%q: %v", args, err)
		}
		for _, want := range []string{"gateway check -config FILE", "gateway version", "-config file", "-watch", "-listen address"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%q: the usage lacks %q:\n%s", args, want, out.String())
			}
		}
		if errOut.Len() > 0 {
			t.Errorf("%q wrote to stderr: %s", args, errOut.String())
		}
	}
	for _, args := range [][]string{{"hlep"}, {"-config", "x.yaml", "extra"}, {"-nope"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestSIGHUPReloadsTheFile(t *testing.T) {
	cluster, err := demo.StartCluster(demo.NewDataset(), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	users := cluster.Instances(demo.Users)
	file := filepath.Join(t.TempDir(), "gw.yaml")
	write := func(usersURL, extra string) {
		var b strings.Builder
		b.WriteString("listen: 127.0.0.1:0\n" + extra + "pools:\n")
		for _, svc := range demo.Services {
			u := cluster.URLs(svc)[0]
			if svc == demo.Users {
				u = usersURL
			}
			fmt.Fprintf(&b, "  %s: {endpoints: [%s]}\n", svc, u)
		}
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(users[0].URL(), "")
	var log syncBuffer
	base := startLogging(t, &log, "-config", file, "-watch", "50ms")
	query := func() {
		resp, err := http.Post(base+"/graphql", "application/json", strings.NewReader(`{"query":"{ user(id:\"u1\"){ name } }"}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || strings.Contains(string(body), "errors") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	query()
	if users[0].Calls() == 0 {
		t.Fatal("the first configuration is not the one serving")
	}

	// A bad file: refused, the running configuration stays.
	write(users[1].URL(), "nonsense_key: 1\n")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(log.String(), "reload refused"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the bad file was never refused")
		}
	}
	users[0].ResetCounters()
	query()
	if users[0].Calls() != 1 {
		t.Fatal("a bad file changed the running configuration")
	}

	// A good one: swapped in, by the signal and by the watch on the file alike.
	write(users[1].URL(), "")
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for users[1].Calls() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("SIGHUP did not reload the file")
		}
		query()
		time.Sleep(10 * time.Millisecond)
	}

	// The watch alone: the file changes, no signal. Whether or not the watch saw
	// the last change yet, this one differs from what it saw.
	users[0].ResetCounters()
	write(users[0].URL(), "shutdown_timeout: 9s\n")
	deadline = time.Now().Add(5 * time.Second)
	for users[0].Calls() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("-watch did not reload the changed file")
		}
		query()
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The listener's timeouts come from the configuration: a client that does not
// finish its request's head in timeouts.read_header loses its connection; a body
// is bounded per wait (timeouts.body_read), so an upload that keeps coming may
// take longer than that, and one that stalls ends.
func TestListenerTimeouts(t *testing.T) {
	cluster, err := demo.StartCluster(demo.NewDataset(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	upload := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, n)
	}))
	defer upload.Close()
	var cfg strings.Builder
	cfg.WriteString("timeouts: {read_header: 300ms, body_read: 300ms}\npools:\n")
	for _, svc := range demo.Services {
		fmt.Fprintf(&cfg, "  %s: {endpoints: [%s]}\n", svc, cluster.URLs(svc)[0])
	}
	fmt.Fprintf(&cfg, "  uploads: {endpoints: [%s]}\nroutes:\n  - name: up\n    match: {path: /up}\n    proxy: {pool: uploads}\n", upload.URL)
	file := filepath.Join(t.TempDir(), "gw.yaml")
	os.WriteFile(file, []byte(cfg.String()), 0o644)
	addr := strings.TrimPrefix(start(t, "-config", file), "http://")

	// closedWithin reports whether the server closes c within d.
	closedWithin := func(c net.Conn, d time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(d))
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
	t.Run("a slow head", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: gw\r\n") // and never the blank line
		if !closedWithin(c, 3*time.Second) {
			t.Error("a client that never finished its head kept its connection")
		}
	})
	send := func(chunks int, pause time.Duration, stallAfter int) (net.Conn, string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST /up HTTP/1.1\r\nHost: gw\r\nContent-Length: %d\r\n\r\n", chunks*1024)
		for i := range chunks {
			if i == stallAfter {
				return c, ""
			}
			c.Write(bytes.Repeat([]byte("x"), 1024))
			time.Sleep(pause)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		return c, fmt.Sprint(resp.StatusCode, " ", string(body))
	}
	t.Run("an upload that keeps coming", func(t *testing.T) {
		c, got := send(8, 100*time.Millisecond, -1) // 800 ms in all, 100 ms between reads
		defer c.Close()
		if got != "200 8192" {
			t.Errorf("answer %q, want 200 8192", got)
		}
	})
	t.Run("an upload that stalls", func(t *testing.T) {
		c, _ := send(8, 0, 2)
		defer c.Close()
		if !closedWithin(c, 3*time.Second) {
			t.Error("a stalled body kept its connection")
		}
	})
}

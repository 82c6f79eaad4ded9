package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{
			"-users", "127.0.0.1:0,127.0.0.1:0",
			"-orders", "127.0.0.1:0",
			"-catalog", "127.0.0.1:0",
			"-reviews", "127.0.0.1:0",
			"-delay", "1ms",
			"-stats", "127.0.0.1:0",
		}, pw)
		pw.Close()
	}()

	// Read the 5 instance lines and the stats line, then keep draining.
	urls := map[string][]string{}
	sc := bufio.NewScanner(pr)
	for len(urls["users"])+len(urls["orders"])+len(urls["catalog"])+len(urls["reviews"])+len(urls["stats"]) < 6 {
		if !sc.Scan() {
			t.Fatalf("output ended early: %v; run: %v", sc.Err(), <-done)
		}
		f := strings.Fields(sc.Text())
		if len(f) != 2 || !strings.HasPrefix(f[1], "http://127.0.0.1:") {
			t.Fatalf("bad line %q", sc.Text())
		}
		urls[f[0]] = append(urls[f[0]], f[1])
	}
	go io.Copy(io.Discard, pr)

	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	for _, u := range urls["users"] {
		if code, body := get(u + "/users/u1"); code != 200 || !strings.Contains(body, "Ada Lovelace") {
			t.Errorf("%s: %d %s", u, code, body)
		}
	}
	for svc, path := range map[string]string{"orders": "/orders/o1", "catalog": "/products/p1", "reviews": "/reviews?productId=p1"} {
		if code, _ := get(urls[svc][0] + path); code != 200 {
			t.Errorf("%s: %d", svc, code)
		}
		if code, _ := get(urls[svc][0] + "/healthz"); code != 200 {
			t.Errorf("%s health: %d", svc, code)
		}
	}

	stats := urls["stats"][0]
	code, body := get(stats)
	var counts map[string]int64
	if err := json.Unmarshal([]byte(body), &counts); code != 200 || err != nil {
		t.Fatalf("stats: %d %s %v", code, body, err)
	}
	want := map[string]int64{"users": 2, "orders": 1, "catalog": 1, "reviews": 1}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("stats %s = %d, want %d (%s)", k, counts[k], v, body)
		}
	}
	resp, err := c.Post(strings.TrimSuffix(stats, "/stats")+"/stats/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("reset: %d", resp.StatusCode)
	}
	if _, body := get(stats); body != `{"users":0,"orders":0,"catalog":0,"reviews":0}` {
		t.Errorf("after reset: %s", body)
	}

	faultSwitches(t, c, strings.TrimSuffix(stats, "/stats"), urls["users"])

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	if _, err := c.Get(urls["users"][0] + "/healthz"); err == nil {
		t.Error("users still serving after shutdown")
	}
}

func TestRunErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"bad flag", []string{"-nope"}},
		{"extra argument", []string{"extra"}},
		{"negative delay", []string{"-delay", "-1s"}},
		{"bad address", []string{"-users", "not an address", "-orders", "", "-catalog", "", "-reviews", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := run(context.Background(), tc.args, io.Discard); err == nil {
				t.Error("no error")
			}
		})
	}
}

// faultSwitches turns faults of the users instances on and off through the control
// listener at base, and checks that each instance answers as its fault says.
func faultSwitches(t *testing.T, c *http.Client, base string, users []string) {
	t.Helper()
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status := func(url string, timeout time.Duration) int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := c.Do(req)
		if err != nil {
			return 0 // no answer in time
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	if code, body := call(http.MethodPut, "/faults/users/1", `{"status":500}`); code != 200 {
		t.Fatalf("PUT fault: %d %s", code, body)
	}
	if got := status(users[0]+"/users/u1", 5*time.Second); got != 500 {
		t.Errorf("users 1 with status 500 injected answered %d", got)
	}
	if got := status(users[1]+"/users/u1", 5*time.Second); got != 200 {
		t.Errorf("users 2, without a fault, answered %d", got)
	}
	if code, _ := call(http.MethodPut, "/faults/users/2", `{"hang":true,"fail_health":true}`); code != 200 {
		t.Fatal("PUT hang")
	}
	if got := status(users[1]+"/users/u1", 200*time.Millisecond); got != 0 {
		t.Errorf("a hung instance answered %d", got)
	}
	if got := status(users[1]+"/healthz", 5*time.Second); got != 503 {
		t.Errorf("fail_health: /healthz answered %d", got)
	}
	code, body := call(http.MethodGet, "/faults", "")
	var list []struct {
		Service  string
		Instance int
		Fault    map[string]any
	}
	if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil || len(list) != 5 {
		t.Fatalf("GET /faults: %d %s %v", code, body, err)
	}
	if list[1].Service != "users" || list[1].Instance != 2 || list[1].Fault["hang"] != true || list[1].Fault["delay"] != "1ms" {
		t.Errorf("GET /faults shows %+v for users 2", list[1])
	}
	if code, _ := call(http.MethodDelete, "/faults/users/all", ""); code != 200 {
		t.Fatal("DELETE")
	}
	for _, u := range users {
		if got := status(u+"/users/u1", 5*time.Second); got != 200 {
			t.Errorf("%s after recovery answered %d", u, got)
		}
	}
	for path, body := range map[string]string{"/faults/users/3": `{"status":500}`, "/faults/nope/1": `{"status":500}`} {
		if code, _ := call(http.MethodPut, path, body); code != 404 {
			t.Errorf("PUT %s: %d, want 404", path, code)
		}
	}
	for _, body := range []string{`{"status":999}`, `{"delay":"soon"}`, `{"stauts":500}`} {
		if code, _ := call(http.MethodPut, "/faults/users/1", body); code != 400 {
			t.Errorf("PUT %s: %d, want 400", body, code)
		}
	}
}

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

package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// start runs the gateway with args until the test ends and returns its base URL.
func start(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append(args, "-listen", "127.0.0.1:0", "-log-level", "error"), pw, io.Discard)
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

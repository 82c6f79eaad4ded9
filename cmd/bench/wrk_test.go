package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/switchyard/switchyard/config"
)

// sampleWrkOutput is wrk's standard output with the done() hook's line.
const sampleWrkOutput = `Running 10s test @ http://127.0.0.1:18080/graphql
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.21ms    1.02ms  31.07ms   90.12%
    Req/Sec     7.63k   412.20     8.41k    71.00%
  151842 requests in 10.00s, 38.52MB read
  Non-2xx or 3xx responses: 3
Requests/sec:  15180.02
Transfer/sec:      3.85MB
SWITCHYARD_WRK requests=151842 duration_us=10002871 bytes=40390172 err_connect=0 err_read=1 err_write=0 err_status=3 err_timeout=2 p50_us=4102.0 p90_us=5210.0 p99_us=8007.0 max_us=31070.0 mean_us=4210.5
`

func TestParseWrkOutput(t *testing.T) {
	r, err := parseWrkOutput(sampleWrkOutput)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{
		Requests: 151842, DurationS: 10.002871, Bytes: 40390172,
		ErrRead: 1, ErrStatus: 3, ErrTimeout: 2,
		P50us: 4102, P90us: 5210, P99us: 8007, MaxUs: 31070, MeanUs: 4210.5,
	}
	want.Rate = r.Rate // checked below
	if r != want {
		t.Errorf("got  %+v\nwant %+v", r, want)
	}
	if got := r.Rate; got < 15179 || got > 15180 {
		t.Errorf("rate %v, want 151842/10.002871", got)
	}
	if r.Errors() != 6 {
		t.Errorf("Errors() = %d, want 6", r.Errors())
	}
	if s := r.ErrorSummary(); s != "3 non-2xx/3xx, 1 read, 2 timeout" {
		t.Errorf("ErrorSummary() = %q", s)
	}
}

func TestParseWrkOutputErrors(t *testing.T) {
	for name, out := range map[string]string{
		"no line":       "Running 10s test @ http://x\nRequests/sec: 1\n",
		"missing field": "SWITCHYARD_WRK requests=10 duration_us=1000000\n",
		"bad number":    strings.Replace(sampleWrkOutput, "p99_us=8007.0", "p99_us=nan?", 1),
		"bad field":     strings.Replace(sampleWrkOutput, "bytes=40390172", "bytes", 1),
		"two lines":     sampleWrkOutput + sampleWrkOutput,
		"zero duration": strings.Replace(sampleWrkOutput, "duration_us=10002871", "duration_us=0", 1),
	} {
		if _, err := parseWrkOutput(out); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestLuaString(t *testing.T) {
	for in, want := range map[string]string{
		`POST`:               `"POST"`,
		`{"q":"a\"b"}`:       `"{\"q\":\"a\\\"b\"}"`,
		"tab\there\nnl ]] x": `"tab\009here\010nl ]] x"`,
		"é":                  `"\195\169"`,
	} {
		if got := luaString(in); got != want {
			t.Errorf("luaString(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestWrkScript runs wrk, when it is installed, with a generated script against a
// test server: the script must send the body and header, and its done() hook must
// print a line parseWrkOutput accepts.
func TestWrkScript(t *testing.T) {
	if testing.Short() {
		t.Skip("runs wrk for a second")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed")
	}
	var ok, bad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method == "POST" && string(body) == w1Body && r.Header.Get("Content-Type") == "application/json" {
			ok.Add(1)
			_, _ = io.WriteString(w, `{"data":{}}`)
			return
		}
		bad.Add(1)
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer srv.Close()
	script := filepath.Join(t.TempDir(), "s.lua")
	if err := os.WriteFile(script, []byte(wrkScript("POST", w1Body)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(context.Background(), "wrk", "-t1", "-c2", "-d1s", "-s", script, srv.URL).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	r, err := parseWrkOutput(string(out))
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests == 0 || r.Errors() != 0 || bad.Load() != 0 || ok.Load() < r.Requests {
		t.Errorf("requests %d, errors %d, server saw %d good and %d bad\n%s", r.Requests, r.Errors(), ok.Load(), bad.Load(), out)
	}
	if r.P50us <= 0 || r.P99us < r.P50us || r.DurationS < 0.9 || r.DurationS > 2 {
		t.Errorf("implausible figures %+v", r)
	}
}

// TestGatewayYAML: the gateway's configuration with -gateway-yaml appended is a
// valid configuration, with the variant in effect.
func TestGatewayYAML(t *testing.T) {
	o, err := parseFlags([]string{"-gateway-yaml", "metrics: {enabled: false}"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("gateway.yaml", []byte(gatewayConfig(gatewayAddr)+o.GatewayYAML+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if *cfg.Metrics.Enabled {
		t.Error("metrics still on")
	}
}

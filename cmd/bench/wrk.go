package main

// Driving wrk: the Lua script that sets the request and reports the figures, and the
// parsing of that report.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// wrkMarker starts the one line the Lua done() hook prints.
const wrkMarker = "SWITCHYARD_WRK"

// wrkDoneLua is the done() hook: one line of key=value pairs. Latencies are in
// microseconds, as wrk keeps them; summary.errors.status counts answers with a status
// above 399 (wrk's "Non-2xx or 3xx responses").
const wrkDoneLua = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "` + wrkMarker + ` requests=%d duration_us=%d bytes=%d err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f mean_us=%.1f\n",
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
`

// wrkScript is the Lua script for a request with method and body (none if empty);
// a body is sent as application/json.
func wrkScript(method, body string) string {
	var b strings.Builder
	b.WriteString("-- written by switchyard cmd/bench\n")
	fmt.Fprintf(&b, "wrk.method = %s\n", luaString(method))
	if body != "" {
		fmt.Fprintf(&b, "wrk.body = %s\n", luaString(body))
		b.WriteString(`wrk.headers["Content-Type"] = "application/json"` + "\n")
	}
	b.WriteString(wrkDoneLua)
	return b.String()
}

// luaString quotes s as a Lua 5.1 string literal.
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "\\%03d", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// wrkResult is one wrk run's figures.
type wrkResult struct {
	Connections int     `json:"connections"`
	Threads     int     `json:"threads"`
	Requests    int64   `json:"requests"`
	DurationS   float64 `json:"duration_s"`
	Rate        float64 `json:"requests_per_s"`
	Bytes       int64   `json:"bytes"`
	// The errors as wrk counts them: socket errors, and answers with a status above
	// 399 (ErrStatus).
	ErrConnect int64 `json:"err_connect"`
	ErrRead    int64 `json:"err_read"`
	ErrWrite   int64 `json:"err_write"`
	ErrStatus  int64 `json:"err_status"`
	ErrTimeout int64 `json:"err_timeout"`
	// Latencies in microseconds.
	P50us  float64 `json:"p50_us"`
	P90us  float64 `json:"p90_us"`
	P99us  float64 `json:"p99_us"`
	MaxUs  float64 `json:"max_us"`
	MeanUs float64 `json:"mean_us"`
}

// Errors is the number of failed requests of every kind.
func (r wrkResult) Errors() int64 {
	return r.ErrConnect + r.ErrRead + r.ErrWrite + r.ErrStatus + r.ErrTimeout
}

// ErrorSummary says which errors there were, "" if none.
func (r wrkResult) ErrorSummary() string {
	var parts []string
	for _, e := range []struct {
		name string
		n    int64
	}{{"non-2xx/3xx", r.ErrStatus}, {"connect", r.ErrConnect}, {"read", r.ErrRead},
		{"write", r.ErrWrite}, {"timeout", r.ErrTimeout}} {
		if e.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", e.n, e.name))
		}
	}
	return strings.Join(parts, ", ")
}

// parseWrkOutput finds the done() hook's line in wrk's standard output and parses it.
func parseWrkOutput(out string) (wrkResult, error) {
	var (
		r     wrkResult
		found bool
	)
	for line := range strings.Lines(out) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), wrkMarker+" ")
		if !ok {
			continue
		}
		if found {
			return wrkResult{}, fmt.Errorf("wrk output has two %s lines", wrkMarker)
		}
		found = true
		vals := map[string]float64{}
		for f := range strings.FieldsSeq(rest) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				return wrkResult{}, fmt.Errorf("wrk output: bad field %q", f)
			}
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return wrkResult{}, fmt.Errorf("wrk output: field %s: %v", k, err)
			}
			vals[k] = x
		}
		for _, f := range []struct {
			key   string
			count *int64
			value *float64
		}{
			{key: "requests", count: &r.Requests},
			{key: "bytes", count: &r.Bytes},
			{key: "err_connect", count: &r.ErrConnect},
			{key: "err_read", count: &r.ErrRead},
			{key: "err_write", count: &r.ErrWrite},
			{key: "err_status", count: &r.ErrStatus},
			{key: "err_timeout", count: &r.ErrTimeout},
			{key: "duration_us", value: &r.DurationS},
			{key: "p50_us", value: &r.P50us},
			{key: "p90_us", value: &r.P90us},
			{key: "p99_us", value: &r.P99us},
			{key: "max_us", value: &r.MaxUs},
			{key: "mean_us", value: &r.MeanUs},
		} {
			x, ok := vals[f.key]
			if !ok {
				return wrkResult{}, fmt.Errorf("wrk output: no %s in %q", f.key, rest)
			}
			if f.count != nil {
				*f.count = int64(x)
			} else {
				*f.value = x
			}
		}
		r.DurationS /= 1e6
	}
	if !found {
		return wrkResult{}, fmt.Errorf("wrk output has no %s line (did the Lua done() hook run?)", wrkMarker)
	}
	if r.DurationS <= 0 {
		return wrkResult{}, fmt.Errorf("wrk output: duration %v", r.DurationS)
	}
	r.Rate = float64(r.Requests) / r.DurationS
	return r, nil
}

// wrkRun is one run of wrk.
type wrkRun struct {
	Script      string // path of the Lua script
	URL         string
	Threads     int
	Connections int
	Duration    time.Duration // whole seconds
}

// args is wrk's command line, run pinned to the load CPU by taskset.
func (w wrkRun) args() []string {
	return []string{"-c", loadCPU, "wrk",
		"-t", strconv.Itoa(w.Threads),
		"-c", strconv.Itoa(w.Connections),
		"-d", strconv.Itoa(int(w.Duration/time.Second)) + "s",
		"--timeout", "5s",
		"-s", w.Script,
		w.URL}
}

// run runs wrk to its end and returns its figures.
func (w wrkRun) run(ctx context.Context) (wrkResult, error) {
	cmd := exec.CommandContext(ctx, "taskset", w.args()...)
	inOwnGroup(cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return wrkResult{}, ctx.Err()
		}
		return wrkResult{}, fmt.Errorf("wrk %s: %v\n%s%s", strings.Join(w.args()[2:], " "), err, stdout.Bytes(), stderr.Bytes())
	}
	r, err := parseWrkOutput(stdout.String())
	if err != nil {
		return wrkResult{}, fmt.Errorf("%w\nwrk said:\n%s%s", err, stdout.Bytes(), stderr.Bytes())
	}
	r.Threads, r.Connections = w.Threads, w.Connections
	return r, nil
}

// checkWrk fails with a clear message when wrk is not installed, and returns its
// version line otherwise.
func checkWrk() (string, error) {
	path, err := exec.LookPath("wrk")
	if err != nil {
		return "", fmt.Errorf("wrk is not on PATH: install it first (Debian/Ubuntu: apt-get install -y wrk)")
	}
	out, _ := exec.Command(path, "-v").CombinedOutput() // wrk -v exits with status 1
	line, _, _ := strings.Cut(string(out), "\n")
	line, _, _ = strings.Cut(line, " Copyright")
	return strings.TrimSpace(line), nil
}

// writeFile writes data to path, readable only by its owner.
func writeFile(path, data string) error {
	return os.WriteFile(path, []byte(data), 0o600)
}

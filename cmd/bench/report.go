package main

// The results: the environment they were measured in, the figures of each case, the
// ratios between cases, printed as a table and optionally written as JSON.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// environment is what the figures depend on besides the code.
type environment struct {
	Time      time.Time `json:"time"`
	GoVersion string    `json:"go_version"` // of the toolchain that built the servers
	CPUModel  string    `json:"cpu_model"`
	CPUs      int       `json:"cpus"`
	Kernel    string    `json:"kernel"`
	Wrk       string    `json:"wrk"`
	Commit    string    `json:"commit,omitempty"`
	// The CPUs each process may run on, as the kernel reports them.
	UpstreamsCPUs    string            `json:"upstreams_cpus"`
	ServerCPUs       map[string]string `json:"server_cpus"`
	ServerGOMAXPROCS int               `json:"server_gomaxprocs"`
}

func gatherEnvironment(ctx context.Context, root, wrkVersion string) environment {
	env := environment{
		Time:             time.Now().UTC().Truncate(time.Second),
		GoVersion:        runtime.Version(),
		CPUModel:         "unknown",
		CPUs:             runtime.NumCPU(),
		Kernel:           "unknown",
		Wrk:              wrkVersion,
		ServerCPUs:       map[string]string{},
		ServerGOMAXPROCS: 1,
	}
	if out, err := exec.CommandContext(ctx, "go", "version").Output(); err == nil {
		env.GoVersion = strings.TrimSpace(strings.TrimPrefix(string(out), "go version "))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				env.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		env.Kernel = "Linux " + strings.TrimSpace(string(data))
	}
	git := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	if env.Commit = git("rev-parse", "--short", "HEAD"); env.Commit != "" && git("status", "--porcelain") != "" {
		env.Commit += " + uncommitted changes"
	}
	return env
}

// caseResult is the measurement of one case.
type caseResult struct {
	Name   string `json:"name"`
	Method string `json:"method"`
	URL    string `json:"url"`
	Body   string `json:"body,omitempty"`
	// Throughput is the run at -connections; Latency1 the run at one connection.
	Throughput wrkResult `json:"throughput"`
	Latency1   wrkResult `json:"latency_1conn"`
	// UpstreamCalls are demo-upstreams' counts during the throughput run, and
	// CallsPerRequest their sum divided by the requests wrk completed.
	UpstreamCalls   map[string]int64 `json:"upstream_calls"`
	CallsPerRequest float64          `json:"upstream_calls_per_request"`
	// ServerCPU is the CPU time the gateway or floor used during the throughput run
	// as a fraction of the run's wall time (1 = CPU 1 saturated), and
	// ServerCPUPerReqUs that time per request in microseconds; LoadCPUBusy is the
	// busy fraction of CPU 0 (wrk and demo-upstreams). Nil when not measured.
	ServerCPU         *float64 `json:"server_cpu,omitempty"`
	ServerCPUPerReqUs *float64 `json:"server_cpu_per_request_us,omitempty"`
	// ServerPeakRSSMiB is the server's peak resident memory (VmHWM) by the end of
	// the throughput run, since it started (cases on one server share it).
	ServerPeakRSSMiB *float64 `json:"server_peak_rss_mib,omitempty"`
	LoadCPUBusy      *float64 `json:"load_cpu_busy,omitempty"`
	// Profiled says a CPU profile was taken during the throughput run.
	Profiled     bool   `json:"profiled,omitempty"`
	SampleAnswer string `json:"sample_answer"`
}

// ratios compare the cases; each is nil when a case it needs was not run.
type ratios struct {
	W1OverFloor *float64 `json:"w1_rate_over_floor,omitempty"`
	W2OverFloor *float64 `json:"w2_rate_over_floor,omitempty"`
	// GatewayAddedP50ms is W1's p50 at one connection minus direct's, in ms.
	GatewayAddedP50ms *float64 `json:"gateway_added_p50_1conn_ms,omitempty"`
	// FloorAddedP50ms is the floor's p50 at one connection minus direct's, in ms.
	FloorAddedP50ms *float64 `json:"floor_added_p50_1conn_ms,omitempty"`
	// FloorMatchesW1 says whether the floor's answer equals the gateway's to W1.
	FloorMatchesW1 *bool `json:"floor_answer_matches_w1,omitempty"`
	// W3 against the pass-through floor: the rates' ratio, and the floor's server
	// CPU per request over the gateway's (above 1: the gateway is cheaper).
	W3OverFloor *float64 `json:"w3_rate_over_w3_floor,omitempty"`
	// The declared demo's rates over the compiled demo's.
	W1DeclaredOverCompiled *float64 `json:"w1_declared_rate_over_w1,omitempty"`
	W2DeclaredOverCompiled *float64 `json:"w2_declared_rate_over_w2,omitempty"`
	W3CPUPerReqVsFloor     *float64 `json:"w3_floor_cpu_per_request_over_w3,omitempty"`
}

// report is everything one run measured.
type report struct {
	Env     environment  `json:"environment"`
	Options options      `json:"options"`
	Cases   []caseResult `json:"cases"`
	Ratios  ratios       `json:"ratios"`
}

func (r *report) result(name string) *caseResult {
	for i := range r.Cases {
		if r.Cases[i].Name == name {
			return &r.Cases[i]
		}
	}
	return nil
}

// finish computes the ratios.
func (r *report) finish() {
	direct, floor, w1, w2 := r.result("direct"), r.result("floor"), r.result("w1"), r.result("w2")
	if floor != nil && floor.Throughput.Rate > 0 {
		if w1 != nil {
			r.Ratios.W1OverFloor = ptr(w1.Throughput.Rate / floor.Throughput.Rate)
		}
		if w2 != nil {
			r.Ratios.W2OverFloor = ptr(w2.Throughput.Rate / floor.Throughput.Rate)
		}
	}
	if direct != nil {
		if w1 != nil {
			r.Ratios.GatewayAddedP50ms = ptr((w1.Latency1.P50us - direct.Latency1.P50us) / 1000)
		}
		if floor != nil {
			r.Ratios.FloorAddedP50ms = ptr((floor.Latency1.P50us - direct.Latency1.P50us) / 1000)
		}
	}
	if w3, f := r.result("w3"), r.result("w3-floor"); w3 != nil && f != nil && f.Throughput.Rate > 0 {
		r.Ratios.W3OverFloor = ptr(w3.Throughput.Rate / f.Throughput.Rate)
		if w3.ServerCPUPerReqUs != nil && f.ServerCPUPerReqUs != nil && *w3.ServerCPUPerReqUs > 0 {
			r.Ratios.W3CPUPerReqVsFloor = ptr(*f.ServerCPUPerReqUs / *w3.ServerCPUPerReqUs)
		}
	}
	if d := r.result("w1-declared"); d != nil && w1 != nil && w1.Throughput.Rate > 0 {
		r.Ratios.W1DeclaredOverCompiled = ptr(d.Throughput.Rate / w1.Throughput.Rate)
	}
	if d := r.result("w2-declared"); d != nil && w2 != nil && w2.Throughput.Rate > 0 {
		r.Ratios.W2DeclaredOverCompiled = ptr(d.Throughput.Rate / w2.Throughput.Rate)
	}
	if floor != nil && w1 != nil {
		var a, b any
		if json.Unmarshal([]byte(floor.SampleAnswer), &a) == nil && json.Unmarshal([]byte(w1.SampleAnswer), &b) == nil {
			same := reflect.DeepEqual(a, b)
			r.Ratios.FloorMatchesW1 = &same
		}
	}
}

// totalErrors is the number of failed requests over every run.
func (r *report) totalErrors() int64 {
	var n int64
	for _, c := range r.Cases {
		n += c.Throughput.Errors() + c.Latency1.Errors()
	}
	return n
}

func ms(us float64) string { return fmt.Sprintf("%.3f", us/1000) }

// print writes the environment, the table and the ratios.
func (r *report) print(w io.Writer) {
	e, o := r.Env, r.Options
	fmt.Fprintf(w, "\nSwitchyard bench, %s\n\nEnvironment\n", e.Time.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  go\t%s\n", e.GoVersion)
	fmt.Fprintf(tw, "  cpu\t%s, %d logical CPUs\n", e.CPUModel, e.CPUs)
	fmt.Fprintf(tw, "  kernel\t%s\n", e.Kernel)
	fmt.Fprintf(tw, "  wrk\t%s\n", e.Wrk)
	if e.Commit != "" {
		fmt.Fprintf(tw, "  commit\t%s\n", e.Commit)
	}
	for _, kind := range []string{"gateway", "floor"} {
		if cpus, ok := e.ServerCPUs[kind]; ok {
			fmt.Fprintf(tw, "  %s\tCPU %s alone (taskset -c %s; Cpus_allowed_list %s), GOMAXPROCS=%d\n",
				kind, serverCPU, serverCPU, cpus, e.ServerGOMAXPROCS)
		}
	}
	fmt.Fprintf(tw, "  upstreams\tdemo-upstreams, 2 instances x 4 services, delay %v, CPU %s (Cpus_allowed_list %s)\n",
		o.Delay, loadCPU, e.UpstreamsCPUs)
	fmt.Fprintf(tw, "  load\twrk on CPU %s: throughput %v at %d connections, %d threads, after %v warm-up; latency %v at 1 connection\n",
		loadCPU, o.Duration, o.Connections, min(2, o.Connections), o.Warmup, o.LatencyDuration)
	tw.Flush()

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "case\treq/s\tp50 ms\tp99 ms\tp50@1conn ms\tupstream calls/req\terrors\t\tserver CPU\tserver CPU us/req\tpeak RSS MiB\tCPU %s busy\t\n", loadCPU)
	for _, c := range r.Cases {
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%.3f\t%d\t\t%s\t%s\t%s\t%s\t\n", c.Name, c.Throughput.Rate,
			ms(c.Throughput.P50us), ms(c.Throughput.P99us), ms(c.Latency1.P50us),
			c.CallsPerRequest, c.Throughput.Errors()+c.Latency1.Errors(),
			percent(c.ServerCPU), optional(c.ServerCPUPerReqUs, "%.1f"), optional(c.ServerPeakRSSMiB, "%.1f"), percent(c.LoadCPUBusy))
	}
	tw.Flush()
	fmt.Fprintf(w, "p50, p99, calls/req and CPU are of the throughput run at %d connections. Calls/req reads a\n"+
		"little high: the calls of the up to %d requests in flight when wrk stops are counted, not them.\n",
		o.Connections, o.Connections)

	r.Ratios.print(w)

	fmt.Fprintln(w, "\nUpstream calls during the throughput runs, and one answer of each case:")
	for _, c := range r.Cases {
		var calls []string
		for _, svc := range services {
			if n := c.UpstreamCalls[svc]; n > 0 {
				calls = append(calls, fmt.Sprintf("%s=%d", svc, n))
			}
		}
		fmt.Fprintf(w, "  %-6s %d requests; %s\n", c.Name, c.Throughput.Requests, strings.Join(calls, " "))
		fmt.Fprintf(w, "         %s\n", abbreviate(c.SampleAnswer, 160))
		if c.Profiled {
			fmt.Fprintf(w, "         (CPU profile taken during this throughput run: %s.%s; pprof costs the rate a few %%)\n", o.Profile, c.Name)
		}
		for _, run := range []struct {
			name string
			r    wrkResult
		}{{"throughput", c.Throughput}, {"latency", c.Latency1}} {
			if s := run.r.ErrorSummary(); s != "" {
				fmt.Fprintf(w, "         ERRORS in the %s run: %s\n", run.name, s)
			}
		}
	}
}

func percent(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", *v*100)
}

func optional(v *float64, format string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(format, *v)
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// writeJSON writes the report to file.
func (r *report) writeJSON(file string) error { return writeJSONFile(file, r) }

// writeJSONFile writes v as indented JSON to file.
func writeJSONFile(file string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(file, append(data, '\n'), 0o644)
}

// print writes the ratios that were computed, one per line.
func (rt ratios) print(w io.Writer) {
	if rt != (ratios{}) {
		fmt.Fprintln(w)
	}
	if rt.W1OverFloor != nil {
		fmt.Fprintf(w, "W1 rate / floor rate:                          %.3f\n", *rt.W1OverFloor)
	}
	if rt.W2OverFloor != nil {
		fmt.Fprintf(w, "W2 rate / floor rate:                          %.3f\n", *rt.W2OverFloor)
	}
	if rt.W3OverFloor != nil {
		fmt.Fprintf(w, "W3 rate / w3-floor rate:                       %.3f\n", *rt.W3OverFloor)
	}
	if rt.W3CPUPerReqVsFloor != nil {
		fmt.Fprintf(w, "w3-floor CPU per request / W3's:               %.3f\n", *rt.W3CPUPerReqVsFloor)
	}
	if rt.W1DeclaredOverCompiled != nil {
		fmt.Fprintf(w, "W1 declared rate / W1 rate:                    %.3f\n", *rt.W1DeclaredOverCompiled)
	}
	if rt.W2DeclaredOverCompiled != nil {
		fmt.Fprintf(w, "W2 declared rate / W2 rate:                    %.3f\n", *rt.W2DeclaredOverCompiled)
	}
	if rt.GatewayAddedP50ms != nil {
		fmt.Fprintf(w, "gateway added p50 at 1 connection (W1-direct): %.3f ms\n", *rt.GatewayAddedP50ms)
	}
	if rt.FloorAddedP50ms != nil {
		fmt.Fprintf(w, "floor added p50 at 1 connection (floor-direct): %.3f ms\n", *rt.FloorAddedP50ms)
	}
	if rt.FloorMatchesW1 != nil {
		fmt.Fprintf(w, "floor answer equals gateway W1 answer:         %v\n", *rt.FloorMatchesW1)
	}

}

package main

// The orchestration of one benchmark run: build, start the upstreams, then for each
// case start the server it needs, check one answer, warm up, measure, and count the
// upstream calls.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// bench is the state of one run: its temporary directory, binaries and servers.
type bench struct {
	opts  options
	log   io.Writer // progress, to stderr
	tmp   string
	root  string // the module's directory
	self  string // this binary, for the floor subcommand
	gwBin string // the gateway ensureServer starts
	// baseBin is the gateway built at -ab's revision, baseRev its short hash.
	baseBin, baseRev string
	upBin            string
	env              environment
	client           *http.Client // for checks, stats and the profile; not the load

	upstreams  *proc
	server     *proc // the gateway or the floor, on the server CPU
	serverKind server
}

// newBench checks the machine, builds the binaries and starts demo-upstreams.
func newBench(ctx context.Context, opts options, log io.Writer) (_ *bench, err error) {
	wrkVersion, err := checkWrk()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return nil, fmt.Errorf("taskset is not on PATH (Debian: package util-linux)")
	}
	if runtime.NumCPU() < 2 {
		return nil, fmt.Errorf("the bench pins the server to CPU 1 and the load to CPU 0: it needs 2 CPUs, this process may use %d", runtime.NumCPU())
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	addrs := []string{statsAddr, gatewayAddr, floorAddr, debugAddr, baseAddr, w3FloorAddr}
	for _, svc := range services {
		addrs = append(addrs, upstreamAddrs[svc]...)
	}
	if err := checkPortsFree(addrs); err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this binary (for the floor): %w", err)
	}

	b := &bench{opts: opts, log: log, self: self, root: root, client: &http.Client{Timeout: 30 * time.Second}}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if b.tmp, err = os.MkdirTemp("", "switchyard-bench-"); err != nil {
		return nil, err
	}
	b.env = gatherEnvironment(ctx, root, wrkVersion)

	fmt.Fprintf(log, "bench: building gateway and demo-upstreams in %s\n", b.tmp)
	start := time.Now()
	build := exec.CommandContext(ctx, "go", "build", "-o", b.tmp+string(filepath.Separator), "./cmd/gateway", "./cmd/demo-upstreams")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	fmt.Fprintf(log, "bench: built in %v\n", time.Since(start).Round(10*time.Millisecond))
	b.gwBin = filepath.Join(b.tmp, "gateway")
	b.upBin = filepath.Join(b.tmp, "demo-upstreams")
	if opts.AB != "" {
		if b.baseBin, b.baseRev, err = buildRevision(ctx, root, opts.AB, b.tmp, log); err != nil {
			return nil, err
		}
	}

	if err := b.startUpstreams(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run the bench from inside the switchyard module (go run ./cmd/bench)")
	}
	return filepath.Dir(gomod), nil
}

// close stops every server and removes the temporary directory.
func (b *bench) close() {
	b.server.stop()
	b.upstreams.stop()
	if b.tmp != "" {
		os.RemoveAll(b.tmp)
	}
}

// startUpstreams starts demo-upstreams on the load CPU and waits until every
// instance and the stats listener answer.
func (b *bench) startUpstreams(ctx context.Context) error {
	args := []string{b.upBin, "-stats", statsAddr, "-delay", b.opts.Delay.String()}
	for _, svc := range services {
		args = append(args, "-"+svc, strings.Join(upstreamAddrs[svc], ","))
	}
	p, err := startProc(ctx, "demo-upstreams", loadCPU, filepath.Join(b.tmp, "demo-upstreams.log"), nil, args...)
	if err != nil {
		return err
	}
	b.upstreams = p
	if err := p.waitReady(ctx, "http://"+statsAddr+"/stats", 15*time.Second); err != nil {
		return err
	}
	for _, svc := range services {
		for _, u := range upstreamURLs(svc) {
			if err := p.waitReady(ctx, u+"/healthz", 15*time.Second); err != nil {
				return err
			}
		}
	}
	b.env.UpstreamsCPUs = p.allowedCPUs()
	return nil
}

// ensureServer makes kind the one server running on the server CPU.
func (b *bench) ensureServer(ctx context.Context, kind server) error {
	if b.serverKind == kind && (b.server == nil || !b.server.exited()) {
		return nil
	}
	b.server.stop()
	b.server, b.serverKind = nil, noServer
	var (
		p        *proc
		err      error
		readyURL string
		env      = []string{"GOMAXPROCS=1"}
	)
	switch kind {
	case noServer:
		return nil
	case floorServer:
		maxIdle := max(256, b.opts.Connections)
		p, err = startProc(ctx, "floor", serverCPU, filepath.Join(b.tmp, "floor.log"), env,
			b.self, "floor", "-listen", floorAddr,
			"-users", strings.Join(upstreamURLs("users"), ","),
			"-orders", strings.Join(upstreamURLs("orders"), ","),
			"-catalog", strings.Join(upstreamURLs("catalog"), ","),
			"-max-idle-per-host", strconv.Itoa(maxIdle))
		readyURL = "http://" + floorAddr + "/healthz"
	case proxyFloorServer:
		p, err = startProc(ctx, "w3-floor", serverCPU, filepath.Join(b.tmp, "w3-floor.log"), env,
			b.self, "proxy-floor", "-listen", w3FloorAddr, "-upstreams", strings.Join(upstreamURLs("catalog"), ","),
			"-max-idle-per-host", strconv.Itoa(max(256, b.opts.Connections)))
		readyURL = "http://" + w3FloorAddr + "/healthz"
	case gatewayServer, declaredServer:
		yaml := b.opts.GatewayYAML
		if kind == declaredServer {
			yaml = declaredYAML(b.root) + yaml
		}
		if p, err = b.startGatewayWith(ctx, "gateway", b.gwBin, gatewayAddr, yaml, b.opts.Profile != ""); err != nil {
			return err
		}
		b.server, b.serverKind = p, kind
		b.env.ServerCPUs[string(kind)] = p.allowedCPUs()
		return nil
	}
	if err != nil {
		return err
	}
	b.server, b.serverKind = p, kind
	if err := p.waitReady(ctx, readyURL, 30*time.Second); err != nil {
		return err
	}
	b.env.ServerCPUs[string(kind)] = p.allowedCPUs()
	return nil
}

// startGateway starts the gateway binary bin on the server CPU, listening on addr,
// and waits until it is ready; name names its log file.
func (b *bench) startGateway(ctx context.Context, name, bin, addr string, debug bool) (*proc, error) {
	return b.startGatewayWith(ctx, name, bin, addr, b.opts.GatewayYAML, debug)
}

// declaredYAML is the configuration that serves the declared demo
// (schema/declared/storefront.graphql of the module at root) in place of the
// compiled one, with the same default fallback.
func declaredYAML(root string) string {
	return fmt.Sprintf("graphql:\n  schema: [%q]\n  fallbacks: {Product.reviews: []}\n",
		filepath.Join(root, "schema", "declared", "storefront.graphql"))
}

// startGatewayWith is startGateway with extra YAML appended to the configuration.
func (b *bench) startGatewayWith(ctx context.Context, name, bin, addr, extra string, debug bool) (*proc, error) {
	cfg := filepath.Join(b.tmp, name+".yaml")
	if err := writeFile(cfg, gatewayConfig(addr)+extra+"\n"); err != nil {
		return nil, err
	}
	args := []string{bin, "-config", cfg, "-log-level", "warn"}
	if debug {
		args = append(args, "-debug-listen", debugAddr)
	}
	p, err := startProc(ctx, name, serverCPU, filepath.Join(b.tmp, name+".log"), []string{"GOMAXPROCS=1"}, args...)
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx, "http://"+addr+"/readyz", 30*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// gatewayConfig is the gateway's configuration: listening on addr, every pool over
// both instances of its service, everything else at its defaults.
func gatewayConfig(addr string) string {
	var s strings.Builder
	fmt.Fprintf(&s, "# written by switchyard cmd/bench\nlisten: %s\npools:\n", addr)
	for _, svc := range services {
		fmt.Fprintf(&s, "  %s:\n    endpoints: [%s]\n    health_check: {interval: 2s}\n",
			svc, strings.Join(upstreamURLs(svc), ", "))
	}
	// W3's pass-through: the catalog's records on an L7 route.
	s.WriteString("routes:\n  - name: w3\n    match: {path_prefix: /products}\n    proxy: {pool: catalog}\n")
	return s.String()
}

// runAll runs the cases in order, adding each result to rep. It stops at the first
// case that cannot run.
func (b *bench) runAll(ctx context.Context, rep *report) error {
	for _, name := range b.opts.Cases {
		c, _ := caseByName(name)
		res, err := b.runCase(ctx, c)
		if err != nil {
			return fmt.Errorf("case %s: %w", name, err)
		}
		rep.Cases = append(rep.Cases, res)
	}
	b.server.stop()
	return nil
}

// runCase measures one case.
func (b *bench) runCase(ctx context.Context, c benchCase) (caseResult, error) {
	res := caseResult{Name: c.Name, Method: c.Method, URL: c.URL, Body: c.Body}
	if err := b.ensureServer(ctx, c.Server); err != nil {
		return res, err
	}
	sample, err := b.check(ctx, c)
	if err != nil {
		return res, err
	}
	res.SampleAnswer = sample

	script := filepath.Join(b.tmp, c.Name+".lua")
	if err := writeFile(script, wrkScript(c.Method, c.Body)); err != nil {
		return res, err
	}
	threads := min(2, b.opts.Connections)
	load := wrkRun{Script: script, URL: c.URL, Threads: threads, Connections: b.opts.Connections}

	if b.opts.Warmup > 0 {
		fmt.Fprintf(b.log, "bench: %-6s warm-up %v\n", c.Name, b.opts.Warmup)
		w := load
		w.Duration = b.opts.Warmup
		if _, err := w.run(ctx); err != nil {
			return res, err
		}
	}

	fmt.Fprintf(b.log, "bench: %-6s throughput %v at %d connections\n", c.Name, b.opts.Duration, b.opts.Connections)
	if err := b.resetStats(ctx); err != nil {
		return res, err
	}
	var profDone chan error
	if profiled(c.Name) && b.opts.Profile != "" {
		profDone = make(chan error, 1)
		go func() { profDone <- b.profile(ctx, c.Name, b.opts.Profile+"."+c.Name) }()
	}
	load.Duration = b.opts.Duration
	meter := startCPUMeter(b.server)
	if res.Throughput, err = load.run(ctx); err != nil {
		return res, err
	}
	serverCPU, elapsed, loadBusy := meter.stop()
	if serverCPU >= 0 {
		res.ServerCPU = ptr(serverCPU.Seconds() / elapsed.Seconds())
		if res.Throughput.Requests > 0 {
			res.ServerCPUPerReqUs = ptr(serverCPU.Seconds() * 1e6 / float64(res.Throughput.Requests))
		}
	}
	if loadBusy >= 0 {
		res.LoadCPUBusy = ptr(loadBusy)
	}
	if b.server != nil {
		if rss, err := processPeakRSS(b.server.cmd.Process.Pid); err == nil {
			res.ServerPeakRSSMiB = ptr(float64(rss) / (1 << 20))
		}
	}
	if profDone != nil {
		if err := <-profDone; err != nil {
			return res, fmt.Errorf("profile: %w", err)
		}
		res.Profiled = true
	}
	// Let requests still in flight when wrk stopped finish their upstream calls.
	time.Sleep(200 * time.Millisecond)
	if res.UpstreamCalls, err = b.readStats(ctx); err != nil {
		return res, err
	}
	var calls int64
	for _, n := range res.UpstreamCalls {
		calls += n
	}
	if res.Throughput.Requests > 0 {
		res.CallsPerRequest = float64(calls) / float64(res.Throughput.Requests)
	}

	fmt.Fprintf(b.log, "bench: %-6s latency %v at 1 connection\n", c.Name, b.opts.LatencyDuration)
	lat := wrkRun{Script: script, URL: c.URL, Threads: 1, Connections: 1, Duration: b.opts.LatencyDuration}
	if res.Latency1, err = lat.run(ctx); err != nil {
		return res, err
	}
	return res, nil
}

// check sends the case's request once and fails unless the answer is a 200 with JSON
// (for GraphQL, with data and no errors). It returns the answer.
func (b *bench) check(ctx context.Context, c benchCase) (string, error) {
	var body io.Reader
	if c.Body != "" {
		body = strings.NewReader(c.Body)
	}
	req, err := http.NewRequestWithContext(ctx, c.Method, c.URL, body)
	if err != nil {
		return "", err
	}
	if c.Body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("checking the answer: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("checking the answer: %w", err)
	}
	data = bytes.TrimSpace(data)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("checking the answer: %s %s: %s\n%s", c.Method, c.URL, resp.Status, data)
	}
	if !json.Valid(data) {
		return "", fmt.Errorf("checking the answer: not JSON: %s", data)
	}
	if c.GraphQL {
		var gql struct {
			Data   json.RawMessage   `json:"data"`
			Errors []json.RawMessage `json:"errors"`
		}
		if err := json.Unmarshal(data, &gql); err != nil {
			return "", fmt.Errorf("checking the answer: %w: %s", err, data)
		}
		if len(gql.Errors) > 0 || len(gql.Data) == 0 || string(gql.Data) == "null" {
			return "", fmt.Errorf("checking the answer: GraphQL errors or no data: %s", data)
		}
	}
	return string(data), nil
}

// resetStats zeroes demo-upstreams' call counters.
func (b *bench) resetStats(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+statsAddr+"/stats/reset", nil)
	if err != nil {
		return err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return fmt.Errorf("resetting upstream stats: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("resetting upstream stats: %s", resp.Status)
	}
	return nil
}

// readStats is demo-upstreams' call count per service since the last reset.
func (b *bench) readStats(ctx context.Context) (map[string]int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+statsAddr+"/stats", nil)
	if err != nil {
		return nil, err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reading upstream stats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reading upstream stats: %s", resp.Status)
	}
	stats := map[string]int64{}
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		return nil, fmt.Errorf("reading upstream stats: %w", err)
	}
	return stats, nil
}

// profile saves a CPU profile of the gateway taken during a throughput run: it
// starts one second in (past connection set-up) and lasts up to five seconds.
func (b *bench) profile(ctx context.Context, name, file string) error {
	secs := min(5, int(b.opts.Duration/time.Second)-1)
	if secs < 1 {
		secs = 1
	} else {
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fmt.Fprintf(b.log, "bench: %-6s CPU profile of the gateway, %ds, to %s\n", name, secs, file)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", debugAddr, secs), nil)
	if err != nil {
		return err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(data))
	}
	return os.WriteFile(file, data, 0o644)
}

func ptr[T any](v T) *T { return &v }

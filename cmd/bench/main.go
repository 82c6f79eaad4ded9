// Command bench measures the gateway through real HTTP on loopback and compares it
// with what it costs to call the upstreams directly and with a hand-written net/http
// backend-for-frontend (the "floor").
//
// Usage:
//
//	go run ./cmd/bench [-duration 10s] [-connections 64] [-latency-duration 5s]
//	                   [-warmup 2s] [-delay 0] [-cases direct,floor,w1,w2]
//	                   [-profile PREFIX] [-json FILE]
//	go run ./cmd/bench -ab REV [-rounds 6] [-cases w1,w2] [-duration 10s] ...
//
// It must run from inside the module (it builds ./cmd/gateway and
// ./cmd/demo-upstreams with go build), needs wrk and taskset on PATH and at least two
// CPUs. The cases:
//
//   - direct: GET /users/u1 from one users instance, no server in between.
//   - floor: POST to the floor (this binary's "floor" subcommand, see floor.go), which
//     makes W1's three upstream calls in parallel and merges them.
//   - w1: POST /graphql to the gateway, user + product + order (three independent
//     calls).
//   - w2: POST /graphql to the gateway, a user with 10 orders, their items and each
//     item's product (user, orders, and one batched catalog call).
//
// Layout: the gateway or the floor (one at a time) runs alone on CPU 1 with
// GOMAXPROCS=1; demo-upstreams (two instances of each service) and wrk share CPU 0.
// Each case runs a warm-up, a throughput run at -connections with two wrk threads,
// and a latency run at one connection. demo-upstreams' call counters are reset before
// the throughput run and read after it, giving upstream calls per request.
//
// With -ab REV it compares the gateway with the one built at git revision REV
// instead: rounds of both builds in alternating order, each restarted and warmed up,
// reporting the ratios with 95% confidence intervals (see ab.go).
//
// "bench floor ..." runs the floor server alone; the benchmark starts it so.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		err = runFloor(ctx, os.Args[2:])
	} else if len(os.Args) > 1 && os.Args[1] == "proxy-floor" {
		err = runProxyFloor(ctx, os.Args[2:])
	} else {
		err = run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	}
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "bench: interrupted; servers stopped")
		os.Exit(130)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// The fixed layout of one run: CPUs and loopback addresses.
const (
	loadCPU   = "0" // demo-upstreams and wrk
	serverCPU = "1" // the gateway or the floor, alone

	statsAddr   = "127.0.0.1:19100"
	gatewayAddr = "127.0.0.1:18080"
	floorAddr   = "127.0.0.1:18081"
	w3FloorAddr = "127.0.0.1:18083"
	// baseAddr is the -ab -together revision's gateway, beside head's at gatewayAddr.
	baseAddr  = "127.0.0.1:18082"
	debugAddr = "127.0.0.1:18090"
)

// services are the demo services, in the order they are reported.
var services = []string{"users", "orders", "catalog", "reviews"}

// upstreamAddrs are the listen addresses of the two instances of each service.
var upstreamAddrs = map[string][]string{
	"users":   {"127.0.0.1:19101", "127.0.0.1:19102"},
	"orders":  {"127.0.0.1:19201", "127.0.0.1:19202"},
	"catalog": {"127.0.0.1:19301", "127.0.0.1:19302"},
	"reviews": {"127.0.0.1:19401", "127.0.0.1:19402"},
}

// upstreamURLs are the base URLs of svc's instances.
func upstreamURLs(svc string) []string {
	var urls []string
	for _, a := range upstreamAddrs[svc] {
		urls = append(urls, "http://"+a)
	}
	return urls
}

// w3Path is W3's request: a catalog record passed through an L7 route.
const w3Path = "/products/p1"

// The GraphQL request bodies.
const (
	w1Body = `{"query":"{ user(id:\"u1\"){name} product(id:\"p1\"){name} order(id:\"o1\"){status total{amount}} }"}`
	w2Body = `{"query":"{ user(id:\"u1\"){ name orders(first:10){ id total{amount} items{ quantity product{ name price{amount} } } } } }"}`
)

// server says which server a case needs on the server CPU.
type server string

const (
	noServer    server = ""
	floorServer server = "floor"
	// declaredServer is the gateway serving the declared demo (schema/declared).
	declaredServer server = "gateway-declared"
	// proxyFloorServer is the pass-through floor (proxyfloor.go).
	proxyFloorServer server = "w3-floor"
	gatewayServer    server = "gateway"
)

// benchCase is one measured workload.
type benchCase struct {
	Name    string
	Server  server
	Method  string
	URL     string
	Body    string
	GraphQL bool // the answer is a GraphQL response, checked for errors
}

// allCases are the cases by name, in their default order.
var allCases = []benchCase{
	{Name: "direct", Server: noServer, Method: "GET", URL: "http://" + upstreamAddrs["users"][0] + "/users/u1"},
	{Name: "floor", Server: floorServer, Method: "POST", URL: "http://" + floorAddr + "/graphql", Body: w1Body, GraphQL: true},
	{Name: "w1", Server: gatewayServer, Method: "POST", URL: "http://" + gatewayAddr + "/graphql", Body: w1Body, GraphQL: true},
	{Name: "w2", Server: gatewayServer, Method: "POST", URL: "http://" + gatewayAddr + "/graphql", Body: w2Body, GraphQL: true},
	{Name: "w1-declared", Server: declaredServer, Method: "POST", URL: "http://" + gatewayAddr + "/graphql", Body: w1Body, GraphQL: true},
	{Name: "w2-declared", Server: declaredServer, Method: "POST", URL: "http://" + gatewayAddr + "/graphql", Body: w2Body, GraphQL: true},
	{Name: "w3-floor", Server: proxyFloorServer, Method: "GET", URL: "http://" + w3FloorAddr + w3Path},
	{Name: "w3", Server: gatewayServer, Method: "GET", URL: "http://" + gatewayAddr + w3Path},
}

// options are the command-line flags.
type options struct {
	Duration        time.Duration
	Connections     int
	LatencyDuration time.Duration
	Warmup          time.Duration
	Delay           time.Duration
	Cases           []string
	Profile         string
	JSON            string
	// GatewayYAML is appended to the gateway's configuration: top-level keys
	// other than listen and pools, such as "metrics: {enabled: false}".
	GatewayYAML string
	// AB is the revision the gateway is compared with (A/B mode, see ab.go), Rounds
	// the number of rounds of the comparison.
	AB     string
	Rounds int
	// Together runs -ab's two builds at once, side by side on the server CPU (see
	// ab_together.go), instead of in turns.
	Together bool
}

// MarshalJSON writes the durations as Go duration strings ("10s").
func (o options) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Duration        string   `json:"duration"`
		Connections     int      `json:"connections"`
		LatencyDuration string   `json:"latency_duration"`
		Warmup          string   `json:"warmup"`
		Delay           string   `json:"delay"`
		Cases           []string `json:"cases"`
		Profile         string   `json:"profile,omitempty"`
		GatewayYAML     string   `json:"gateway_yaml,omitempty"`
		AB              string   `json:"ab,omitempty"`
		Rounds          int      `json:"rounds,omitempty"`
		Together        bool     `json:"together,omitempty"`
	}{o.Duration.String(), o.Connections, o.LatencyDuration.String(), o.Warmup.String(),
		o.Delay.String(), o.Cases, o.Profile, o.GatewayYAML, o.AB, o.Rounds, o.Together})
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each throughput run (whole seconds)")
	fs.IntVar(&o.Connections, "connections", 64, "connections of the throughput runs")
	fs.DurationVar(&o.LatencyDuration, "latency-duration", 5*time.Second, "length of each latency run at 1 connection (whole seconds)")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "length of the warm-up before each case (whole seconds, 0 for none)")
	fs.DurationVar(&o.Delay, "delay", 0, "delay every upstream answer by this much (demo-upstreams -delay)")
	cases := fs.String("cases", "direct,floor,w1,w2", "comma-separated `cases` to run: direct, floor, w1, w2, w1-declared, w2-declared, w3-floor, w3")
	fs.StringVar(&o.Profile, "profile", "", "save CPU profiles of the gateway during the W1 and W2 throughput runs (compiled and declared) to `prefix`.CASE, such as prefix.w1 and prefix.w2-declared")
	fs.StringVar(&o.JSON, "json", "", "also write the results as JSON to this `file`")
	fs.StringVar(&o.GatewayYAML, "gateway-yaml", "", "YAML `text` appended to the gateway's configuration, such as 'metrics: {enabled: false}'")
	fs.StringVar(&o.AB, "ab", "", "compare the gateway with the one built at this git `revision`, in alternating rounds of the W1 and W2 cases (no latency runs)")
	fs.IntVar(&o.Rounds, "rounds", 6, "`rounds` of the -ab comparison, each measuring both builds once")
	fs.BoolVar(&o.Together, "together", false, "with -ab, run both builds at once on the server CPU, each under half the load, so that the machine's changes of speed weigh on both alike")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	wholeSeconds := func(name string, d time.Duration, zeroOK bool) error {
		if (d == 0 && zeroOK) || (d >= time.Second && d%time.Second == 0) {
			return nil
		}
		return fmt.Errorf("-%s %v: wrk takes whole seconds of at least 1s", name, d)
	}
	if err := errors.Join(
		wholeSeconds("duration", o.Duration, false),
		wholeSeconds("latency-duration", o.LatencyDuration, false),
		wholeSeconds("warmup", o.Warmup, true),
	); err != nil {
		return o, err
	}
	if o.Connections < 1 {
		return o, fmt.Errorf("-connections must be at least 1")
	}
	if o.Delay < 0 {
		return o, fmt.Errorf("-delay must not be negative")
	}
	seen := map[string]bool{}
	for name := range strings.SplitSeq(*cases, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" || seen[name] {
			continue
		}
		if _, ok := caseByName(name); !ok {
			return o, fmt.Errorf("-cases: unknown case %q (want direct, floor, w1, w2)", name)
		}
		seen[name] = true
		o.Cases = append(o.Cases, name)
	}
	if len(o.Cases) == 0 {
		return o, fmt.Errorf("-cases: no case to run")
	}
	if o.Profile != "" && !slices.ContainsFunc(o.Cases, profiled) {
		return o, fmt.Errorf("-profile profiles the W1 and W2 runs (compiled or declared), but -cases has none")
	}
	if o.AB != "" {
		switch {
		case !seen["w1"] && !seen["w2"]:
			return o, fmt.Errorf("-ab compares the W1 and W2 runs, but -cases has neither")
		case o.Profile != "":
			return o, fmt.Errorf("-ab and -profile do not go together")
		case o.Rounds < 2:
			return o, fmt.Errorf("-rounds must be at least 2 (a confidence interval needs two pairs)")
		}
	}
	if o.Together && o.AB == "" {
		return o, fmt.Errorf("-together runs the two builds of -ab side by side: give -ab REV")
	}
	return o, nil
}

func caseByName(name string) (benchCase, bool) {
	for _, c := range allCases {
		if c.Name == name {
			return c, true
		}
	}
	return benchCase{}, false
}

// profiled reports whether -profile profiles the case's throughput run.
func profiled(name string) bool {
	switch name {
	case "w1", "w2", "w1-declared", "w2-declared":
		return true
	}
	return false
}

// run is the benchmark: it prepares, runs every case, and reports.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	b, err := newBench(ctx, opts, stderr)
	if err != nil {
		return err
	}
	defer b.close()
	if opts.AB != "" {
		return runAB(ctx, b, stdout)
	}

	rep := &report{Options: opts, Env: b.env}
	runErr := b.runAll(ctx, rep)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rep.finish()
	rep.print(stdout)
	if opts.JSON != "" {
		if err := rep.writeJSON(opts.JSON); err != nil {
			return errors.Join(runErr, err)
		}
		fmt.Fprintf(stdout, "\nJSON written to %s\n", opts.JSON)
	}
	if runErr != nil {
		return runErr
	}
	if n := rep.totalErrors(); n > 0 {
		return fmt.Errorf("%d requests failed (see the errors column)", n)
	}
	return nil
}

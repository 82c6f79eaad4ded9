package main

// A/B mode (-ab REV): the gateway built from the working tree against the gateway
// built from another revision, in one run. Single runs on a shared VM move by 10% and
// more between minutes, so comparing two separate runs says little; here the two
// builds take turns on the same machine state. Each round measures both builds once,
// in the order A B then B A (so that a drift in the machine's speed weighs on both
// alike), with the gateway restarted and warmed up before every measurement. The
// result per case is the ratio of the working tree's rate to the revision's: the
// geometric mean of the per-round ratios with a 95% confidence interval (Student's t
// over the log-ratios), and the same for the server CPU per request.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// abBuild is one of the two gateways compared.
type abBuild struct {
	Name string `json:"name"` // "head" (the working tree) or the revision
	bin  string
}

// buildRevision builds ./cmd/gateway as it is at rev into dir, from a copy of the
// revision's tree (git archive), and returns the binary and the revision's short hash.
func buildRevision(ctx context.Context, root, rev, dir string, log io.Writer) (bin, short string, err error) {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "--verify", rev+"^{commit}").Output()
	if err != nil {
		return "", "", fmt.Errorf("-ab %s: not a revision of this repository", rev)
	}
	short = strings.TrimSpace(string(out))
	src := filepath.Join(dir, "src-"+short)
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", "", err
	}
	archive := exec.CommandContext(ctx, "sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", root, short, src)
	if out, err := archive.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("-ab %s: extracting the tree: %v\n%s", rev, err, out)
	}
	fmt.Fprintf(log, "bench: building gateway at %s\n", short)
	binDir := filepath.Join(dir, "bin-"+short)
	build := exec.CommandContext(ctx, "go", "build", "-o", binDir+string(filepath.Separator), "./cmd/gateway")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("-ab %s: go build: %v\n%s", rev, err, out)
	}
	return filepath.Join(binDir, "gateway"), short, nil
}

// abRound is one build's measurement in one round.
type abRound struct {
	Round          int     `json:"round"`
	Build          string  `json:"build"`
	Rate           float64 `json:"requests_per_s"`
	ServerCPUPerUs float64 `json:"server_cpu_per_request_us,omitempty"`
	Errors         int64   `json:"errors"`
}

// abEstimate is a ratio of the working tree to the revision with its interval.
type abEstimate struct {
	Ratio float64 `json:"ratio"`
	Low   float64 `json:"ci95_low"`
	High  float64 `json:"ci95_high"`
}

// abCase is one case's A/B result.
type abCase struct {
	Name   string    `json:"name"`
	Rounds []abRound `json:"rounds"`
	// Rate is head's rate over the revision's; CPU head's server CPU per request over
	// the revision's (below 1: head is cheaper).
	Rate abEstimate  `json:"rate_ratio"`
	CPU  *abEstimate `json:"server_cpu_per_request_ratio,omitempty"`
}

// abReport is the result of an A/B run.
type abReport struct {
	Env      environment `json:"environment"`
	Options  options     `json:"options"`
	Revision string      `json:"revision"`
	Cases    []abCase    `json:"cases"`
}

// runAB measures every gateway case in turns of the two builds.
func (b *bench) runAB(ctx context.Context, rep *abReport) error {
	head := abBuild{Name: "head", bin: b.gwBin}
	defer func() { b.gwBin = head.bin }()
	base := abBuild{Name: rep.Revision, bin: b.baseBin}
	for _, name := range b.opts.Cases {
		c, _ := caseByName(name)
		if c.Server != gatewayServer {
			continue
		}
		res := abCase{Name: c.Name}
		for r := 1; r <= b.opts.Rounds; r++ {
			order := []abBuild{base, head}
			if r%2 == 0 {
				order = []abBuild{head, base}
			}
			for _, build := range order {
				m, err := b.measureBuild(ctx, c, build)
				if err != nil {
					return fmt.Errorf("case %s, round %d, %s: %w", c.Name, r, build.Name, err)
				}
				m.Round = r
				res.Rounds = append(res.Rounds, m)
				fmt.Fprintf(b.log, "bench: %-6s round %d %-8s %8.0f req/s  %6.1f us CPU/req\n",
					c.Name, r, build.Name, m.Rate, m.ServerCPUPerUs)
			}
		}
		res.estimate(base.Name)
		rep.Cases = append(rep.Cases, res)
	}
	b.server.stop()
	b.server, b.serverKind = nil, noServer
	return nil
}

// measureBuild starts build's gateway afresh, checks one answer, warms up and runs
// one throughput measurement.
func (b *bench) measureBuild(ctx context.Context, c benchCase, build abBuild) (abRound, error) {
	m := abRound{Build: build.Name}
	b.server.stop()
	b.server, b.serverKind = nil, noServer
	b.gwBin = build.bin
	if err := b.ensureServer(ctx, gatewayServer); err != nil {
		return m, err
	}
	if _, err := b.check(ctx, c); err != nil {
		return m, err
	}
	script := filepath.Join(b.tmp, c.Name+".lua")
	if err := writeFile(script, wrkScript(c.Method, c.Body)); err != nil {
		return m, err
	}
	load := wrkRun{Script: script, URL: c.URL, Threads: min(2, b.opts.Connections), Connections: b.opts.Connections}
	if b.opts.Warmup > 0 {
		w := load
		w.Duration = b.opts.Warmup
		if _, err := w.run(ctx); err != nil {
			return m, err
		}
	}
	load.Duration = b.opts.Duration
	meter := startCPUMeter(b.server)
	res, err := load.run(ctx)
	if err != nil {
		return m, err
	}
	cpu, _, _ := meter.stop()
	m.Rate, m.Errors = res.Rate, res.Errors()
	if cpu >= 0 && res.Requests > 0 {
		m.ServerCPUPerUs = cpu.Seconds() * 1e6 / float64(res.Requests)
	}
	return m, nil
}

// estimate pairs each round's head measurement with its base measurement.
func (c *abCase) estimate(base string) {
	var rates, cpus []float64
	byRound := map[int][2]*abRound{}
	for i := range c.Rounds {
		r := &c.Rounds[i]
		p := byRound[r.Round]
		if r.Build == base {
			p[0] = r
		} else {
			p[1] = r
		}
		byRound[r.Round] = p
	}
	for round := 1; round <= len(byRound); round++ {
		p := byRound[round]
		if p[0] == nil || p[1] == nil || p[0].Rate <= 0 {
			continue
		}
		rates = append(rates, p[1].Rate/p[0].Rate)
		if p[0].ServerCPUPerUs > 0 && p[1].ServerCPUPerUs > 0 {
			cpus = append(cpus, p[1].ServerCPUPerUs/p[0].ServerCPUPerUs)
		}
	}
	c.Rate = geoMeanCI(rates)
	if len(cpus) == len(rates) && len(cpus) > 0 {
		e := geoMeanCI(cpus)
		c.CPU = &e
	}
}

// geoMeanCI is the geometric mean of ratios with a 95% confidence interval from
// Student's t over their logarithms (no interval for fewer than two ratios).
func geoMeanCI(ratios []float64) abEstimate {
	n := len(ratios)
	if n == 0 {
		return abEstimate{}
	}
	var mean float64
	for _, r := range ratios {
		mean += math.Log(r)
	}
	mean /= float64(n)
	e := abEstimate{Ratio: math.Exp(mean), Low: math.Exp(mean), High: math.Exp(mean)}
	if n < 2 {
		return e
	}
	var ss float64
	for _, r := range ratios {
		d := math.Log(r) - mean
		ss += d * d
	}
	half := tQuantile975(n-1) * math.Sqrt(ss/float64(n-1)/float64(n))
	e.Low, e.High = math.Exp(mean-half), math.Exp(mean+half)
	return e
}

// tQuantile975 is the 97.5th percentile of Student's t with df degrees of freedom.
func tQuantile975(df int) float64 {
	table := []float64{12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
		2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086}
	switch {
	case df < 1:
		return math.Inf(1)
	case df <= len(table):
		return table[df-1]
	case df <= 30:
		return 2.05
	default:
		return 1.96
	}
}

// totalErrors is the number of failed requests over every measurement.
func (r *abReport) totalErrors() int64 {
	var n int64
	for _, c := range r.Cases {
		for _, m := range c.Rounds {
			n += m.Errors
		}
	}
	return n
}

func pct(x float64) string { return fmt.Sprintf("%+.1f%%", (x-1)*100) }

// print writes the environment line and one row per case.
func (r *abReport) print(w io.Writer) {
	e, o := r.Env, r.Options
	fmt.Fprintf(w, "\nSwitchyard bench A/B, %s: head (%s) against %s\n", e.Time.Format("2006-01-02T15:04:05Z"), e.Commit, r.Revision)
	how := "order alternating"
	if o.Together {
		how = "both builds at once, each under half the connections"
	}
	fmt.Fprintf(w, "%s, %d CPUs, %s; %d rounds of %v at %d connections after %v warm-up, %s\n\n",
		e.CPUModel, e.CPUs, e.GoVersion, o.Rounds, o.Duration, o.Connections, o.Warmup, how)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "case\t%s req/s\thead req/s\trate head/%s\t95%% CI\tCPU/req head/%s\t95%% CI\t\n", r.Revision, r.Revision, r.Revision)
	for _, c := range r.Cases {
		var baseSum, headSum float64
		var nb, nh int
		for _, m := range c.Rounds {
			if m.Build == r.Revision {
				baseSum, nb = baseSum+m.Rate, nb+1
			} else {
				headSum, nh = headSum+m.Rate, nh+1
			}
		}
		cpu, cpuCI := "-", "-"
		if c.CPU != nil {
			cpu, cpuCI = pct(c.CPU.Ratio), pct(c.CPU.Low)+" .. "+pct(c.CPU.High)
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t\n", c.Name, baseSum/float64(max(nb, 1)), headSum/float64(max(nh, 1)),
			pct(c.Rate.Ratio), pct(c.Rate.Low)+" .. "+pct(c.Rate.High), cpu, cpuCI)
	}
	tw.Flush()
}

// runAB is the A/B run: it measures, reports and writes the JSON.
func runAB(ctx context.Context, b *bench, stdout io.Writer) error {
	rep := &abReport{Env: b.env, Options: b.opts, Revision: b.baseRev}
	run := b.runAB
	if b.opts.Together {
		run = b.runABTogether
	}
	runErr := run(ctx, rep)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rep.print(stdout)
	if b.opts.JSON != "" {
		if err := writeJSONFile(b.opts.JSON, rep); err != nil {
			return errors.Join(runErr, err)
		}
		fmt.Fprintf(stdout, "\nJSON written to %s\n", b.opts.JSON)
	}
	if runErr != nil {
		return runErr
	}
	if n := rep.totalErrors(); n > 0 {
		return fmt.Errorf("%d requests failed", n)
	}
	return nil
}

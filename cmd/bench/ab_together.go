package main

// A/B side by side (-ab REV -together): both builds serve at once, each on its own
// port, both pinned to the server CPU with GOMAXPROCS=1, each under its own wrk with
// half the connections. Taking turns (ab.go) leaves a few seconds between the two
// measurements of a round, long enough on a shared VM for its speed to change by a
// third; side by side, the two processes share the CPU in the same milliseconds,
// so whatever the machine does weighs on both alike, and the ratio of their CPU per
// request is left. With the CPU saturated, the scheduler gives each about half of
// it, so their rates follow the inverse of their CPU per request; both are
// reported, per round, as in the turns' mode.

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// runABTogether measures every gateway case with the two builds side by side.
func (b *bench) runABTogether(ctx context.Context, rep *abReport) error {
	head, err := b.startGateway(ctx, "gateway-head", b.gwBin, gatewayAddr, false)
	if err != nil {
		return err
	}
	defer head.stop()
	base, err := b.startGateway(ctx, "gateway-"+rep.Revision, b.baseBin, baseAddr, false)
	if err != nil {
		return err
	}
	defer base.stop()
	for _, name := range b.opts.Cases {
		c, _ := caseByName(name)
		if c.Server != gatewayServer {
			continue
		}
		baseCase := c
		baseCase.URL = strings.Replace(c.URL, gatewayAddr, baseAddr, 1)
		for _, cc := range []benchCase{c, baseCase} {
			if _, err := b.check(ctx, cc); err != nil {
				return err
			}
		}
		script := filepath.Join(b.tmp, c.Name+".lua")
		if err := writeFile(script, wrkScript(c.Method, c.Body)); err != nil {
			return err
		}
		half := max(1, b.opts.Connections/2)
		sides := []side{
			{build: rep.Revision, proc: base, load: wrkRun{Script: script, URL: baseCase.URL, Threads: 1, Connections: half}},
			{build: "head", proc: head, load: wrkRun{Script: script, URL: c.URL, Threads: 1, Connections: half}},
		}
		res := abCase{Name: c.Name}
		if b.opts.Warmup > 0 {
			if _, err := measureSides(ctx, sides, b.opts.Warmup); err != nil {
				return err
			}
		}
		for r := 1; r <= b.opts.Rounds; r++ {
			ms, err := measureSides(ctx, sides, b.opts.Duration)
			if err != nil {
				return fmt.Errorf("case %s, round %d: %w", c.Name, r, err)
			}
			for _, m := range ms {
				m.Round = r
				res.Rounds = append(res.Rounds, m)
				fmt.Fprintf(b.log, "bench: %-6s round %d %-8s %8.0f req/s  %6.1f us CPU/req\n",
					c.Name, r, m.Build, m.Rate, m.ServerCPUPerUs)
			}
		}
		res.estimate(rep.Revision)
		rep.Cases = append(rep.Cases, res)
	}
	return nil
}

// side is one build's gateway and the load on it.
type side struct {
	build string
	proc  *proc
	load  wrkRun
}

// measureSides runs every side's load at once for d and measures each gateway's
// CPU over it.
func measureSides(ctx context.Context, sides []side, d time.Duration) ([]abRound, error) {
	out := make([]abRound, len(sides))
	errs := make([]error, len(sides))
	meters := make([]*cpuMeter, len(sides))
	for i, s := range sides {
		meters[i] = startCPUMeter(s.proc)
	}
	var wg sync.WaitGroup
	for i, s := range sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			load := s.load
			load.Duration = d
			res, err := load.run(ctx)
			cpu, _, _ := meters[i].stop()
			out[i] = abRound{Build: s.build, Rate: res.Rate, Errors: res.Errors()}
			if cpu >= 0 && res.Requests > 0 {
				out[i].ServerCPUPerUs = cpu.Seconds() * 1e6 / float64(res.Requests)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

package lb

import (
	"context"
	"sync"
	"time"
)

// Run probes every endpoint until ctx ends, then returns. It must be called at most
// once per pool.
func (p *Pool) Run(ctx context.Context) {
	if p.opts.HealthCheck.Disabled {
		<-ctx.Done()
		return
	}
	var wg sync.WaitGroup
	for _, ep := range p.endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.probeLoop(ctx, ep)
		}()
	}
	wg.Wait()
}

func (p *Pool) probeLoop(ctx context.Context, ep *endpoint) {
	hc := p.opts.HealthCheck
	req := &Request{Target: hc.Path}
	var resp Response
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		resp.Reset()
		err := ep.conns.RoundTrip(ctx, time.Now().Add(hc.Timeout.Duration), req, &resp)
		if ctx.Err() != nil {
			return
		}
		ok := err == nil && resp.Status >= 200 && resp.Status < 300
		if ep.observe(ok, hc.HealthyThreshold, hc.UnhealthyThreshold) {
			if ep.healthy.Load() {
				p.log.Info("endpoint healthy", "endpoint", ep.url)
			} else {
				p.log.Warn("endpoint unhealthy", "endpoint", ep.url, "status", resp.Status, "error", errString(err))
				ep.conns.CloseIdle(false) // they would be stale by the time it recovers
			}
			p.rebuild()
		}
		next := hc.Interval.Duration
		if !ep.healthy.Load() {
			next = hc.UnhealthyInterval.Duration
		}
		t.Reset(next)
	}
}

// observe records one probe result and reports whether the endpoint's health changed.
func (ep *endpoint) observe(ok bool, healthyThreshold, unhealthyThreshold int) bool {
	if ok {
		ep.failures = 0
		ep.successes++
		if !ep.healthy.Load() && ep.successes >= healthyThreshold {
			ep.healthy.Store(true)
			return true
		}
		return false
	}
	ep.successes = 0
	ep.failures++
	if ep.healthy.Load() && ep.failures >= unhealthyThreshold {
		ep.healthy.Store(false)
		return true
	}
	return false
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

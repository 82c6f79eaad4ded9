package demo

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// Cluster is a set of running instances of the demo services. Its methods are safe
// for concurrent use.
type Cluster struct {
	bySvc map[Service][]*Instance // never modified after start
	all   []*Instance             // in Services order, then start order
}

// StartCluster starts perService instances of each of the four services on
// 127.0.0.1:0, all over ds.
func StartCluster(ds *Dataset, perService int) (*Cluster, error) {
	if perService < 1 {
		return nil, fmt.Errorf("demo: StartCluster needs at least one instance per service, not %d", perService)
	}
	addrs := make(map[Service][]string, len(Services))
	for _, svc := range Services {
		for range perService {
			addrs[svc] = append(addrs[svc], "127.0.0.1:0")
		}
	}
	return StartClusterAt(ds, addrs)
}

// StartClusterAt starts one instance per listen address given for each service, all
// over ds. A service may have no addresses. If an instance fails to start, those
// already started are closed.
func StartClusterAt(ds *Dataset, addrs map[Service][]string) (*Cluster, error) {
	for svc := range addrs {
		if !svc.valid() {
			return nil, fmt.Errorf("demo: unknown service %q", svc)
		}
	}
	c := &Cluster{bySvc: make(map[Service][]*Instance, len(Services))}
	for _, svc := range Services {
		for _, addr := range addrs[svc] {
			in, err := StartInstance(ds, svc, addr)
			if err != nil {
				c.Close()
				return nil, err
			}
			c.bySvc[svc] = append(c.bySvc[svc], in)
			c.all = append(c.all, in)
		}
	}
	return c, nil
}

// Instances returns the instances of svc.
func (c *Cluster) Instances(svc Service) []*Instance {
	return append([]*Instance(nil), c.bySvc[svc]...)
}

// URLs returns the base URLs of the instances of svc.
func (c *Cluster) URLs(svc Service) []string {
	var urls []string
	for _, in := range c.bySvc[svc] {
		urls = append(urls, in.URL())
	}
	return urls
}

// All returns every instance of the cluster.
func (c *Cluster) All() []*Instance {
	return append([]*Instance(nil), c.all...)
}

// Calls returns the sum of Calls over the instances of svc.
func (c *Cluster) Calls(svc Service) int64 {
	var n int64
	for _, in := range c.bySvc[svc] {
		n += in.Calls()
	}
	return n
}

// ResetCounters resets the counters of every instance.
func (c *Cluster) ResetCounters() {
	for _, in := range c.all {
		in.ResetCounters()
	}
}

// SetFault sets the fault of every instance of svc.
func (c *Cluster) SetFault(svc Service, f Fault) {
	for _, in := range c.bySvc[svc] {
		in.SetFault(f)
	}
}

// Shutdown stops every instance gracefully and in parallel, as Instance.Shutdown
// does.
func (c *Cluster) Shutdown(ctx context.Context) error {
	errs := make([]error, len(c.all))
	var wg sync.WaitGroup
	for i, in := range c.all {
		wg.Go(func() {
			if err := in.Shutdown(ctx); err != nil {
				errs[i] = fmt.Errorf("%s at %s: %w", in.Service(), in.Addr(), err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Close stops every instance at once, as Instance.Stop does. It is idempotent and
// always returns nil.
func (c *Cluster) Close() error {
	for _, in := range c.all {
		in.Stop()
	}
	return nil
}

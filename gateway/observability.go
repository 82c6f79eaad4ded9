package gateway

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/metrics"
	"github.com/switchyard/switchyard/tracing"
)

// observability is the gateway's metrics and tracing. Both live as long as the
// process: a reload keeps them (metrics may be turned off, not on), and changing
// tracing needs a restart.
type observability struct {
	metrics *metrics.Metrics // nil when disabled
	tracing *tracing.Provider
	tracer  trace.Tracer
	// traced is the configuration tracing was made from.
	traced config.Tracing
}

// newObservability takes metrics and tracing from prev, or makes them on the first
// build, registering the pools' collector with the metrics.
func newObservability(g *Gateway, prev *observability) (*observability, error) {
	cfg := g.cfg
	if prev != nil {
		if !reflect.DeepEqual(cfg.Tracing, prev.traced) {
			return nil, errors.Join(ErrNeedsRestart, errors.New("tracing cannot change on a reload"))
		}
		if !*cfg.Metrics.Enabled {
			return &observability{tracing: prev.tracing, tracer: prev.tracer, traced: prev.traced}, nil
		}
		if prev.metrics == nil {
			return nil, errors.New("metrics: turning them on needs a restart")
		}
		return prev, nil
	}
	o := &observability{traced: cfg.Tracing}
	if *cfg.Metrics.Enabled {
		o.metrics = metrics.New()
		sh := g.shared
		if err := o.metrics.Register(metrics.PoolCollector(func() []metrics.PoolState {
			if cur := sh.current.Load(); cur != nil {
				return cur.pools.states()
			}
			return nil
		})); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	tp, err := tracing.New(tracing.Options{Enabled: cfg.Tracing.Enabled, Endpoint: cfg.Tracing.Endpoint,
		Sample: *cfg.Tracing.Sample, ServiceName: cfg.Tracing.ServiceName})
	if err != nil {
		return nil, err
	}
	o.tracing, o.tracer = tp, tp.Tracer("github.com/switchyard/switchyard")
	return o, nil
}

// release flushes the spans not yet exported when the gateway closes; a reload
// keeps the tracer.
func (o *observability) release(keep component) {
	if keep != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = o.tracing.Shutdown(ctx)
}

// recording reports whether spans are recorded, so that upstream calls open theirs.
func (o *observability) recording() bool { return o.tracing.Recording() }

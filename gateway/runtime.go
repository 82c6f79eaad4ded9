package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/lb"
)

// Runtime is a gateway that can be reloaded while it serves: it owns the current
// gateway, which Handler and AdminHandler always dispatch to, and the health loops
// of its pools. A reload builds the new gateway first (a bad configuration changes
// nothing), then swaps it in atomically: requests already running finish on the
// gateway they started on, new ones get the new one. Pools whose configuration did
// not change are kept as they are, health loops included.
type Runtime struct {
	log *slog.Logger

	mu     sync.Mutex // serialises reloads and Close
	cur    atomicGateway
	loops  map[*lb.Pool]context.CancelFunc // guarded by mu
	closed bool                            // guarded by mu
	wg     sync.WaitGroup
}

// atomicGateway is the current gateway.
type atomicGateway struct{ p atomic.Pointer[Gateway] }

// NewRuntime builds the gateway of cfg and starts its pools' health loops.
func NewRuntime(cfg *config.Config, log *slog.Logger) (*Runtime, error) {
	g, err := New(cfg, log)
	if err != nil {
		return nil, err
	}
	rt := &Runtime{log: log, loops: map[*lb.Pool]context.CancelFunc{}}
	rt.cur.p.Store(g)
	rt.mu.Lock()
	rt.startLoops(g)
	rt.mu.Unlock()
	return rt, nil
}

// Current returns the gateway serving now.
func (rt *Runtime) Current() *Gateway { return rt.cur.p.Load() }

// Handler serves every request with the gateway current when it arrives.
func (rt *Runtime) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.cur.p.Load().handler.ServeHTTP(w, r)
	})
}

// AdminHandler serves the admin routes of the current gateway.
func (rt *Runtime) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.cur.p.Load().admin.ServeHTTP(w, r)
	})
}

// ErrNeedsRestart is returned by Reload for a change that a running process cannot
// make, such as a listen address.
var ErrNeedsRestart = errors.New("this change needs a restart")

// Reload swaps in the gateway of cfg, which must be loaded and valid. On error the
// current gateway goes on serving, unchanged.
func (rt *Runtime) Reload(cfg *config.Config) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return errors.New("the gateway is shutting down")
	}
	old := rt.cur.p.Load()
	if cfg.Listen != old.cfg.Listen || cfg.Admin.Listen != old.cfg.Admin.Listen {
		return errors.Join(ErrNeedsRestart, errors.New("listen and admin.listen cannot change on a reload"))
	}
	if !reflect.DeepEqual(cfg.Tracing, old.cfg.Tracing) {
		return errors.Join(ErrNeedsRestart, errors.New("tracing cannot change on a reload"))
	}
	g, err := Rebuild(old, cfg)
	if err != nil {
		return err
	}
	rt.cur.p.Store(g)
	g.shared.current.Store(g)
	rt.startLoops(g)
	var kept, started, stopped []string
	inNew := map[*lb.Pool]bool{}
	for _, p := range g.pools {
		inNew[p] = true
		if old.pool(p.Name()) == p {
			kept = append(kept, p.Name())
		} else {
			started = append(started, p.Name())
		}
	}
	for _, p := range old.pools {
		if !inNew[p] {
			// Requests still running on the old gateway may use it: it keeps working
			// without its probes, and its idle connections close.
			if cancel := rt.loops[p]; cancel != nil {
				cancel()
			}
			delete(rt.loops, p)
			p.Close()
			stopped = append(stopped, p.Name())
		}
	}
	if g.metrics != nil {
		live := map[string]bool{}
		for _, p := range g.pools {
			for _, e := range p.Status() {
				live[p.Name()+" "+e.URL] = true
			}
		}
		for _, p := range old.pools {
			for _, e := range p.Status() {
				if !live[p.Name()+" "+e.URL] {
					g.metrics.ForgetEndpoint(p.Name(), endpointLabel(e.URL))
				}
			}
		}
	}
	for p, t := range old.transports {
		if g.transports[p] != t {
			t.CloseIdleConnections() // requests still on it finish
		}
	}
	if c, ok := old.apq.(io.Closer); ok && old.apq != g.apq {
		_ = c.Close()
	}
	if old.redis != nil && old.redis != g.redis {
		_ = old.redis.Close() // requests still on it decide locally
	}
	rt.log.Info("configuration reloaded", "pools_kept", kept, "pools_rebuilt", started, "pools_retired", stopped)
	return nil
}

func (rt *Runtime) startLoops(g *Gateway) {
	for _, p := range g.pools {
		if _, running := rt.loops[p]; running {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		rt.loops[p] = cancel
		rt.wg.Add(1)
		go func() {
			defer rt.wg.Done()
			p.Run(ctx)
		}()
	}
}

// Drain makes readiness fail from now on, across reloads.
func (rt *Runtime) Drain() { rt.cur.p.Load().Drain() }

// Close stops the health loops, waits for them, and closes the pools' idle
// connections.
func (rt *Runtime) Close() {
	rt.mu.Lock()
	rt.closed = true
	for p, cancel := range rt.loops {
		cancel()
		p.Close()
	}
	rt.loops = map[*lb.Pool]context.CancelFunc{}
	rt.mu.Unlock()
	rt.wg.Wait()
	rt.cur.p.Load().Close()
}

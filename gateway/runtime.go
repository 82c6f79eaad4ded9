package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/lb"
)

// Runtime is a gateway that can be reloaded while it serves: it owns the current
// gateway, which Handler and AdminHandler always dispatch to, the health loops of
// its pools, and the TLS termination of the public listener. A reload builds the
// new gateway first (a bad configuration changes nothing), then swaps it in
// atomically: requests already running finish on the gateway they started on, new
// ones get the new one. Pools whose configuration did not change are kept as they
// are, health loops included.
type Runtime struct {
	log *slog.Logger
	tls *TLS // nil when the public listener speaks plain HTTP

	mu     sync.Mutex // serialises reloads and Close
	cur    atomic.Pointer[Gateway]
	loops  map[*lb.Pool]context.CancelFunc // guarded by mu
	closed bool                            // guarded by mu
	wg     sync.WaitGroup
}

// NewRuntime reads the certificates of cfg, if it terminates TLS, builds the
// gateway of cfg and starts its pools' health loops.
func NewRuntime(cfg *config.Config, log *slog.Logger) (*Runtime, error) {
	rt := &Runtime{log: log, loops: map[*lb.Pool]context.CancelFunc{}}
	if cfg.TLS != nil {
		var err error
		if rt.tls, err = NewTLS(cfg.TLS); err != nil {
			return nil, err
		}
	}
	g, err := New(cfg, log)
	if err != nil {
		return nil, err
	}
	rt.cur.Store(g)
	rt.mu.Lock()
	rt.startLoops(g)
	rt.mu.Unlock()
	applyMemoryLimit(cfg, log)
	return rt, nil
}

// TLS returns the TLS termination of the public listener, which reloads keep up
// to date, or nil when the configuration has none.
func (rt *Runtime) TLS() *TLS { return rt.tls }

// Current returns the gateway serving now.
func (rt *Runtime) Current() *Gateway { return rt.cur.Load() }

// Handler serves every request with the gateway current when it arrives.
func (rt *Runtime) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.cur.Load().router.handler.ServeHTTP(w, r)
	})
}

// AdminHandler serves the admin routes of the current gateway.
func (rt *Runtime) AdminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt.cur.Load().router.admin.ServeHTTP(w, r)
	})
}

// ErrNeedsRestart is returned by Reload for a change that a running process cannot
// make, such as a listen address.
var ErrNeedsRestart = errors.New("this change needs a restart")

// Reload swaps in the gateway of cfg, which must be loaded and valid, and the
// certificates it names. On error the current gateway goes on serving, unchanged.
func (rt *Runtime) Reload(cfg *config.Config) error {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return errors.New("the gateway is shutting down")
	}
	old := rt.cur.Load()
	if err := rt.restartNeeded(old.cfg, cfg); err != nil {
		return err
	}
	var certs *tlsState
	if cfg.TLS != nil {
		// The certificates first: a reload that cannot read them changes nothing.
		var err error
		if certs, err = loadTLS(cfg.TLS); err != nil {
			return err
		}
	}
	g, err := Rebuild(old, cfg)
	if err != nil {
		return cfg.Locate(err)
	}
	rt.cur.Store(g)
	g.shared.current.Store(g)
	if certs != nil {
		rt.tls.state.Store(certs)
	}
	rt.startLoops(g)
	rt.stopLoops(g)
	if cfg.MemoryLimit != old.cfg.MemoryLimit {
		applyMemoryLimit(cfg, rt.log)
	}
	kept, started, stopped := old.pools.changes(g.pools)
	old.Retire(g)
	rt.log.Info("configuration reloaded", "pools_kept", kept, "pools_rebuilt", started, "pools_retired", stopped)
	return nil
}

// restartNeeded refuses the changes that concern the listeners.
func (rt *Runtime) restartNeeded(old, cfg *config.Config) error {
	switch {
	case (cfg.TLS == nil) != (rt.tls == nil):
		return errors.Join(ErrNeedsRestart, errors.New("turning TLS on or off"))
	case cfg.Listen != old.Listen || cfg.Admin.Listen != old.Admin.Listen:
		return errors.Join(ErrNeedsRestart, errors.New("listen and admin.listen cannot change on a reload"))
	case cfg.Timeouts != old.Timeouts:
		return errors.Join(ErrNeedsRestart, errors.New("the listener's timeouts cannot change on a reload"))
	}
	return nil
}

func (rt *Runtime) startLoops(g *Gateway) {
	for _, p := range g.pools.list {
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

// stopLoops stops the health loops of the pools g no longer has.
func (rt *Runtime) stopLoops(g *Gateway) {
	for p, cancel := range rt.loops {
		if g.pools.named(p.Name()) != p {
			cancel()
			delete(rt.loops, p)
		}
	}
}

// Drain makes readiness fail from now on, across reloads.
func (rt *Runtime) Drain() { rt.cur.Load().Drain() }

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
	rt.cur.Load().Close()
}

package h1

import (
	"context"
	"slices"
	"sync"
)

// A Watch watches the end of one context for every exchange begun under it, with
// one context.AfterFunc for all of them instead of one each: a request that makes
// several upstream calls (a query's root fields, its batches) registers with its
// parent context once. When the context ends, the connections of the exchanges
// still running get a deadline in the past, which ends them, as each exchange's
// own AfterFunc would. An exchange whose context is not the Watch's (one with a
// cancellation or deadline of its own) arms its own AfterFunc.
type Watch struct {
	ctx     context.Context
	done    <-chan struct{}
	mu      sync.Mutex
	conns   []*conn
	ended   bool
	stopped bool        // by its owner: later exchanges arm their own
	after   func() bool // the AfterFunc's stop, once the first exchange is armed
}

type watchKey struct{}

// WithWatch returns ctx carrying a new Watch of ctx's end, for the exchanges begun
// under it, and the Watch, whose Stop the caller calls when it has finished them
// (a context that never ends gets none: w is then nil, and Stop does nothing).
func WithWatch(ctx context.Context) (_ context.Context, w *Watch) {
	done := ctx.Done()
	if done == nil {
		return ctx, nil
	}
	w = &Watch{ctx: ctx, done: done}
	return context.WithValue(ctx, watchKey{}, w), w
}

// Stop ends the watch: the exchanges begun under it must be finished. Without it
// the AfterFunc would run when the context ends, for nothing.
func (w *Watch) Stop() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.after != nil {
		w.after()
	}
}

// armed is what cancels one exchange when its context ends: an AfterFunc of its
// own, or its place in a Watch, or nothing for a context that never ends.
type armed struct {
	after func() bool
	w     *Watch
	c     *conn
}

// arm arranges for c's exchange to end when ctx does.
func arm(ctx context.Context, c *conn) armed {
	done := ctx.Done()
	if done == nil {
		return armed{}
	}
	if w, _ := ctx.Value(watchKey{}).(*Watch); w != nil && w.done == done && w.add(c) {
		return armed{w: w, c: c}
	}
	nc := c.nc
	return armed{after: context.AfterFunc(ctx, func() { _ = nc.SetDeadline(aLongTimeAgo) })}
}

// disarm undoes arm; it reports false when the context ended meanwhile (the
// connection then has a deadline in the past and must not be reused).
func (a armed) disarm() bool {
	switch {
	case a.w != nil:
		return a.w.remove(a.c)
	case a.after != nil:
		return a.after()
	}
	return true
}

// add registers c, unless the watch was stopped (an exchange begun after its
// owner finished, which then arms its own AfterFunc).
func (w *Watch) add(c *conn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.stopped:
		return false
	case w.ended:
		_ = c.nc.SetDeadline(aLongTimeAgo)
		return true
	}
	if w.after == nil {
		w.after = context.AfterFunc(w.ctx, w.end)
	}
	w.conns = append(w.conns, c)
	return true
}

func (w *Watch) remove(c *conn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := slices.Index(w.conns, c); i >= 0 {
		w.conns = slices.Delete(w.conns, i, i+1)
	}
	return !w.ended
}

// end is the AfterFunc: it ends the exchanges still running.
func (w *Watch) end() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended = true
	for _, c := range w.conns {
		_ = c.nc.SetDeadline(aLongTimeAgo)
	}
	w.conns = nil
}

package connectors

import (
	"context"
	"sync/atomic"
	"time"
)

// A request's batched calls (entity lookups, batched fields' connectors) gather
// their keys from the goroutines that write the answer. A batch is sent as soon as
// no more keys can come: when every goroutine of the request that could still add
// one waits (for a batch, or for a call another goroutine makes), when it holds
// MaxBatch keys, or, at the latest, the batch wait after its first key (so that a
// goroutine in a slow call of its own does not hold up the others' batches).
//
// The run counts its busy goroutines in active: the one running Exec, and the
// workers of a fork. A goroutine that waits for a signal is not counted until the
// signal is given: the goroutine giving it counts its waiters back in before they
// wake, so that no count drops to zero while a woken goroutine has yet to run.
// The goroutine that makes the count zero sends the batches.

// signal is something goroutines of the run wait for and one gives: a batch's
// answer for a key, a call made once. Its fields but done are guarded by the
// run's mu.
type signal struct {
	done    chan struct{}
	waiters int  // goroutines waiting, not counted as active
	given   bool // done is closed
}

func newSignal() signal { return signal{done: make(chan struct{})} }

// give wakes the waiters of s, counting them as active first.
func (r *run) give(s *signal) {
	r.mu.Lock()
	r.active += s.waiters
	s.waiters, s.given = 0, true
	close(s.done)
	r.mu.Unlock()
}

// await waits until s is given, not counted as active meanwhile; the batches that
// no goroutine can add to any more are sent first.
func (r *run) await(ctx context.Context, s *signal) error {
	r.mu.Lock()
	if s.given {
		r.mu.Unlock()
		return nil
	}
	s.waiters++
	send := r.idle()
	r.mu.Unlock()
	sendAll(send)
	select {
	case <-s.done:
		return nil // counted back in by give
	case <-ctx.Done():
		r.mu.Lock()
		if !s.given {
			s.waiters--
			r.active++
		}
		r.mu.Unlock()
		return ctx.Err()
	}
}

// batchEntry is one key's result, shared by every object with that key.
type batchEntry[V any] struct {
	signal
	v   V
	err error
}

// batcher gathers the keys of one batched connector for a request. Its fields are
// guarded by the run's mu.
type batcher[V any] struct {
	r       *run
	fetch   func(ctx context.Context, ks []string, objs []any) ([]V, error)
	entries map[string]*batchEntry[V]
	keys    []string // pending, not yet sent
	objs    []any    // their objects, as $batch
	timer   *time.Timer
	flushes int  // counts the sends, so that a stale timer sends nothing
	listed  bool // in the run's pending batchers
}

// sendable is a batch taken off its batcher, to be sent outside the lock.
type sendable interface{ send() }

// pendingBatcher is a batcher with keys not yet sent.
type pendingBatcher interface {
	take() sendable
	arm()
	unlist()
}

func (b *batcher[V]) unlist() { b.listed = false }

// batch is a batch of keys taken off a batcher, with their entries.
type batch[V any] struct {
	b       *batcher[V]
	keys    []string
	objs    []any
	entries []*batchEntry[V]
}

func newBatcher[V any](r *run, fetch func(ctx context.Context, ks []string, objs []any) ([]V, error)) *batcher[V] {
	return &batcher[V]{r: r, fetch: fetch, entries: map[string]*batchEntry[V]{}}
}

// add records obj with key k (unless the key is there already) and returns its
// entry, and a batch to send when the batcher is full. r.mu must be held.
func (b *batcher[V]) add(k string, obj any) (*batchEntry[V], sendable) {
	if e := b.entries[k]; e != nil {
		return e, nil
	}
	e := &batchEntry[V]{signal: newSignal()}
	b.entries[k] = e
	b.keys = append(b.keys, k)
	b.objs = append(b.objs, obj)
	if len(b.keys) >= MaxBatch {
		return e, b.take()
	}
	if !b.listed {
		b.listed = true
		b.r.pendingBatches = append(b.r.pendingBatches, b)
	}
	return e, nil
}

// take takes the pending keys off b as a batch; nil when there are none. r.mu
// must be held.
func (b *batcher[V]) take() sendable {
	if len(b.keys) == 0 {
		return nil
	}
	out := &batch[V]{b: b, keys: b.keys, objs: b.objs, entries: make([]*batchEntry[V], len(b.keys))}
	for i, k := range b.keys {
		out.entries[i] = b.entries[k]
	}
	b.keys, b.objs = nil, nil
	b.flushes++
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	return out
}

// arm starts b's batch wait, when its pending keys have none running. r.mu must
// be held.
func (b *batcher[V]) arm() {
	if b.timer != nil || len(b.keys) == 0 {
		return
	}
	gen := b.flushes
	b.timer = time.AfterFunc(b.r.e.batchWait, func() {
		b.r.mu.Lock()
		var s sendable
		if b.flushes == gen {
			s = b.take()
		}
		b.r.mu.Unlock()
		if s != nil {
			s.send()
		}
	})
}

// send makes the batch's call and completes its entries.
func (s *batch[V]) send() {
	vs, err := s.b.fetch(s.b.r.ctx, s.keys, s.objs)
	r := s.b.r
	r.mu.Lock()
	for i, e := range s.entries {
		if err != nil {
			e.err = err
		} else {
			e.v = vs[i]
		}
		r.active += e.waiters
		e.waiters, e.given = 0, true
		close(e.done)
	}
	r.mu.Unlock()
}

// sendAll sends batches, the first in this goroutine (which is about to wait
// anyway) and the others each in its own.
func sendAll(batches []sendable) {
	for _, s := range batches[min(1, len(batches)):] {
		go s.send()
	}
	if len(batches) > 0 {
		batches[0].send()
	}
}

// idle says that the calling goroutine waits for something another goroutine
// gives (a batch, a call made once); the batches to send when it was the last
// busy one are returned. r.mu must be held.
func (r *run) idle() []sendable {
	r.active--
	if r.active > 0 {
		for _, b := range r.pendingBatches {
			b.arm()
		}
		return nil
	}
	var out []sendable
	for _, b := range r.pendingBatches {
		b.unlist()
		if s := b.take(); s != nil {
			out = append(out, s)
		}
	}
	r.pendingBatches = r.pendingBatches[:0]
	return out
}

// wait waits for the entries, not counted as active meanwhile, sending the full
// batches given first.
func wait[V any](ctx context.Context, r *run, entries []*batchEntry[V], full []sendable) error {
	sendAll(full)
	for _, e := range entries {
		if err := r.await(ctx, &e.signal); err != nil {
			return err
		}
	}
	return nil
}

// fork runs each(i) for i below n on at most limit workers, counted as busy in
// place of the calling goroutine, and returns when all are done.
func (r *run) fork(n, limit int, each func(i int)) {
	w := min(n, limit)
	if w <= 1 {
		for i := range n {
			each(i)
		}
		return
	}
	r.mu.Lock()
	r.active += w - 1 // the caller's count goes to the workers
	r.mu.Unlock()
	var next, left atomic.Int64
	left.Store(int64(w))
	done := make(chan struct{})
	for range w {
		go func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				each(int(i))
			}
			if left.Add(-1) == 0 {
				close(done) // the last worker gives the count back to the caller
				return
			}
			r.mu.Lock()
			s := r.idle()
			r.mu.Unlock()
			sendAll(s)
		}()
	}
	<-done
}

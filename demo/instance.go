package demo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is the misbehaviour injected into an instance. The zero Fault is a healthy
// instance.
type Fault struct {
	// Status, if non-zero, is the status every request but GET /healthz answers,
	// with the body {"error":"injected"}.
	Status int
	// Delay is added before every request but GET /healthz is answered. The delay
	// ends early when the request's context ends (the client went away or the
	// instance was stopped); the request is then counted in Cancelled and gets no
	// answer.
	Delay time.Duration
	// Hang holds every request but GET /healthz until its client goes away (counted
	// in Cancelled), as a hung process would: connections are still accepted.
	Hang bool
	// FailHealth makes GET /healthz answer 503 {"error":"injected"}.
	FailHealth bool
}

// MaxRecordedRequests is how many request URIs an Instance remembers; older ones are
// forgotten so that a long benchmark does not grow memory.
const MaxRecordedRequests = 10000

// Instance is one demo service listening on a TCP address, with counters and fault
// injection for tests. Its methods are safe for concurrent use.
type Instance struct {
	svc         Service
	addr        string // the resolved listen address; fixed once started
	handler     http.Handler
	contentType []string

	fault     atomic.Pointer[Fault] // nil: no fault
	calls     atomic.Int64
	cancelled atomic.Int64

	reqMu      sync.Mutex
	reqs       []string
	lastHeader http.Header

	mu   sync.Mutex    // guards srv and done
	srv  *http.Server  // nil when stopped
	done chan struct{} // closed when srv.Serve has returned
}

// StartInstance starts serving svc over ds on addr, such as "127.0.0.1:0", in a
// goroutine the Instance owns. Stop it with Close.
func StartInstance(ds *Dataset, svc Service, addr string) (*Instance, error) {
	if !svc.valid() {
		return nil, fmt.Errorf("demo: unknown service %q", svc)
	}
	in := &Instance{
		svc:         svc,
		addr:        addr,
		handler:     NewHandler(ds, svc),
		contentType: []string{"application/json"},
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demo: %s: %w", svc, err)
	}
	in.addr = ln.Addr().String()
	in.serve(ln)
	return in, nil
}

// serve starts an http.Server on ln. The caller holds in.mu or owns in exclusively.
func (in *Instance) serve(ln net.Listener) {
	srv := &http.Server{
		Handler:           http.HandlerFunc(in.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // always http.ErrServerClosed or a listener error after Close
	}()
	in.srv, in.done = srv, done
}

// Service returns the service the instance serves.
func (in *Instance) Service() Service { return in.svc }

// Addr returns the address the instance listens on, such as "127.0.0.1:40123". It
// stays the same across Stop and Start.
func (in *Instance) Addr() string { return in.addr }

// URL returns the base URL of the instance, such as "http://127.0.0.1:40123".
func (in *Instance) URL() string { return "http://" + in.addr }

// Running reports whether the instance is listening.
func (in *Instance) Running() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.srv != nil
}

// Start listens again on Addr after Stop, to simulate a restart. It fails if the
// instance is running or the address is taken.
func (in *Instance) Start() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.srv != nil {
		return fmt.Errorf("demo: %s instance at %s is already running", in.svc, in.addr)
	}
	ln, err := net.Listen("tcp", in.addr)
	if err != nil {
		return fmt.Errorf("demo: restart %s: %w", in.svc, err)
	}
	in.serve(ln)
	return nil
}

// Stop simulates a kill: it closes the listener and every open connection at once,
// without waiting for requests in flight. It does nothing if the instance is stopped.
func (in *Instance) Stop() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.srv == nil {
		return
	}
	_ = in.srv.Close()
	<-in.done
	in.srv = nil
}

// Shutdown stops the instance gracefully: it stops listening, then waits for the
// requests in flight until ctx ends, when it closes the remaining connections like
// Stop. It returns ctx's error if it had to.
func (in *Instance) Shutdown(ctx context.Context) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.srv == nil {
		return nil
	}
	err := in.srv.Shutdown(ctx)
	if err != nil {
		_ = in.srv.Close()
	}
	<-in.done
	in.srv = nil
	return err
}

// Close stops the instance like Stop. It is idempotent and always returns nil; it
// exists for cleanup, as in t.Cleanup(func() { in.Close() }).
func (in *Instance) Close() error {
	in.Stop()
	return nil
}

// SetFault sets the fault injected from now on; Fault{} heals the instance.
func (in *Instance) SetFault(f Fault) {
	if f == (Fault{}) {
		in.fault.Store(nil)
		return
	}
	in.fault.Store(&f)
}

// Fault returns the fault currently injected.
func (in *Instance) Fault() Fault {
	if f := in.fault.Load(); f != nil {
		return *f
	}
	return Fault{}
}

// Calls returns the number of requests received other than GET /healthz, including
// those answered with an injected fault.
func (in *Instance) Calls() int64 { return in.calls.Load() }

// Cancelled returns the number of requests whose context ended while the instance
// was delaying them (see Fault.Delay).
func (in *Instance) Cancelled() int64 { return in.cancelled.Load() }

// Requests returns the request URIs (path and query, as sent) of the requests counted
// by Calls, in the order they arrived; at most the last MaxRecordedRequests.
func (in *Instance) Requests() []string {
	in.reqMu.Lock()
	defer in.reqMu.Unlock()
	return slices.Clone(in.reqs)
}

// ResetCounters sets Calls and Cancelled to zero and forgets the recorded requests.
func (in *Instance) ResetCounters() {
	in.reqMu.Lock()
	in.reqs = nil
	in.calls.Store(0)
	in.cancelled.Store(0)
	in.reqMu.Unlock()
}

// LastRequestID returns the X-Request-Id of the last request served except
// /healthz, or "".
func (in *Instance) LastRequestID() string { return in.LastHeader("X-Request-Id") }

// LastHeader returns a header of the last request served except /healthz, or "".
func (in *Instance) LastHeader(name string) string {
	in.reqMu.Lock()
	defer in.reqMu.Unlock()
	return in.lastHeader.Get(name)
}

func (in *Instance) record(uri string, h http.Header) {
	in.reqMu.Lock()
	in.lastHeader = h
	if len(in.reqs) >= MaxRecordedRequests {
		n := copy(in.reqs, in.reqs[len(in.reqs)-MaxRecordedRequests/2:])
		clear(in.reqs[n:])
		in.reqs = in.reqs[:n]
	}
	in.reqs = append(in.reqs, uri)
	in.calls.Add(1)
	in.reqMu.Unlock()
}

func (in *Instance) serveHTTP(w http.ResponseWriter, r *http.Request) {
	f := in.fault.Load()
	if r.URL.Path == "/healthz" {
		if f != nil && f.FailHealth {
			in.writeInjected(w, http.StatusServiceUnavailable)
			return
		}
		in.handler.ServeHTTP(w, r)
		return
	}
	in.record(r.RequestURI, r.Header.Clone())
	if f != nil {
		if f.Hang {
			<-r.Context().Done()
			in.cancelled.Add(1)
			return
		}
		if f.Delay > 0 && !in.delay(r.Context(), f.Delay) {
			return
		}
		if f.Status != 0 {
			in.writeInjected(w, f.Status)
			return
		}
	}
	in.handler.ServeHTTP(w, r)
}

// delay waits for d and reports true, or reports false if ctx ends first.
func (in *Instance) delay(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		in.cancelled.Add(1)
		return false
	}
}

func (in *Instance) writeInjected(w http.ResponseWriter, status int) {
	w.Header()["Content-Type"] = in.contentType
	w.WriteHeader(status)
	_, _ = io.WriteString(w, bodyInjected)
}

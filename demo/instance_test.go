package demo

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestInstanceAccessors(t *testing.T) {
	in := startInstance(t, NewDataset(), Catalog)
	if in.Service() != Catalog {
		t.Errorf("Service() = %q", in.Service())
	}
	if !strings.HasPrefix(in.Addr(), "127.0.0.1:") || strings.HasSuffix(in.Addr(), ":0") {
		t.Errorf("Addr() = %q", in.Addr())
	}
	if in.URL() != "http://"+in.Addr() {
		t.Errorf("URL() = %q", in.URL())
	}
	if !in.Running() {
		t.Error("not running")
	}
}

func TestStartInstanceErrors(t *testing.T) {
	ds := NewDataset()
	if _, err := StartInstance(ds, "payments", "127.0.0.1:0"); err == nil {
		t.Error("unknown service started")
	}
	in := startInstance(t, ds, Users)
	if _, err := StartInstance(ds, Users, in.Addr()); err == nil {
		t.Error("started twice on one address")
	}
	if err := in.Start(); err == nil {
		t.Error("Start of a running instance succeeded")
	}
}

func TestCounters(t *testing.T) {
	in := startInstance(t, NewDataset(), Users)
	c := newClient(t)
	targets := []string{"/users/u1", "/users?ids=u1,u2", "/users/nobody", "/nope?x=1"}
	for _, target := range targets {
		do(t, c, "GET", in.URL()+target)
		do(t, c, "GET", in.URL()+"/healthz")
	}
	if got := in.Calls(); got != int64(len(targets)) {
		t.Errorf("Calls() = %d, want %d", got, len(targets))
	}
	if got := in.Requests(); !slices.Equal(got, targets) {
		t.Errorf("Requests() = %q, want %q", got, targets)
	}
	in.ResetCounters()
	if in.Calls() != 0 || len(in.Requests()) != 0 || in.Cancelled() != 0 {
		t.Errorf("after reset: %d calls, %q, %d cancelled", in.Calls(), in.Requests(), in.Cancelled())
	}
	do(t, c, "GET", in.URL()+"/users/u3")
	if in.Calls() != 1 || !slices.Equal(in.Requests(), []string{"/users/u3"}) {
		t.Errorf("after one more: %d calls, %q", in.Calls(), in.Requests())
	}
}

func TestRequestsBounded(t *testing.T) {
	in := &Instance{}
	for i := range MaxRecordedRequests*2 + 7 {
		in.record(string(rune('a'+i%26)), nil)
	}
	if n := len(in.Requests()); n > MaxRecordedRequests || n < MaxRecordedRequests/2 {
		t.Errorf("%d requests remembered", n)
	}
	if got := in.Requests(); got[len(got)-1] != string(rune('a'+(MaxRecordedRequests*2+6)%26)) {
		t.Errorf("last request %q is not the last recorded", got[len(got)-1])
	}
	if in.Calls() != MaxRecordedRequests*2+7 {
		t.Errorf("Calls() = %d", in.Calls())
	}
}

func TestFaults(t *testing.T) {
	ds := NewDataset()
	c := newClient(t)
	const injected = `{"error":"injected"}`
	tests := []struct {
		name         string
		fault        Fault
		status       int // of GET /users/u1
		body         string
		minDur       time.Duration
		healthStatus int
	}{
		{"none", Fault{}, 200, wantU1, 0, 200},
		{"status 503", Fault{Status: 503}, 503, injected, 0, 200},
		{"status 500", Fault{Status: 500}, 500, injected, 0, 200},
		{"delay", Fault{Delay: 80 * time.Millisecond}, 200, wantU1, 80 * time.Millisecond, 200},
		{"delay and status", Fault{Delay: 50 * time.Millisecond, Status: 502}, 502, injected, 50 * time.Millisecond, 200},
		{"fail health", Fault{FailHealth: true}, 200, wantU1, 0, 503},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := startInstance(t, ds, Users)
			in.SetFault(tc.fault)
			if in.Fault() != tc.fault {
				t.Errorf("Fault() = %+v", in.Fault())
			}
			start := time.Now()
			r := do(t, c, "GET", in.URL()+"/users/u1")
			if d := time.Since(start); d < tc.minDur {
				t.Errorf("answered after %v, want at least %v", d, tc.minDur)
			}
			if r.status != tc.status || r.body != tc.body {
				t.Errorf("got %d %s, want %d %s", r.status, r.body, tc.status, tc.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			start = time.Now()
			h := do(t, c, "GET", in.URL()+"/healthz")
			if h.status != tc.healthStatus {
				t.Errorf("health %d %s, want %d", h.status, h.body, tc.healthStatus)
			}
			if d := time.Since(start); tc.minDur > 0 && d >= tc.minDur {
				t.Errorf("health check delayed %v", d)
			}
			if in.Calls() != 1 {
				t.Errorf("Calls() = %d, want 1", in.Calls())
			}

			in.SetFault(Fault{})
			if r := do(t, c, "GET", in.URL()+"/users/u1"); r.status != 200 || r.body != wantU1 {
				t.Errorf("healed: got %d %s", r.status, r.body)
			}
			if h := do(t, c, "GET", in.URL()+"/healthz"); h.status != 200 {
				t.Errorf("healed health: %d", h.status)
			}
		})
	}
}

func TestDelayCancelledByClient(t *testing.T) {
	in := startInstance(t, NewDataset(), Orders)
	c := newClient(t)
	in.SetFault(Fault{Delay: time.Minute})

	const n = 3
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", in.URL()+"/orders/o1", nil)
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
				t.Error("request answered despite a one-minute delay")
			} else if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v", err)
			}
		})
	}
	wg.Wait()
	waitFor(t, "the upstream to see the cancellations", func() bool { return in.Cancelled() == n })
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
	if in.Calls() != n {
		t.Errorf("Calls() = %d", in.Calls())
	}
}

func TestStopStart(t *testing.T) {
	in := startInstance(t, NewDataset(), Catalog)
	c := newClient(t)
	url := in.URL()
	if r := do(t, c, "GET", url+"/products/p1"); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}

	in.Stop()
	in.Stop() // idempotent
	if in.Running() {
		t.Error("running after Stop")
	}
	// The kept-alive connection was closed too: the request cannot succeed on it.
	if resp, err := c.Get(url + "/products/p1"); err == nil {
		resp.Body.Close()
		t.Fatal("request succeeded on a stopped instance")
	}

	if err := in.Start(); err != nil {
		t.Fatal(err)
	}
	if in.URL() != url {
		t.Errorf("URL changed from %s to %s", url, in.URL())
	}
	if r := do(t, c, "GET", url+"/products/p1"); r.status != 200 || r.body != wantP1 {
		t.Fatalf("after restart: %d %s", r.status, r.body)
	}
	if in.Calls() != 2 {
		t.Errorf("Calls() = %d, want 2 (counters survive a restart)", in.Calls())
	}

	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStopCutsRequestsInFlight(t *testing.T) {
	in := startInstance(t, NewDataset(), Users)
	c := newClient(t)
	in.SetFault(Fault{Delay: time.Minute})
	errc := make(chan error, 1)
	go func() {
		resp, err := c.Get(in.URL() + "/users/u1")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	waitFor(t, "the request to arrive", func() bool { return in.Calls() == 1 })
	in.Stop()
	select {
	case err := <-errc:
		if err == nil {
			t.Error("request in flight answered")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("request in flight not cut by Stop")
	}
	waitFor(t, "the delay to be cancelled", func() bool { return in.Cancelled() == 1 })
}

func TestShutdownWaitsForRequestsInFlight(t *testing.T) {
	in := startInstance(t, NewDataset(), Users)
	c := newClient(t)
	in.SetFault(Fault{Delay: 100 * time.Millisecond})
	errc := make(chan error, 1)
	go func() {
		r, err := c.Get(in.URL() + "/users/u1")
		if err == nil {
			r.Body.Close()
			if r.StatusCode != 200 {
				err = errors.New(r.Status)
			}
		}
		errc <- err
	}()
	waitFor(t, "the request to arrive", func() bool { return in.Calls() == 1 })
	if err := in.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Errorf("request in flight failed: %v", err)
	}
	if in.Running() {
		t.Error("running after Shutdown")
	}
}

func TestCluster(t *testing.T) {
	ds := NewDataset()
	cl, err := StartCluster(ds, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	c := newClient(t)

	if n := len(cl.All()); n != 8 {
		t.Fatalf("%d instances", n)
	}
	seen := map[string]bool{}
	for _, svc := range Services {
		ins, urls := cl.Instances(svc), cl.URLs(svc)
		if len(ins) != 2 || len(urls) != 2 {
			t.Fatalf("%s: %d instances, %d URLs", svc, len(ins), len(urls))
		}
		for i, in := range ins {
			if in.Service() != svc || in.URL() != urls[i] || seen[urls[i]] {
				t.Errorf("%s: instance %d at %s", svc, i, urls[i])
			}
			seen[urls[i]] = true
			if r := do(t, c, "GET", urls[i]+"/healthz"); r.status != 200 {
				t.Errorf("%s health %d", urls[i], r.status)
			}
		}
	}

	for _, u := range cl.URLs(Users) {
		do(t, c, "GET", u+"/users/u1")
	}
	do(t, c, "GET", cl.URLs(Catalog)[0]+"/products/p1")
	if cl.Calls(Users) != 2 || cl.Calls(Catalog) != 1 || cl.Calls(Orders) != 0 {
		t.Errorf("calls: users %d, catalog %d, orders %d", cl.Calls(Users), cl.Calls(Catalog), cl.Calls(Orders))
	}

	cl.SetFault(Reviews, Fault{Status: 503})
	for _, u := range cl.URLs(Reviews) {
		if r := do(t, c, "GET", u+"/reviews?productId=p1"); r.status != 503 {
			t.Errorf("%s: %d", u, r.status)
		}
	}
	if r := do(t, c, "GET", cl.URLs(Users)[0]+"/users/u1"); r.status != 200 {
		t.Errorf("fault leaked to users: %d", r.status)
	}

	cl.ResetCounters()
	for _, svc := range Services {
		if cl.Calls(svc) != 0 {
			t.Errorf("%s calls %d after reset", svc, cl.Calls(svc))
		}
	}

	if err := cl.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, in := range cl.All() {
		if in.Running() {
			t.Errorf("%s running after Shutdown", in.URL())
		}
	}
	cl.Close()
}

func TestStartClusterErrors(t *testing.T) {
	ds := NewDataset()
	if _, err := StartCluster(ds, 0); err == nil {
		t.Error("cluster of 0 started")
	}
	if _, err := StartClusterAt(ds, map[Service][]string{"payments": {"127.0.0.1:0"}}); err == nil {
		t.Error("unknown service started")
	}
	taken := startInstance(t, ds, Users)
	_, err := StartClusterAt(ds, map[Service][]string{
		Users:  {"127.0.0.1:0"},
		Orders: {taken.Addr()},
	})
	if err == nil {
		t.Fatal("cluster started on a taken address")
	}
}

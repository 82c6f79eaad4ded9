package lb

import (
	"context"
	"errors"
	"testing"

	"github.com/switchyard/switchyard/setting"
)

// TestForward: the pool chooses each attempt of a forwarded request, retries a dial
// failure on another endpoint, a 5xx only when idempotent and replayable, and keeps
// its counts (in flight, active calls, retry budget) balanced.
func TestForward(t *testing.T) {
	p := newPool(t, Options{Endpoints: []string{"http://127.0.0.1:1", "http://127.0.0.1:2"}, Retries: setting.Ptr(2)})
	ctx := context.Background()
	inflight := func() (n int64) {
		for _, e := range p.Status() {
			n += e.InFlight
		}
		return n
	}
	balanced := func() {
		t.Helper()
		if n := inflight(); n != 0 {
			t.Fatalf("%d attempts still in flight", n)
		}
		if n := p.active.Load(); n != 0 {
			t.Fatalf("%d calls still active", n)
		}
		if n := p.budget.inflight.Load(); n != 0 {
			t.Fatalf("%d retries still hold the budget", n)
		}
	}

	// A dial failure moves to the other endpoint, whatever the method.
	f, err := p.Forward(ctx, "POST")
	if err != nil {
		t.Fatal(err)
	}
	first := f.Next(false)
	if first == nil || inflight() != 1 {
		t.Fatal("no first attempt")
	}
	first.End(0, ReachError(errors.New("connection refused")))
	second := f.Next(false)
	if second == nil || second.URL == first.URL {
		t.Fatalf("the retry went to %v after %s", second, first.URL)
	}
	second.End(200, nil)
	if f.Next(false) != nil {
		t.Fatal("a success was retried")
	}
	f.Finish()
	balanced()
	if p.Stats().Retries != 1 {
		t.Fatalf("retries %d, want 1", p.Stats().Retries)
	}

	// A 5xx: a POST with a body that left is not retried, a bodiless GET is.
	for _, tc := range []struct {
		method     string
		replayable bool
		retried    bool
	}{{"POST", false, false}, {"GET", false, false}, {"GET", true, true}} {
		f, _ := p.Forward(ctx, tc.method)
		f.Next(tc.replayable).End(502, nil)
		retry := f.Next(tc.replayable)
		if (retry != nil) != tc.retried {
			t.Errorf("%s replayable=%v: retried %v", tc.method, tc.replayable, retry != nil)
		}
		if retry != nil {
			retry.End(200, nil)
		}
		f.Finish()
		balanced()
	}

	// A cancelled caller is not retried.
	cctx, cancel := context.WithCancel(ctx)
	f, _ = p.Forward(cctx, "GET")
	a := f.Next(true)
	cancel()
	a.End(0, context.Canceled)
	if f.Next(true) != nil {
		t.Fatal("a cancelled request was retried")
	}
	f.Finish()
	balanced()
}

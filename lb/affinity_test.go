package lb

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func inbound(header, cookie string) *Affinity {
	r := httptest.NewRequest("GET", "/", nil)
	if header != "" {
		r.Header.Set("X-Key", header)
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: "sy", Value: cookie})
	}
	return NewAffinity(r, "192.0.2.1:5555")
}

func TestRingHashKeepsKeysAndMovesFewWhenAnEndpointLeaves(t *testing.T) {
	const n, keys = 5, 5000
	clock := &fakeClock{}
	p := pickPool(t, RingHash, n, clock)
	owner := func(k int) *endpoint {
		ctx := WithAffinity(context.Background(), inbound(fmt.Sprint("user-", k), ""))
		ep, _ := p.chooseFor(ctx, p.current(clock.now()), nil)
		return ep
	}
	before := make([]*endpoint, keys)
	perEndpoint := map[*endpoint]int{}
	for k := range keys {
		before[k] = owner(k)
		perEndpoint[before[k]]++
		if again := owner(k); again != before[k] {
			t.Fatalf("key %d went to two endpoints", k)
		}
	}
	for _, ep := range p.endpoints {
		if c := perEndpoint[ep]; c < keys/n/2 || c > keys/n*2 {
			t.Errorf("%s owns %d of %d keys", ep.url, c, keys)
		}
	}
	gone := p.endpoints[2]
	gone.healthy.Store(false)
	p.rebuild()
	moved := 0
	for k := range keys {
		after := owner(k)
		if after == gone {
			t.Fatal("a key went to the endpoint that left")
		}
		if after != before[k] {
			moved++
			if before[k] != gone {
				t.Fatalf("key %d moved from %s, which did not leave", k, before[k].url)
			}
		}
	}
	if limit := keys / n * 3 / 2; moved > limit {
		t.Errorf("%d of %d keys moved when one of %d endpoints left; want at most about 1/%d", moved, keys, n, n)
	}
}

func TestRingHashOnClientIPAndCookie(t *testing.T) {
	for _, on := range []HashOn{{ClientIP: true}, {Cookie: "sy"}} {
		a := inbound("", "c1")
		b := inbound("", "c1")
		if k1, ok1 := on.key(a); !ok1 {
			t.Fatalf("%+v: no key", on)
		} else if k2, _ := on.key(b); k1 != k2 {
			t.Fatalf("%+v: the same client hashes differently", on)
		}
	}
	if _, ok := (HashOn{Header: "X-Key"}).key(inbound("", "")); ok {
		t.Fatal("an absent header gave a key")
	}
}

func TestStickySessionsPinAndMove(t *testing.T) {
	clock := &fakeClock{}
	p := pickPool(t, RoundRobin, 3, clock)
	p.opts.Sticky = Sticky{Cookie: "sy"}
	p.rebuild() // the snapshot's picker is made from the options
	first := inbound("", "")
	ep, _ := p.chooseFor(WithAffinity(context.Background(), first), p.current(clock.now()), nil)
	pins := first.Pins()
	if pins["sy"] != ep.id {
		t.Fatalf("pins %v, want sy=%s", pins, ep.id)
	}
	for range 20 {
		again := inbound("", ep.id)
		got, _ := p.chooseFor(WithAffinity(context.Background(), again), p.current(clock.now()), nil)
		if got != ep {
			t.Fatal("a pinned client went elsewhere")
		}
		if len(again.Pins()) != 0 {
			t.Fatal("an unchanged pin was sent again")
		}
	}
	ep.healthy.Store(false)
	p.rebuild()
	moved := inbound("", ep.id)
	got, _ := p.chooseFor(WithAffinity(context.Background(), moved), p.current(clock.now()), nil)
	if got == ep {
		t.Fatal("a client stayed pinned to an unhealthy endpoint")
	}
	if moved.Pins()["sy"] != got.id {
		t.Fatalf("the client was not re-pinned: %v", moved.Pins())
	}
	if got, _ := p.chooseFor(WithAffinity(context.Background(), inbound("", "forged")), p.current(clock.now()), nil); got == nil {
		t.Fatal("an unknown pin left the client without an endpoint")
	}
}

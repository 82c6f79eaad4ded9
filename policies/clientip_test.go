package policies

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	c, err := NewClientIPs([]string{"10.0.0.0/8", "::1", "192.0.2.9"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"untrusted peer, no header", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"untrusted peer's header is ignored", "203.0.113.5:4000", []string{"1.2.3.4"}, "203.0.113.5"},
		{"trusted peer, client from the header", "10.1.2.3:4000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"the hop nearest the gateway wins", "10.1.2.3:4000", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"trusted hops are skipped", "10.1.2.3:4000", []string{"6.6.6.6, 198.51.100.7, 10.9.9.9"}, "198.51.100.7"},
		{"several header lines read as one list", "10.1.2.3:4000", []string{"6.6.6.6", "198.51.100.7, 10.9.9.9"}, "198.51.100.7"},
		{"all hops trusted: the leftmost", "[::1]:4000", []string{"10.2.2.2, 192.0.2.9"}, "10.2.2.2"},
		{"trusted peer without a header", "[::1]:4000", nil, "::1"},
		{"garbage stops the walk", "10.1.2.3:4000", []string{"6.6.6.6, nonsense, 10.9.9.9"}, "10.9.9.9"},
		{"hops with ports", "10.1.2.3:4000", []string{"[2001:db8::1]:443, 10.9.9.9:80"}, "2001:db8::1"},
		{"a mapped IPv4 peer is IPv4", "[::ffff:10.1.2.3]:4000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"an empty header", "10.1.2.3:4000", []string{""}, "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.peer, Header: http.Header{}}
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := c.Of(r); got != tt.want {
				t.Errorf("client of %s %q = %q, want %q", tt.peer, tt.xff, got, tt.want)
			}
		})
	}
	var none *ClientIPs
	r := &http.Request{RemoteAddr: "10.1.2.3:4000", Header: http.Header{"X-Forwarded-For": {"1.1.1.1"}}}
	if got := none.Of(r); got != "10.1.2.3" {
		t.Errorf("without trusted proxies the client is %q, want the peer", got)
	}
}

func TestParseProxy(t *testing.T) {
	for _, s := range []string{"10.0.0.0/8", "10.0.0.1", "::1", "2001:db8::/32", "10.1.2.3/8"} {
		if _, err := ParseProxy(s); err != nil {
			t.Errorf("ParseProxy(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "10.0.0.0/33", "example.com", "10.0.0.1:80", "10.0.0/8"} {
		if _, err := ParseProxy(s); err == nil {
			t.Errorf("ParseProxy(%q) accepted it", s)
		}
	}
}

// FuzzClientIP checks that whatever a peer sends in X-Forwarded-For, the client is
// an address, and an untrusted peer is always its own client.
func FuzzClientIP(f *testing.F) {
	f.Add("10.1.2.3:4000", "6.6.6.6, 198.51.100.7, 10.9.9.9")
	f.Add("203.0.113.5:1", "1.2.3.4")
	f.Add("[::1]:80", "[2001:db8::1]:443,,, ,")
	f.Add("10.0.0.1:1", "\x00,10.0.0.2")
	c, err := NewClientIPs([]string{"10.0.0.0/8", "::1"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := &http.Request{RemoteAddr: peer, Header: http.Header{"X-Forwarded-For": {xff}}}
		got := c.Of(r)
		a, err := netip.ParseAddr(got)
		if err != nil {
			// Only a peer address that is no address comes back as it was.
			if _, perr := netip.ParseAddrPort(peer); perr == nil {
				t.Fatalf("client %q of peer %q is not an address", got, peer)
			}
			return
		}
		if ap, perr := netip.ParseAddrPort(peer); perr == nil && !c.isTrusted(ap.Addr().Unmap()) && a != ap.Addr() {
			t.Fatalf("untrusted peer %q got client %q from %q", peer, got, xff)
		}
	})
}

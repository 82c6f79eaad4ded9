package policies

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIPs finds the address of the client behind a request. X-Forwarded-For is
// believed only as far as it was written by trusted proxies: the hops are read from
// the right (the one nearest the gateway) and the first address that is not a
// trusted proxy is the client. A peer that is not trusted is the client itself,
// whatever X-Forwarded-For it sends, so a spoofed header gains nothing.
type ClientIPs struct {
	trusted []netip.Prefix
}

// NewClientIPs returns the resolver for the trusted proxies given as addresses
// ("10.0.0.7", "::1") or CIDR prefixes ("10.0.0.0/8").
func NewClientIPs(trusted []string) (*ClientIPs, error) {
	c := &ClientIPs{}
	for _, s := range trusted {
		p, err := ParseProxy(s)
		if err != nil {
			return nil, err
		}
		c.trusted = append(c.trusted, p)
	}
	return c, nil
}

// ParseProxy parses a trusted proxy given as an address or a CIDR prefix.
func ParseProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR prefix", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR prefix", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (c *ClientIPs) isTrusted(a netip.Addr) bool {
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// PeerTrusted reports whether r's peer is a trusted proxy, whose X-Forwarded-For
// may be believed and passed on.
func (c *ClientIPs) PeerTrusted(r *http.Request) bool {
	if c == nil || len(c.trusted) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	return err == nil && c.isTrusted(peer.Unmap())
}

// Of returns the client address of r, without a port. It is r's peer address unless
// that peer is a trusted proxy.
func (c *ClientIPs) Of(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if c == nil || len(c.trusted) == 0 {
		return host
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !c.isTrusted(peer.Unmap()) {
		return host
	}
	client := peer.Unmap()
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		line := hops[i]
		for line != "" {
			var hop string
			if j := strings.LastIndexByte(line, ','); j >= 0 {
				hop, line = line[j+1:], line[:j]
			} else {
				hop, line = line, ""
			}
			a, ok := parseHop(strings.TrimSpace(hop))
			if !ok {
				// Garbage from whoever wrote this hop: what lies left of it
				// cannot be believed, so the last good hop is the client.
				return client.String()
			}
			client = a
			if !c.isTrusted(a) {
				return a.String()
			}
		}
	}
	return client.String()
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a port
// ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

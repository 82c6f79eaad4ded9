package lb

import (
	"context"
	"hash/fnv"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
)

// RingHash is the policy that sends requests with the same key to the same endpoint:
// consistent hashing over a ring of virtual nodes, so that when an endpoint leaves or
// comes back only about 1/N of the keys move. Requests without a key are spread at
// random.
const RingHash Policy = "ring_hash"

// HashOn names what a ring-hash pool hashes: one of Header, Cookie or ClientIP.
type HashOn struct {
	Header   string `yaml:"header"`    // the value of this request header
	Cookie   string `yaml:"cookie"`    // the value of this cookie
	ClientIP bool   `yaml:"client_ip"` // the client's address
}

// Sticky configures sticky sessions: a cookie the gateway sets pins a client to the
// endpoint it was first sent to, while that endpoint is available; when it is not,
// the client is moved and the cookie updated. Requests without the cookie are
// balanced by the pool's policy.
type Sticky struct {
	// Cookie is the cookie's name; empty turns sticky sessions off.
	Cookie string `yaml:"cookie"`
}

// Affinity is what one inbound request offers for choosing endpoints: its headers,
// cookies and client address for ring hash and sticky sessions, and the pins that
// sticky pools made, for the gateway to send back as cookies. The gateway puts one in
// the request's context with WithAffinity. It is safe for concurrent use.
type Affinity struct {
	req      *http.Request
	clientIP string

	mu   sync.Mutex
	pins map[string]string // cookie name -> endpoint id
}

// NewAffinity returns the affinity of an inbound request. clientIP is the client's
// address as the gateway trusts it.
func NewAffinity(r *http.Request, clientIP string) *Affinity {
	return &Affinity{req: r, clientIP: clientIP}
}

type affinityKey struct{}

// WithAffinity returns a context carrying a.
func WithAffinity(ctx context.Context, a *Affinity) context.Context {
	return context.WithValue(ctx, affinityKey{}, a)
}

// AffinityFrom returns the affinity in ctx, or nil.
func AffinityFrom(ctx context.Context) *Affinity {
	a, _ := ctx.Value(affinityKey{}).(*Affinity)
	return a
}

func (a *Affinity) cookie(name string) string {
	if c, err := a.req.Cookie(name); err == nil {
		return c.Value
	}
	return ""
}

// pinned returns the endpoint id the request is pinned to for cookie: the pin made
// earlier in this request, else the cookie it came with.
func (a *Affinity) pinned(cookie string) string {
	a.mu.Lock()
	id, ok := a.pins[cookie]
	a.mu.Unlock()
	if ok {
		return id
	}
	return a.cookie(cookie)
}

func (a *Affinity) pin(cookie, id string) {
	a.mu.Lock()
	if a.pins == nil {
		a.pins = map[string]string{}
	}
	a.pins[cookie] = id
	a.mu.Unlock()
}

// Pins returns the cookies to set on the response: for each sticky pool the request
// used, its cookie name and the endpoint the client is pinned to, when that differs
// from what the client sent.
func (a *Affinity) Pins() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]string, len(a.pins))
	for name, id := range a.pins {
		if a.cookie(name) != id {
			out[name] = id
		}
	}
	return out
}

// key returns the hash of what h names in a, and whether there was anything to hash.
func (h HashOn) key(a *Affinity) (uint64, bool) {
	if a == nil {
		return 0, false
	}
	var v string
	switch {
	case h.Header != "":
		v = a.req.Header.Get(h.Header)
	case h.Cookie != "":
		v = a.cookie(h.Cookie)
	case h.ClientIP:
		v = a.clientIP
		if host, _, err := net.SplitHostPort(v); err == nil {
			v = host
		}
	}
	if v == "" {
		return 0, false
	}
	return hash64(v), true
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return mix(h.Sum64())
}

// mix spreads the bits of an FNV hash (whose low bits are weak for short, similar
// inputs) with the finaliser of SplitMix64.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// endpointID is the opaque, stable name of an endpoint in a sticky cookie: it does not
// show the endpoint's address.
func endpointID(url string) string {
	return strconv.FormatUint(hash64(url), 36)
}

// ringNodes is how many points an endpoint of weight 1 has on the ring.
const ringNodes = 160

// ring is the ring-hash picker: points on a circle of 2^64, each owned by an
// endpoint; a key goes to the owner of the first point at or after it.
type ring struct {
	points []uint64
	owners []*endpoint
	random picker // for requests without a key
}

var _ picker = (*ring)(nil)

func newRing(eps []*endpoint, random picker) *ring {
	type point struct {
		at uint64
		ep *endpoint
	}
	pts := make([]point, 0, len(eps)*ringNodes)
	for _, ep := range eps {
		for i := range ringNodes * ep.weight {
			pts = append(pts, point{hash64(ep.url + "#" + strconv.Itoa(i)), ep})
		}
	}
	slices.SortFunc(pts, func(a, b point) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return 0
	})
	r := &ring{points: make([]uint64, len(pts)), owners: make([]*endpoint, len(pts)), random: random}
	for i, p := range pts {
		r.points[i], r.owners[i] = p.at, p.ep
	}
	return r
}

// pick takes the endpoint that owns the request's key, or one at random for a
// request without a key.
func (r *ring) pick(info pickInfo) *endpoint {
	if info.hasKey {
		return r.pickKey(info.key, info.avoid)
	}
	return r.random.pick(info)
}

// pickKey returns the endpoint that owns key, or the next one along the ring that is
// not avoid.
func (r *ring) pickKey(key uint64, avoid *endpoint) *endpoint {
	n := len(r.points)
	i, _ := slices.BinarySearch(r.points, key)
	for k := range n {
		if ep := r.owners[(i+k)%n]; ep != avoid {
			return ep
		}
	}
	return r.owners[i%n]
}

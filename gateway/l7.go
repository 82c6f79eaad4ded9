package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/inbound"
	"github.com/switchyard/switchyard/l7"
	"github.com/switchyard/switchyard/lb"
	"github.com/switchyard/switchyard/policies"
)

// maxTransformedBody bounds an answer read whole to rewrite its JSON fields.
const maxTransformedBody = 10 << 20

// l7Routes builds the configured L7 routes, tried in order for the requests the
// gateway's own routes do not serve; fallback serves those no route takes.
func (g *Gateway) l7Routes(rt *router, fallback http.Handler) (*l7.Router, error) {
	router := &l7.Router{Fallback: fallback, OnMatch: func(r *http.Request, name string) {
		if rec := inbound.From(r.Context()); rec != nil {
			rec.Route = "route:" + name
		}
	}}
	for _, rc := range g.cfg.Routes {
		match, names, err := rc.Match.CompileMatch()
		if err != nil {
			return nil, err // validated at load
		}
		route := l7.Route{Name: rc.Name, Match: match}
		var h http.Handler
		switch {
		case rc.Proxy != nil:
			p, err := g.proxy(rt, rc, names)
			if err != nil {
				return nil, err
			}
			h = p
		case rc.Respond != nil:
			h = l7.Fixed(rc.Respond.Status, rc.Respond.Headers, rc.Respond.Body)
		case rc.Redirect != nil:
			to, err := l7.ParseTemplate(rc.Redirect.To, append(append([]string{}, l7.TemplateNames...), names...))
			if err != nil {
				return nil, err
			}
			h = l7.Redirect(rc.Redirect.Status, to, rc.Redirect.DropQuery, rc.RedirectHosts())
		}
		h = l7.WithResponseHeaders(rc.ResponseHeaders.Canonical(), h)
		h = g.limits.rates.Middleware("route:"+rc.Name, h) // after auth: a caller is its principal
		if a := rc.Auth; a != nil {
			h = recordPrincipal(h)
			if a.Authenticated || len(a.Scopes) > 0 {
				h = policies.Require(policies.Requirement{Scopes: a.Scopes}, h)
			}
			h = g.auth.authn.Middleware(h)
		}
		route.Handler = policies.RESTErrors(h)
		router.Routes = append(router.Routes, route)
	}
	return router, nil
}

// proxy builds a route's proxy to its pool.
func (g *Gateway) proxy(rt *router, rc config.Route, names []string) (http.Handler, error) {
	pc := rc.Proxy
	pool := g.pools.named(pc.Pool)
	if pool == nil {
		return nil, fmt.Errorf("route %s: no pool %q", rc.Name, pc.Pool)
	}
	o := l7.ProxyOptions{
		Pool: pool, Transport: rt.transportFor(pool, g.cfg.Pools[pool.Name()]), StripPrefix: pc.StripPrefix, PreserveHost: pc.PreserveHost,
		RequestHeaders: pc.RequestHeaders.Canonical(), ForwardClaims: map[string]string{},
		TrustForwarded: g.auth.clientIPs.PeerTrusted, Log: g.log,
		OnAttempt: func(ctx context.Context, failed bool) { // for the access log
			if info := inbound.From(ctx); info != nil {
				info.Calls.Add(1)
				if failed {
					info.Errors.Add(1)
				}
			}
		},
	}
	poolCfg := g.cfg.Pools[pc.Pool]
	for k, v := range poolCfg.RequestHeaders { // the pool's, unless the route sets its own
		k = http.CanonicalHeaderKey(k)
		if _, own := o.RequestHeaders.Set[k]; !own {
			o.RequestHeaders.Set[k] = v
		}
	}
	for claim, header := range poolCfg.ForwardClaims {
		// Sent with a caller's values on a route with auth; on any route, a
		// client's own copies are removed.
		o.ForwardClaims[claim] = http.CanonicalHeaderKey(header)
	}
	if pc.Rewrite != "" {
		t, err := l7.ParseTemplate(pc.Rewrite, names)
		if err != nil {
			return nil, err
		}
		o.Rewrite = t
	}
	for claim, header := range pc.ForwardClaims {
		o.ForwardClaims[claim] = http.CanonicalHeaderKey(header)
	}
	if rc.Auth != nil {
		// The gateway's own credential goes no further.
		o.RequestHeaders.Remove = append(o.RequestHeaders.Remove, http.CanonicalHeaderKey(g.cfg.Auth.APIKeyHeader))
	}
	if f := pc.ResponseFields; f != nil {
		o.Fields, o.MaxFieldsBody = f, maxTransformedBody
	}
	if !g.pools.affinity {
		return l7.NewProxy(o), nil
	}
	o.OnResponse = func(r *http.Request, hdr http.Header) { // sticky pools pin the client
		if aff := lb.AffinityFrom(r.Context()); aff != nil {
			for name, id := range aff.Pins() {
				hdr.Add("Set-Cookie", (&http.Cookie{Name: name, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode}).String())
			}
		}
	}
	h := l7.NewProxy(o)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(lb.WithAffinity(r.Context(), lb.NewAffinity(r, g.auth.clientIPs.Of(r)))))
	}), nil
}

// transportFor is the HTTP transport of the proxies to pool: one per pool, kept
// across reloads that keep the pool, so that its connections stay warm. It speaks
// TLS to https endpoints with the pool's own configuration, and HTTP/1.1 only, as
// the pool's own client does: one request per connection at a time is what the
// pool's in-flight counts, breakers and idle limits assume.
func (rt *router) transportFor(pool *lb.Pool, pc config.Pool) *http.Transport {
	if t := rt.transports[pool]; t != nil {
		return t
	}
	t := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: pc.ConnectTimeout.Duration}).DialContext,
		MaxIdleConnsPerHost: pc.MaxIdleConnsPerEndpoint,
		IdleConnTimeout:     pc.IdleConnTimeout.Duration,
		DisableCompression:  true, // a proxy passes encodings through
		// The head of an answer, interim ones included (l7.interimFilter bounds
		// their number), as the pool's own client bounds it.
		MaxResponseHeaderBytes: int64(pc.MaxResponseHeaderBytes),
		TLSClientConfig:        pool.TLSConfig(),
		TLSHandshakeTimeout:    pc.ConnectTimeout.Duration,
		ForceAttemptHTTP2:      false,
	}
	rt.transports[pool] = t
	return t
}

// recordPrincipal names the authenticated caller in the request's access-log record.
func recordPrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := policies.PrincipalFrom(r.Context()); p != nil {
			if rec := inbound.From(r.Context()); rec != nil {
				rec.Principal = p.Subject
			}
		}
		next.ServeHTTP(w, r)
	})
}

package l7

import (
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/policies"
	"github.com/switchyard/switchyard/setting"
)

// RouteConfig is an L7 route as the configuration's routes list holds it, key for
// key: a match and one action (proxy, respond or redirect). The gateway builds a
// Route from it (CompileMatch, the actions' constructors) and wraps it in the
// policies it names.
type RouteConfig struct {
	// Name names the route in metrics and logs. Required, unique; letters, digits,
	// _, . and -.
	Name  string      `yaml:"name"`
	Match MatchConfig `yaml:"match"`
	// Proxy sends the request to a pool, streaming both ways.
	Proxy *ProxyConfig `yaml:"proxy"`
	// Respond answers a fixed response.
	Respond *FixedResponse `yaml:"respond"`
	// Redirect answers a redirect.
	Redirect *RedirectConfig `yaml:"redirect"`
	// Auth, when set, authenticates the caller (API key or bearer token) and
	// requires what it says; without it the route reads no credential.
	Auth *policies.Requirement `yaml:"auth"`
	// ResponseHeaders change the answer's headers, whatever the action.
	ResponseHeaders HeaderOps `yaml:"response_headers"`
}

// MatchConfig is what a request must have to match; every condition set must hold.
type MatchConfig struct {
	// Hosts: one must equal the request's host (without port), or "*.example.com"
	// match a subdomain of example.com.
	Hosts []string `yaml:"hosts"`
	// PathPrefix matches a path equal to it or under it, by whole segments
	// ("/static" matches /static and /static/a.css, not /statics).
	PathPrefix string `yaml:"path_prefix"`
	// Path is a pattern: literal segments, {name} for one segment, {name...} for
	// the rest ("/files/{id}/{rest...}"). The names may be used in rewrite and
	// redirect templates.
	Path string `yaml:"path"`
	// Methods: the request's must be one of them.
	Methods []string `yaml:"methods"`
	// Headers: each must be present with this value, or with any value for "*".
	Headers map[string]string `yaml:"headers"`
	// Query: each parameter must be present with this value, or any for "*".
	Query map[string]string `yaml:"query"`
}

// ProxyConfig sends matching requests to a pool's endpoints, with its balancing,
// retries (dial failures always; idempotent requests whose body was not sent),
// breakers and timeouts. Bodies stream both ways; WebSocket upgrades pass through.
type ProxyConfig struct {
	Pool string `yaml:"pool"`
	// StripPrefix is removed from the start of the path.
	StripPrefix string `yaml:"strip_prefix"`
	// Rewrite replaces the path with a template of the path pattern's names,
	// "/v2/items/{id}".
	Rewrite string `yaml:"rewrite"`
	// PreserveHost sends the client's Host header instead of the endpoint's.
	PreserveHost bool `yaml:"preserve_host"`
	// RequestHeaders change the headers sent to the upstream.
	RequestHeaders HeaderOps `yaml:"request_headers"`
	// ForwardClaims sends the caller's principal to the upstream: claim (or
	// "sub", "scopes") to header. A client's own headers of these names are
	// removed first. Needs auth.
	ForwardClaims map[string]string `yaml:"forward_claims"`
	// ResponseFields rewrites a JSON answer's fields (of the object, or of each
	// object of an array); the answer is then read whole, up to 10 MiB. Other
	// answers stream untouched.
	ResponseFields *FieldMap `yaml:"response_fields"`
}

// FixedResponse is an answer the gateway gives itself.
type FixedResponse struct {
	Status  int               `yaml:"status"` // default 200
	Headers map[string]string `yaml:"headers"`
	Body    string            `yaml:"body"`
}

// RedirectConfig answers with a Location built from a template.
type RedirectConfig struct {
	// Status is 301, 302 (default), 303, 307 or 308.
	Status int `yaml:"status"`
	// To is the target: a URL or path with {scheme}, {host}, {path}, {query} and
	// the path pattern's names, "https://{host}{path}". The request's query is
	// appended unless To uses {query} or DropQuery is set.
	To        string `yaml:"to"`
	DropQuery bool   `yaml:"drop_query"`
	// {host} is the request's host only when the route's match.hosts names it
	// exactly or Hosts lists it; for any other Host header a client sends it is
	// DefaultHost, which defaults to the first exact name in match.hosts and is
	// required when there is none and To uses {host}.
	Hosts       []string `yaml:"hosts"`
	DefaultHost string   `yaml:"default_host"`
}

// SetDefaults fills the statuses of the route's answers and makes a requirement
// with scopes an authenticated one.
func (rt *RouteConfig) SetDefaults() {
	if f := rt.Respond; f != nil && f.Status == 0 {
		f.Status = http.StatusOK
	}
	if rd := rt.Redirect; rd != nil && rd.Status == 0 {
		rd.Status = http.StatusFound
	}
	if rt.Auth != nil && len(rt.Auth.Scopes) > 0 {
		rt.Auth.Authenticated = true
	}
}

// CompileMatch is the match of the route's requests, with the path pattern's
// names: host names in lower case, header names canonical.
func (m MatchConfig) CompileMatch() (Match, []string, error) {
	out := Match{PathPrefix: m.PathPrefix, Methods: m.Methods, Query: m.Query}
	for _, h := range m.Hosts {
		out.Hosts = append(out.Hosts, strings.ToLower(h))
	}
	if len(m.Headers) > 0 {
		out.Headers = make(map[string]string, len(m.Headers))
		for k, v := range m.Headers {
			out.Headers[http.CanonicalHeaderKey(k)] = v
		}
	}
	if m.Path == "" {
		return out, nil, nil
	}
	p, err := ParsePattern(m.Path)
	if err != nil {
		return out, nil, err
	}
	out.Path = p
	return out, p.Names(), nil
}

// DefaultHost is the host {host} stands for when the request's is not one the
// route names: DefaultHost, else the first exact name of matched (the route's
// match.hosts), else "".
func (rd *RedirectConfig) defaultHost(matched []string) string {
	if rd.DefaultHost != "" {
		return rd.DefaultHost
	}
	for _, h := range matched {
		if !strings.HasPrefix(h, "*") {
			return h
		}
	}
	return ""
}

// RedirectHosts are the hosts the route's redirect may take {host} from: the
// route's exact host names and those its redirect lists.
func (rt *RouteConfig) RedirectHosts() RedirectHosts {
	var allowed []string
	for _, h := range append(slices.Clone(rt.Match.Hosts), rt.Redirect.Hosts...) {
		if !strings.HasPrefix(h, "*") {
			allowed = append(allowed, strings.ToLower(h))
		}
	}
	return RedirectHosts{Allowed: allowed, Default: rt.Redirect.defaultHost(rt.Match.Hosts)}
}

// Canonical is o with canonical header names, as Apply expects them.
func (o HeaderOps) Canonical() HeaderOps {
	out := HeaderOps{Set: map[string]string{}, Add: map[string]string{}}
	for k, v := range o.Set {
		out.Set[http.CanonicalHeaderKey(k)] = v
	}
	for k, v := range o.Add {
		out.Add[http.CanonicalHeaderKey(k)] = v
	}
	for _, k := range o.Remove {
		out.Remove = append(out.Remove, http.CanonicalHeaderKey(k))
	}
	return out
}

// Validate reports header names that are not tokens and values with line breaks.
func (o HeaderOps) Validate(at setting.Path, r setting.Reporter) {
	for _, m := range []map[string]string{o.Set, o.Add} {
		for name, v := range m {
			if !setting.Token(name) || strings.ContainsAny(v, "\r\n") {
				r.Add(at.Key(name), "not a header name, or a value with a line break")
			}
		}
	}
	for j, name := range o.Remove {
		if !setting.Token(name) {
			r.Add(at.Key("remove").Index(j), "%q is not a header name", name)
		}
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// ValidateRoutes reports, under at, the problems of routes with their defaults
// set; pool reports whether a pool of that name is configured.
func ValidateRoutes(routes []RouteConfig, pool func(name string) bool, at setting.Path, r setting.Reporter) {
	names := map[string]bool{}
	for i := range routes {
		rt := &routes[i]
		at := at.Index(i)
		switch {
		case rt.Name == "":
			r.Add(at.Key("name"), "every route needs a name")
		case !nameRE.MatchString(rt.Name):
			r.Add(at.Key("name"), "%q: use letters, digits, _, . and -", rt.Name)
		case names[rt.Name]:
			r.Add(at.Key("name"), "%q is used twice", rt.Name)
		}
		names[rt.Name] = true
		rt.validate(pool, at, r)
	}
}

func (rt *RouteConfig) validate(pool func(string) bool, at setting.Path, r setting.Reporter) {
	actions := 0
	for _, set := range []bool{rt.Proxy != nil, rt.Respond != nil, rt.Redirect != nil} {
		if set {
			actions++
		}
	}
	if actions != 1 {
		r.Add(at, "a route needs exactly one of proxy, respond and redirect")
	}
	vars := rt.Match.validate(at.Key("match"), r)
	rt.ResponseHeaders.Validate(at.Key("response_headers"), r)
	if p := rt.Proxy; p != nil {
		p.validate(rt.Auth != nil, vars, pool, at.Key("proxy"), r)
	}
	if f := rt.Respond; f != nil {
		if f.Status < 200 || f.Status > 599 {
			r.Add(at.Key("respond").Key("status"), "%d is not a status between 200 and 599", f.Status)
		}
		for name := range f.Headers {
			if !setting.Token(name) {
				r.Add(at.Key("respond").Key("headers").Key(name), "not a header name")
			}
		}
	}
	if rd := rt.Redirect; rd != nil {
		rd.validate(rt.Match.Hosts, vars, at.Key("redirect"), r)
	}
}

// validate reports the match's problems and returns its path pattern's names.
func (m *MatchConfig) validate(at setting.Path, r setting.Reporter) (vars []string) {
	for j, h := range m.Hosts {
		if h == "" || strings.ContainsAny(h, "/: ") || strings.Contains(h[1:], "*") || (strings.HasPrefix(h, "*") && !strings.HasPrefix(h, "*.")) {
			r.Add(at.Key("hosts").Index(j), "%q is not a host name or *.domain", h)
		}
	}
	if m.PathPrefix != "" && !strings.HasPrefix(m.PathPrefix, "/") {
		r.Add(at.Key("path_prefix"), "%q does not start with /", m.PathPrefix)
	}
	if m.Path != "" {
		if pattern, err := ParsePattern(m.Path); err != nil {
			r.Add(at.Key("path"), "%v", err)
		} else {
			vars = pattern.Names()
			for _, name := range vars {
				if slices.Contains(TemplateNames, name) {
					r.Add(at.Key("path"), "{%s} is a name redirects keep for themselves (%s): choose another", name, strings.Join(TemplateNames, ", "))
				}
			}
		}
	}
	for j, meth := range m.Methods {
		if !nameRE.MatchString(meth) || strings.ToUpper(meth) != meth {
			r.Add(at.Key("methods").Index(j), "%q is not a method (upper case, as GET)", meth)
		}
	}
	for name := range m.Headers {
		if !setting.Token(name) {
			r.Add(at.Key("headers").Key(name), "not a header name")
		}
	}
	for name := range m.Query {
		if name == "" {
			r.Add(at.Key("query"), "a parameter needs a name")
		}
	}
	return vars
}

func (p *ProxyConfig) validate(auth bool, vars []string, pool func(string) bool, at setting.Path, r setting.Reporter) {
	if !pool(p.Pool) {
		r.Add(at.Key("pool"), "no pool %q", p.Pool)
	}
	if p.StripPrefix != "" && !strings.HasPrefix(p.StripPrefix, "/") {
		r.Add(at.Key("strip_prefix"), "%q does not start with /", p.StripPrefix)
	}
	if p.Rewrite != "" {
		if p.StripPrefix != "" {
			r.Add(at.Key("rewrite"), "use rewrite or strip_prefix, not both")
		}
		if !strings.HasPrefix(p.Rewrite, "/") {
			r.Add(at.Key("rewrite"), "%q does not start with /", p.Rewrite)
		} else if _, err := ParseTemplate(p.Rewrite, vars); err != nil {
			r.Add(at.Key("rewrite"), "%v (the names come from match.path)", err)
		}
	}
	p.RequestHeaders.Validate(at.Key("request_headers"), r)
	if len(p.ForwardClaims) > 0 && !auth {
		r.Add(at.Key("forward_claims"), "needs the route's auth, which finds the caller")
	}
	for claim, h := range p.ForwardClaims {
		if !setting.Token(h) {
			r.Add(at.Key("forward_claims").Key(claim), "%q is not a header name", h)
		}
	}
	if f := p.ResponseFields; f != nil && len(f.Keep) == 0 && len(f.Drop) == 0 && len(f.Rename) == 0 {
		r.Add(at.Key("response_fields"), "name fields to keep, drop or rename")
	}
}

func (rd *RedirectConfig) validate(matched, vars []string, at setting.Path, r setting.Reporter) {
	for j, h := range rd.Hosts {
		if h == "" || strings.ContainsAny(h, "/:* ") {
			r.Add(at.Key("hosts").Index(j), "%q is not a host name", h)
		}
	}
	switch {
	case strings.ContainsAny(rd.DefaultHost, "/* "):
		r.Add(at.Key("default_host"), "%q is not a host name (with a port, if any)", rd.DefaultHost)
	case rd.defaultHost(matched) == "" && strings.Contains(rd.To, "{host}"):
		r.Add(at.Key("default_host"), "the redirect uses {host}: name the host it means when the request's Host is one the route does not name (match.hosts or redirect.hosts)")
	}
	switch rd.Status {
	case 301, 302, 303, 307, 308:
	default:
		r.Add(at.Key("status"), "%d is not a redirect status (301, 302, 303, 307, 308)", rd.Status)
	}
	if rd.To == "" {
		r.Add(at.Key("to"), "a redirect needs its target")
	} else if _, err := ParseTemplate(rd.To, append(slices.Clone(TemplateNames), vars...)); err != nil {
		r.Add(at.Key("to"), "%v", err)
	}
}

package l7

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/httperr"
)

// Match is what a request must have for a route to take it; every condition that
// is set must hold.
type Match struct {
	Hosts      []string // exact, or "*.example.com" for its subdomains; lower case
	PathPrefix string   // by whole segments
	Path       *Pattern
	Methods    []string
	Headers    map[string]string // canonical name -> value, "*" for any
	Query      map[string]string // name -> value, "*" for any
}

// matches reports whether r matches, with the path pattern's variables. query is
// r's parsed query, parsed on first need and kept for the next route.
func (m *Match) matches(r *http.Request, query *url.Values) (map[string]string, bool) {
	if len(m.Methods) > 0 && !slices.Contains(m.Methods, r.Method) {
		return nil, false
	}
	if len(m.Hosts) > 0 && !hostMatches(m.Hosts, requestHost(r)) {
		return nil, false
	}
	path := r.URL.Path
	if m.PathPrefix != "" && !underPrefix(path, m.PathPrefix) {
		return nil, false
	}
	for name, want := range m.Headers {
		vs, ok := r.Header[name]
		if !ok || (want != "*" && !slices.Contains(vs, want)) {
			return nil, false
		}
	}
	if len(m.Query) > 0 {
		if *query == nil {
			*query = r.URL.Query()
		}
		for name, want := range m.Query {
			vs, ok := (*query)[name]
			if !ok || (want != "*" && !slices.Contains(vs, want)) {
				return nil, false
			}
		}
	}
	if m.Path != nil {
		return m.Path.Match(path)
	}
	return nil, true
}

// hasDotSegment reports whether the (unescaped) path has a "." or ".." segment.
func hasDotSegment(path string) bool {
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// underPrefix reports whether path is prefix or under it by whole segments.
func underPrefix(path, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		return true
	}
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// requestHost is the request's host, lower case, without a port.
func requestHost(r *http.Request) string {
	h := r.Host
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}

func hostMatches(hosts []string, host string) bool {
	for _, h := range hosts {
		if suffix, ok := strings.CutPrefix(h, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
		} else if h == host {
			return true
		}
	}
	return false
}

// Route is a match and the handler of the requests it takes.
type Route struct {
	Name    string
	Match   Match
	Handler http.Handler
}

// Router tries its routes in order; the first that matches serves the request, and
// a request none matches goes to Fallback.
type Router struct {
	Routes   []Route
	Fallback http.Handler
	// OnMatch, when set, is told which route took a request (for metrics and logs).
	OnMatch func(r *http.Request, route string)
}

type varsKey struct{}

// Vars returns the path pattern's variables of the route serving the request.
func Vars(ctx context.Context) map[string]string {
	v, _ := ctx.Value(varsKey{}).(map[string]string)
	return v
}

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if len(rt.Routes) > 0 && hasDotSegment(r.URL.Path) {
		// "/open/../admin" would match /open and reach /admin upstream, past the
		// route (and the auth) that /admin has.
		httperr.REST(w, http.StatusBadRequest, "BAD_REQUEST", "a path may not hold . or .. segments")
		return
	}
	var query url.Values
	for i := range rt.Routes {
		route := &rt.Routes[i]
		vars, ok := route.Match.matches(r, &query)
		if !ok {
			continue
		}
		if rt.OnMatch != nil {
			rt.OnMatch(r, route.Name)
		}
		if vars != nil {
			r = r.WithContext(context.WithValue(r.Context(), varsKey{}, vars))
		}
		route.Handler.ServeHTTP(w, r)
		return
	}
	rt.Fallback.ServeHTTP(w, r)
}

// Fixed answers every request with status, headers and body.
func Fixed(status int, headers map[string]string, body string) http.Handler {
	h := http.Header{}
	for k, v := range headers {
		h.Set(k, v)
	}
	if h.Get("Content-Type") == "" && body != "" {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range h {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte(body))
		}
	})
}

// TemplateNames are the placeholders every redirect template may use, besides its
// route's path pattern's names.
var TemplateNames = []string{"scheme", "host", "path", "query"}

// Redirect answers with status and a Location built from to, whose placeholders are
// TemplateNames and the path pattern's names. The request's query is appended unless
// the template uses {query} or dropQuery is set.
//
// {host} is the request's Host only when hosts allows it: a client chooses its Host
// header, and a redirect must not send it to a site of its choosing.
func Redirect(status int, to *Template, dropQuery bool, hosts RedirectHosts) http.Handler {
	keepQuery := !dropQuery && !to.Uses("query")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vars := map[string]string{"scheme": "http", "host": hosts.of(r), "path": r.URL.EscapedPath(), "query": r.URL.RawQuery}
		if r.TLS != nil {
			vars["scheme"] = "https"
		}
		for k, v := range Vars(r.Context()) {
			vars[k] = v
		}
		loc := to.Expand(vars, TemplateNames...)
		// A path that begins with two slashes ("//evil.example/x") must not turn a
		// local target into another site's.
		for strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
			loc = loc[1:]
		}
		if keepQuery && r.URL.RawQuery != "" {
			sep := "?"
			if strings.Contains(loc, "?") {
				sep = "&"
			}
			loc += sep + r.URL.RawQuery
		}
		w.Header().Set("Location", loc)
		w.WriteHeader(status)
	})
}

// RedirectHosts are the hosts a redirect's {host} may be.
type RedirectHosts struct {
	// Allowed are host names, lower case and without a port, that {host} takes
	// from the request (with the request's port, if any).
	Allowed []string
	// Default is what {host} is for any other request.
	Default string
}

func (h RedirectHosts) of(r *http.Request) string {
	name := requestHost(r)
	if !slices.Contains(h.Allowed, name) {
		return h.Default
	}
	// The allowed name with the request's port, when that is a number: nothing
	// else of the client's Host reaches the Location.
	if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "" {
		if n, err := strconv.Atoi(port); err == nil && n > 0 && n < 65536 && strconv.Itoa(n) == port {
			return net.JoinHostPort(name, port)
		}
	}
	return name
}

// HeaderOps change headers: Remove, then Set, then Add. Names are canonical.
type HeaderOps struct {
	Set    map[string]string `yaml:"set"`
	Add    map[string]string `yaml:"add"`
	Remove []string          `yaml:"remove"`
}

// Empty reports whether o changes nothing.
func (o HeaderOps) Empty() bool { return len(o.Set) == 0 && len(o.Add) == 0 && len(o.Remove) == 0 }

// Apply changes h.
func (o HeaderOps) Apply(h http.Header) {
	for _, k := range o.Remove {
		h.Del(k)
	}
	for k, v := range o.Set {
		h.Set(k, v)
	}
	for k, v := range o.Add {
		h.Add(k, v)
	}
}

// WithResponseHeaders applies ops to the headers of every answer of next.
func WithResponseHeaders(ops HeaderOps, next http.Handler) http.Handler {
	if ops.Empty() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&headerWriter{ResponseWriter: w, ops: ops}, r)
	})
}

type headerWriter struct {
	http.ResponseWriter
	ops   HeaderOps
	wrote bool
}

func (w *headerWriter) WriteHeader(status int) {
	if !w.wrote && status >= 200 {
		w.wrote = true
		w.ops.Apply(w.ResponseWriter.Header())
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *headerWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes, upgrades).
func (w *headerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

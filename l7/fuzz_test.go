package l7

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzPattern parses arbitrary path patterns and matches arbitrary paths: a match
// gives every name of the pattern a value, a segment's value is one non-empty
// segment, and the values put back into the pattern give the path again.
func FuzzPattern(f *testing.F) {
	for _, s := range [][2]string{
		{"/a/{id}", "/a/42"}, {"/files/{rest...}", "/files/x/y.css"}, {"/files/{rest...}", "/files"},
		{"/{all...}", "/"}, {"/a/{id}/b", "/a//b"}, {"/x", "x"}, {"/{a}/{b}", "/1/2/3"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		p, err := ParsePattern(pattern)
		if err != nil {
			return
		}
		vars, ok := p.Match(path)
		if !ok {
			return
		}
		for _, name := range p.Names() {
			if _, ok := vars[name]; !ok {
				t.Fatalf("%q on %q: no value for {%s}", pattern, path, name)
			}
		}
		var b strings.Builder
		for _, s := range p.segs {
			b.WriteByte('/')
			if s.name == "" {
				b.WriteString(s.lit)
				continue
			}
			v := vars[s.name]
			if v == "" || strings.Contains(v, "/") {
				t.Fatalf("%q on %q: {%s} = %q", pattern, path, s.name, v)
			}
			b.WriteString(v)
		}
		built := b.String()
		if built == "" {
			built = "/"
		}
		if p.rest != "" {
			if v := vars[p.rest]; v != "" || path != built {
				built = strings.TrimSuffix(built, "/") + "/" + v
			}
		}
		if built != path {
			t.Fatalf("%q on %q: the values rebuild %q", pattern, path, built)
		}
	})
}

// FuzzTemplate expands arbitrary templates with arbitrary values: an escaped value
// unescapes to itself and cannot add a query or a fragment, and a redirect's
// Location never names another site by starting with two slashes.
func FuzzTemplate(f *testing.F) {
	for _, s := range [][3]string{
		{"/v2/{id}", "a b", "/x"}, {"/{id}", "?q=1#f", "//evil.example"}, {"https://{host}{path}", "x", "/\\evil"},
		{"{path}", "../..", "//evil.example/x"}, {"/{id}{id}", "%2F", "/%2F%2Fevil"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, tmpl, value, path string) {
		tp, err := ParseTemplate(tmpl, []string{"id", "scheme", "host", "path", "query"})
		if err != nil {
			return
		}
		if tp.Uses("id") && !strings.ContainsAny(tmpl, "?#%") {
			got := tp.Expand(map[string]string{"id": value})
			if strings.ContainsAny(got, "?#") {
				t.Fatalf("%q with %q: %q has a query or fragment", tmpl, value, got)
			}
			if un, err := url.PathUnescape(got); err != nil || un != strings.ReplaceAll(tmpl, "{id}", value) {
				t.Fatalf("%q with %q: %q unescapes to %q, %v", tmpl, value, got, un, err)
			}
		}
		u, err := url.Parse("http://gw.example" + path)
		if err != nil || !strings.HasPrefix(path, "/") {
			return
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.URL, r.Host = u, "gw.example"
		w := httptest.NewRecorder()
		Redirect(http.StatusFound, tp, false, RedirectHosts{Allowed: []string{"gw.example"}, Default: "gw.example"}).ServeHTTP(w, r)
		if loc := w.Header().Get("Location"); strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
			t.Fatalf("%q on %q: Location %q names another site", tmpl, path, loc)
		}
	})
}

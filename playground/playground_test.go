package playground

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// get sends a request with the given method to srv and returns the
// response with its body read.
func get(t *testing.T, srv *httptest.Server, method, target string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// serve starts a test server with the handler mounted the way the gateway
// mounts it, at MountPath and below.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(MountPath, h)
	mux.Handle(MountPath+"/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// page fetches the playground page from srv.
func page(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	resp, body := get(t, srv, http.MethodGet, MountPath)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", MountPath, resp.StatusCode)
	}
	return body
}

// attrRE matches src and href attributes with a double-quoted, single-quoted
// or unquoted value.
var attrRE = regexp.MustCompile(`(?i)\s(?:src|href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))`)

// references returns the unescaped values of every src and href attribute
// of page.
func references(page string) []string {
	var refs []string
	for _, m := range attrRE.FindAllStringSubmatch(page, -1) {
		refs = append(refs, html.UnescapeString(m[1]+m[2]+m[3]))
	}
	return refs
}

func TestPage(t *testing.T) {
	srv := serve(t, Handler("Switchyard", Endpoint{Name: "v1", URL: "/graphql"}))

	for _, target := range []string{MountPath, MountPath + "/"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			t.Run(method+" "+target, func(t *testing.T) {
				resp, body := get(t, srv, method, target)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d, want 200", resp.StatusCode)
				}
				for name, want := range map[string]string{
					"Content-Type":            "text/html; charset=utf-8",
					"Content-Security-Policy": ContentSecurityPolicy,
					"X-Content-Type-Options":  "nosniff",
				} {
					if got := resp.Header.Get(name); got != want {
						t.Errorf("%s = %q, want %q", name, got, want)
					}
				}
				if method == http.MethodHead {
					if body != "" {
						t.Errorf("HEAD body = %q, want empty", body)
					}
					return
				}
				for _, want := range []string{
					"<title>Switchyard</title>",
					`data-endpoint="/graphql"`,
					`id="playground"`,
				} {
					if !strings.Contains(body, want) {
						t.Errorf("page lacks %s", want)
					}
				}
			})
		}
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	directives := make(map[string]string)
	for _, d := range strings.Split(ContentSecurityPolicy, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, want := range map[string]string{
		"default-src":     "'self'",
		"script-src":      "'self'",
		"connect-src":     "'self'",
		"object-src":      "'none'",
		"frame-ancestors": "'none'",
		"base-uri":        "'none'",
	} {
		if got := directives[name]; got != want {
			t.Errorf("%s %q, want %q", name, got, want)
		}
	}
}

func TestPageHasNoInlineScript(t *testing.T) {
	srv := serve(t, Handler("Switchyard"))
	body := page(t, srv)
	scripts := regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`).FindAllStringSubmatch(body, -1)
	if len(scripts) == 0 {
		t.Fatal("page has no scripts")
	}
	for _, s := range scripts {
		if !strings.Contains(s[1], "src=") || strings.TrimSpace(s[2]) != "" {
			t.Errorf("inline script: %s", s[0])
		}
	}
	if regexp.MustCompile(`(?i)\son[a-z]+\s*=`).MatchString(body) {
		t.Error("page has an inline event handler")
	}
}

func TestPageReferencesOnlyLocalAssets(t *testing.T) {
	srv := serve(t, Handler("Switchyard"))
	refs := references(page(t, srv))

	want := []string{
		"graphiql.min.css", "playground.css", "react.production.min.js",
		"react-dom.production.min.js", "graphiql.min.js", "playground.js",
	}
	var names []string
	for _, ref := range refs {
		names = append(names, path.Base(ref))
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("page references %q, want %q", names, want)
	}

	for _, ref := range refs {
		t.Run(ref, func(t *testing.T) {
			if !strings.HasPrefix(ref, MountPath+"/") || strings.HasPrefix(ref, "//") ||
				strings.Contains(ref, "://") || strings.Contains(ref, `\`) {
				t.Fatalf("reference %q is not a same-origin path under %s/", ref, MountPath)
			}

			resp, body := get(t, srv, http.MethodGet, ref)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			wantType := map[string]string{
				".js":  "text/javascript; charset=utf-8",
				".css": "text/css; charset=utf-8",
			}[path.Ext(ref)]
			if got := resp.Header.Get("Content-Type"); got != wantType {
				t.Errorf("Content-Type = %q, want %q", got, wantType)
			}
			if len(body) == 0 {
				t.Error("empty body")
			}
			if !utf8.ValidString(body) {
				t.Error("body is not valid UTF-8 but is served as such")
			}
			if got := resp.Header.Get("Cache-Control"); got != immutable {
				t.Errorf("Cache-Control = %q, want %q", got, immutable)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}

			etag := resp.Header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			resp, _ = get(t, srv, http.MethodGet, ref, "If-None-Match", etag)
			if resp.StatusCode != http.StatusNotModified {
				t.Errorf("conditional GET: status %d, want 304", resp.StatusCode)
			}
		})
	}
}

func TestAssets(t *testing.T) {
	srv := serve(t, Handler("Switchyard"))
	hash := embedded()["graphiql.min.js"].hash

	tests := []struct {
		name, target string
		status       int
		contentType  string
		cacheControl string
	}{
		{"unversioned", "/playground/assets/graphiql.min.js", 200, "text/javascript; charset=utf-8", "no-cache"},
		{"versioned", "/playground/assets/" + hash + "/graphiql.min.js", 200, "text/javascript; charset=utf-8", immutable},
		{"css", "/playground/assets/graphiql.min.css", 200, "text/css; charset=utf-8", "no-cache"},
		{"license", "/playground/assets/licenses/graphiql.LICENSE", 200, "text/plain; charset=utf-8", "no-cache"},
		{"stale hash", "/playground/assets/0123456789abcdef/graphiql.min.js", 404, "", ""},
		{"other file's hash", "/playground/assets/" + hash + "/react.production.min.js", 404, "", ""},
		{"unknown asset", "/playground/assets/nope.js", 404, "", ""},
		{"unknown versioned asset", "/playground/assets/" + hash + "/nope.js", 404, "", ""},
		{"not embedded", "/playground/assets/VERSIONS", 404, "", ""},
		{"assets dir", "/playground/assets/", 404, "", ""},
		{"outside assets", "/playground/graphiql.min.js", 404, "", ""},
		{"template", "/playground/index.html", 404, "", ""},
		{"traversal", "/playground/assets/../playground.go", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, srv, http.MethodGet, tt.target)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status != http.StatusOK {
				return
			}
			if got := resp.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if got := resp.Header.Get("Cache-Control"); got != tt.cacheControl {
				t.Errorf("Cache-Control = %q, want %q", got, tt.cacheControl)
			}
			if body == "" {
				t.Error("empty body")
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	srv := serve(t, Handler("Switchyard"))
	for _, target := range []string{MountPath, MountPath + "/assets/graphiql.min.js"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			t.Run(method+" "+target, func(t *testing.T) {
				resp, _ := get(t, srv, method, target)
				if resp.StatusCode != http.StatusMethodNotAllowed {
					t.Errorf("status %d, want 405", resp.StatusCode)
				}
				if got := resp.Header.Get("Allow"); got != "GET, HEAD" {
					t.Errorf("Allow = %q, want %q", got, "GET, HEAD")
				}
			})
		}
	}
}

func TestEndpoints(t *testing.T) {
	type jsonEndpoint struct{ Name, Endpoint string }
	evil := `<script>alert("x")</script> & 'v1'`

	tests := []struct {
		name      string
		title     string
		endpoints []Endpoint
		want      []jsonEndpoint
		absent    []string // raw strings that must not appear in the page
	}{
		{
			name: "default",
			want: []jsonEndpoint{{"/graphql", "/graphql"}},
		},
		{
			name:      "name defaults to URL",
			endpoints: []Endpoint{{URL: "/v1/graphql?trace=1"}},
			want:      []jsonEndpoint{{"/v1/graphql?trace=1", "/v1/graphql?trace=1"}},
		},
		{
			name:      "several",
			endpoints: []Endpoint{{"v1", "/v1/graphql"}, {"v2", "/v2/graphql"}},
			want:      []jsonEndpoint{{"v1", "/v1/graphql"}, {"v2", "/v2/graphql"}},
		},
		{
			name:      "special characters are escaped",
			title:     evil,
			endpoints: []Endpoint{{evil, "/graphql"}, {`"><img src=x>`, "/v2/graphql"}},
			want:      []jsonEndpoint{{evil, "/graphql"}, {`"><img src=x>`, "/v2/graphql"}},
			absent:    []string{"<script>alert", "<img", `"'v1'`},
		},
	}
	dataRE := regexp.MustCompile(`\sdata-(endpoint|endpoints|title)="([^"]*)"`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, Handler(tt.title, tt.endpoints...))
			body := page(t, srv)
			for _, s := range tt.absent {
				if strings.Contains(body, s) {
					t.Errorf("page contains unescaped %q", s)
				}
			}

			data := make(map[string]string)
			for _, m := range dataRE.FindAllStringSubmatch(body, -1) {
				data[m[1]] = html.UnescapeString(m[2])
			}
			var got []jsonEndpoint
			if err := json.Unmarshal([]byte(data["endpoints"]), &got); err != nil {
				t.Fatalf("data-endpoints %q: %v", data["endpoints"], err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("data-endpoints = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("endpoint %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			if data["endpoint"] != tt.want[0].Endpoint {
				t.Errorf("data-endpoint = %q, want %q", data["endpoint"], tt.want[0].Endpoint)
			}
			wantTitle := tt.title
			if wantTitle == "" {
				wantTitle = "GraphiQL"
			}
			if data["title"] != wantTitle {
				t.Errorf("data-title = %q, want %q", data["title"], wantTitle)
			}
		})
	}
}

func TestHandlerRejectsNonPathEndpoints(t *testing.T) {
	for _, u := range []string{
		"",
		"graphql",
		"http://example.com/graphql",
		"//example.com/graphql",
		`/\example.com/graphql`,
		"/graphql#frag",
		"javascript:alert(1)",
	} {
		t.Run(u, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Handler accepted endpoint URL %q", u)
				}
			}()
			Handler("Switchyard", Endpoint{Name: "bad", URL: u})
		})
	}
}

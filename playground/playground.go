// Package playground serves a GraphiQL page whose scripts, styles and fonts
// are all embedded in the binary, so the playground works without internet
// access and under a strict Content-Security-Policy.
//
// The vendored GraphiQL, React and ReactDOM browser bundles live in
// assets/ and are pinned, with their npm integrity hashes, in
// assets/VERSIONS; fetch-assets.sh re-downloads exactly those versions.
//
// The handler must be mounted at [MountPath], for example with chi:
//
//	h := playground.Handler("Switchyard", playground.Endpoint{Name: "v1", URL: "/graphql"})
//	r.Handle(playground.MountPath, h)
//	r.Handle(playground.MountPath+"/*", h)
//
// The page is served at MountPath (and MountPath + "/") and the assets
// below MountPath + "/assets/". Assets are referenced by the page with a
// content hash in their path and cached by browsers for a year.
package playground

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"
)

// MountPath is the URL path the handler returned by [Handler] must be
// mounted at. The page refers to its assets by absolute paths below it, so
// the handler only works there; it is a constant rather than derived from
// each request so that the page can be rendered once.
const MountPath = "/playground"

// ContentSecurityPolicy is the Content-Security-Policy sent with the page.
//
// Scripts may come only from the gateway itself, and the page contains no
// inline script. Styles allow 'unsafe-inline' because GraphiQL 3 needs it:
// its dialogs inject a <style> element (react-remove-scroll) and CodeMirror
// builds its search dialog from HTML with style attributes. GraphiQL's
// fonts are embedded in its stylesheet as data: URLs. GraphiQL 3 uses
// CodeMirror 5 and starts no workers, so no worker or blob: source is
// allowed. Queries go to same-origin endpoints only (connect-src 'self').
const ContentSecurityPolicy = "default-src 'self'; " +
	"script-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; " +
	"font-src 'self' data:; " +
	"connect-src 'self'; " +
	"object-src 'none'; " +
	"frame-ancestors 'none'; " +
	"base-uri 'none'; " +
	"form-action 'none'"

// immutable is the Cache-Control of assets requested by their
// content-hashed path.
const immutable = "public, max-age=31536000, immutable"

// Endpoint is one GraphQL endpoint the playground can query.
//
// Name is shown in the endpoint picker, which appears when the playground
// has more than one endpoint; it defaults to URL. URL is the absolute path
// of the endpoint on the gateway, such as "/graphql"; the page resolves it
// against its own location, so it works behind any host name.
type Endpoint struct {
	Name, URL string
}

//go:embed index.html
var indexHTML string

//go:embed assets/*.js assets/*.css assets/licenses
var assetFS embed.FS

// embedded holds the embedded assets keyed by their path below assets/,
// read once on first use.
var embedded = sync.OnceValue(loadAssets)

// indexTemplate is the page. Its asset function returns the
// content-hashed path of an embedded asset.
var indexTemplate = template.Must(template.New("index.html").Funcs(template.FuncMap{
	"asset": assetPath,
}).Parse(indexHTML))

// asset is one embedded file as served.
type asset struct {
	data        []byte
	contentType string
	hash        string // hex SHA-256 prefix, used in the path and the ETag
}

// handler serves the rendered page and the embedded assets.
type handler struct {
	page     []byte
	pageETag string
	assets   map[string]*asset // keyed by path below assets/
}

// Handler serves the playground page at its mount path, [MountPath], and
// its assets below it. The page is titled title and queries the given
// endpoints; with none it queries "/graphql". When there is more than one
// endpoint, the page shows a picker to switch between them; the first is
// selected initially.
//
// Only GET and HEAD are allowed; other methods get 405 Method Not Allowed.
// The page is rendered once, here. Handler panics if an endpoint URL is not
// an absolute path on the gateway (such as "/graphql"), since the page
// could not reach it under its Content-Security-Policy.
func Handler(title string, endpoints ...Endpoint) http.Handler {
	if title == "" {
		title = "GraphiQL"
	}
	if len(endpoints) == 0 {
		endpoints = []Endpoint{{URL: "/graphql"}}
	}

	type jsonEndpoint struct {
		Name     string `json:"name"`
		Endpoint string `json:"endpoint"`
	}
	list := make([]jsonEndpoint, len(endpoints))
	for i, e := range endpoints {
		if err := checkEndpointURL(e.URL); err != nil {
			panic(fmt.Sprintf("playground: endpoint %q: %v", e.Name, err))
		}
		name := e.Name
		if name == "" {
			name = e.URL
		}
		list[i] = jsonEndpoint{Name: name, Endpoint: e.URL}
	}
	endpointsJSON, err := json.Marshal(list)
	if err != nil {
		panic("playground: " + err.Error())
	}

	var buf bytes.Buffer
	err = indexTemplate.Execute(&buf, map[string]any{
		"Title":     title,
		"Endpoint":  list[0].Endpoint,
		"Endpoints": string(endpointsJSON),
	})
	if err != nil {
		panic("playground: rendering page: " + err.Error())
	}
	return &handler{
		page:     buf.Bytes(),
		pageETag: `"` + contentHash(buf.Bytes()) + `"`,
		assets:   embedded(),
	}
}

// assetPath returns the content-hashed URL path of the embedded asset with
// the given path below assets/.
func assetPath(name string) (string, error) {
	a := embedded()[name]
	if a == nil {
		return "", fmt.Errorf("no embedded asset %q", name)
	}
	return MountPath + "/assets/" + a.hash + "/" + name, nil
}

// checkEndpointURL reports whether u is an absolute path on the same host,
// optionally with a query, and nothing a browser could resolve to another
// origin.
func checkEndpointURL(u string) error {
	bad := fmt.Errorf("URL %q is not an absolute path such as /graphql", u)
	if !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") || strings.ContainsAny(u, "\\\t\r\n") {
		return bad
	}
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "" || p.Host != "" || p.Fragment != "" {
		return bad
	}
	return nil
}

// loadAssets reads every embedded asset into memory.
func loadAssets() map[string]*asset {
	assets := make(map[string]*asset)
	err := fs.WalkDir(assetFS, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := assetFS.ReadFile(name)
		if err != nil {
			return err
		}
		assets[strings.TrimPrefix(name, "assets/")] = &asset{
			data:        data,
			contentType: contentType(name),
			hash:        contentHash(data),
		}
		return nil
	})
	if err != nil {
		panic("playground: reading embedded assets: " + err.Error())
	}
	return assets
}

// contentType returns the Content-Type of an embedded file by its name.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default: // the LICENSE files
		return "text/plain; charset=utf-8"
	}
}

// contentHash returns a short hex SHA-256 of data, long enough to tell
// versions of a file apart.
func contentHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// ServeHTTP serves the page at MountPath and MountPath + "/", and the
// assets at MountPath + "/assets/<hash>/<name>" (cached immutably) and
// MountPath + "/assets/<name>" (revalidated on every use).
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")

	rest, ok := strings.CutPrefix(r.URL.Path, MountPath)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if rest == "" || rest == "/" {
		hdr := w.Header()
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("ETag", h.pageETag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.page))
		return
	}

	name, ok := strings.CutPrefix(rest, "/assets/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	cacheControl := "no-cache"
	a := h.assets[name]
	if a == nil {
		// A content-hashed path: serve it only if the hash is current, so
		// that a year-long cache entry never holds the wrong content.
		hash, n, ok := strings.Cut(name, "/")
		if a = h.assets[n]; !ok || a == nil || hash != a.hash {
			http.NotFound(w, r)
			return
		}
		cacheControl = immutable
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", cacheControl)
	hdr.Set("ETag", `"`+a.hash+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
}

// Package rest owns the composed REST endpoints: plain JSON routes, each defined by a
// stored GraphQL operation (schema/rest/*.graphql), run by the same GraphQL handler
// as /graphql, with its answer reshaped to the root field's value. It also describes
// them in an OpenAPI 3 document.
package rest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/httperr"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// Endpoint is one composed REST endpoint.
type Endpoint struct {
	Method      string // GET
	Path        string // /rest/v2/users/{id}/dashboard
	Version     string // the schema version it runs on, "v2"
	Description string // the comment lines after the header
	Query       string // the stored operation's text
	Name        string // the operation's name

	op     *ast.OperationDefinition
	schema *ast.Schema
	root   string // the response key of the single root field
	params map[string]bool
}

var (
	headerRE = regexp.MustCompile(`^#\s*rest:\s*(GET|POST|PUT|PATCH|DELETE)\s+(/\S*)\s*$`)
	versRE   = regexp.MustCompile(`^#\s*version:\s*(\S+)\s*$`)
	paramRE  = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

// Load reads the stored operations in fsys (files ending in .graphql, at any depth)
// and checks each against the schema of its version. Every problem is reported,
// naming the file.
func Load(fsys fs.FS, schemas map[string]*ast.Schema) ([]*Endpoint, error) {
	var eps []*Endpoint
	var errs []error
	routes := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(name) != ".graphql" {
			return err
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		ep, err := parse(string(data), schemas)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return nil
		}
		key := ep.Method + " " + paramRE.ReplaceAllString(ep.Path, "{}")
		if other, dup := routes[key]; dup {
			errs = append(errs, fmt.Errorf("%s: %s %s is defined by %s too", name, ep.Method, ep.Path, other))
			return nil
		}
		routes[key] = name
		eps = append(eps, ep)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(eps, func(a, b *Endpoint) int { return strings.Compare(a.Path, b.Path) })
	return eps, errors.Join(errs...)
}

func parse(text string, schemas map[string]*ast.Schema) (*Endpoint, error) {
	ep := &Endpoint{Query: text, params: map[string]bool{}}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "#") {
			break
		}
		switch m := headerRE.FindStringSubmatch(line); {
		case m != nil:
			ep.Method, ep.Path = m[1], m[2]
		case versRE.MatchString(line):
			ep.Version = versRE.FindStringSubmatch(line)[1]
		default:
			ep.Description = strings.TrimSpace(ep.Description + " " + strings.TrimSpace(strings.TrimPrefix(line, "#")))
		}
	}
	if ep.Method == "" {
		return nil, errors.New(`the first lines must name the route: "# rest: GET /rest/..."`)
	}
	ep.schema = schemas[ep.Version]
	if ep.schema == nil {
		return nil, fmt.Errorf("version %q is not served", ep.Version)
	}
	doc, gerrs := gqlparser.LoadQueryWithRules(ep.schema, text, nil)
	if gerrs != nil {
		return nil, fmt.Errorf("the operation does not validate: %w", gerrs)
	}
	if len(doc.Operations) != 1 || doc.Operations[0].Operation != ast.Query {
		return nil, errors.New("a file holds exactly one query")
	}
	ep.op = doc.Operations[0]
	ep.Name = ep.op.Name
	if len(ep.op.SelectionSet) != 1 {
		return nil, errors.New("the query selects exactly one root field, whose value is the answer")
	}
	f, ok := ep.op.SelectionSet[0].(*ast.Field)
	if !ok {
		return nil, errors.New("the root field is a plain field, not a fragment")
	}
	ep.root = f.Alias
	for _, m := range paramRE.FindAllStringSubmatch(ep.Path, -1) {
		if ep.op.VariableDefinitions.ForName(m[1]) == nil {
			return nil, fmt.Errorf("path parameter {%s} is no variable of the query", m[1])
		}
		ep.params[m[1]] = true
	}
	for _, v := range ep.op.VariableDefinitions {
		if !scalarVar(v.Type) {
			return nil, fmt.Errorf("variable $%s: only scalar variables can come from a URL", v.Variable)
		}
	}
	return ep, nil
}

func scalarVar(t *ast.Type) bool {
	if t.Elem != nil {
		return false
	}
	switch t.NamedType {
	case "ID", "String", "Int", "Float", "Boolean":
		return true
	}
	return false
}

// variables reads the operation's variables from the request's path parameters
// (pathParam) and query string, converted to their GraphQL types.
func (ep *Endpoint) variables(r *http.Request, pathParam func(*http.Request, string) string) (map[string]any, error) {
	vars := map[string]any{}
	q := r.URL.Query()
	for _, v := range ep.op.VariableDefinitions {
		name := v.Variable
		var raw string
		var present bool
		if ep.params[name] {
			v, err := url.PathUnescape(pathParam(r, name))
			if err != nil {
				return nil, fmt.Errorf("the %s parameter is not a valid path segment", name)
			}
			raw, present = v, true
		} else if vs, ok := q[name]; ok {
			raw, present = vs[0], true
		}
		if !present {
			if v.Type.NonNull && v.DefaultValue == nil {
				return nil, fmt.Errorf("the %s parameter is required", name)
			}
			continue
		}
		switch v.Type.NamedType {
		case "Int":
			n, err := strconv.ParseInt(raw, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("the %s parameter must be an integer", name)
			}
			vars[name] = n
		case "Float":
			f, err := strconv.ParseFloat(raw, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("the %s parameter must be a number", name)
			}
			vars[name] = f
		case "Boolean":
			b, err := strconv.ParseBool(raw)
			if err != nil {
				return nil, fmt.Errorf("the %s parameter must be true or false", name)
			}
			vars[name] = b
		default:
			vars[name] = raw
		}
	}
	return vars, nil
}

// Handler serves the endpoint by running its operation through graphql, the
// handler of its version, and reshaping the answer:
//
//   - 200 and the root field's value when the answer is complete;
//   - 404 {"error": ...} when the root field is null without an error (no such record);
//   - 207 and the value, with failed parts null, when some of it failed; the
//     failures are in the Switchyard-Errors header as JSON (up to 10, each with path,
//     code and upstream);
//   - when the root field itself failed: 502 (504 for a timeout) {"error": ...};
//   - a request the GraphQL layer refused keeps its status: {"error": ...}.
func (ep *Endpoint) Handler(graphql http.Handler, pathParam func(*http.Request, string) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vars, err := ep.variables(r, pathParam)
		if err != nil {
			httperr.REST(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
			return
		}
		body, _ := json.Marshal(map[string]any{"query": ep.Query, "operationName": ep.Name, "variables": vars})
		inner := r.Clone(r.Context())
		inner.Method = http.MethodPost
		inner.URL.Path = "/" + ep.Version + "/graphql"
		inner.URL.RawQuery = ""
		inner.Body = readCloser{bytes.NewReader(body)}
		inner.ContentLength = int64(len(body))
		inner.Header.Set("Content-Type", "application/json")
		inner.Header.Set("Accept", "application/json")
		rec := &recorder{header: http.Header{}}
		graphql.ServeHTTP(rec, inner)
		ep.reshape(w, rec)
	})
}

type gqlAnswer struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (ep *Endpoint) reshape(w http.ResponseWriter, rec *recorder) {
	for _, h := range []string{"X-Request-Id", "Deprecation", "Sunset", "Set-Cookie", "Retry-After", "WWW-Authenticate", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} {
		if v := rec.header.Values(h); len(v) > 0 {
			w.Header()[h] = v
		}
	}
	var ans gqlAnswer
	if err := json.Unmarshal(rec.body.Bytes(), &ans); err != nil {
		httperr.REST(w, http.StatusBadGateway, "INTERNAL_SERVER_ERROR", "the answer could not be read")
		return
	}
	first := func() (code, msg, upstream string) {
		if len(ans.Errors) == 0 {
			return "INTERNAL_SERVER_ERROR", "internal error", ""
		}
		e := ans.Errors[0]
		code, _ = e.Extensions["code"].(string)
		upstream, _ = e.Extensions["upstream"].(string)
		return code, e.Message, upstream
	}
	if rec.status != http.StatusOK || ans.Data == nil {
		code, msg, up := first()
		status := rec.status
		if status == http.StatusOK {
			status = http.StatusBadGateway
		}
		httperr.RESTUpstream(w, status, code, msg, up)
		return
	}
	value := ans.Data[ep.root]
	if len(value) == 0 || string(value) == "null" {
		if len(ans.Errors) == 0 {
			httperr.REST(w, http.StatusNotFound, "NOT_FOUND", "no such record")
			return
		}
		code, msg, up := first()
		status := http.StatusBadGateway
		switch code {
		case "UPSTREAM_TIMEOUT", "REQUEST_TIMEOUT":
			status = http.StatusGatewayTimeout
		case "BAD_USER_INPUT":
			status = http.StatusBadRequest // a parameter the operation refused
		case "FORBIDDEN":
			status = http.StatusForbidden
		}
		httperr.RESTUpstream(w, status, code, msg, up)
		return
	}
	status := http.StatusOK
	if len(ans.Errors) > 0 {
		status = http.StatusMultiStatus
		type failure struct {
			Path     []any  `json:"path"`
			Code     string `json:"code"`
			Upstream string `json:"upstream,omitempty"`
		}
		var fails []failure
		for _, e := range ans.Errors[:min(10, len(ans.Errors))] {
			code, _ := e.Extensions["code"].(string)
			up, _ := e.Extensions["upstream"].(string)
			p := e.Path
			if len(p) > 0 {
				p = p[1:] // relative to the value answered
			}
			fails = append(fails, failure{Path: p, Code: code, Upstream: up})
		}
		b, _ := json.Marshal(fails)
		w.Header().Set("Switchyard-Errors", string(b))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(value)))
	w.WriteHeader(status)
	_, _ = w.Write(value)
}

// recorder keeps the GraphQL handler's answer for reshaping.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

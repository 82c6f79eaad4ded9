// Package connectors reads a declared schema: SDL whose fields say, with Apollo
// Connectors' directives, which REST call answers them. @source names a service (a
// pool of the configuration) and its base path and headers; @connect on a field, or
// on a type for its entity lookups, names the call (method, URL template, query
// parameters, headers, body) and the selection that maps its answer to the field's
// type. Load parses and checks it all at once and reports every problem with its
// file, line and column.
package connectors

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/switchyard/switchyard/connectors/mapping"
)

// Prelude declares the directives a declared schema may use, so that a schema
// written for Apollo Connectors loads without federation's definitions. A schema's
// own @link is accepted and ignored.
const Prelude = `
directive @link(url: String, import: [String]) repeatable on SCHEMA
directive @source(name: String!, http: SourceHTTP) repeatable on SCHEMA
directive @connect(source: String, http: ConnectHTTP, selection: String!, entity: Boolean = false, batchKey: String) repeatable on FIELD_DEFINITION | OBJECT
directive @compute(expr: String!) on FIELD_DEFINITION
input SourceHTTP { baseURL: String!, headers: [HTTPHeaderMapping!] }
input ConnectHTTP { GET: String, POST: String, PUT: String, PATCH: String, DELETE: String, queryParams: String, headers: [HTTPHeaderMapping!], body: String }
input HTTPHeaderMapping { name: String!, value: String, from: String }
`

// Schema is a loaded declared schema.
type Schema struct {
	AST     *ast.Schema
	Sources map[string]*Source
	// Fields are the connectors of fields, by "Type.field"; Entities those of
	// types, by type name.
	Fields   map[string]*Connector
	Entities map[string]*Connector
	// Computed are the @compute fields, by "Type.field".
	Computed map[string]*Compute
	// Auth are the fields' authorizations (@auth), by "Type.field".
	Auth map[string]*Auth
}

// Source is a service: the pool its calls go to, the path every call's URL starts
// with, and the headers every call sends.
type Source struct {
	Name     string
	BasePath string
	Headers  []Header
	Pos      *ast.Position
}

// Header is a header field a call sends: a template's value, or a client header's
// (From).
type Header struct {
	Name  string
	Value *mapping.Template
	From  string
}

// Connector is one REST call and how its answer maps to GraphQL.
type Connector struct {
	Source    *Source
	Method    string
	URL       *mapping.Template
	Query     *mapping.Selection // nil: no query parameters of its own
	Headers   []Header
	Body      *mapping.Selection // nil: no body
	Selection *mapping.Selection
	// Batch says the call is for many keys at once ($batch), as an entity
	// connector's may be; PerItem that an entity connector looks up one object at
	// a time ($this), for a service without a batch endpoint.
	Batch, PerItem bool
	// BatchKey, on a field's connector reading $batch, is the field of each
	// element of the answer that holds the key of the object it belongs to.
	BatchKey string
	Pos      *ast.Position
	// op names its calls in errors, spans and metrics: "get users".
	op string
}

// Problem is one problem of a schema, at its file, line and column.
type Problem struct {
	File         string
	Line, Column int
	Msg          string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", p.File, p.Line, p.Column, p.Msg)
}

// Problems are all the problems of a schema.
type Problems []*Problem

func (ps Problems) Error() string {
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "\n")
}

// fromGraphQL is a problem gqlparser found.
func fromGraphQL(e *gqlerror.Error) *Problem {
	p := &Problem{Msg: e.Message}
	if f, ok := e.Extensions["file"].(string); ok {
		p.File = f
	}
	if len(e.Locations) > 0 {
		p.Line, p.Column = e.Locations[0].Line, e.Locations[0].Column
	}
	return p
}

// Load parses the SDL files (name to text) and checks their connectors; pool
// reports whether the configuration has a pool of that name. The error, if any, is
// Problems.
func Load(files map[string]string, pool func(name string) bool) (*Schema, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	srcs := []*ast.Source{{Name: "prelude", Input: Prelude, BuiltIn: true}}
	for _, n := range names {
		srcs = append(srcs, &ast.Source{Name: n, Input: files[n]})
	}
	sch, err := gqlparser.LoadSchema(srcs...)
	if err != nil {
		var ps Problems
		switch e := err.(type) {
		case gqlerror.List:
			for _, x := range e {
				ps = append(ps, fromGraphQL(x))
			}
		case *gqlerror.Error:
			ps = Problems{fromGraphQL(e)}
		default:
			return nil, err
		}
		return nil, ps
	}
	l := &loader{s: &Schema{AST: sch, Sources: map[string]*Source{}, Fields: map[string]*Connector{}, Entities: map[string]*Connector{}, Computed: map[string]*Compute{}, Auth: map[string]*Auth{}}, pool: pool}
	l.sources()
	l.connectors()
	l.computes()
	l.auths()
	if len(l.problems) == 0 {
		l.shapes()
	}
	if len(l.problems) > 0 {
		return nil, l.problems
	}
	return l.s, nil
}

type loader struct {
	s        *Schema
	pool     func(string) bool
	problems Problems
}

func (l *loader) add(pos *ast.Position, format string, args ...any) {
	p := &Problem{Msg: fmt.Sprintf(format, args...)}
	if pos != nil {
		p.Line, p.Column = pos.Line, pos.Column
		if pos.Src != nil {
			p.File = pos.Src.Name
		}
	}
	l.problems = append(l.problems, p)
}

func (l *loader) sources() {
	for _, d := range l.s.AST.SchemaDirectives.ForNames("source") {
		name := arg(d, "name")
		src := &Source{Name: name, Pos: d.Position}
		switch {
		case name == "":
			l.add(d.Position, "@source needs a name")
			continue
		case l.s.Sources[name] != nil:
			l.add(d.Position, "@source %q is declared twice", name)
			continue
		case l.pool != nil && !l.pool(name):
			l.add(d.Position, "@source %q names no pool of the configuration (pools.%s)", name, name)
		}
		if http := d.Arguments.ForName("http"); http != nil {
			base := child(http.Value, "baseURL")
			if base != nil {
				u, err := url.Parse(base.Raw)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
					l.add(base.Position, "@source %q: baseURL %q is not an http(s) URL without a query", name, base.Raw)
				} else {
					src.BasePath = strings.TrimSuffix(u.EscapedPath(), "/")
				}
			}
			src.Headers = l.headers(child(http.Value, "headers"), name)
		}
		l.s.Sources[name] = src
	}
}

func (l *loader) headers(v *ast.Value, where string) []Header {
	if v == nil {
		return nil
	}
	var out []Header
	for _, c := range v.Children {
		h := Header{Name: rawChild(c.Value, "name"), From: rawChild(c.Value, "from")}
		if !validHeaderName(h.Name) {
			l.add(c.Value.Position, "%s: %q is not a header name", where, h.Name)
			continue
		}
		if val := child(c.Value, "value"); val != nil {
			t, err := mapping.ParseTemplate(val.Raw)
			if err != nil {
				l.add(val.Position, "%s: header %s: %v", where, h.Name, err)
				continue
			}
			h.Value = t
		}
		if (h.Value == nil) == (h.From == "") {
			l.add(c.Value.Position, "%s: header %s needs exactly one of value and from", where, h.Name)
			continue
		}
		out = append(out, h)
	}
	return out
}

func (l *loader) connectors() {
	types := make([]string, 0, len(l.s.AST.Types))
	for n := range l.s.AST.Types {
		types = append(types, n)
	}
	sort.Strings(types)
	for _, tn := range types {
		def := l.s.AST.Types[tn]
		if def.BuiltIn || def.Kind != ast.Object {
			continue
		}
		for _, d := range def.Directives.ForNames("connect") {
			if c := l.connector(d, tn, true); c != nil {
				if l.s.Entities[tn] != nil {
					l.add(d.Position, "type %s has two entity connectors", tn)
					continue
				}
				l.s.Entities[tn] = c
			}
		}
		root := def == l.s.AST.Query || def == l.s.AST.Mutation
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			key := tn + "." + f.Name
			ds := f.Directives.ForNames("connect")
			switch {
			case len(ds) > 1:
				l.add(ds[1].Position, "%s has more than one @connect", key)
			case len(ds) == 1:
				if c := l.connector(ds[0], key, false); c != nil {
					l.s.Fields[key] = c
				}
			case root:
				l.add(f.Position, "%s has no @connect: a root field needs one", key)
			}
		}
	}
}

// connector reads one @connect; entity says it is on a type.
func (l *loader) connector(d *ast.Directive, where string, entity bool) *Connector {
	c := &Connector{Pos: d.Position}
	ok := true
	if name := arg(d, "source"); name != "" {
		if c.Source = l.s.Sources[name]; c.Source == nil {
			l.add(d.Position, "%s: @connect names source %q, which no @source declares", where, name)
			ok = false
		}
	} else {
		l.add(d.Position, "%s: @connect needs a source (calls go to a pool)", where)
		ok = false
	}
	http := d.Arguments.ForName("http")
	if http == nil {
		return l.local(d, c, where, entity, ok)
	}
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		v := child(http.Value, m)
		if v == nil {
			continue
		}
		if c.Method != "" {
			l.add(v.Position, "%s: @connect has two methods, %s and %s", where, c.Method, m)
			ok = false
			continue
		}
		c.Method = m
		t, err := mapping.ParseTemplate(v.Raw)
		if err != nil {
			l.add(v.Position, "%s: %s %q: %v", where, m, v.Raw, err)
			ok = false
			continue
		}
		if !strings.HasPrefix(v.Raw, "/") {
			l.add(v.Position, "%s: %s %q does not start with / (the source's baseURL gives the host)", where, m, v.Raw)
			ok = false
		}
		c.URL = t
		for _, p := range t.Paths() {
			ok = l.checkVar(p, v.Position, where, entity, c) && ok
		}
	}
	if c.Method == "" {
		l.add(http.Position, "%s: @connect needs one of GET, POST, PUT, PATCH and DELETE", where)
		ok = false
	} else if c.Source != nil {
		c.op = strings.ToLower(c.Method) + " " + c.Source.Name
	}
	if q := child(http.Value, "queryParams"); q != nil {
		if c.Query, ok = l.selection(q, where+" queryParams", ok); c.Query != nil {
			l.checkSelectionVars(c.Query, q.Position, where, entity, c)
		}
	}
	if b := child(http.Value, "body"); b != nil {
		if c.Body, ok = l.selection(b, where+" body", ok); c.Body != nil {
			l.checkSelectionVars(c.Body, b.Position, where, entity, c)
		}
	}
	c.Headers = l.headers(child(http.Value, "headers"), where)
	if sel := d.Arguments.ForName("selection"); sel != nil {
		c.Selection, ok = l.selection(sel.Value, where+" selection", ok)
	}
	if c.Batch && !entity {
		ok = l.batchField(d, c, where) && ok
	}
	if c.Batch && c.PerItem {
		l.add(d.Position, "%s: an entity connector reads its keys from $batch (many at once) or from $this (one at a time), not both", where)
		ok = false
	}
	if entity && !c.Batch && !c.PerItem {
		l.add(d.Position, "%s: an entity connector needs the keys it looks objects up by: $batch, or $this for one at a time", where)
		ok = false
	}
	if !ok {
		return nil
	}
	return c
}

// local reads a @connect without http: its selection makes the field's value from
// the variables alone, with no call ($args.ids { id: $ } makes objects its type's
// entity connector completes).
func (l *loader) local(d *ast.Directive, c *Connector, where string, entity, ok bool) *Connector {
	if entity {
		l.add(d.Position, "%s: an entity connector needs http: the call that looks its objects up", where)
		return nil
	}
	if sel := d.Arguments.ForName("selection"); sel != nil {
		if c.Selection, ok = l.selection(sel.Value, where+" selection", ok); c.Selection != nil {
			for _, p := range paths(c.Selection) {
				ok = l.checkVar(p, sel.Value.Position, where, false, c) && ok
			}
		}
	}
	if c.Batch {
		l.add(d.Position, "%s: $batch is for the connector of a type (its entity lookups), not of a field", where)
		ok = false
	}
	if !ok {
		return nil
	}
	return c
}

func (l *loader) selection(v *ast.Value, where string, ok bool) (*mapping.Selection, bool) {
	sel, err := mapping.Parse(v.Raw)
	if err != nil {
		l.add(v.Position, "%s: %v", where, err)
		return nil, false
	}
	return sel, ok
}

// checkVar reports a variable a connector cannot have: $this on a root field,
// $batch or $this where there is no object.
func (l *loader) checkVar(p *mapping.Path, pos *ast.Position, where string, entity bool, c *Connector) bool {
	switch p.Var {
	case "$batch":
		c.Batch = true
	case "$this":
		if entity {
			c.PerItem = true
			return true
		}
		typ, _, _ := strings.Cut(where, ".")
		if t := l.s.AST.Types[typ]; t != nil && (t == l.s.AST.Query || t == l.s.AST.Mutation) {
			l.add(pos, "%s: $this has no object on a root field", where)
			return false
		}
	}
	return true
}

func (l *loader) checkSelectionVars(sel *mapping.Selection, pos *ast.Position, where string, entity bool, c *Connector) {
	for _, p := range paths(sel) {
		l.checkVar(p, pos, where, entity, c)
	}
}

// paths are every path a selection reads, nested and method arguments included.
func paths(sel *mapping.Selection) []*mapping.Path {
	var out []*mapping.Path
	var walk func(*mapping.Selection)
	var walkPath func(*mapping.Path)
	walkPath = func(p *mapping.Path) {
		if p == nil {
			return
		}
		out = append(out, p)
		for _, m := range p.Methods {
			for _, a := range m.Args {
				walkPath(a)
			}
		}
	}
	walk = func(s *mapping.Selection) {
		if s == nil {
			return
		}
		for _, n := range s.Items {
			walkPath(n.Path)
			walk(n.Sub)
		}
	}
	walk(sel)
	return out
}

func arg(d *ast.Directive, name string) string {
	if a := d.Arguments.ForName(name); a != nil && a.Value != nil {
		return a.Value.Raw
	}
	return ""
}

func child(v *ast.Value, name string) *ast.Value {
	if v == nil {
		return nil
	}
	for _, c := range v.Children {
		if c.Name == name {
			return c.Value
		}
	}
	return nil
}

func rawChild(v *ast.Value, name string) string {
	if c := child(v, name); c != nil {
		return c.Raw
	}
	return ""
}

func validHeaderName(s string) bool {
	return s != "" && !slices.ContainsFunc([]byte(s), func(c byte) bool {
		return c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0
	})
}

package mapping

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Template is a URL or header template: text with {path} expressions, as
// "/users/{$args.id}/orders?status={$args.status}" or "Bearer {$config.token}".
type Template struct {
	parts []part
}

type part struct {
	text  string
	path  *Path
	query bool // in a URL, after the '?': escaped as a query value
}

// ParseTemplate parses a template; a literal brace is written {{ or }}.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{}
	var text strings.Builder
	inQuery := false
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '{' && strings.HasPrefix(s[i:], "{{"), c == '}' && strings.HasPrefix(s[i:], "}}"):
			text.WriteByte(c)
			i += 2
		case c == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, &Error{Offset: i, Msg: "a { is not closed"}
			}
			p, err := ParsePath(s[i+1 : i+end])
			if err != nil {
				if e, ok := err.(*Error); ok {
					e.Offset += i + 1
				}
				return nil, err
			}
			if text.Len() > 0 {
				t.parts = append(t.parts, part{text: text.String()})
				text.Reset()
			}
			t.parts = append(t.parts, part{path: p, query: inQuery})
			i += end + 1
		case c == '}':
			return nil, &Error{Offset: i, Msg: "a } without its {"}
		default:
			if c == '?' {
				inQuery = true
			}
			text.WriteByte(c)
			i++
		}
	}
	if text.Len() > 0 {
		t.parts = append(t.parts, part{text: text.String()})
	}
	return t, nil
}

// Paths are the template's expressions, for checks at load.
func (t *Template) Paths() []*Path {
	var out []*Path
	for _, p := range t.parts {
		if p.path != nil {
			out = append(out, p.path)
		}
	}
	return out
}

// MissingError is an expression of a template that has no value.
type MissingError struct{ Expr string }

func (e *MissingError) Error() string { return "the template's {" + e.Expr + "} has no value" }

// ExpandURL writes the template as a URL: each value escaped as one path segment
// (so that "a/b" or ".." cannot change the path), or after the '?' as a query
// value; a list is its elements joined by commas. A value that is missing or null,
// or is an object, is an error.
func (t *Template) ExpandURL(input any, vars Vars) (string, error) {
	return t.expand(input, vars, true)
}

// ExpandText writes the template with each value as text, as a header's.
func (t *Template) ExpandText(input any, vars Vars) (string, error) {
	return t.expand(input, vars, false)
}

func (t *Template) expand(input any, vars Vars, asURL bool) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.path == nil {
			b.WriteString(p.text)
			continue
		}
		v, ok := p.path.Eval(input, vars)
		s, isText := valueText(v)
		if !ok || !isText || (asURL && !p.query && s == "") { // "" would name another resource
			return "", &MissingError{Expr: p.path.String()}
		}
		switch {
		case !asURL:
			if strings.ContainsAny(s, "\r\n") {
				return "", fmt.Errorf("the template's {%s} holds a line break", p.path)
			}
			b.WriteString(s)
		case p.query:
			b.WriteString(url.QueryEscape(s))
		default:
			b.WriteString(pathSegment(s))
		}
	}
	return b.String(), nil
}

// valueText is a scalar's text, or a list of scalars' joined by commas.
func valueText(v any) (string, bool) {
	if list, ok := v.([]any); ok {
		parts := make([]string, 0, len(list))
		for _, el := range list {
			s, ok := scalarText(el)
			if !ok {
				return "", false
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), true
	}
	return scalarText(v)
}

// pathSegment escapes s as one path segment; "." and ".." too, so that nothing on
// the way resolves them.
func pathSegment(s string) string {
	switch s {
	case ".":
		return "%2E"
	case "..":
		return "%2E%2E"
	}
	return url.PathEscape(s)
}

// QueryParams are the query parameters a queryParams selection makes of input: each
// key of its result with its value's text, a list repeating the parameter for each
// element (id=1&id=2), a null or missing value left out.
func QueryParams(sel *Selection, input any, vars Vars) url.Values {
	out := url.Values{}
	if input == nil {
		input = map[string]any{} // the parameters come from the variables
	}
	m, _ := sel.Eval(input, vars).(map[string]any)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch v := m[k].(type) {
		case []any:
			for _, el := range v {
				if s, ok := scalarText(el); ok {
					out.Add(k, s)
				}
			}
		default:
			if s, ok := scalarText(v); ok {
				out.Add(k, s)
			}
		}
	}
	return out
}

// String writes the path back as the language writes it.
func (p *Path) String() string {
	var b strings.Builder
	switch {
	case p.IsLit:
		b.WriteString("$(…)")
	case p.Var == "":
		if len(p.Keys) == 0 {
			b.WriteString("$")
		}
	default:
		b.WriteString(p.Var)
	}
	for i, k := range p.Keys {
		if i > 0 || p.Var != "" || p.IsLit {
			b.WriteByte('.')
		}
		b.WriteString(k)
	}
	for _, m := range p.Methods {
		b.WriteString("->" + m.Name)
		if len(m.Args) > 0 {
			b.WriteString("(…)")
		}
		for _, k := range m.Keys {
			b.WriteString("." + k)
		}
	}
	return b.String()
}

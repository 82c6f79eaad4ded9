// Package l7 is the gateway's L7 routing: routes that match requests on host,
// path, method, headers and query, and proxy them to a pool (streaming, with the
// pool's balancing, retries and breakers), answer a fixed response, or redirect;
// with header and JSON field transformations.
package l7

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Pattern is a path pattern: literal segments, {name} for one segment, and a last
// {name...} for the rest of the path (possibly empty).
type Pattern struct {
	segs []seg
	rest string // the name of a trailing {name...}; "" when none
}

type seg struct {
	lit  string
	name string // set for a {name} segment
}

// ParsePattern parses a path pattern such as "/files/{id}/{rest...}".
func ParsePattern(s string) (*Pattern, error) {
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("%q does not start with /", s)
	}
	p := &Pattern{}
	seen := map[string]bool{}
	parts := strings.Split(s[1:], "/")
	for i, part := range parts {
		if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
			name := part[1 : len(part)-1]
			last := i == len(parts)-1
			if strings.HasSuffix(name, "...") {
				if !last {
					return nil, fmt.Errorf("%q: {%s} must be the last segment", s, name)
				}
				name = strings.TrimSuffix(name, "...")
				if err := checkName(s, name, seen); err != nil {
					return nil, err
				}
				p.rest = name
				break
			}
			if err := checkName(s, name, seen); err != nil {
				return nil, err
			}
			p.segs = append(p.segs, seg{name: name})
			continue
		}
		if strings.ContainsAny(part, "{}") {
			return nil, fmt.Errorf("%q: a segment is either literal or a whole {name}", s)
		}
		p.segs = append(p.segs, seg{lit: part})
	}
	return p, nil
}

func checkName(pattern, name string, seen map[string]bool) error {
	if name == "" || strings.ContainsAny(name, "{}/. ") {
		return fmt.Errorf("%q: %q is not a name", pattern, name)
	}
	if seen[name] {
		return fmt.Errorf("%q: {%s} is used twice", pattern, name)
	}
	seen[name] = true
	return nil
}

// Names are the pattern's variable names.
func (p *Pattern) Names() []string {
	var names []string
	for _, s := range p.segs {
		if s.name != "" {
			names = append(names, s.name)
		}
	}
	if p.rest != "" {
		names = append(names, p.rest)
	}
	return names
}

// Match matches an unescaped path and returns its variables.
func (p *Pattern) Match(path string) (map[string]string, bool) {
	if path == "" || path[0] != '/' {
		return nil, false
	}
	rest := path[1:]
	var vars map[string]string
	set := func(k, v string) {
		if vars == nil {
			vars = map[string]string{}
		}
		vars[k] = v
	}
	for i, s := range p.segs {
		part, after, more := strings.Cut(rest, "/")
		rest = after
		if s.name != "" {
			if part == "" {
				return nil, false
			}
			set(s.name, part)
		} else if part != s.lit {
			return nil, false
		}
		if !more {
			if i < len(p.segs)-1 {
				return nil, false // the path ended before the pattern
			}
			if p.rest != "" {
				set(p.rest, "")
			}
			return vars, true
		}
	}
	if p.rest == "" {
		return nil, false // the path goes on past the pattern
	}
	set(p.rest, rest)
	return vars, true
}

// Template is a string with {name} placeholders.
type Template struct {
	parts []tplPart
}

type tplPart struct {
	lit  string
	name string
}

// ParseTemplate parses s; each placeholder must be one of names.
func ParseTemplate(s string, names []string) (*Template, error) {
	t := &Template{}
	for s != "" {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			t.parts = append(t.parts, tplPart{lit: s})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, tplPart{lit: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, errors.New("a { without its }")
		}
		name := s[i+1 : i+j]
		known := false
		for _, n := range names {
			known = known || n == name
		}
		if !known {
			return nil, fmt.Errorf("{%s} is not one of %s", name, strings.Join(names, ", "))
		}
		t.parts = append(t.parts, tplPart{name: name})
		s = s[i+j+1:]
	}
	return t, nil
}

// Uses reports whether the template has the placeholder name.
func (t *Template) Uses(name string) bool {
	for _, p := range t.parts {
		if p.name == name {
			return true
		}
	}
	return false
}

// Expand fills the placeholders from vars, escaping each value as a path (a
// {name...} value keeps its slashes) unless raw lists the name.
func (t *Template) Expand(vars map[string]string, raw ...string) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.lit)
			continue
		}
		v := vars[p.name]
		isRaw := false
		for _, r := range raw {
			isRaw = isRaw || r == p.name
		}
		if isRaw {
			b.WriteString(v)
			continue
		}
		segs := strings.Split(v, "/")
		for i, s := range segs {
			segs[i] = url.PathEscape(s)
		}
		b.WriteString(strings.Join(segs, "/"))
	}
	return b.String()
}

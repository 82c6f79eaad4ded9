package mapping

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Vars are the values of the variables a selection may read, by name ("$args",
// "$this", …), each decoded JSON: map[string]any, []any, string, json.Number,
// float64, bool or nil.
type Vars map[string]any

// Eval applies the selection to input, decoded JSON as Vars holds it. A selection
// applied to a list applies to each element. What the input lacks is left out of
// the result.
func (s *Selection) Eval(input any, vars Vars) any {
	return s.eval(input, &env{vars: vars})
}

// Eval is the path's value, and whether there is one.
func (p *Path) Eval(input any, vars Vars) (any, bool) {
	return p.eval(input, &env{vars: vars})
}

type env struct {
	vars Vars
	at   any // @, inside ->map
}

func (s *Selection) eval(in any, e *env) any {
	if in == nil {
		return nil
	}
	if len(s.Items) == 1 && s.Items[0].Merge {
		// The whole selection is one path's: its value, lists included, is the
		// result; a list input is the path's whole input ($->slice(0, 2) { id }).
		n := &s.Items[0]
		v, ok := n.Path.eval(in, e)
		if !ok {
			return nil
		}
		return n.Sub.eval(v, e)
	}
	if list, ok := in.([]any); ok {
		out := make([]any, len(list))
		for i, v := range list {
			out[i] = s.eval(v, e)
		}
		return out
	}
	out := make(map[string]any, len(s.Items))
	for i := range s.Items {
		n := &s.Items[i]
		switch {
		case n.Merge:
			v, ok := n.Path.eval(in, e)
			if !ok {
				continue
			}
			if m, ok := n.Sub.eval(v, e).(map[string]any); ok {
				for k, v := range m {
					out[k] = v
				}
			}
		case n.Path == nil && n.Sub == nil:
			if v, ok := field(in, n.Alias); ok {
				out[n.Alias] = v
			}
		case n.Path == nil:
			out[n.Alias] = n.Sub.eval(in, e)
		default:
			v, ok := n.Path.eval(in, e)
			if !ok {
				continue
			}
			if n.Sub != nil {
				v = n.Sub.eval(v, e)
			}
			out[n.Alias] = v
		}
	}
	return out
}

func (p *Path) eval(in any, e *env) (any, bool) {
	var v any
	switch {
	case p.IsLit:
		v = p.Literal
	case p.Var == "":
		v = in
	case p.Var == "@":
		v = e.at
	default:
		var ok bool
		if v, ok = e.vars[p.Var]; !ok {
			return nil, false
		}
	}
	v, ok := walk(v, p.Keys)
	if !ok {
		return nil, false
	}
	for _, m := range p.Methods {
		if v, ok = m.apply(v, in, e); !ok {
			return nil, false
		}
		if v, ok = walk(v, m.Keys); !ok {
			return nil, false
		}
	}
	return v, true
}

// walk reads keys from v; on a list, from each element.
func walk(v any, keys []string) (any, bool) {
	for _, k := range keys {
		if list, ok := v.([]any); ok {
			out := make([]any, len(list))
			for i, el := range list {
				out[i], _ = walk(el, []string{k})
			}
			v = out
			continue
		}
		var ok bool
		if v, ok = field(v, k); !ok {
			return nil, false
		}
	}
	return v, true
}

func field(v any, k string) (any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	x, ok := m[k]
	return x, ok
}

func (m *Method) apply(v, in any, e *env) (any, bool) {
	list, isList := v.([]any)
	switch m.Name {
	case "first", "last":
		if !isList {
			return v, true
		}
		if len(list) == 0 {
			return nil, false
		}
		if m.Name == "first" {
			return list[0], true
		}
		return list[len(list)-1], true
	case "joinNotNull":
		sepV, _ := m.Args[0].eval(in, e)
		sep, _ := sepV.(string)
		if !isList {
			list = []any{v}
		}
		parts := make([]string, 0, len(list))
		for _, el := range list {
			if s, ok := scalarText(el); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, sep), true
	case "slice":
		return slice(list, isList, v, m.Args, in, e)
	case "map":
		if !isList {
			list = []any{v}
		}
		out := make([]any, len(list))
		for i, el := range list {
			out[i], _ = m.Args[0].eval(in, &env{vars: e.vars, at: el})
		}
		if !isList {
			return out[0], true
		}
		return out, true
	}
	return nil, false
}

// scalarText is the text of a non-null scalar, as joinNotNull writes it.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case int64: // GraphQL arguments' integer literals and defaults
		return strconv.FormatInt(x, 10), true
	case int:
		return strconv.Itoa(x), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// slice is ->slice(start, end): the elements from start up to end, as Go's
// s[start:end] but clamped to the list (and to each other); an end left out, or
// missing or null, is the list's end. A value that is not a list is itself.
func slice(list []any, isList bool, v any, args []*Path, in any, e *env) (any, bool) {
	if !isList {
		return v, true
	}
	bound := func(i, def int) (int, bool) {
		if i >= len(args) {
			return def, true
		}
		x, ok := args[i].eval(in, e)
		if !ok || x == nil {
			return def, true
		}
		n, ok := intOf(x)
		return min(max(n, 0), len(list)), ok
	}
	start, ok1 := bound(0, 0)
	end, ok2 := bound(1, len(list))
	if !ok1 || !ok2 {
		return nil, false
	}
	return list[start:max(start, end)], true
}

// intOf is an integer value: a JSON number or a GraphQL argument's.
func intOf(v any) (int, bool) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		return int(n), err == nil
	case int64:
		return int(x), true
	case int:
		return x, true
	case float64:
		return int(x), x == float64(int(x))
	}
	return 0, false
}

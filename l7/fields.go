package l7

import (
	"bytes"
	"encoding/json"
	"strings"
)

// FieldMap rewrites the fields of JSON objects: Keep (when set) keeps only those
// fields, then Drop removes fields, then Rename renames them. A field is a name or a
// dotted path into nested objects ("owner.email"). A JSON array has each of its
// objects rewritten.
type FieldMap struct {
	Rename map[string]string `yaml:"rename"`
	Drop   []string          `yaml:"drop"`
	Keep   []string          `yaml:"keep"`
}

// Apply rewrites the JSON document doc. Numbers keep their text.
func (m *FieldMap) Apply(doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	v = m.apply(v)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

func (m *FieldMap) apply(v any) any {
	switch v := v.(type) {
	case []any:
		for i := range v {
			v[i] = m.apply(v[i])
		}
		return v
	case map[string]any:
		if len(m.Keep) > 0 {
			v = keep(v, m.Keep)
		}
		for _, path := range m.Drop {
			drop(v, strings.Split(path, "."))
		}
		for from, to := range m.Rename {
			rename(v, strings.Split(from, "."), to)
		}
		return v
	}
	return v
}

// keep returns obj with only the fields of paths.
func keep(obj map[string]any, paths []string) map[string]any {
	out := map[string]any{}
	nested := map[string][]string{}
	for _, p := range paths {
		head, rest, deep := strings.Cut(p, ".")
		val, ok := obj[head]
		if !ok {
			continue
		}
		if !deep {
			out[head] = val
			delete(nested, head)
			continue
		}
		if _, whole := out[head]; whole && nested[head] == nil {
			continue // the whole field is kept already
		}
		nested[head] = append(nested[head], rest)
	}
	for head, rest := range nested {
		switch val := obj[head].(type) {
		case map[string]any:
			out[head] = keep(val, rest)
		case []any:
			for i, e := range val {
				if o, ok := e.(map[string]any); ok {
					val[i] = keep(o, rest)
				}
			}
			out[head] = val
		}
	}
	return out
}

func drop(obj map[string]any, path []string) {
	if len(path) == 1 {
		delete(obj, path[0])
		return
	}
	each(obj[path[0]], func(o map[string]any) { drop(o, path[1:]) })
}

func rename(obj map[string]any, path []string, to string) {
	if len(path) == 1 {
		if val, ok := obj[path[0]]; ok {
			delete(obj, path[0])
			obj[to] = val
		}
		return
	}
	each(obj[path[0]], func(o map[string]any) { rename(o, path[1:], to) })
}

// each calls f on v when it is an object, or on each object of v when it is an
// array.
func each(v any, f func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		f(v)
	case []any:
		for _, e := range v {
			if o, ok := e.(map[string]any); ok {
				f(o)
			}
		}
	}
}

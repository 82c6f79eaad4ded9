package connectors

import (
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
)

// appendString appends s as a JSON string, escaped exactly as encoding/json's
// Marshal escapes it (HTML's <, > and & too, U+2028 and U+2029, bad UTF-8 as
// U+FFFD), without Marshal's reflection and buffers.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// writeObject writes the fields of an object, their values written; it is null,
// and not ok, when one of them is not ok.
func (r *run) writeObject(fields []graphql.CollectedField, values [][]byte, oks []bool) ([]byte, bool) {
	n := 2
	for i, f := range fields {
		if !oks[i] {
			return []byte("null"), false
		}
		n += len(f.Alias) + 4 + len(values[i])
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"') // a GraphQL name needs no escapes
		b = append(b, f.Alias...)
		b = append(b, '"', ':')
		b = append(b, values[i]...)
	}
	return append(b, '}'), true
}

// writeList writes a list of written values.
func writeList(values [][]byte) []byte {
	n := 2
	for _, v := range values {
		n += len(v) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v...)
	}
	return append(b, ']')
}

// childPath is path with room for one more element, which the caller sets. A
// path is read only while the value at it is written, and failures keep a copy
// of theirs (see fail), so the children written in turn, one after another, may
// share one: an object's fields, a list's elements in one goroutine.
func childPath(path ast.Path) ast.Path {
	p := make(ast.Path, len(path)+1)
	copy(p, path)
	return p
}

// indexPaths are the paths of a list's n elements, for elements written
// concurrently, made in one allocation: the i-th is path followed by i.
func indexPaths(path ast.Path, n int) []ast.Path {
	size := len(path) + 1
	all := make(ast.Path, n*size)
	out := make([]ast.Path, n)
	for i := range out {
		p := all[i*size : (i+1)*size : (i+1)*size]
		copy(p, path)
		p[len(path)] = ast.PathIndex(i)
		out[i] = p
	}
	return out
}

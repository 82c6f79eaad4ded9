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

// childPaths are the paths of n children of path, made in one allocation: the
// i-th is path followed by elem(i).
func childPaths(path ast.Path, n int, elem func(i int) ast.PathElement) []ast.Path {
	all := make(ast.Path, n*(len(path)+1))
	out := make([]ast.Path, n)
	for i := range out {
		p := all[i*(len(path)+1) : (i+1)*(len(path)+1) : (i+1)*(len(path)+1)]
		copy(p, path)
		p[len(path)] = elem(i)
		out[i] = p
	}
	return out
}

package mapping

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// quoted parses a string in single or double quotes, with JSON's escapes.
func (p *parser) quoted() (string, error) {
	q := p.src[p.pos]
	start := p.pos
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == q:
			p.pos++
			if !utf8.ValidString(b.String()) {
				return "", &Error{Offset: start, Msg: "a quoted string that is not UTF-8"}
			}
			return b.String(), nil
		case c == '\\' && p.pos+1 < len(p.src):
			e := p.src[p.pos+1]
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case '\\', '"', '\'', '/':
				b.WriteByte(e)
			default:
				return "", p.errf("unknown escape \\%c", e)
			}
			p.pos += 2
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return "", &Error{Offset: start, Msg: "a quoted string is not closed"}
}

// literal parses a JSON value (strings may be single-quoted).
func (p *parser) literal() (any, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errf("nested too deep")
	}
	p.space()
	switch c := p.peekByte(); {
	case c == '"' || c == '\'':
		return p.quoted()
	case c == '[':
		return p.literalList()
	case c == '{':
		return p.literalObject()
	case p.peek("true"):
		p.pos += 4
		return true, nil
	case p.peek("false"):
		p.pos += 5
		return false, nil
	case p.peek("null"):
		p.pos += 4
		return nil, nil
	default:
		start := p.pos
		for p.pos < len(p.src) && strings.IndexByte("+-.eE0123456789", p.src[p.pos]) >= 0 {
			p.pos++
		}
		n := json.Number(p.src[start:p.pos])
		if _, err := n.Float64(); err != nil || start == p.pos || !json.Valid([]byte(n)) {
			p.pos = start
			return nil, p.errf("expected a literal, got %q", p.rest(10))
		}
		return n, nil
	}
}

// literalList parses a JSON array, at its '['.
func (p *parser) literalList() (any, error) {
	p.pos++
	out := []any{}
	for {
		p.space()
		if p.peek("]") {
			p.pos++
			return out, nil
		}
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.space()
		if p.peek(",") {
			p.pos++
		} else if !p.peek("]") {
			return nil, p.errf("missing ] or ,")
		}
	}
}

// literalObject parses a JSON object (keys may be bare), at its '{'.
func (p *parser) literalObject() (any, error) {
	p.pos++
	out := map[string]any{}
	for {
		p.space()
		if p.peek("}") {
			p.pos++
			return out, nil
		}
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		p.space()
		if !p.peek(":") {
			return nil, p.errf("missing : after %q", k)
		}
		p.pos++
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		out[k] = v
		p.space()
		if p.peek(",") {
			p.pos++
		} else if !p.peek("}") {
			return nil, p.errf("missing } or ,")
		}
	}
}

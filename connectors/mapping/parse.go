// Package mapping is the selection mapping language of Apollo Connectors, in the
// subset Switchyard supports: it turns the JSON a REST service answers into the shape
// a GraphQL type declares, and builds request values from variables.
//
// A selection is a list of named selections, separated by whitespace or by commas:
//
//	id                       the field id of the input, under its own name
//	name: full_name          a rename
//	city: address.city       a path of keys (a "quoted key" where a name will not do)
//	author { id name }       a single key with a sub-selection keeps its key
//	$.data { id name }       a path with a sub-selection merges its fields into the parent
//	owner: { id: ownerId }   an object built from fields the input has flat
//	id: $args.id             a variable: $ (the input), $args, $this, $batch, $config,
//	                         $context, $request
//	kind: $("book")          a literal, in JSON
//	tag: tags->first         methods: ->first, ->last, ->joinNotNull(","), ->map(expr),
//	                         ->slice(start, end) (end left out or missing: to the end)
//
// A path applied to a list applies to each element, and so does a sub-selection.
// Parse reports the first error with its offset; Eval never fails on data: what is
// missing is left out, and the GraphQL layer decides whether that is allowed.
package mapping

import (
	"fmt"
	"strconv"
	"strings"
)

// Selection is a parsed selection: a list of named selections.
type Selection struct {
	Items []Named
}

// Named is one element of a selection: the value of Path (passed through Sub when
// there is one) under Alias. Without Path it is the field Alias of the input, or,
// with Sub, an object Sub builds from the input itself. Merge says the fields Sub
// makes of Path's value go into the enclosing object instead of under an alias.
type Named struct {
	Alias string // the output key; "" when Merge
	Path  *Path
	Sub   *Selection
	Merge bool
	Pos   int // offset in the source, for errors
}

// Path is a value read from the input or a variable, then passed through methods.
type Path struct {
	Var     string   // "" (the input, $), "$args", "$this", "$batch", "$config", "$context", "$request"
	Keys    []string // the keys read from the start
	Literal any      // with IsLiteral, the value of $(…)
	IsLit   bool
	Methods []Method
}

// Method is one ->name(args) step, then keys read from its result.
type Method struct {
	Name string
	Args []*Path // literal or path arguments; ->map's is evaluated with @ bound
	Keys []string
}

// Variables a path may start from.
var Variables = []string{"$args", "$this", "$batch", "$config", "$context", "$request"}

// Methods the language supports, with their least and most numbers of arguments.
var methodArity = map[string][2]int{"first": {0, 0}, "last": {0, 0}, "joinNotNull": {1, 1}, "map": {1, 1}, "slice": {1, 2}}

// Error is a parse error at an offset of the source.
type Error struct {
	Offset int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("at offset %d: %s", e.Offset, e.Msg) }

// Parse parses a selection.
func Parse(src string) (*Selection, error) {
	p := &parser{src: src}
	sel, err := p.selection(false)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos < len(p.src) {
		return nil, p.errf("unexpected %q", p.rest(10))
	}
	return sel, nil
}

// ParsePath parses one path expression, as a template's {…} holds: "$args.id",
// "$this.author.id", "$batch.id->joinNotNull(',')".
func ParsePath(src string) (*Path, error) {
	p := &parser{src: src}
	p.space()
	path, err := p.path()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos < len(p.src) {
		return nil, p.errf("unexpected %q", p.rest(10))
	}
	return path, nil
}

type parser struct {
	src   string
	pos   int
	depth int
}

const maxDepth = 64 // nesting of sub-selections, method arguments and literals

func (p *parser) errf(format string, args ...any) error {
	return &Error{Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) rest(n int) string {
	r := p.src[p.pos:]
	if len(r) > n {
		r = r[:n]
	}
	return r
}

// space skips whitespace and # comments.
func (p *parser) space() {
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			p.pos++
		case c == '#':
			for p.pos < len(p.src) && p.src[p.pos] != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

func (p *parser) peek(s string) bool { return strings.HasPrefix(p.src[p.pos:], s) }

// selection parses named selections until the end or, when nested, a '}'.
func (p *parser) selection(nested bool) (*Selection, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errf("nested too deep")
	}
	sel := &Selection{}
	for {
		p.space()
		if p.pos >= len(p.src) || (nested && p.peek("}")) {
			return sel, nil
		}
		n, err := p.named()
		if err != nil {
			return nil, err
		}
		sel.Items = append(sel.Items, n)
		p.space()
		if p.peek(",") {
			p.pos++
		}
	}
}

func (p *parser) named() (Named, error) {
	start := p.pos
	if p.peek("$") { // a path from a variable: it must merge a sub-selection
		path, err := p.path()
		if err != nil {
			return Named{}, err
		}
		p.space()
		if !p.peek("{") {
			return Named{}, &Error{Offset: start, Msg: "a path from a variable needs an alias (name: " + p.src[start:p.pos] + ") or a sub-selection"}
		}
		sub, err := p.sub()
		if err != nil {
			return Named{}, err
		}
		return Named{Path: path, Sub: sub, Merge: true, Pos: start}, nil
	}
	key, err := p.key()
	if err != nil {
		return Named{}, err
	}
	p.space()
	if p.peek(":") { // alias: value
		p.pos++
		p.space()
		n := Named{Alias: key, Pos: start}
		if p.peek("{") {
			if n.Sub, err = p.sub(); err != nil {
				return Named{}, err
			}
			return n, nil
		}
		if n.Path, err = p.path(); err != nil {
			return Named{}, err
		}
		p.space()
		if p.peek("{") {
			if n.Sub, err = p.sub(); err != nil {
				return Named{}, err
			}
		}
		return n, nil
	}
	// A key, a path of keys, or a key with methods.
	path := &Path{Keys: []string{key}}
	if err := p.pathRest(path); err != nil {
		return Named{}, err
	}
	p.space()
	single := len(path.Keys) == 1 && len(path.Methods) == 0
	var sub *Selection
	if p.peek("{") {
		if sub, err = p.sub(); err != nil {
			return Named{}, err
		}
	}
	switch {
	case single && sub == nil:
		return Named{Alias: key, Pos: start}, nil
	case single: // author { name } keeps its key
		return Named{Alias: key, Path: path, Sub: sub, Pos: start}, nil
	case sub != nil:
		return Named{Path: path, Sub: sub, Merge: true, Pos: start}, nil
	default:
		return Named{}, &Error{Offset: start, Msg: "a path needs an alias (name: " + p.src[start:p.pos] + ") or a sub-selection"}
	}
}

func (p *parser) sub() (*Selection, error) {
	p.pos++ // '{'
	sel, err := p.selection(true)
	if err != nil {
		return nil, err
	}
	if !p.peek("}") {
		return nil, p.errf("missing }")
	}
	p.pos++
	return sel, nil
}

// path parses a value: a variable or $ and keys, a literal $(…), or keys, each
// with methods.
func (p *parser) path() (*Path, error) {
	path := &Path{}
	switch {
	case p.peek("$("):
		p.pos += 2
		p.space()
		v, err := p.literal()
		if err != nil {
			return nil, err
		}
		p.space()
		if !p.peek(")") {
			return nil, p.errf("missing ) after the literal")
		}
		p.pos++
		path.Literal, path.IsLit = v, true
	case p.peek("$"):
		start := p.pos
		p.pos++
		for p.pos < len(p.src) && isIdent(p.src[p.pos], p.pos > start+1) {
			p.pos++
		}
		name := p.src[start:p.pos]
		if name != "$" {
			known := false
			for _, v := range Variables {
				known = known || v == name
			}
			if !known {
				return nil, &Error{Offset: start, Msg: fmt.Sprintf("unknown variable %s (the variables are $, %s)", name, strings.Join(Variables, ", "))}
			}
			path.Var = name
		}
	case p.peek("@"):
		p.pos++
		path.Var = "@"
	default:
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		path.Keys = []string{key}
	}
	return path, p.pathRest(path)
}

// pathRest parses the .key steps and ->method calls after a path's start.
func (p *parser) pathRest(path *Path) error {
	for {
		switch {
		case p.peek("."):
			p.pos++
			key, err := p.key()
			if err != nil {
				return err
			}
			if n := len(path.Methods); n > 0 {
				path.Methods[n-1].Keys = append(path.Methods[n-1].Keys, key)
			} else {
				path.Keys = append(path.Keys, key)
			}
		case p.peek("->"):
			p.pos += 2
			m, err := p.method()
			if err != nil {
				return err
			}
			path.Methods = append(path.Methods, m)
		default:
			return nil
		}
	}
}

func (p *parser) method() (Method, error) {
	start := p.pos
	for p.pos < len(p.src) && isIdent(p.src[p.pos], p.pos > start) {
		p.pos++
	}
	m := Method{Name: p.src[start:p.pos]}
	arity, ok := methodArity[m.Name]
	if !ok {
		return m, &Error{Offset: start, Msg: fmt.Sprintf("unknown method ->%s (the methods are ->first, ->last, ->joinNotNull, ->map, ->slice)", m.Name)}
	}
	if p.peek("(") {
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxDepth {
			return m, p.errf("nested too deep")
		}
		p.pos++
		for {
			p.space()
			if p.peek(")") {
				p.pos++
				break
			}
			var arg *Path
			if c := p.peekByte(); c == '"' || c == '\'' || c == '[' || c == '{' || c == '-' || (c >= '0' && c <= '9') || p.peek("true") || p.peek("false") || p.peek("null") {
				v, err := p.literal()
				if err != nil {
					return m, err
				}
				arg = &Path{Literal: v, IsLit: true}
			} else {
				var err error
				if arg, err = p.path(); err != nil {
					return m, err
				}
			}
			m.Args = append(m.Args, arg)
			p.space()
			if p.peek(",") {
				p.pos++
			} else if !p.peek(")") {
				return m, p.errf("missing ) or , in the arguments of ->%s", m.Name)
			}
		}
	}
	if n := len(m.Args); n < arity[0] || n > arity[1] {
		want := strconv.Itoa(arity[0])
		if arity[1] > arity[0] {
			want += " to " + strconv.Itoa(arity[1])
		}
		return m, &Error{Offset: start, Msg: fmt.Sprintf("->%s takes %s argument(s), got %d", m.Name, want, n)}
	}
	return m, nil
}

func (p *parser) peekByte() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

// key parses an identifier or a quoted key.
func (p *parser) key() (string, error) {
	if c := p.peekByte(); c == '"' || c == '\'' {
		return p.quoted()
	}
	start := p.pos
	for p.pos < len(p.src) && isIdent(p.src[p.pos], p.pos > start) {
		p.pos++
	}
	if p.pos == start {
		if p.pos >= len(p.src) {
			return "", p.errf("a key is missing at the end")
		}
		return "", p.errf("expected a key, got %q", p.rest(10))
	}
	return p.src[start:p.pos], nil
}

func isIdent(c byte, notFirst bool) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || (notFirst && '0' <= c && c <= '9')
}

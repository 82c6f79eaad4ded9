package connectors

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/expr-lang/expr"
	exprast "github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"github.com/vektah/gqlparser/v2/ast"
)

// Compute is a field computed from its object's other fields by an expression in
// expr-lang's syntax, compiled once at load: @compute(expr: "copies - onLoan").
type Compute struct {
	Program *vm.Program
	// Uses are the fields of the object the expression reads, fetched first.
	Uses []string
}

// computes compiles the @compute expressions of every object type's fields.
func (l *loader) computes() {
	for _, tn := range slices.Sorted(maps.Keys(l.s.AST.Types)) {
		def := l.s.AST.Types[tn]
		if def.BuiltIn || def.Kind != ast.Object {
			continue
		}
		for _, f := range def.Fields {
			d := f.Directives.ForName("compute")
			if d == nil {
				continue
			}
			where := tn + "." + f.Name
			if len(f.Directives.ForNames("connect")) > 0 {
				l.add(d.Position, "%s: a field is computed or connected, not both", where)
				continue
			}
			a := d.Arguments.ForName("expr")
			if a == nil || a.Value == nil {
				continue // the prelude makes it required: gqlparser reported it
			}
			c, err := compileCompute(def, f, a.Value.Raw)
			if err != nil {
				l.add(a.Value.Position, "%s: @compute(expr: %q): %v", where, a.Value.Raw, err)
				continue
			}
			l.s.Computed[where] = c
		}
	}
}

func compileCompute(def *ast.Definition, self *ast.FieldDefinition, src string) (*Compute, error) {
	tree, err := parser.Parse(src)
	if err != nil {
		return nil, err
	}
	v := &identifiers{}
	exprast.Walk(&tree.Node, v)
	c := &Compute{}
	env := map[string]any{}
	for _, name := range v.names {
		f := def.Fields.ForName(name)
		switch {
		case f == nil:
			return nil, fmt.Errorf("%s has no field %s", def.Name, name)
		case f.Name == self.Name:
			return nil, fmt.Errorf("it reads the field it computes")
		}
		env[name] = zeroOf(f.Type)
		if !slices.Contains(c.Uses, name) {
			c.Uses = append(c.Uses, name)
		}
	}
	if c.Program, err = expr.Compile(src, expr.Env(env)); err != nil {
		return nil, err
	}
	return c, nil
}

// identifiers collects the names an expression reads.
type identifiers struct{ names []string }

func (v *identifiers) Visit(node *exprast.Node) {
	if id, ok := (*node).(*exprast.IdentifierNode); ok {
		v.names = append(v.names, id.Value)
	}
}

// zeroOf is a value of a field's type, for type-checking an expression.
func zeroOf(t *ast.Type) any {
	if t.Elem != nil {
		return []any{}
	}
	switch t.NamedType {
	case "Int":
		return 0
	case "Float":
		return 0.0
	case "Boolean":
		return false
	case "String", "ID":
		return ""
	}
	return nil // objects, enums and custom scalars: any
}

// vms are the expression machines Eval runs on: a machine keeps its stack and
// scopes from one run to the next, so that a run allocates neither.
var vms = sync.Pool{New: func() any { return &vm.VM{} }}

// Eval computes the field from the object's values. It is safe for concurrent use.
func (c *Compute) Eval(obj map[string]any) (any, error) {
	env := make(map[string]any, len(c.Uses))
	for _, name := range c.Uses {
		env[name], _ = fromJSON(obj[name])
	}
	m := vms.Get().(*vm.VM)
	out, err := m.Run(c.Program, env)
	vms.Put(m)
	if err != nil {
		return nil, err
	}
	return toJSON(out), nil
}

// fromJSON turns decoded JSON numbers into Go numbers an expression computes with;
// changed says whether v held any. The lists and maps holding none are v's own, not
// copies: an expression does not change its environment.
func fromJSON(v any) (out any, changed bool) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i), true
		}
		f, _ := x.Float64()
		return f, true
	case []any:
		var list []any
		for i, el := range x {
			if y, ok := fromJSON(el); ok {
				if list == nil {
					list = slices.Clone(x)
				}
				list[i] = y
			}
		}
		if list == nil {
			return x, false
		}
		return list, true
	case map[string]any:
		var m map[string]any
		for k, el := range x {
			if y, ok := fromJSON(el); ok {
				if m == nil {
					m = maps.Clone(x)
				}
				m[k] = y
			}
		}
		if m == nil {
			return x, false
		}
		return m, true
	}
	return v, false
}

// toJSON turns an expression's result back into decoded JSON.
func toJSON(v any) any {
	switch x := v.(type) {
	case int:
		return json.Number(strconv.Itoa(x))
	case int64:
		return json.Number(strconv.FormatInt(x, 10))
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nil
		}
		return json.Number(strconv.FormatFloat(x, 'g', -1, 64))
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = toJSON(el)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, el := range x {
			out[k] = toJSON(el)
		}
		return out
	}
	return v
}

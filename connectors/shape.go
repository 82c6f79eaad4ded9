package connectors

import (
	"maps"
	"slices"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/switchyard/switchyard/connectors/mapping"
)

// shapes checks each connector's selection against the type it answers: every key
// it makes is a field of that type, an object field gets a sub-selection, and every
// non-null field is made, unless the type's entity connector (or @compute) provides
// it; an object made in part must make the keys its entity connector's $batch reads.
func (l *loader) shapes() {
	for _, key := range slices.Sorted(maps.Keys(l.s.Fields)) {
		c := l.s.Fields[key]
		typ, field := splitKey(key)
		def := l.s.AST.Types[typ].Fields.ForName(field)
		l.shape(c.Selection, l.s.AST.Types[def.Type.Name()], key, c.Pos, l.s.Entities[def.Type.Name()] == c)
	}
	for _, tn := range slices.Sorted(maps.Keys(l.s.Entities)) {
		c := l.s.Entities[tn]
		l.shape(c.Selection, l.s.AST.Types[tn], tn, c.Pos, true)
	}
}

// shape checks sel, which makes objects of def; own says sel is def's entity
// connector's (so nothing else provides def's missing fields).
func (l *loader) shape(sel *mapping.Selection, def *ast.Definition, where string, pos *ast.Position, own bool) {
	if sel == nil || def == nil {
		return
	}
	if def.Kind != ast.Object {
		if len(sel.Items) > 0 && def.Kind != ast.Scalar && def.Kind != ast.Enum {
			l.add(pos, "%s: the selection makes a %s, which declared schemas do not support", where, def.Kind)
		}
		return
	}
	made := map[string]bool{}
	l.items(sel, def, where, pos, made)
	entity := l.s.Entities[def.Name]
	for _, f := range def.Fields {
		if made[f.Name] || !f.Type.NonNull || f.Directives.ForName("compute") != nil || f.Directives.ForName("connect") != nil || f.Name == "__typename" {
			continue
		}
		if entity != nil && !own {
			continue // the entity connector provides it
		}
		l.add(pos, "%s: the selection cannot make the non-null field %s.%s", where, def.Name, f.Name)
	}
	if entity != nil && !own {
		for _, p := range paths(entity.Query) {
			l.batchKey(p, made, def, where, pos)
		}
		for _, p := range entity.URL.Paths() {
			l.batchKey(p, made, def, where, pos)
		}
	}
}

func (l *loader) batchKey(p *mapping.Path, made map[string]bool, def *ast.Definition, where string, pos *ast.Position) {
	if (p.Var == "$batch" || p.Var == "$this") && len(p.Keys) > 0 && !made[p.Keys[0]] {
		l.add(pos, "%s: the selection makes %s without %s, which its entity connector looks it up by", where, def.Name, p.Keys[0])
	}
}

// items checks the items of a selection that makes def, recording the keys it makes.
func (l *loader) items(sel *mapping.Selection, def *ast.Definition, where string, pos *ast.Position, made map[string]bool) {
	for _, n := range sel.Items {
		if n.Merge {
			l.items(n.Sub, def, where, pos, made)
			continue
		}
		f := def.Fields.ForName(n.Alias)
		if f == nil {
			l.add(pos, "%s: the selection makes %s, which %s has no field of", where, n.Alias, def.Name)
			continue
		}
		made[n.Alias] = true
		inner := l.s.AST.Types[f.Type.Name()]
		switch {
		case inner == nil:
		case inner.Kind == ast.Object && n.Sub == nil:
			if l.s.Entities[inner.Name] == nil || len(f.Directives.ForNames("connect")) == 0 {
				l.add(pos, "%s: %s.%s is an object: give it a sub-selection ({ … })", where, def.Name, n.Alias)
			}
		case n.Sub != nil:
			l.shape(n.Sub, inner, where, pos, false)
		}
	}
}

func splitKey(key string) (typ, field string) {
	for i := 0; i < len(key); i++ {
		if key[i] == '.' {
			return key[:i], key[i+1:]
		}
	}
	return key, ""
}

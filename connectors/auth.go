package connectors

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/switchyard/switchyard/policies"
)

// AuthDirective is how a declared schema declares field authorization, as the
// built-in demo's schema does; the gateway checks it.
const AuthDirective = `directive @auth(scopes: [String!]! = [], owner: Boolean! = false) on FIELD_DEFINITION`

// Auth is a field's authorization, from @auth: the caller must be authenticated
// and hold every one of Scopes or, with Owner, own the object: its id is the
// caller's subject. Anyone else gets null and a FORBIDDEN error.
type Auth struct {
	Scopes []string
	Owner  bool
}

// allows reports whether p may see the field on obj.
func (a *Auth) allows(p *policies.Principal, obj map[string]any) bool {
	if policies.Allowed(p, a.Scopes) {
		return true
	}
	if !a.Owner || p == nil {
		return false
	}
	switch id := obj["id"].(type) {
	case string:
		return id == p.Subject
	case json.Number:
		return id.String() == p.Subject
	}
	return false
}

// auths reads the @auth directives of object fields, when the schema declares
// @auth (as AuthDirective does).
func (l *loader) auths() {
	def := l.s.AST.Directives["auth"]
	if def == nil {
		return
	}
	scopes, owner := def.Arguments.ForName("scopes"), def.Arguments.ForName("owner")
	if scopes == nil || owner == nil || scopes.Type.Name() != "String" || scopes.Type.Elem == nil || owner.Type.Name() != "Boolean" {
		l.add(def.Position, "@auth is the gateway's field authorization: declare it as %s", AuthDirective)
		return
	}
	for _, tn := range slices.Sorted(maps.Keys(l.s.AST.Types)) {
		t := l.s.AST.Types[tn]
		if t.BuiltIn || t.Kind != ast.Object {
			continue
		}
		for _, f := range t.Fields {
			d := f.Directives.ForName("auth")
			if d == nil {
				continue
			}
			a := &Auth{}
			if v := d.Arguments.ForName("scopes"); v != nil && v.Value != nil {
				for _, c := range v.Value.Children {
					a.Scopes = append(a.Scopes, c.Value.Raw)
				}
				if v.Value.Kind == ast.StringValue { // a single value coerced to a list
					a.Scopes = []string{v.Value.Raw}
				}
			}
			if v := d.Arguments.ForName("owner"); v != nil && v.Value != nil {
				a.Owner = v.Value.Raw == "true"
			}
			l.s.Auth[tn+"."+f.Name] = a
		}
	}
}

package policies

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The codes of the query limits' errors. Clients get them with HTTP 400.
const (
	CodeQueryTooLarge  = "QUERY_TOO_LARGE"
	CodeQueryTooDeep   = "QUERY_TOO_DEEP"
	CodeTooManyAliases = "TOO_MANY_ALIASES"
	CodeTooManyTokens  = "TOO_MANY_TOKENS"
)

// QueryLimits is a gqlgen extension that refuses, before execution, an operation
// whose text is longer than MaxBytes, whose selections nest deeper than MaxDepth, or
// that has more than MaxAliases aliased fields. A zero limit is no limit. (The cost
// limit is gqlgen's complexity extension, over per-field costs the gateway sets.)
type QueryLimits struct {
	MaxBytes   int
	MaxDepth   int
	MaxAliases int
}

var (
	_ graphql.HandlerExtension        = QueryLimits{}
	_ graphql.OperationContextMutator = QueryLimits{}
)

// ExtensionName names the extension for gqlgen.
func (QueryLimits) ExtensionName() string { return "QueryLimits" }

// Validate accepts every schema.
func (QueryLimits) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext checks the limits.
func (l QueryLimits) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if l.MaxBytes > 0 && len(oc.RawQuery) > l.MaxBytes {
		return coded(CodeQueryTooLarge, fmt.Sprintf("the query is %d bytes; at most %d are allowed", len(oc.RawQuery), l.MaxBytes))
	}
	if oc.Operation == nil || (l.MaxDepth <= 0 && l.MaxAliases <= 0) {
		return nil
	}
	w := walker{doc: oc.Doc, frags: map[string]*measure{}}
	m := w.set(oc.Operation.SelectionSet)
	if l.MaxDepth > 0 && m.depth > l.MaxDepth {
		return coded(CodeQueryTooDeep, fmt.Sprintf("the query nests %d deep; at most %d are allowed", m.depth, l.MaxDepth))
	}
	if l.MaxAliases > 0 && m.aliases > l.MaxAliases {
		return coded(CodeTooManyAliases, fmt.Sprintf("the query has %d aliases; at most %d are allowed", m.aliases, l.MaxAliases))
	}
	return nil
}

// measure is what a selection set contributes: how deep it nests and how many
// aliases it holds, fragments expanded. Counts saturate, so that a query built to
// overflow them is still refused.
type measure struct {
	depth, aliases int
}

const saturated = 1 << 30

func add(a, b int) int { return min(a+b, saturated) }

// walker measures an operation. Each fragment is measured once and its measure
// reused wherever it is spread, so that spreading a fragment twice at every level
// costs a walk per fragment, not one per path.
type walker struct {
	doc   *ast.QueryDocument
	frags map[string]*measure // nil entry: being measured (a cycle; validation forbids them)
}

func (w *walker) set(set ast.SelectionSet) measure {
	var m measure
	for _, s := range set {
		switch s := s.(type) {
		case *ast.Field:
			if s.Alias != "" && s.Alias != s.Name {
				m.aliases = add(m.aliases, 1)
			}
			depth := 1
			if len(s.SelectionSet) > 0 {
				sub := w.set(s.SelectionSet)
				depth = add(sub.depth, 1)
				m.aliases = add(m.aliases, sub.aliases)
			}
			m.depth = max(m.depth, depth)
		case *ast.InlineFragment:
			sub := w.set(s.SelectionSet)
			m.depth = max(m.depth, sub.depth)
			m.aliases = add(m.aliases, sub.aliases)
		case *ast.FragmentSpread:
			sub := w.fragment(s.Name)
			m.depth = max(m.depth, sub.depth)
			m.aliases = add(m.aliases, sub.aliases)
		}
	}
	return m
}

func (w *walker) fragment(name string) measure {
	if m, ok := w.frags[name]; ok {
		if m == nil {
			return measure{} // a cycle
		}
		return *m
	}
	if w.doc == nil {
		return measure{}
	}
	def := w.doc.Fragments.ForName(name)
	if def == nil {
		return measure{}
	}
	w.frags[name] = nil
	m := w.set(def.SelectionSet)
	w.frags[name] = &m
	return m
}

func coded(code, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
}

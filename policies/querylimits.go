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
	if oc.Operation == nil {
		return nil
	}
	w := walker{doc: oc.Doc, seen: map[string]bool{}}
	w.walk(oc.Operation.SelectionSet, 1)
	if l.MaxDepth > 0 && w.depth > l.MaxDepth {
		return coded(CodeQueryTooDeep, fmt.Sprintf("the query nests %d deep; at most %d are allowed", w.depth, l.MaxDepth))
	}
	if l.MaxAliases > 0 && w.aliases > l.MaxAliases {
		return coded(CodeTooManyAliases, fmt.Sprintf("the query has %d aliases; at most %d are allowed", w.aliases, l.MaxAliases))
	}
	return nil
}

// walker measures an operation's depth and aliases, through fragments.
type walker struct {
	doc     *ast.QueryDocument
	seen    map[string]bool // fragments on the current path, against cycles
	depth   int
	aliases int
}

func (w *walker) walk(set ast.SelectionSet, depth int) {
	for _, s := range set {
		switch s := s.(type) {
		case *ast.Field:
			if s.Alias != "" && s.Alias != s.Name {
				w.aliases++
			}
			if len(s.SelectionSet) > 0 {
				w.depth = max(w.depth, depth+1)
				w.walk(s.SelectionSet, depth+1)
			} else {
				w.depth = max(w.depth, depth)
			}
		case *ast.InlineFragment:
			w.walk(s.SelectionSet, depth)
		case *ast.FragmentSpread:
			if w.seen[s.Name] || w.doc == nil {
				continue
			}
			if def := w.doc.Fragments.ForName(s.Name); def != nil {
				w.seen[s.Name] = true
				w.walk(def.SelectionSet, depth)
				delete(w.seen, s.Name)
			}
		}
	}
}

func coded(code, msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": code}}
}

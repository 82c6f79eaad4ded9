package policies

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// CodeIntrospectionDisabled is the code of a query that asks for the schema
// (__schema or __type) where introspection is off.
const CodeIntrospectionDisabled = "INTROSPECTION_DISABLED"

func init() {
	// Refused before execution like an invalid query: 400 with the GraphQL
	// response media type, 200 with application/json.
	errcode.RegisterErrorType(CodeIntrospectionDisabled, errcode.KindProtocol)
}

// NoIntrospection is a gqlgen extension that refuses, before execution, an
// operation asking for __schema or __type, with CodeIntrospectionDisabled:
// without it gqlgen refuses them only while executing, with an error the
// gateway cannot tell from a failure of its own. __typename stays allowed.
type NoIntrospection struct{}

var (
	_ graphql.HandlerExtension        = NoIntrospection{}
	_ graphql.OperationContextMutator = NoIntrospection{}
)

// ExtensionName names the extension for gqlgen.
func (NoIntrospection) ExtensionName() string { return "NoIntrospection" }

// Validate accepts every schema.
func (NoIntrospection) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext refuses an operation that introspects.
func (NoIntrospection) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if f := introspects(oc.Doc, oc.Operation.SelectionSet, map[string]bool{}); f != nil {
		err := gqlerror.ErrorPosf(f.Position, "introspection is disabled on this gateway: %s cannot be queried", f.Name)
		err.Extensions = map[string]any{"code": CodeIntrospectionDisabled}
		return err
	}
	return nil
}

// introspects returns the first __schema or __type field of a root selection set,
// looking into its fragments (each once), or nil.
func introspects(doc *ast.QueryDocument, set ast.SelectionSet, seen map[string]bool) *ast.Field {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return s
			}
		case *ast.InlineFragment:
			if f := introspects(doc, s.SelectionSet, seen); f != nil {
				return f
			}
		case *ast.FragmentSpread:
			if seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			if def := doc.Fragments.ForName(s.Name); def != nil {
				if f := introspects(doc, def.SelectionSet, seen); f != nil {
					return f
				}
			}
		}
	}
	return nil
}

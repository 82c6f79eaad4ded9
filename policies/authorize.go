package policies

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Codes of authorization refusals.
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
)

// Requirement is what a route or an operation asks of its caller: to be
// authenticated and to hold every scope listed.
type Requirement struct {
	// Authenticated asks for a caller; a requirement is at least that, so it
	// must be true when Scopes is empty.
	Authenticated bool `yaml:"authenticated"`
	// Scopes must all be granted to the caller.
	Scopes []string `yaml:"scopes"`
}

// refusal is why p does not meet r, or "" when it does; code is
// CodeUnauthenticated or CodeForbidden.
func (r Requirement) refusal(p *Principal) (code, msg string) {
	if p == nil {
		return CodeUnauthenticated, "authentication is required"
	}
	if !Allowed(p, r.Scopes) {
		return CodeForbidden, "this requires the scopes " + strings.Join(r.Scopes, ", ")
	}
	return "", ""
}

// Require refuses callers that do not meet r: 401 with a challenge when the caller
// is anonymous, 403 when it lacks a scope. It runs after the authenticator.
func Require(r Requirement, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch code, msg := r.refusal(PrincipalFrom(req.Context())); code {
		case CodeUnauthenticated:
			unauthorized(w, req, msg)
		case CodeForbidden:
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="switchyard", error="insufficient_scope", scope=%q`, strings.Join(r.Scopes, " ")))
			writeError(w, req, http.StatusForbidden, CodeForbidden, msg)
		default:
			next.ServeHTTP(w, req)
		}
	})
}

// OperationRules are requirements of GraphQL operations by name, checked once the
// operation is parsed. A client names its operations, so a rule holds only for
// operations whose text the gateway fixes: the composed REST endpoints' and the
// trusted documents'. The gateway refuses rules naming any other.
type OperationRules map[string]Requirement

var (
	_ graphql.HandlerExtension        = OperationRules(nil)
	_ graphql.OperationContextMutator = OperationRules(nil)
)

// ExtensionName implements graphql.HandlerExtension.
func (OperationRules) ExtensionName() string { return "OperationRules" }

// Validate implements graphql.HandlerExtension.
func (OperationRules) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext refuses an operation whose caller does not meet its rule,
// with the code UNAUTHENTICATED or FORBIDDEN (the transport answers 401 or 403).
func (rules OperationRules) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	r, ok := rules[oc.Operation.Name]
	if !ok {
		return nil
	}
	code, msg := r.refusal(PrincipalFrom(ctx))
	if code == "" {
		return nil
	}
	return &gqlerror.Error{Message: fmt.Sprintf("operation %s: %s", oc.Operation.Name, msg), Extensions: map[string]any{"code": code}}
}

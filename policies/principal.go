// Package policies owns what the gateway decides about a caller before and while a
// request runs: who the caller is (the Principal in the request's context) and what
// the caller may see. Authentication, rate limits and query limits join it as
// middleware and gqlgen extensions.
package policies

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Principal is an authenticated caller.
type Principal struct {
	// Subject identifies the caller; for the demo's users it is the user id.
	Subject string
	// Scopes are what the caller's credentials grant, such as "admin".
	Scopes []string
	// RateLimit, when set, is the caller's own rate-limit tier, in place of the
	// per-caller default.
	RateLimit *Rate
	// Issuer is the URL of the OIDC issuer of the caller's token; empty for an
	// API key.
	Issuer string
	// Claims are the token's claims the issuer's configuration selects.
	Claims map[string]any
}

// Claim is what the caller's credentials say of name, as a header value: "sub" is
// the subject, "scopes" the scopes space-separated, any other a claim the issuer's
// configuration kept. It is "" when there is none or it holds a line break.
func (p *Principal) Claim(name string) string {
	if p == nil {
		return ""
	}
	var v string
	switch name {
	case "sub":
		v = p.Subject
	case "scopes":
		v = strings.Join(p.Scopes, " ")
	default:
		switch c := p.Claims[name].(type) {
		case nil:
		case string:
			v = c
		default:
			v = fmt.Sprint(c)
		}
	}
	if strings.ContainsAny(v, "\r\n") {
		return ""
	}
	return v
}

// HasScope reports whether p was granted scope. A nil Principal has no scope.
func (p *Principal) HasScope(scope string) bool {
	return p != nil && slices.Contains(p.Scopes, scope)
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller of the request, or nil when it is anonymous.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// ErrForbidden is returned for a field or operation the caller may not see. The
// GraphQL error presenter gives it the code FORBIDDEN.
var ErrForbidden = errors.New("forbidden")

// Allowed reports whether p is authenticated and holds every one of scopes.
func Allowed(p *Principal, scopes []string) bool {
	if p == nil {
		return false
	}
	for _, s := range scopes {
		if !p.HasScope(s) {
			return false
		}
	}
	return true
}

package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/switchyard/switchyard/policies"
	"github.com/switchyard/switchyard/upstreams"
)

// Auth is the schema's @auth directive: the field resolves only for an
// authenticated caller holding every scope listed or, with owner, owning obj;
// anyone else gets null and a FORBIDDEN error.
func Auth(ctx context.Context, obj any, next graphql.Resolver, scopes []string, owner bool) (any, error) {
	p := policies.PrincipalFrom(ctx)
	if !policies.Allowed(p, scopes) && !(owner && p != nil && owns(p.Subject, obj)) {
		return nil, policies.ErrForbidden
	}
	return next(ctx)
}

// owns reports whether the user subject owns obj.
func owns(subject string, obj any) bool {
	id := ownerOf(obj)
	return id != "" && id == subject
}

// ownerOf is the id of the user who owns obj: a user owns itself and its orders.
func ownerOf(obj any) string {
	switch v := obj.(type) {
	case *upstreams.User:
		return v.ID
	case *upstreams.Order:
		return v.UserID
	}
	return ""
}

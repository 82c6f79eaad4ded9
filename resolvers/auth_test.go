package resolvers

import (
	"context"
	"errors"
	"testing"

	"github.com/switchyard/switchyard/policies"
	"github.com/switchyard/switchyard/upstreams"
)

func TestAuthDirective(t *testing.T) {
	ada := &upstreams.User{ID: "u1"}
	order := &upstreams.Order{ID: "o1", UserID: "u1"}
	as := func(p *policies.Principal) context.Context {
		return policies.WithPrincipal(context.Background(), p)
	}
	next := func(context.Context) (any, error) { return "value", nil }
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		obj    any
		scopes []string
		owner  bool
		ok     bool
	}{
		{"anonymous", context.Background(), ada, nil, false, false},
		{"authenticated, no scope needed", as(&policies.Principal{Subject: "u2"}), ada, nil, false, true},
		{"the user itself", as(&policies.Principal{Subject: "u1"}), ada, []string{"admin"}, true, true},
		{"the owner of an order", as(&policies.Principal{Subject: "u1"}), order, []string{"admin"}, true, true},
		{"another user", as(&policies.Principal{Subject: "u2"}), ada, []string{"admin"}, true, false},
		{"owner not enough without the owner flag", as(&policies.Principal{Subject: "u1"}), ada, []string{"admin"}, false, false},
		{"admin", as(&policies.Principal{Subject: "ops", Scopes: []string{"admin"}}), ada, []string{"admin"}, true, true},
		{"an object with no owner", as(&policies.Principal{Subject: ""}), &upstreams.Product{}, []string{"admin"}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Auth(tc.ctx, tc.obj, next, tc.scopes, tc.owner)
			if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, policies.ErrForbidden)) || (tc.ok && v != "value") {
				t.Fatalf("got %v, %v", v, err)
			}
		})
	}
}

package gateway

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/policies"
)

// auth is who may call the gateway: the authenticator (API keys, bearer tokens)
// of the guarded routes, the requirements of routes and operations, and the
// trusted proxies' rule for a request's client address.
type auth struct {
	authn      *policies.Authenticator
	routeRules map[string]policies.Requirement
	opRules    policies.OperationRules // nil when there are none
	clientIPs  *policies.ClientIPs
}

// newAuth makes the authenticator, which adopts prev's fetched OIDC keys, and
// the requirements of the routes and operations the versions serve.
func newAuth(g *Gateway, prev *auth) (*auth, error) {
	cfg := g.cfg
	issuers := slices.Clone(cfg.Auth.OIDC)
	for i := range issuers {
		issuers[i].Log = g.log.With("component", "oidc")
	}
	authn, err := policies.NewAuthenticator(policies.AuthOptions{
		Required: cfg.Auth.Required, APIKeyHeader: cfg.Auth.APIKeyHeader, APIKeys: cfg.Auth.APIKeys, Issuers: issuers,
	})
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	a := &auth{authn: authn}
	if prev != nil {
		a.authn.Adopt(prev.authn)
	}
	if g.obs.metrics != nil {
		a.authn.OnDecision = g.obs.metrics.AuthDecision
	}
	if a.clientIPs, err = policies.NewClientIPs(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("trusted_proxies: %w", err)
	}
	if err := a.authorization(g); err != nil {
		return nil, err
	}
	return a, nil
}

// release has nothing to release: the keys fetched are adopted or dropped.
func (*auth) release(component) {}

// guardedRoutes are the patterns of the routes that authenticate and limit their
// callers: the GraphQL endpoints and the composed REST endpoints.
func (vs *versionSet) guardedRoutes() []string {
	routes := []string{"/graphql"}
	for _, v := range vs.names {
		routes = append(routes, "/"+v+"/graphql")
	}
	for _, ep := range vs.rest {
		routes = append(routes, ep.Path)
	}
	return routes
}

// authorization builds the configured requirements of routes and operations. A
// route rule must name a guarded route; an operation rule, an operation whose text
// the gateway fixes.
func (a *auth) authorization(g *Gateway) error {
	c := g.cfg.Auth
	routes := g.versions.guardedRoutes()
	a.routeRules = map[string]policies.Requirement{}
	for route, r := range c.Routes {
		if !slices.Contains(routes, route) {
			return &config.FieldError{Key: "auth.routes." + route, Msg: fmt.Sprintf("no route %q: the guarded routes are %s", route, strings.Join(routes, ", "))}
		}
		a.routeRules[route] = r
	}
	if len(c.Operations) == 0 {
		return nil
	}
	trusted := g.versions.trusted
	if trusted == nil {
		return errors.New("auth.operations needs graphql.trusted_documents: without it a client may give any operation the name a rule protects (for a composed REST endpoint, put the rule on its route in auth.routes)")
	}
	fixed := trusted.OperationNames()
	for _, ep := range g.versions.rest {
		fixed = append(fixed, ep.Name)
	}
	a.opRules = policies.OperationRules{}
	for name, r := range c.Operations {
		if !slices.Contains(fixed, name) {
			return fmt.Errorf("auth.operations: %q is not the name of a composed REST endpoint's operation or of a trusted document's: a client could name any operation so", name)
		}
		a.opRules[name] = r
	}
	return nil
}

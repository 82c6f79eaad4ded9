package connectors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/switchyard/switchyard/connectors/mapping"
	"github.com/switchyard/switchyard/policies"
)

// ConfigValues turns the configuration's values for $config (decoded YAML) into
// the decoded JSON the mapping language reads: maps with string keys, lists,
// strings, json.Number, booleans and null. A value JSON cannot hold is an error.
func ConfigValues(v map[string]any) (map[string]any, error) {
	if len(v) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the values as JSON: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("decoding the values: %w", err)
	}
	return out, nil
}

// callerOf is $context for the authenticated caller p: its subject, its scopes,
// the issuer of its token ("" for an API key) and the claims its issuer's
// configuration keeps. It is nil for an anonymous caller, so that a template
// reading $context has no value.
func callerOf(p *policies.Principal) map[string]any {
	if p == nil {
		return nil
	}
	scopes := make([]any, len(p.Scopes))
	for i, s := range p.Scopes {
		scopes[i] = s
	}
	claims := make(map[string]any, len(p.Claims))
	for k, v := range p.Claims {
		claims[k] = v
	}
	return map[string]any{"subject": p.Subject, "scopes": scopes, "issuer": p.Issuer, "claims": claims}
}

// anonymous reports whether err is a template's value missing because it reads
// $context and the caller is anonymous: there is nothing of the caller's to ask
// for, so the field is null without a call and without an error.
func (r *run) anonymous(err error) bool {
	me, ok := err.(*mapping.MissingError)
	return ok && r.caller == nil && strings.HasPrefix(me.Expr, "$context")
}

// common are the variables every call of the request reads: $config, $context
// and $request, when they have a value.
func (r *run) common() mapping.Vars {
	v := make(mapping.Vars, 5)
	if r.e.config != nil {
		v["$config"] = r.e.config
	}
	if r.caller != nil {
		v["$context"] = r.caller
	}
	if req := r.request(); req != nil {
		v["$request"] = req
	}
	return v
}

// vars are the variables of a field's connector: the common ones, $args, and
// $this for a field of an object.
func (r *run) vars(args map[string]any, this any) mapping.Vars {
	v := r.common()
	v["$args"] = args
	if this != nil {
		v["$this"] = this
	}
	return v
}

// request is $request, made once per operation from the client's header.
func (r *run) request() any {
	r.reqOnce.Do(func() {
		if r.client == nil {
			return
		}
		h := make(map[string]any, len(r.client))
		for k, vs := range r.client {
			list := make([]any, len(vs))
			for i, s := range vs {
				list[i] = s
			}
			h[k] = list
		}
		r.req = map[string]any{"headers": h}
	})
	return r.req
}

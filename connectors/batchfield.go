package connectors

import (
	"context"
	"fmt"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/switchyard/switchyard/connectors/mapping"
)

// batchField checks a field's connector that reads $batch: it answers the field
// for many objects in one call, so it needs batchKey (the field of the answer's
// elements naming their object's key), one key read from $batch, and no $this
// or $args in its request (the call is one for objects asked with different
// arguments; its selection may read $args).
func (l *loader) batchField(d *ast.Directive, c *Connector, where string) bool {
	typ, _ := splitKey(where)
	if t := l.s.AST.Types[typ]; t == nil || t == l.s.AST.Query || t == l.s.AST.Mutation {
		l.add(d.Position, "%s: $batch is for the connector of a type (its entity lookups), or of an object's field with batchKey", where)
		return false
	}
	c.BatchKey = arg(d, "batchKey")
	if c.BatchKey == "" {
		l.add(d.Position, "%s: a field's connector reading $batch needs batchKey: the field of the answer's elements that holds their object's key", where)
		return false
	}
	ok := true
	if keys := entityKeys(c); len(keys) != 1 {
		l.add(d.Position, "%s: a field's connector reading $batch reads one key of its objects from it, not %d", where, len(keys))
		ok = false
	}
	for _, p := range requestPaths(c) {
		if p.Var == "$this" || p.Var == "$args" {
			l.add(d.Position, "%s: a field's connector reading $batch makes one call for many objects: its request cannot read %s", where, p.Var)
			ok = false
		}
	}
	return ok
}

// requestPaths are the paths a connector's request reads.
func requestPaths(c *Connector) []*mapping.Path {
	ps := c.URL.Paths()
	if c.Query != nil {
		ps = append(ps, paths(c.Query)...)
	}
	if c.Body != nil {
		ps = append(ps, paths(c.Body)...)
	}
	for _, h := range c.Headers {
		if h.Value != nil {
			ps = append(ps, h.Value.Paths()...)
		}
	}
	return ps
}

// batched answers a field whose connector reads $batch for its object parent: the
// call is made for the objects of the request that ask for the field, up to
// MaxBatch at a time, gathered as entity lookups are; the answer's elements are
// grouped by their BatchKey, and the field's selection is applied to its object's
// group (an empty list when the answer has none).
func (r *run) batched(ctx context.Context, c *Connector, parent map[string]any, vars mapping.Vars) (any, error) {
	keys := r.e.fieldKeys[c]
	r.mu.Lock()
	if r.groups == nil {
		r.groups = map[*Connector]*batcher[[]any]{}
	}
	b := r.groups[c]
	if b == nil {
		b = newBatcher(r, func(ctx context.Context, ks []string, objs []any) ([][]any, error) {
			return r.fetchGroups(ctx, c, keys, ks, objs)
		})
		r.groups[c] = b
	}
	e, full := b.add(keyOf(parent, keys), parent)
	r.mu.Unlock()
	var fulls []sendable
	if full != nil {
		fulls = []sendable{full}
	}
	if err := wait(ctx, r, []*batchEntry[[]any]{e}, fulls); err != nil {
		return nil, err
	}
	if e.err != nil {
		return nil, e.err
	}
	return c.Selection.Eval(e.v, vars), nil
}

// fetchGroups makes one call of a batched field's connector for the objects objs,
// of keys ks, and groups the answer's elements by object.
func (r *run) fetchGroups(ctx context.Context, c *Connector, keys, ks []string, objs []any) ([][]any, error) {
	vars := r.common()
	vars["$batch"] = objs
	req, err := c.Request(nil, vars, r.client)
	if err != nil {
		return nil, err
	}
	got, err := c.fetch(ctx, r.e.services[c.Source.Name], req)
	if err != nil {
		return nil, err
	}
	list, ok := got.([]any)
	if !ok && got != nil {
		return nil, badResponse(c.Source.Name, fmt.Sprintf("the service sent a %s where a list was expected", kindOf(got)))
	}
	groups := map[string][]any{}
	for _, el := range list {
		if m, ok := el.(map[string]any); ok {
			k := keyOf(map[string]any{keys[0]: m[c.BatchKey]}, keys)
			groups[k] = append(groups[k], el)
		}
	}
	out := make([][]any, len(ks))
	for i, k := range ks {
		out[i] = groups[k]
		if out[i] == nil {
			out[i] = []any{}
		}
	}
	return out, nil
}

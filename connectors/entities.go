package connectors

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/switchyard/switchyard/connectors/mapping"
)

// MaxBatch is the most keys one entity call is given.
const MaxBatch = 100

// entityKeys are the fields of an object its entity connector looks it up by: the
// first keys its $batch paths read.
func entityKeys(c *Connector) []string {
	var keys []string
	var ps []*mapping.Path
	if c.Query != nil {
		ps = append(ps, paths(c.Query)...)
	}
	ps = append(ps, c.URL.Paths()...)
	if c.Body != nil {
		ps = append(ps, paths(c.Body)...)
	}
	for _, p := range ps {
		if (p.Var == "$batch" || p.Var == "$this") && len(p.Keys) > 0 && !slices.Contains(keys, p.Keys[0]) {
			keys = append(keys, p.Keys[0])
		}
	}
	return keys
}

// keyOf is an object's key for its entity connector, as text: a single key that
// is a string or a number is its text after "s" ("1" and 1 are the same key), any
// other the JSON of the list of values (which starts with "[").
func keyOf(obj map[string]any, keys []string) string {
	if len(keys) == 1 {
		switch v := obj[keys[0]].(type) {
		case string:
			return "s" + v
		case json.Number:
			return "s" + v.String()
		}
	}
	vals := make([]any, len(keys))
	for i, k := range keys {
		vals[i] = obj[k]
		if n, ok := vals[i].(json.Number); ok {
			vals[i] = n.String() // "1" and 1 are the same key
		}
	}
	b, _ := json.Marshal(vals)
	return string(b)
}

// lookup fetches the object of type typ through its entity connector, batched with
// the request's other lookups of that type; nil when the service does not know it.
func (r *run) lookup(ctx context.Context, typ string, ent *Connector, obj map[string]any) (map[string]any, error) {
	if ent.PerItem {
		return r.lookupOne(ctx, ent, obj)
	}
	r.mu.Lock()
	e, full := r.entities(typ, ent).add(keyOf(obj, r.e.keys[typ]), obj)
	r.mu.Unlock()
	var fulls []sendable
	if full != nil {
		fulls = []sendable{full}
	}
	if err := wait(ctx, r, []*batchEntry[map[string]any]{e}, fulls); err != nil {
		return nil, err
	}
	return e.v, e.err
}

// entities is the request's batcher of typ's lookups. r.mu must be held.
func (r *run) entities(typ string, ent *Connector) *batcher[map[string]any] {
	if r.loaders == nil {
		r.loaders = map[string]*batcher[map[string]any]{}
	}
	b := r.loaders[typ]
	if b == nil {
		keys := r.e.keys[typ]
		b = newBatcher(r, func(ctx context.Context, ks []string, objs []any) ([]map[string]any, error) {
			return r.fetchEntities(ctx, ent, keys, ks, objs)
		})
		r.loaders[typ] = b
	}
	return b
}

// prefetch looks up together, before a list's elements are written, the objects
// of the list, and those nested in them, that need their type's entity connector
// for the fields sel asks: their keys are known, so the batches (MaxBatch keys
// each) do not depend on when each element runs, and they are sent as soon as no
// other goroutine of the request can add to them. The elements' own lookups then
// find the answers. Failures are left to them to report.
func (r *run) prefetch(ctx context.Context, def *ast.Definition, sel ast.SelectionSet, list []any) {
	found := map[string][]map[string]any{}
	r.gather(def, sel, objects(list, nil), found)
	if len(found) == 0 {
		return
	}
	var entries []*batchEntry[map[string]any]
	var full []sendable
	r.mu.Lock()
	for typ, objs := range found {
		b, keys := r.entities(typ, r.e.schema.Entities[typ]), r.e.keys[typ]
		for _, obj := range objs {
			e, s := b.add(keyOf(obj, keys), obj)
			entries = append(entries, e)
			if s != nil {
				full = append(full, s)
			}
		}
	}
	r.mu.Unlock()
	_ = wait(ctx, r, entries, full)
}

// settled reports whether objects of def, asked for sel and prefetched, can be
// written without waiting for anything: no field below has a connector of its own
// (or a @compute reading one), and the only entity lookups are those prefetch
// makes, of batched entity connectors, with none below an object looked up
// (whose fields are known only once it is). Such objects are written in turn, in
// the calling goroutine. looked says def's objects may need a lookup themselves.
func (r *run) settled(def *ast.Definition, sel ast.SelectionSet, looked bool) bool {
	if ent := r.e.schema.Entities[def.Name]; ent != nil && ent.PerItem {
		return false
	}
	for _, f := range graphql.CollectFields(r.oc, sel, []string{def.Name}) {
		key := def.Name + "." + f.Name
		if r.e.schema.Fields[key] != nil {
			return false
		}
		if comp := r.e.schema.Computed[key]; comp != nil {
			for _, use := range comp.Uses {
				if r.e.schema.Fields[def.Name+"."+use] != nil {
					return false
				}
			}
		}
		inner := r.e.schema.AST.Types[f.Definition.Type.Name()]
		if inner == nil || inner.Kind != ast.Object {
			continue
		}
		entity := r.e.schema.Entities[inner.Name] != nil
		if entity && looked || !r.settled(inner, f.Selections, looked || entity) {
			return false
		}
	}
	return true
}

// gather finds, by type, the objects among objs (of def, asked for sel) and
// nested in them that need a batched entity lookup. It goes into the objects that
// need none: what the others hold is known only once they are looked up.
func (r *run) gather(def *ast.Definition, sel ast.SelectionSet, objs []map[string]any, found map[string][]map[string]any) {
	fields := graphql.CollectFields(r.oc, sel, []string{def.Name})
	if ent := r.e.schema.Entities[def.Name]; ent != nil && !ent.PerItem {
		needs := r.needs(def, fields)
		complete := objs[:0:0]
		for _, obj := range objs {
			if lacks(obj, needs) {
				found[def.Name] = append(found[def.Name], obj)
			} else {
				complete = append(complete, obj)
			}
		}
		objs = complete
	}
	for _, f := range fields {
		key := def.Name + "." + f.Name
		inner := r.e.schema.AST.Types[f.Definition.Type.Name()]
		if inner == nil || inner.Kind != ast.Object || r.e.schema.Fields[key] != nil || r.e.schema.Computed[key] != nil {
			continue
		}
		var children []map[string]any
		for _, obj := range objs {
			children = objects([]any{obj[f.Name]}, children)
		}
		if len(children) > 0 {
			r.gather(inner, f.Selections, children, found)
		}
	}
}

// objects appends to out the objects of list, and of the lists in it.
func objects(list []any, out []map[string]any) []map[string]any {
	for _, el := range list {
		switch x := el.(type) {
		case map[string]any:
			out = append(out, x)
		case []any:
			out = objects(x, out)
		}
	}
	return out
}

// lacks reports whether obj lacks one of the fields names.
func lacks(obj map[string]any, names []string) bool {
	for _, n := range names {
		if _, have := obj[n]; !have {
			return true
		}
	}
	return false
}

// MaxFanOut bounds the per-item entity calls one request has in flight.
const MaxFanOut = 16

// itemCall is one per-item entity call, shared by the objects that need it.
type itemCall struct {
	signal
	v   map[string]any
	err error
}

// lookupOne fetches one object through a per-item entity connector ($this): one
// call per distinct request, made once for all the objects that need it, at most
// MaxFanOut at a time for the request.
func (r *run) lookupOne(ctx context.Context, ent *Connector, obj map[string]any) (map[string]any, error) {
	vars := r.common()
	vars["$this"] = obj
	req, err := ent.Request(obj, vars, r.client)
	if err != nil {
		return nil, err
	}
	key := req.Method + " " + req.Target + " " + string(req.Body)
	r.mu.Lock()
	if r.items == nil {
		r.items, r.fanOut = map[string]*itemCall{}, make(chan struct{}, MaxFanOut)
	}
	call, started := r.items[key]
	if !started {
		call = &itemCall{signal: newSignal()}
		r.items[key] = call
	}
	r.mu.Unlock()
	if started {
		if err := r.await(ctx, &call.signal); err != nil {
			return nil, err
		}
		return call.v, call.err
	}
	defer r.give(&call.signal)
	select {
	case r.fanOut <- struct{}{}:
	case <-ctx.Done():
		call.err = ctx.Err()
		return nil, call.err
	}
	got, err := ent.Do(ctx, r.e.services[ent.Source.Name], obj, vars, r.client)
	<-r.fanOut
	if list, ok := got.([]any); ok && len(list) > 0 {
		got = list[0]
	}
	call.v, _ = got.(map[string]any)
	call.err = err
	return call.v, call.err
}

// fetchEntities makes one entity call for the objects objs, of keys ks.
func (r *run) fetchEntities(ctx context.Context, ent *Connector, keys, ks []string, objs []any) ([]map[string]any, error) {
	vars := r.common()
	vars["$batch"] = objs
	got, err := ent.Do(ctx, r.e.services[ent.Source.Name], nil, vars, r.client)
	if err != nil {
		return nil, err
	}
	list, ok := got.([]any)
	if !ok && got != nil {
		list = []any{got}
	}
	byKey := make(map[string]map[string]any, len(list))
	for _, el := range list {
		if m, ok := el.(map[string]any); ok {
			byKey[keyOf(m, keys)] = m
		}
	}
	out := make([]map[string]any, len(ks))
	for i, k := range ks {
		out[i] = byKey[k] // an unknown key: nil
	}
	return out, nil
}

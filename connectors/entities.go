package connectors

import (
	"context"
	"encoding/json"
	"slices"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vikstrous/dataloadgen"

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

// keyOf is an object's key for its entity connector, as text.
func keyOf(obj map[string]any, keys []string) string {
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
	l, keys := r.pend(typ, ent, []map[string]any{obj})
	return l.Load(ctx, keys[0])
}

// pend records objects of type typ waiting for their entity lookups and returns
// the request's loader of typ with their keys.
func (r *run) pend(typ string, ent *Connector, objs []map[string]any) (*dataloadgen.Loader[string, map[string]any], []string) {
	keys := r.e.keys[typ]
	out := make([]string, len(objs))
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.loaders == nil {
		r.loaders, r.pending = map[string]*dataloadgen.Loader[string, map[string]any]{}, map[string]map[string]map[string]any{}
	}
	l := r.loaders[typ]
	if l == nil {
		l = dataloadgen.NewLoader(func(ctx context.Context, ks []string) ([]map[string]any, []error) {
			return r.fetchEntities(ctx, typ, ent, keys, ks)
		}, dataloadgen.WithWait(r.e.batchWait), dataloadgen.WithBatchCapacity(MaxBatch))
		r.loaders[typ] = l
		r.pending[typ] = map[string]map[string]any{}
	}
	for i, obj := range objs {
		out[i] = keyOf(obj, keys)
		r.pending[typ][out[i]] = obj
	}
	return l, out
}

// prefetch looks up together, before a list's elements are written, the objects
// of the list, and those nested in them, that need their type's entity connector
// for the fields sel asks: their keys are known, so the batches (MaxBatch keys
// each) do not depend on when each element runs. The elements' own lookups then
// find the answers. Failures are left to them to report.
func (r *run) prefetch(ctx context.Context, def *ast.Definition, sel ast.SelectionSet, list []any) {
	found := map[string][]map[string]any{}
	r.gather(def, sel, objects(list, nil), found)
	var wg sync.WaitGroup
	for typ, objs := range found {
		l, keys := r.pend(typ, r.e.schema.Entities[typ], objs)
		wg.Go(func() { _, _ = l.LoadAll(ctx, keys) })
	}
	wg.Wait()
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
	done chan struct{}
	v    map[string]any
	err  error
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
		call = &itemCall{done: make(chan struct{})}
		r.items[key] = call
	}
	r.mu.Unlock()
	if started {
		select {
		case <-call.done:
			return call.v, call.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	defer close(call.done)
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

// fetchEntities makes one entity call for the objects of ks.
func (r *run) fetchEntities(ctx context.Context, typ string, ent *Connector, keys, ks []string) ([]map[string]any, []error) {
	batch := make([]any, len(ks))
	r.mu.Lock()
	for i, k := range ks {
		batch[i] = r.pending[typ][k]
	}
	r.mu.Unlock()
	out := make([]map[string]any, len(ks))
	errs := make([]error, len(ks))
	vars := r.common()
	vars["$batch"] = batch
	got, err := ent.Do(ctx, r.e.services[ent.Source.Name], nil, vars, r.client)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return out, errs
	}
	list, ok := got.([]any)
	if !ok && got != nil {
		list = []any{got}
	}
	byKey := map[string]map[string]any{}
	for _, el := range list {
		if m, ok := el.(map[string]any); ok {
			byKey[keyOf(m, keys)] = m
		}
	}
	for i, k := range ks {
		out[i] = byKey[k] // an unknown key: nil
	}
	return out, errs
}

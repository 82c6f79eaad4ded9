package connectors

import (
	"context"
	"encoding/json"
	"slices"

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

// prefetch looks up together the objects of a list that need their type's entity
// connector for the fields sel asks, before the elements are written: their keys
// are known, so the batches (MaxBatch keys each) do not depend on when each
// element runs. The elements' own lookups then find the answers. Failures are
// left to them to report.
func (r *run) prefetch(ctx context.Context, def *ast.Definition, sel ast.SelectionSet, list []any) {
	ent := r.e.schema.Entities[def.Name]
	if ent == nil || ent.PerItem || len(list) < 2 {
		return
	}
	needs := r.needs(def, graphql.CollectFields(r.oc, sel, []string{def.Name}))
	var objs []map[string]any
	for _, el := range list {
		obj, ok := el.(map[string]any)
		if !ok {
			continue
		}
		for _, n := range needs {
			if _, have := obj[n]; !have {
				objs = append(objs, obj)
				break
			}
		}
	}
	if len(objs) < 2 {
		return
	}
	l, keys := r.pend(def.Name, ent, objs)
	_, _ = l.LoadAll(ctx, keys)
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

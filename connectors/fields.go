package connectors

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/switchyard/switchyard/connectors/mapping"
	"github.com/switchyard/switchyard/policies"
)

// object writes an object of def from what was made of it, fetching through its
// type's entity connector the fields it lacks, and through its fields' connectors
// the fields they answer. A failed lookup is reported, or kept in hold (see
// report).
func (r *run) object(ctx context.Context, def *ast.Definition, sel ast.SelectionSet, obj map[string]any, path ast.Path, pos *ast.Position, src string, nonNull bool, hold *failure) ([]byte, bool) {
	fields := graphql.CollectFields(r.oc, sel, []string{def.Name})
	obj, ok := r.complete(ctx, def, fields, obj, path, pos, nonNull, hold)
	if !ok {
		return []byte("null"), false
	}
	values := make([][]byte, len(fields))
	oks := make([]bool, len(fields))
	p := childPath(path) // one for all the fields, written in turn (see childPath)
	for i, f := range fields {
		p[len(path)] = ast.PathName(f.Alias)
		values[i], oks[i] = r.field(ctx, def, f, obj, p, src)
	}
	return r.writeObject(fields, values, oks)
}

// complete returns obj with what its type's entity connector adds when the fields
// asked for need it; ok is false when the object is null (the service does not
// know it, or the lookup failed).
func (r *run) complete(ctx context.Context, def *ast.Definition, fields []graphql.CollectedField, obj map[string]any, path ast.Path, pos *ast.Position, nonNull bool, hold *failure) (map[string]any, bool) {
	ent := r.e.schema.Entities[def.Name]
	if ent == nil {
		return obj, true
	}
	for _, name := range r.needs(def, fields) {
		if _, have := obj[name]; have {
			continue
		}
		m, err := r.lookup(ctx, def.Name, ent, obj)
		if err != nil {
			if hold != nil {
				hold.set(err)
			} else {
				r.failLookup(path, pos, err)
			}
			return nil, false
		}
		if m == nil { // the service does not know it: null, an error where null is not allowed
			if nonNull {
				r.report(hold, path, pos, notFound(ent.Source.Name, def.Name))
			}
			return nil, false
		}
		if holds(m, obj) {
			return m, true
		}
		merged := make(map[string]any, len(m)+len(obj))
		for k, v := range m {
			merged[k] = v
		}
		for k, v := range obj {
			merged[k] = v
		}
		return merged, true
	}
	return obj, true
}

// holds reports whether m holds every field of obj with the same value, a string
// or a number (an entity looked up by the keys its object was made with): then m
// is what merging the two would make.
func holds(m, obj map[string]any) bool {
	for k, v := range obj {
		switch x := v.(type) {
		case string:
			if y, ok := m[k].(string); !ok || x != y {
				return false
			}
		case json.Number:
			if y, ok := m[k].(json.Number); !ok || x != y {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// failLookup reports a failed entity lookup at its object or, for an element of a
// list, once per distinct failure at the list: a failed batch is one error, not
// one per element (as the compiled demo reports a list by ids).
func (r *run) failLookup(path ast.Path, pos *ast.Position, err error) {
	n := len(path)
	if n == 0 {
		r.fail(path, pos, err)
		return
	}
	if _, element := path[n-1].(ast.PathIndex); !element {
		r.fail(path, pos, err)
		return
	}
	list := path[:n-1]
	key := list.String() + "\x00" + err.Error()
	r.mu.Lock()
	if r.listErrs == nil {
		r.listErrs = map[string]bool{}
	}
	seen := r.listErrs[key]
	r.listErrs[key] = true
	r.mu.Unlock()
	if !seen {
		r.fail(list, nil, err)
	}
}

// field writes one field of an object: its authorization first, then its value
// from the object, its @compute or its own connector.
func (r *run) field(ctx context.Context, def *ast.Definition, f graphql.CollectedField, obj map[string]any, path ast.Path, src string) ([]byte, bool) {
	if f.Name == "__typename" {
		return strconv.AppendQuote(nil, def.Name), true
	}
	key := def.Name + "." + f.Name
	if a := r.e.schema.Auth[key]; a != nil && !a.allows(r.principal, obj) {
		r.fail(path, f.Position, policies.ErrForbidden)
		return r.nullFor(f.Definition.Type)
	}
	v, from := obj[f.Name], src
	if comp := r.e.schema.Computed[key]; comp != nil {
		in, err := r.computeInput(ctx, def, comp, obj)
		if err == nil {
			v, err = comp.Eval(in)
			if err != nil {
				err = badResponse(src, "computing "+key+": "+err.Error())
			}
		}
		if err != nil {
			return r.failed(ctx, def, f, path, src, err)
		}
	}
	if c := r.e.schema.Fields[key]; c != nil {
		from = c.Source.Name
		var err error
		if v, err = r.call(ctx, c, obj, r.vars(f.ArgumentMap(r.oc.Variables), obj)); err != nil {
			return r.failed(ctx, def, f, path, from, err)
		}
	}
	return r.write(ctx, def, key, f, v, path, from)
}

// computeInput is obj with the fields comp reads that have connectors of their
// own: each connector is called first, with no $args (not even the defaults, so
// that ->slice(0, $args.first) gives everything).
func (r *run) computeInput(ctx context.Context, def *ast.Definition, comp *Compute, obj map[string]any) (map[string]any, error) {
	var in map[string]any
	for _, name := range comp.Uses {
		c := r.e.schema.Fields[def.Name+"."+name]
		if c == nil {
			continue
		}
		v, err := r.call(ctx, c, obj, r.vars(map[string]any{}, obj))
		if err != nil {
			return nil, err
		}
		if in == nil {
			in = make(map[string]any, len(obj)+len(comp.Uses))
			for k, x := range obj {
				in[k] = x
			}
		}
		in[name] = v
	}
	if in == nil {
		return obj, nil
	}
	return in, nil
}

// needs are the fields of def the object must hold before its fields are written:
// those asked for that no connector or @compute of their own answers, and those the
// computed ones read that no connector of their own answers.
func (r *run) needs(def *ast.Definition, fields []graphql.CollectedField) []string {
	var out []string
	for _, f := range fields {
		key := def.Name + "." + f.Name
		switch {
		case f.Name == "__typename", r.e.schema.Fields[key] != nil:
		case r.e.schema.Computed[key] != nil:
			for _, use := range r.e.schema.Computed[key].Uses {
				if r.e.schema.Fields[def.Name+"."+use] == nil {
					out = append(out, use)
				}
			}
		default:
			out = append(out, f.Name)
		}
	}
	return out
}

// answer is one call's answer, shared by the fields of the request that make the
// same call.
type answer struct {
	signal
	v   any
	err error
}

// call makes a field connector's call and maps its answer. Identical GET calls
// of a request are made once (a field and a @compute reading it, the same
// object in two places). A call for an anonymous caller's $context is not made,
// and its value is null.
func (r *run) call(ctx context.Context, c *Connector, input any, vars mapping.Vars) (any, error) {
	if c.Method == "" {
		return c.Selection.Eval(map[string]any{}, vars), nil
	}
	if parent, ok := input.(map[string]any); ok && c.Batch {
		return r.batched(ctx, c, parent, vars)
	}
	req, err := c.Request(input, vars, r.client)
	if err != nil {
		if r.anonymous(err) {
			return nil, nil
		}
		return nil, err
	}
	svc := r.e.services[c.Source.Name]
	if req.Method != "GET" {
		got, err := c.fetch(ctx, svc, req)
		if err != nil || got == nil {
			return nil, err
		}
		return c.Selection.Eval(got, vars), nil
	}
	a, started := r.answerFor(answerKey(c, req))
	if !started {
		a.v, a.err = c.fetch(ctx, svc, req)
		r.give(&a.signal)
	} else if err := r.await(ctx, &a.signal); err != nil {
		return nil, err
	}
	if a.err != nil || a.v == nil {
		return nil, a.err
	}
	return c.Selection.Eval(a.v, vars), nil
}

// answerKey is the key of a GET call among the request's answers.
func answerKey(c *Connector, req *Request) string {
	if len(req.Header) == 0 {
		return c.Source.Name + " " + req.Target
	}
	key := c.Source.Name + " " + req.Target
	for _, h := range req.Header {
		key += "\n" + h[0] + ": " + h[1]
	}
	return key
}

// answerFor is the request's answer of key, and whether its call is started
// already; one not started is the caller's to make and give.
func (r *run) answerFor(key string) (*answer, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.answers == nil {
		r.answers = map[string]*answer{}
	}
	a, started := r.answers[key]
	if !started {
		a = &answer{signal: newSignal()}
		r.answers[key] = a
	}
	return a, started
}

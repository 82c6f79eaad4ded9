package connectors

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/switchyard/switchyard/connectors/mapping"
	"github.com/switchyard/switchyard/policies"
	"github.com/switchyard/switchyard/upstreams"
)

// Executable serves a declared schema: a gqlgen ExecutableSchema built at run time,
// so that the gqlgen handler and every extension of the gateway apply to it as to
// the compiled one. Root fields run concurrently (a mutation's one after another;
// a query's GET calls sent together from the request's goroutine when every root
// field makes one), and so do the elements of a list of objects, unless nothing
// is left for them to wait for once their lookups are made;
// an object's fields come from what its connector's selection made, from the
// connectors of its type's fields (with $this), and from its type's entity
// connector for what the selection left out.
//
// The objects of one request that need their type's entity connector are looked up
// together: the connector's $batch gets up to MaxBatch keys per call, those of a
// list before its elements are written, and the answers are matched back by key
// (an unknown key is null). A batch is sent as soon as no goroutine of the request
// can add to it (every one waits), or at the latest after the batch wait
// (SetBatchWait). A type whose
// service has no batch endpoint gets per-item fan-out instead: its entity connector
// reads $this, and each distinct call is made once, at most MaxFanOut at a time for
// the request. A field's connector reading $batch (with batchKey) is batched the
// same way over the objects asking for it; other GET calls of fields' connectors
// are made once per request. A @compute field is computed from the object's fields
// once they are all there (a connected field it reads is called first). @auth
// fields are checked against the caller, and introspection answers from the
// schema clients see.
type Executable struct {
	schema   *Schema
	client   *ast.Schema                   // what clients see: the declared schema without the connectors' prelude
	services map[string]*upstreams.Service // by source name
	config   map[string]any                // $config
	keys     map[string][]string           // each entity connector's lookup keys, by type
	// fieldKeys are the keys of their objects that batched fields' connectors
	// read from $batch.
	fieldKeys map[*Connector][]string
	// batchWait is how long a batch of entity lookups stays open for more keys.
	batchWait time.Duration
	// policy decides what the fields it covers answer when they fail; covered
	// are those fields, by "Type.field" (nil when none).
	policy  FailurePolicy
	covered map[string]bool
}

// NewExecutable serves s, calling each source's service; config is $config.
func NewExecutable(s *Schema, services map[string]*upstreams.Service, config map[string]any) (*Executable, error) {
	for name := range s.Sources {
		if services[name] == nil {
			return nil, fmt.Errorf("source %q has no service", name)
		}
	}
	keys := map[string][]string{}
	for typ, ent := range s.Entities {
		keys[typ] = entityKeys(ent)
	}
	fieldKeys := map[*Connector][]string{}
	for _, c := range s.Fields {
		if c.Batch {
			fieldKeys[c] = entityKeys(c)
		}
	}
	return &Executable{schema: s, client: clientSchema(s.AST), services: services, config: config, keys: keys, fieldKeys: fieldKeys, batchWait: time.Millisecond}, nil
}

var _ graphql.ExecutableSchema = (*Executable)(nil)

// SetBatchWait sets how long at most a batch of entity lookups stays open for more
// keys after its first while other goroutines of the request may still add some
// (default a millisecond); a batch no goroutine can add to is sent at once. Call
// it before serving.
func (e *Executable) SetBatchWait(d time.Duration) {
	if d > 0 {
		e.batchWait = d
	}
}

// Schema is the declared schema as clients see it: without the directives and
// input types of Prelude. Operations are validated against it, and introspection
// answers from it.
func (e *Executable) Schema() *ast.Schema { return e.client }

// Complexity leaves every field to gqlgen's default cost.
func (e *Executable) Complexity(context.Context, string, string, int, map[string]any) (int, bool) {
	return 0, false
}

// ClientHeader carries the inbound request's header to the connectors (for headers
// with from, and $request.headers); the gateway puts it in the request's context.
type clientHeaderKey struct{}

// WithClientHeader returns ctx carrying the inbound request's header.
func WithClientHeader(ctx context.Context, h http.Header) context.Context {
	return context.WithValue(ctx, clientHeaderKey{}, h)
}

// Exec runs the operation of ctx.
func (e *Executable) Exec(ctx context.Context) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	client, _ := ctx.Value(clientHeaderKey{}).(http.Header)
	var done bool
	return func(ctx context.Context) *graphql.Response {
		if done {
			return nil
		}
		done = true
		p := policies.PrincipalFrom(ctx)
		r := &run{e: e, oc: oc, client: client, ctx: ctx, principal: p, caller: callerOf(p), active: 1}
		var root *ast.Definition
		switch oc.Operation.Operation {
		case ast.Mutation:
			root = e.schema.AST.Mutation
		case ast.Subscription:
			return &graphql.Response{Errors: gqlerror.List{gqlerror.Errorf("declared schemas have no subscriptions")}}
		default:
			root = e.schema.AST.Query
		}
		data, _ := r.root(ctx, root, oc.Operation.SelectionSet, oc.Operation.Operation == ast.Mutation)
		return &graphql.Response{Data: data}
	}
}

// run is one operation's execution.
type run struct {
	e      *Executable
	oc     *graphql.OperationContext
	client http.Header
	// ctx is the response's context: errors are added to it, so that the
	// gateway's error presenter codes them as every other error.
	ctx context.Context
	// principal is the authenticated caller, nil when anonymous; caller is it
	// as $context.
	principal *policies.Principal
	caller    map[string]any
	// answers are the request's GET calls of fields' connectors, each made once;
	// groups batch the calls of fields whose connectors read $batch, and
	// groupPending are the objects waiting for them.
	answers  map[string]*answer
	listErrs map[string]bool // the failures reported at a list, by list and message
	groups   map[*Connector]*batcher[[]any]
	mu       sync.Mutex
	// active counts the goroutines writing the answer that are not waiting
	// (see batch.go); pendingBatches are the batchers with keys not yet sent.
	active         int
	pendingBatches []pendingBatcher
	// req is $request, made once (reqOnce) on first use.
	reqOnce sync.Once
	req     any
	// loaders batch the entity lookups of the request, by type.
	loaders map[string]*batcher[map[string]any]
	// items are the request's per-item entity calls, by request; fanOut bounds
	// those in flight.
	items  map[string]*itemCall
	fanOut chan struct{}
}

// maxConcurrentItems bounds the elements of one list resolved at once.
const maxConcurrentItems = 32

// fail adds err to the response at path, located at the field it is an error of,
// as gqlgen locates a resolver's error.
func (r *run) fail(path ast.Path, pos *ast.Position, err error) {
	var ge *gqlerror.Error
	if gqlErr, ok := err.(*gqlerror.Error); ok {
		ge = gqlErr
	} else {
		ge = &gqlerror.Error{Message: err.Error(), Err: err}
	}
	ge.Path = slices.Clone(path)
	if pos != nil && pos.Line > 0 && ge.Locations == nil {
		ge.Locations = []gqlerror.Location{{Line: pos.Line, Column: pos.Column}}
	}
	graphql.AddError(r.ctx, ge)
}

// root resolves the root fields, concurrently unless serial, into one object.
func (r *run) root(ctx context.Context, def *ast.Definition, sel ast.SelectionSet, serial bool) (json.RawMessage, bool) {
	fields := graphql.CollectFields(r.oc, sel, []string{def.Name})
	values := make([][]byte, len(fields))
	oks := make([]bool, len(fields))
	vars := make([]mapping.Vars, len(fields))
	if !serial {
		r.fetchRoots(ctx, def, fields, vars)
	}
	resolve := func(i int) {
		f := fields[i]
		path := ast.Path{ast.PathName(f.Alias)}
		if f.Name == "__typename" {
			values[i], oks[i] = strconv.AppendQuote(nil, def.Name), true
			return
		}
		if f.Name == "__schema" || f.Name == "__type" {
			values[i], oks[i] = r.introspect(f, path)
			return
		}
		key := def.Name + "." + f.Name
		c := r.e.schema.Fields[key]
		if c == nil {
			r.fail(path, f.Position, fmt.Errorf("%s.%s has no connector", def.Name, f.Name))
			return
		}
		if vars[i] == nil {
			vars[i] = r.vars(f.ArgumentMap(r.oc.Variables), nil)
		}
		v, err := r.call(ctx, c, nil, vars[i])
		if err != nil {
			values[i], oks[i] = r.failed(ctx, def, f, path, c.Source.Name, err)
			return
		}
		values[i], oks[i] = r.write(ctx, def, key, f, v, path, c.Source.Name)
	}
	if serial {
		for i := range fields {
			resolve(i)
		}
	} else {
		r.fork(len(fields), len(fields), resolve)
	}
	return r.writeObject(fields, values, oks)
}

// nullFor is the value of a failed field: null, which a non-null type does not take.
func (r *run) nullFor(t *ast.Type) ([]byte, bool) {
	return []byte("null"), !t.NonNull
}

// value writes v, what a selection made, as a value of type t; ok is false when it
// is null (or bad) where t is non-null, which nulls the parent. The failures of
// the value's own (not those of its objects' fields) are reported, or kept in
// hold when it is not nil (see report).
func (r *run) value(ctx context.Context, t *ast.Type, sel ast.SelectionSet, v any, path ast.Path, pos *ast.Position, src string, hold *failure) ([]byte, bool) {
	if v == nil {
		if t.NonNull {
			r.report(hold, path, pos, badResponse(src, "the service sent no value for a non-null field"))
		}
		return []byte("null"), !t.NonNull
	}
	if t.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			r.report(hold, path, pos, badResponse(src, "the service sent a single value for a list"))
			return r.nullFor(t)
		}
		return r.list(ctx, t, sel, list, path, pos, src, hold)
	}
	def := r.e.schema.AST.Types[t.NamedType]
	switch def.Kind {
	case ast.Object:
		obj, ok := v.(map[string]any)
		if !ok {
			r.report(hold, path, pos, badResponse(src, "the service sent a "+kindOf(v)+" for an object"))
			return r.nullFor(t)
		}
		out, ok := r.object(ctx, def, sel, obj, path, pos, src, t.NonNull, hold)
		if !ok {
			return r.nullFor(t)
		}
		return out, true
	case ast.Enum:
		s, ok := v.(string)
		if !ok || def.EnumValues.ForName(s) == nil {
			r.report(hold, path, pos, badResponse(src, fmt.Sprintf("%v is not a value of the enum %s", v, def.Name)))
			return r.nullFor(t)
		}
		return appendString(nil, s), true
	default:
		out, err := scalar(def.Name, v)
		if err != nil {
			r.report(hold, path, pos, badResponse(src, err.Error()))
			return r.nullFor(t)
		}
		return out, true
	}
}

// list writes the elements of a list of type t (see value). A list of objects
// has their lookups made together first; its elements are written concurrently
// unless nothing is left for them to wait for.
func (r *run) list(ctx context.Context, t *ast.Type, sel ast.SelectionSet, list []any, path ast.Path, pos *ast.Position, src string, hold *failure) ([]byte, bool) {
	outs := make([][]byte, len(list))
	oks := make([]bool, len(list))
	concurrent := false
	if def := r.e.schema.AST.Types[t.Elem.Name()]; def != nil && def.Kind == ast.Object && len(list) > 1 {
		r.prefetch(ctx, def, sel, list)
		concurrent = !r.settled(def, sel, r.e.schema.Entities[def.Name] != nil)
	}
	if concurrent {
		paths := indexPaths(path, len(list))
		r.fork(len(list), maxConcurrentItems, func(i int) {
			outs[i], oks[i] = r.value(ctx, t.Elem, sel, list[i], paths[i], pos, src, hold)
		})
	} else {
		p := childPath(path) // one for all the elements (see childPath)
		for i := range list {
			p[len(path)] = ast.PathIndex(i)
			outs[i], oks[i] = r.value(ctx, t.Elem, sel, list[i], p, pos, src, hold)
		}
	}
	for i := range list {
		if !oks[i] {
			return r.nullFor(t)
		}
	}
	return writeList(outs), true
}

// scalar writes a built-in scalar's value, refusing one of the wrong JSON type.
func scalar(name string, v any) ([]byte, error) {
	switch name {
	case "String", "ID":
		switch x := v.(type) {
		case string:
			return appendString(nil, x), nil // JSON's escapes, not Go's
		case json.Number:
			if name == "ID" {
				return appendString(nil, x.String()), nil
			}
		}
	case "Int":
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil && i >= -1<<31 && i < 1<<31 {
				return strconv.AppendInt(nil, i, 10), nil
			}
		}
	case "Float":
		if n, ok := v.(json.Number); ok {
			if f, err := n.Float64(); err == nil {
				return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
			}
		}
	case "Boolean":
		if b, ok := v.(bool); ok {
			return strconv.AppendBool(nil, b), nil
		}
	default: // a custom scalar: its JSON as the service sent it
		return json.Marshal(v)
	}
	return nil, fmt.Errorf("the service sent a %s for a %s", kindOf(v), name)
}

func kindOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return "null"
}

// notFound is an object its entity connector's service does not know.
func notFound(upstream, typ string) error {
	return &upstreams.Error{Upstream: upstream, Op: "look up " + typ, Kind: upstreams.KindBadResponse, Err: fmt.Errorf("the service does not know the %s", typ)}
}

// badResponse is an answer that breaks the declared schema's contract.
func badResponse(upstream, msg string) error {
	return &upstreams.Error{Upstream: upstream, Op: "map the answer", Kind: upstreams.KindBadResponse, Err: fmt.Errorf("%s", msg)}
}

package connectors

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/switchyard/switchyard/connectors/mapping"
	"github.com/switchyard/switchyard/upstreams"
)

// minRootCalls is the fewest root calls worth starting ahead: a lone root field
// runs in the request's goroutine anyway.
const minRootCalls = 2

// startedCall is a root field's GET call, sent and not yet read.
type startedCall struct {
	c  *Connector
	a  *answer
	st *upstreams.Started
}

// fetchRoots makes the GET calls of a query's root fields from the request's
// goroutine when every root field is answered by one (user, product, order): it
// sends them all, then reads the answers in turn. The calls overlap as they
// would if each root field made its own in its goroutine, but no goroutine waits
// on a socket: the root fields then find their answers made, as identical calls
// of a request find them. vars[i] is set to the variables of fields[i] when it is
// computed here. A query with any other root field (a list made from its
// arguments, introspection) runs as before, so that no call waits for another.
func (r *run) fetchRoots(ctx context.Context, def *ast.Definition, fields []graphql.CollectedField, vars []mapping.Vars) {
	n := 0
	for _, f := range fields {
		if f.Name == "__typename" {
			continue
		}
		if c := r.e.schema.Fields[def.Name+"."+f.Name]; c == nil || c.Method != "GET" || c.Batch {
			return
		}
		n++
	}
	if n < minRootCalls {
		return
	}
	calls := make([]startedCall, 0, n)
	for i, f := range fields {
		if f.Name == "__typename" {
			continue
		}
		c := r.e.schema.Fields[def.Name+"."+f.Name]
		vars[i] = r.vars(f.ArgumentMap(r.oc.Variables), nil)
		req, err := c.Request(nil, vars[i], r.client)
		if err != nil {
			continue // the field reports it, or is null for an anonymous caller
		}
		if a, started := r.answerFor(answerKey(c, req)); !started {
			calls = append(calls, startedCall{c: c, a: a, st: c.start(ctx, r.e.services[c.Source.Name], req)})
		}
	}
	for _, s := range calls {
		s.a.v, s.a.err = s.c.finish(s.st)
		r.give(&s.a.signal)
	}
}

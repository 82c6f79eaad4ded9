package resolvers

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/switchyard/switchyard/execution"
	"github.com/switchyard/switchyard/upstreams"
)

// The upstream operations the root fetch needs.
type (
	userStarter interface {
		StartGet(ctx context.Context, id string) *upstreams.Pending[upstreams.User]
	}
	productStarter interface {
		StartGet(ctx context.Context, id string) *upstreams.Pending[upstreams.Product]
	}
	orderStarter interface {
		StartGet(ctx context.Context, id string) *upstreams.Pending[upstreams.Order]
	}
)

// RootFetch is a gqlgen extension that fetches the root fields of a query before
// execution, when every root field is a lookup by id (user, product, order): it sends
// all their upstream calls at once from the request's goroutine, then reads the
// answers in turn. The calls overlap as they would if each root field ran in its own
// goroutine, which is what the executor does otherwise, but no goroutine waits on a
// socket: the executor finds the records ready (the direct executor, told so, then
// resolves the root fields without a goroutine each). A query with any
// other root field (a list, me, introspection) runs as usual, so that no call waits
// for another.
type RootFetch struct {
	users    userStarter
	products productStarter
	orders   orderStarter
}

// NewRootFetch returns the extension over the given clients.
func NewRootFetch(c *upstreams.Clients) RootFetch {
	return RootFetch{users: c.Users, products: c.Catalog, orders: c.Orders}
}

var (
	_ graphql.HandlerExtension     = RootFetch{}
	_ graphql.OperationInterceptor = RootFetch{}
)

// ExtensionName names the extension for gqlgen.
func (RootFetch) ExtensionName() string { return "RootFetch" }

// Validate accepts every schema.
func (RootFetch) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation runs the root fetch, when the operation allows it, before the
// operation executes.
func (f RootFetch) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if fetched := f.fetch(ctx, graphql.GetOperationContext(ctx)); fetched != nil {
		// Every root field finds its record ready: the direct executor need not
		// give each a goroutine.
		ctx = execution.WithRootReady(context.WithValue(ctx, rootKey{}, fetched))
	}
	return next(ctx)
}

// rootRecords are the records fetched for the root fields, by id: a few of each
// kind, found by going through them.
type rootRecords struct {
	users    fetched[upstreams.User]
	products fetched[upstreams.Product]
	orders   fetched[upstreams.Order]
}

type record[T any] struct {
	v   *T
	err error
}

// fetched are the lookups of one kind, started or answered.
type fetched[T any] []lookup[T]

type lookup[T any] struct {
	id      string
	pending *upstreams.Pending[T]
	record[T]
}

// start starts the lookup of id with get, unless it is started already.
func (fs *fetched[T]) start(ctx context.Context, id string, get func(context.Context, string) *upstreams.Pending[T]) {
	if _, ok := fs.find(id); !ok {
		*fs = append(*fs, lookup[T]{id: id, pending: get(ctx, id)})
	}
}

// wait reads every answer.
func (fs fetched[T]) wait() {
	for i := range fs {
		fs[i].v, fs[i].err = fs[i].pending.Wait()
		fs[i].pending = nil
	}
}

func (fs fetched[T]) find(id string) (record[T], bool) {
	for i := range fs {
		if fs[i].id == id {
			return fs[i].record, true
		}
	}
	return record[T]{}, false
}

type rootKey struct{}

// answerReserve is the most of a request's deadline kept from the lookups for
// assembling the answer (a tenth of what remains, up to this): enough for a loaded
// machine to start writing the partial answer before the deadline ends it.
const answerReserve = 20 * time.Millisecond

// minRootCalls is the fewest calls worth fetching ahead: one call gains nothing,
// since the executor runs a lone root field without a goroutine.
const minRootCalls = 2

func (f RootFetch) fetch(ctx context.Context, oc *graphql.OperationContext) *rootRecords {
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return nil
	}
	fields := graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Query"})
	ids := make([]string, len(fields))
	calls := 0
	for i, field := range fields {
		switch field.Name {
		case "__typename":
			continue
		case "user", "product", "order":
			id, ok := stringArgument(field.Field, "id", oc.Variables)
			if !ok {
				return nil
			}
			ids[i] = id
			if !sameLookupBefore(fields[:i], ids[:i], field.Name, id) {
				calls++
			}
		default:
			return nil
		}
	}
	if calls < minRootCalls {
		return nil
	}
	// The executor gives no answer once the request's deadline has passed, so the
	// lookups end a little before it, leaving time to assemble a partial answer.
	if dl, ok := ctx.Deadline(); ok {
		reserve := min(time.Until(dl)/10, answerReserve)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-reserve))
		defer cancel()
	}
	rr := &rootRecords{}
	for i, field := range fields {
		switch field.Name {
		case "user":
			rr.users.start(ctx, ids[i], f.users.StartGet)
		case "product":
			rr.products.start(ctx, ids[i], f.products.StartGet)
		case "order":
			rr.orders.start(ctx, ids[i], f.orders.StartGet)
		}
	}
	rr.users.wait()
	rr.products.wait()
	rr.orders.wait()
	return rr
}

// sameLookupBefore reports whether one of the fields before, with their ids, is
// the lookup of kind and id.
func sameLookupBefore(before []graphql.CollectedField, ids []string, kind, id string) bool {
	for j := range before {
		if before[j].Name == kind && ids[j] == id {
			return true
		}
	}
	return false
}

// stringArgument returns the value of field's argument name when it is a string,
// without making the map of all its arguments.
func stringArgument(field *ast.Field, name string, vars map[string]any) (string, bool) {
	arg := field.Arguments.ForName(name)
	if arg == nil {
		return "", false
	}
	v, err := arg.Value.Value(vars)
	s, ok := v.(string)
	return s, ok && err == nil
}

// fetchedUser returns the user fetched ahead for id, if it was.
func fetchedUser(ctx context.Context, id string) (record[upstreams.User], bool) {
	if rr, _ := ctx.Value(rootKey{}).(*rootRecords); rr != nil {
		return rr.users.find(id)
	}
	return record[upstreams.User]{}, false
}

// fetchedProduct returns the product fetched ahead for id, if it was.
func fetchedProduct(ctx context.Context, id string) (record[upstreams.Product], bool) {
	if rr, _ := ctx.Value(rootKey{}).(*rootRecords); rr != nil {
		return rr.products.find(id)
	}
	return record[upstreams.Product]{}, false
}

// fetchedOrder returns the order fetched ahead for id, if it was.
func fetchedOrder(ctx context.Context, id string) (record[upstreams.Order], bool) {
	if rr, _ := ctx.Value(rootKey{}).(*rootRecords); rr != nil {
		return rr.orders.find(id)
	}
	return record[upstreams.Order]{}, false
}

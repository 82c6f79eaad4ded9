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

// rootRecords are the records fetched for the root fields, by id.
type rootRecords struct {
	users    map[string]record[upstreams.User]
	products map[string]record[upstreams.Product]
	orders   map[string]record[upstreams.Order]
}

type record[T any] struct {
	v   *T
	err error
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
	type want struct{ kind, id string }
	var wants []want
	for _, field := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Query"}) {
		switch field.Name {
		case "__typename":
			continue
		case "user", "product", "order":
			id, ok := field.ArgumentMap(oc.Variables)["id"].(string)
			if !ok {
				return nil
			}
			wants = append(wants, want{field.Name, id})
		default:
			return nil
		}
	}
	distinct := map[want]bool{}
	for _, w := range wants {
		distinct[w] = true
	}
	if len(distinct) < minRootCalls {
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
	users := map[string]*upstreams.Pending[upstreams.User]{}
	products := map[string]*upstreams.Pending[upstreams.Product]{}
	orders := map[string]*upstreams.Pending[upstreams.Order]{}
	for _, w := range wants {
		switch w.kind {
		case "user":
			if users[w.id] == nil {
				users[w.id] = f.users.StartGet(ctx, w.id)
			}
		case "product":
			if products[w.id] == nil {
				products[w.id] = f.products.StartGet(ctx, w.id)
			}
		case "order":
			if orders[w.id] == nil {
				orders[w.id] = f.orders.StartGet(ctx, w.id)
			}
		}
	}
	return &rootRecords{users: waitAll(users), products: waitAll(products), orders: waitAll(orders)}
}

func waitAll[T any](pending map[string]*upstreams.Pending[T]) map[string]record[T] {
	out := make(map[string]record[T], len(pending))
	for id, p := range pending {
		v, err := p.Wait()
		out[id] = record[T]{v, err}
	}
	return out
}

// fetchedUser returns the user fetched ahead for id, if it was.
func fetchedUser(ctx context.Context, id string) (record[upstreams.User], bool) {
	if rr, _ := ctx.Value(rootKey{}).(*rootRecords); rr != nil {
		r, ok := rr.users[id]
		return r, ok
	}
	return record[upstreams.User]{}, false
}

// fetchedProduct returns the product fetched ahead for id, if it was.
func fetchedProduct(ctx context.Context, id string) (record[upstreams.Product], bool) {
	if rr, _ := ctx.Value(rootKey{}).(*rootRecords); rr != nil {
		r, ok := rr.products[id]
		return r, ok
	}
	return record[upstreams.Product]{}, false
}

// fetchedOrder returns the order fetched ahead for id, if it was.
func fetchedOrder(ctx context.Context, id string) (record[upstreams.Order], bool) {
	if rr, _ := ctx.Value(rootKey{}).(*rootRecords); rr != nil {
		r, ok := rr.orders[id]
		return r, ok
	}
	return record[upstreams.Order]{}, false
}

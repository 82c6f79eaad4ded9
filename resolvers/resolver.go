// Package resolvers turns the fields of the GraphQL schema into calls of the upstream
// clients and loaders, and computes the derived fields (Order.total, Product.rating).
// Resolvers are thin: they build no URL and speak no HTTP.
package resolvers

import (
	"context"
	"errors"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vikstrous/dataloadgen"

	graphv2 "github.com/switchyard/switchyard/graph/v2"
	"github.com/switchyard/switchyard/upstreams"
)

// The upstream operations the resolvers need, declared here where they are used.
type (
	usersAPI interface {
		Get(ctx context.Context, id string) (*upstreams.User, error)
	}
	ordersAPI interface {
		Get(ctx context.Context, id string) (*upstreams.Order, error)
	}
	catalogAPI interface {
		Get(ctx context.Context, id string) (*upstreams.Product, error)
	}
)

// Resolver is the root of the version 2 resolvers. Lookups by id that may repeat
// within a request go through the request's upstreams.Loaders, which must be in the
// context (see upstreams.WithLoaders); top-level lookups of one record call the
// clients directly, so that they do not wait for a batch to fill.
type Resolver struct {
	users   usersAPI
	orders  ordersAPI
	catalog catalogAPI
}

// New returns the resolvers over the given clients.
func New(c *upstreams.Clients) *Resolver {
	return &Resolver{users: c.Users, orders: c.Orders, catalog: c.Catalog}
}

var _ graphv2.ResolverRoot = (*Resolver)(nil)

// Query returns the resolvers of the query root.
func (r *Resolver) Query() graphv2.QueryResolver { return queryResolver{r} }

// User returns the resolvers of User.
func (r *Resolver) User() graphv2.UserResolver { return userResolver{r} }

// Order returns the resolvers of Order.
func (r *Resolver) Order() graphv2.OrderResolver { return orderResolver{r} }

// OrderItem returns the resolvers of OrderItem.
func (r *Resolver) OrderItem() graphv2.OrderItemResolver { return orderItemResolver{r} }

// Product returns the resolvers of Product.
func (r *Resolver) Product() graphv2.ProductResolver { return productResolver{r} }

// Review returns the resolvers of Review.
func (r *Resolver) Review() graphv2.ReviewResolver { return reviewResolver{r} }

// errMissingLoaders means the server did not put loaders in the request context.
var errMissingLoaders = errors.New("resolvers: no loaders in context")

func loaders(ctx context.Context) (*upstreams.Loaders, error) {
	if l := upstreams.LoadersFrom(ctx); l != nil {
		return l, nil
	}
	return nil, errMissingLoaders
}

// orNotFound turns an upstream's "no such record" into a null without an error.
func orNotFound[T any](v *T, err error) (*T, error) {
	if err != nil && upstreams.IsNotFound(err) {
		return nil, nil
	}
	return v, err
}

// InputError is a client mistake in arguments; the presenter gives it the code
// BAD_USER_INPUT.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// firstN applies a `first` argument: nil means the schema default was removed by a
// client sending null, so everything is returned.
func firstN[T any](list []T, first *int) ([]T, error) {
	if first == nil {
		return list, nil
	}
	if *first < 0 {
		return nil, &InputError{Msg: fmt.Sprintf("first must not be negative, got %d", *first)}
	}
	if *first < len(list) {
		return list[:*first], nil
	}
	return list, nil
}

// MaxIDs is the most ids one list argument may hold: ten batches. Query cost limits
// bound the rest.
const MaxIDs = 1000

func checkIDs(ids []string) error {
	if len(ids) > MaxIDs {
		return &InputError{Msg: fmt.Sprintf("at most %d ids may be asked for at once, got %d", MaxIDs, len(ids))}
	}
	return nil
}

// loadList loads many ids through a loader for a list field whose entries are
// nullable: an id whose lookup failed is null, and each distinct failure is added to
// the response's errors once, so one failed upstream does not null the whole list.
func loadList[T any](ctx context.Context, load func(context.Context, []string) ([]*T, error), ids []string) []*T {
	values, err := load(ctx, ids)
	if values == nil {
		values = make([]*T, len(ids))
	}
	if err != nil {
		var errs dataloadgen.ErrorSlice
		if errors.As(err, &errs) {
			seen := map[error]bool{}
			for _, e := range errs {
				if e != nil && !seen[e] {
					seen[e] = true
					graphql.AddError(ctx, e)
				}
			}
		} else {
			graphql.AddError(ctx, err)
		}
	}
	return values
}

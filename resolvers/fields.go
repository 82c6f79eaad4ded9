package resolvers

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"

	"github.com/switchyard/switchyard/execution"
	"github.com/switchyard/switchyard/policies"
	"github.com/switchyard/switchyard/upstreams"
)

type queryResolver struct{ *Resolver }

func (r queryResolver) User(ctx context.Context, id string) (*upstreams.User, error) {
	if rec, ok := fetchedUser(ctx, id); ok {
		return orNotFound(rec.v, rec.err)
	}
	return orNotFound(r.users.Get(ctx, id))
}

// Users fetches all the ids at once (one call per 100) rather than through a batch
// window, so the number of calls does not depend on scheduling; the loader is primed
// for the rest of the request.
func (r queryResolver) Users(ctx context.Context, ids []string) ([]*upstreams.User, error) {
	if err := checkIDs(ids); err != nil {
		return nil, err
	}
	l, err := loaders(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := l.PrefetchUsers(ctx, ids); err != nil {
		graphql.AddError(ctx, err)
		return make([]*upstreams.User, len(ids)), nil
	}
	return loadList(ctx, l.Users().LoadAll, ids), nil
}

func (r queryResolver) Product(ctx context.Context, id string) (*upstreams.Product, error) {
	if rec, ok := fetchedProduct(ctx, id); ok {
		return orNotFound(rec.v, rec.err)
	}
	return orNotFound(r.catalog.Get(ctx, id))
}

// Products is Users for products.
func (r queryResolver) Products(ctx context.Context, ids []string) ([]*upstreams.Product, error) {
	if err := checkIDs(ids); err != nil {
		return nil, err
	}
	l, err := loaders(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := l.PrefetchProducts(ctx, ids); err != nil {
		graphql.AddError(ctx, err)
		return make([]*upstreams.Product, len(ids)), nil
	}
	return loadList(ctx, l.Products().LoadAll, ids), nil
}

func (r queryResolver) Order(ctx context.Context, id string) (*upstreams.Order, error) {
	if rec, ok := fetchedOrder(ctx, id); ok {
		return orNotFound(rec.v, rec.err)
	}
	return orNotFound(r.orders.Get(ctx, id))
}

func (r queryResolver) Me(ctx context.Context) (*upstreams.User, error) {
	p := policies.PrincipalFrom(ctx)
	if p == nil {
		return nil, nil
	}
	return orNotFound(r.users.Get(ctx, p.Subject))
}

type userResolver struct{ *Resolver }

func (r userResolver) Orders(ctx context.Context, obj *upstreams.User, first *int) ([]upstreams.Order, error) {
	l, err := loaders(ctx)
	if err != nil {
		return nil, err
	}
	orders, err := l.OrdersByUser().Load(ctx, obj.ID)
	if err != nil {
		return nil, err
	}
	if orders, err = firstN(orders, first); err != nil {
		return nil, err
	}
	if wantsItemProducts(ctx) {
		// Every product these orders' items will ask for is known now: fetch them
		// in one batch before the item resolvers run, so that the batch is complete
		// however they are scheduled and none of them waits for a batch window. If
		// it fails, the item resolvers load, and report, on their own. When every
		// product is at hand, the item resolvers will not wait: the executor then
		// writes the orders and their items without a goroutine each.
		var ids []string
		for i := range orders {
			for _, it := range orders[i].Items {
				ids = append(ids, it.ProductID)
			}
		}
		if complete, _ := l.PrefetchProducts(ctx, ids); complete {
			execution.WillNotWait(ctx, "OrderItem", "product")
		}
	}
	return orders, nil
}

// wantsItemProducts reports whether the selection of the current field (a list of
// orders) asks for items { product }.
func wantsItemProducts(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	oc := graphql.GetOperationContext(ctx)
	if fc == nil || oc == nil {
		return false
	}
	for _, f := range graphql.CollectFields(oc, fc.Field.Selections, []string{"Order"}) {
		if f.Name != "items" {
			continue
		}
		for _, g := range graphql.CollectFields(oc, f.Selections, []string{"OrderItem"}) {
			if g.Name == "product" {
				return true
			}
		}
	}
	return false
}

type orderResolver struct{ *Resolver }

// Synchronous are version 2's fields whose resolvers compute from their object and
// never wait (see execution.Schema): the direct executor calls them without a
// goroutine each.
var Synchronous = []string{"Order.total"}

// errMixedCurrencies means an order's items are priced in more than one currency, so
// they have no single total.
var errMixedCurrencies = errors.New("order items are priced in more than one currency")

// Total is the sum of quantity times unit price over the order's items, in the
// items' currency. An order without items totals zero in no currency ("").
func (r orderResolver) Total(ctx context.Context, obj *upstreams.Order) (*upstreams.Money, error) {
	var total upstreams.Money
	for i, it := range obj.Items {
		if i == 0 {
			total.Currency = it.UnitPrice.Currency
		} else if it.UnitPrice.Currency != total.Currency {
			return nil, errMixedCurrencies
		}
		total.Amount += int64(it.Quantity) * it.UnitPrice.Amount
	}
	return &total, nil
}

func (r orderResolver) User(ctx context.Context, obj *upstreams.Order) (*upstreams.User, error) {
	l, err := loaders(ctx)
	if err != nil {
		return nil, err
	}
	return l.Users().Load(ctx, obj.UserID)
}

type orderItemResolver struct{ *Resolver }

func (r orderItemResolver) Product(ctx context.Context, obj *upstreams.OrderItem) (*upstreams.Product, error) {
	l, err := loaders(ctx)
	if err != nil {
		return nil, err
	}
	return l.Products().Load(ctx, obj.ProductID)
}

type productResolver struct{ *Resolver }

func (r productResolver) Reviews(ctx context.Context, obj *upstreams.Product, first *int) ([]upstreams.Review, error) {
	l, err := loaders(ctx)
	if err != nil {
		return nil, err
	}
	reviews, err := l.Reviews().Load(ctx, obj.ID)
	if err != nil {
		return nil, err
	}
	return firstN(reviews, first)
}

// Rating is the mean of all the product's review ratings, or null when it has none.
func (r productResolver) Rating(ctx context.Context, obj *upstreams.Product) (*float64, error) {
	l, err := loaders(ctx)
	if err != nil {
		return nil, err
	}
	reviews, err := l.Reviews().Load(ctx, obj.ID)
	if err != nil || len(reviews) == 0 {
		return nil, err
	}
	sum := 0
	for _, rv := range reviews {
		sum += rv.Rating
	}
	mean := float64(sum) / float64(len(reviews))
	return &mean, nil
}

type reviewResolver struct{ *Resolver }

func (r reviewResolver) Author(ctx context.Context, obj *upstreams.Review) (*upstreams.User, error) {
	l, err := loaders(ctx)
	if err != nil {
		return nil, err
	}
	return l.Users().Load(ctx, obj.AuthorID)
}

package upstreams

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/vikstrous/dataloadgen"
)

// Clients are the typed clients of the four services, shared by every request.
type Clients struct {
	Users   *Users
	Orders  *Orders
	Catalog *Catalog
	Reviews *Reviews

	// OnBatch, if set, is told the size of every batched lookup, by loader
	// ("users", "products", "reviews"). It must be quick and safe for concurrent use.
	OnBatch func(loader string, ids int)
}

// NewClients makes the clients of the four services, each over the pool named
// for its service ("users", "orders", "catalog", "reviews"), which pool returns.
func NewClients(pool func(name string) Doer) *Clients {
	return &Clients{
		Users:   NewUsers("users", pool("users")),
		Orders:  NewOrders("orders", pool("orders")),
		Catalog: NewCatalog("catalog", pool("catalog")),
		Reviews: NewReviews("reviews", pool("reviews")),
	}
}

// Pools names the pools the clients call.
func (c *Clients) Pools() []string {
	return []string{c.Users.name, c.Orders.name, c.Catalog.name, c.Reviews.name}
}

func (c *Clients) batch(loader string, ids int) {
	if c.OnBatch != nil {
		c.OnBatch(loader, ids)
	}
}

// Loaders batch and de-duplicate the lookups of one request: every id asked for while
// a batch is open goes out in one call per MaxBatch ids, and an id asked for twice is
// fetched once. Each loader is made on first use, so a request that needs none pays
// for none. Loaders are safe for concurrent use by the resolvers of one request and
// must not outlive it: they cache what they fetched.
type Loaders struct {
	c    *Clients
	wait time.Duration

	usersOnce, productsOnce, reviewsOnce, ordersOnce sync.Once

	users    *dataloadgen.Loader[string, *User]
	products *dataloadgen.Loader[string, *Product]
	reviews  *dataloadgen.Loader[string, []Review]
	orders   *dataloadgen.Loader[string, []Order]
}

// NewLoaders returns fresh loaders over c for one request. wait is how long a batch
// stays open for more ids after its first.
func NewLoaders(c *Clients, wait time.Duration) *Loaders {
	return &Loaders{c: c, wait: wait}
}

func (l *Loaders) batchOptions() []dataloadgen.Option {
	return []dataloadgen.Option{dataloadgen.WithBatchCapacity(MaxBatch), dataloadgen.WithWait(l.wait)}
}

// Users loads users by id; a missing user is nil with no error.
func (l *Loaders) Users() *dataloadgen.Loader[string, *User] {
	l.usersOnce.Do(func() {
		l.users = dataloadgen.NewLoader(func(ctx context.Context, ids []string) ([]*User, []error) {
			l.c.batch("users", len(ids))
			users, err := l.c.Users.GetMany(ctx, ids)
			return align(ids, users, err, func(u *User) string { return u.ID })
		}, l.batchOptions()...)
	})
	return l.users
}

// Products loads products by id; a missing product is nil with no error.
func (l *Loaders) Products() *dataloadgen.Loader[string, *Product] {
	l.productsOnce.Do(func() {
		l.products = dataloadgen.NewLoader(func(ctx context.Context, ids []string) ([]*Product, []error) {
			l.c.batch("products", len(ids))
			products, err := l.c.Catalog.GetMany(ctx, ids)
			return align(ids, products, err, func(p *Product) string { return p.ID })
		}, l.batchOptions()...)
	})
	return l.products
}

// PrefetchUsers fetches the users with these ids now, in one call per MaxBatch
// distinct ids sent in parallel, and primes the Users loader with them (nil for an
// unknown id), so that later loads of these ids answer at once instead of waiting for
// a batch window. A resolver that knows every id it or its children will ask for
// calls it. On failure nothing is primed and the error is returned; loads then fetch,
// and report, as usual. Ids whose record was refused are not primed either, and no
// error is returned for them: their loads fetch them again and report the refusal.
// complete reports whether every id was primed, so that no load of them will wait.
func (l *Loaders) PrefetchUsers(ctx context.Context, ids []string) (complete bool, err error) {
	return prefetch(ctx, l.Users(), ids, l.c.Users.GetMany, func(u *User) string { return u.ID })
}

// PrefetchProducts is PrefetchUsers for products.
func (l *Loaders) PrefetchProducts(ctx context.Context, ids []string) (complete bool, err error) {
	return prefetch(ctx, l.Products(), ids, l.c.Catalog.GetMany, func(p *Product) string { return p.ID })
}

func prefetch[T any](ctx context.Context, loader *dataloadgen.Loader[string, *T], ids []string,
	getMany func(context.Context, []string) ([]T, error), id func(*T) string) (complete bool, err error) {
	seen := make(map[string]bool, len(ids))
	distinct := make([]string, 0, len(ids))
	for _, k := range ids { // (the batch is reported by the caller)
		if !seen[k] {
			seen[k] = true
			distinct = append(distinct, k)
		}
	}
	got, err := getMany(ctx, distinct)
	var refused *RefusedError
	if err != nil && !errors.As(err, &refused) {
		return false, err
	}
	aligned, errs := align(distinct, got, err, id)
	complete = true
	for i, k := range distinct {
		if errs == nil || errs[i] == nil {
			loader.Prime(k, aligned[i])
		} else {
			complete = false
		}
	}
	return complete, nil
}

// Reviews loads the reviews of a product by the product's id.
func (l *Loaders) Reviews() *dataloadgen.Loader[string, []Review] {
	l.reviewsOnce.Do(func() {
		l.reviews = dataloadgen.NewLoader(func(ctx context.Context, ids []string) ([][]Review, []error) {
			l.c.batch("reviews", len(ids))
			reviews, err := l.c.Reviews.ByProducts(ctx, ids)
			var refused *RefusedError
			if err != nil && !errors.As(err, &refused) {
				return nil, []error{err}
			}
			index := make(map[string]int, len(ids))
			for i, id := range ids {
				index[id] = i
			}
			out := make([][]Review, len(ids))
			for _, r := range reviews {
				if i, ok := index[r.ProductID]; ok {
					out[i] = append(out[i], r)
				}
			}
			if refused == nil {
				return out, nil
			}
			// A product whose reviews lost one has no list to serve; a review of an
			// unknown product may have been any product's.
			errs := make([]error, len(ids))
			for i, id := range ids {
				if errs[i] = refused.forKey(id, false); errs[i] != nil {
					out[i] = nil
				}
			}
			return out, errs
		}, l.batchOptions()...)
	})
	return l.reviews
}

// OrdersByUser loads the orders of a user by the user's id. The orders service has no
// batch endpoint, so each id is its own call, sent at once; the loader still
// de-duplicates.
func (l *Loaders) OrdersByUser() *dataloadgen.Loader[string, []Order] {
	l.ordersOnce.Do(func() {
		l.orders = dataloadgen.NewLoader(func(ctx context.Context, ids []string) ([][]Order, []error) {
			orders, err := l.c.Orders.ByUser(ctx, ids[0])
			if err != nil {
				return nil, []error{err}
			}
			return [][]Order{orders}, nil
		}, dataloadgen.WithBatchCapacity(1), dataloadgen.WithWait(l.wait))
	})
	return l.orders
}

// align re-orders a batch answer to the keys asked for: the upstream answers in any
// order and leaves out unknown ids, which become nil without an error. When err is a
// *RefusedError, the keys it names get their errors and nil, the others their
// records; any other error is every key's.
func align[T any](ids []string, got []T, err error, id func(*T) string) ([]*T, []error) {
	var refused *RefusedError
	if err != nil && !errors.As(err, &refused) {
		return nil, []error{err}
	}
	byID := make(map[string]*T, len(got))
	for i := range got {
		byID[id(&got[i])] = &got[i]
	}
	out := make([]*T, len(ids))
	var errs []error
	if refused != nil {
		errs = make([]error, len(ids))
	}
	for i, k := range ids {
		out[i] = byID[k]
		if refused != nil {
			if errs[i] = refused.forKey(k, out[i] != nil); errs[i] != nil {
				out[i] = nil
			}
		}
	}
	return out, errs
}

type loadersKey struct{}

// WithLoaders returns a context carrying l.
func WithLoaders(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, loadersKey{}, l)
}

// LoadersFrom returns the loaders of the request, or nil when there are none.
func LoadersFrom(ctx context.Context) *Loaders {
	l, _ := ctx.Value(loadersKey{}).(*Loaders)
	return l
}

package upstreams

import (
	"context"
	"net/url"
)

// lookup is the typed client of records found by id, GET path+id, each record of
// contract type T decoded and checked through R. The services' clients embed it.
type lookup[T any, R any, PR interface {
	*R
	lookupRecord[T]
}] struct {
	core
	op   string // the operation's name in errors and spans, "get user"
	path string // "/users/"
}

// StartGet sends the request of Get and returns at once; Wait gives Get's result.
func (l *lookup[T, R, PR]) StartGet(ctx context.Context, id string) *Pending[T] {
	return startGet(ctx, &l.core, l.op, id, l.path, decodeRecord[T, R, PR])
}

// Get returns one record, or an *Error of KindNotFound when there is none. A record
// that breaks the contract (a field the contract requires missing or null, a value
// of the wrong JSON type or not in the contract, a string that is not UTF-8) or has
// another id is refused: an *Error of KindBadResponse, logged with the request's
// target and the reason.
func (l *lookup[T, R, PR]) Get(ctx context.Context, id string) (*T, error) {
	return getOne[T, R, PR](ctx, &l.core, l.op, l.path, id)
}

// batchLookup is a lookup whose service also answers many ids at once, GET
// list?ids=a,b.
type batchLookup[T any, R any, PR interface {
	*R
	lookupRecord[T]
}] struct {
	lookup[T, R, PR]
	manyOp string // "get users"
	list   string // "/users"
	key    func(*T) string
}

// GetMany returns the records with these ids in any order, leaving out unknown ids.
// It makes one call per MaxBatch ids. A record of an id not asked for is dropped; a
// record refused as Get refuses one is left out too, and its id's error is in a
// *RefusedError returned beside the records kept.
func (b *batchLookup[T, R, PR]) GetMany(ctx context.Context, ids []string) ([]T, error) {
	return batched(ctx, ids, func(ctx context.Context, ids []string) ([]T, error) {
		return getBatch[T, R, PR](ctx, &b.core, b.manyOp, b.list+"?ids="+idList(ids), ids, b.key)
	})
}

func newBatchLookup[T any, R any, PR interface {
	*R
	lookupRecord[T]
}](name string, pool Doer, noun, nouns string, key func(*T) string) batchLookup[T, R, PR] {
	return batchLookup[T, R, PR]{
		lookup: lookup[T, R, PR]{core: core{name: name, pool: pool}, op: "get " + noun, path: "/" + nouns + "/"},
		manyOp: "get " + nouns, list: "/" + nouns, key: key,
	}
}

// Users is the client of the users service. It is safe for concurrent use.
type Users struct {
	batchLookup[User, userRecord, *userRecord]
}

// NewUsers returns the users client over pool; name is the upstream's name in errors.
func NewUsers(name string, pool Doer) *Users {
	return &Users{newBatchLookup[User, userRecord](name, pool, "user", "users", userID)}
}

// Catalog is the client of the catalog service. It is safe for concurrent use.
type Catalog struct {
	batchLookup[Product, productRecord, *productRecord]
}

// NewCatalog returns the catalog client over pool.
func NewCatalog(name string, pool Doer) *Catalog {
	return &Catalog{newBatchLookup[Product, productRecord](name, pool, "product", "products", productID)}
}

// Orders is the client of the orders service. It is safe for concurrent use.
type Orders struct {
	lookup[Order, orderRecord, *orderRecord]
}

// NewOrders returns the orders client over pool.
func NewOrders(name string, pool Doer) *Orders {
	return &Orders{lookup[Order, orderRecord, *orderRecord]{core: core{name: name, pool: pool}, op: "get order", path: "/orders/"}}
}

// ByUser returns a user's orders, newest first. The answer is refused whole (an
// *Error of KindBadResponse) if one of its records is refused or is another user's.
func (o *Orders) ByUser(ctx context.Context, userID string) ([]Order, error) {
	return getOwned[Order, orderRecord](ctx, &o.core, "list orders", "/orders?userId="+url.QueryEscape(userID), userID, orderUser)
}

// Reviews is the client of the reviews service. It is safe for concurrent use.
type Reviews struct{ core }

// NewReviews returns the reviews client over pool.
func NewReviews(name string, pool Doer) *Reviews { return &Reviews{core{name: name, pool: pool}} }

// ByProduct returns the reviews of one product. The answer is refused whole (an
// *Error of KindBadResponse) if one of its records is refused (as lookup.Get refuses
// one, or for a rating outside 1..5) or is another product's.
func (r *Reviews) ByProduct(ctx context.Context, productID string) ([]Review, error) {
	return getOwned[Review, reviewRecord](ctx, &r.core, "list reviews", "/reviews?productId="+url.QueryEscape(productID), productID, reviewProduct)
}

// ByProducts returns the reviews of all these products, in any order. It makes one
// call per MaxBatch ids. A review of a product not asked for is dropped; a review
// refused as ByProduct refuses one is left out too, and its product's error is in a
// *RefusedError returned beside the reviews kept.
func (r *Reviews) ByProducts(ctx context.Context, productIDs []string) ([]Review, error) {
	return batched(ctx, productIDs, func(ctx context.Context, ids []string) ([]Review, error) {
		return getBatch[Review, reviewRecord](ctx, &r.core, "list reviews", "/reviews?productIds="+idList(ids), ids, reviewProduct)
	})
}

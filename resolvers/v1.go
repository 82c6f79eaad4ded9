package resolvers

import (
	"context"
	"math"

	graphv1 "github.com/switchyard/switchyard/graph/v1"
	"github.com/switchyard/switchyard/upstreams"
)

// V1 is the root of the version 1 resolvers: the same lookups as version 2, over the
// same clients and loaders, with money as a Float in major units beside a currency.
type V1 struct{ *Resolver }

var _ graphv1.ResolverRoot = V1{}

// SynchronousV1 are version 1's fields whose resolvers compute from their object
// and never wait (see execution.Schema).
var SynchronousV1 = []string{"Order.total", "OrderItem.unitPrice", "OrderItem.currency", "Product.price", "Product.currency"}

// Query returns the resolvers of the query root, the same as version 2's.
func (r V1) Query() graphv1.QueryResolver { return queryResolver(r) }

// User returns the resolvers of User, the same as version 2's.
func (r V1) User() graphv1.UserResolver { return userResolver(r) }

// Review returns the resolvers of Review, the same as version 2's.
func (r V1) Review() graphv1.ReviewResolver { return reviewResolver(r) }

// Order returns the resolvers of Order: total in major units.
func (r V1) Order() graphv1.OrderResolver { return v1Order{orderResolver(r)} }

// OrderItem returns the resolvers of OrderItem: unit price in major units.
func (r V1) OrderItem() graphv1.OrderItemResolver {
	return v1OrderItem{orderItemResolver(r)}
}

// Product returns the resolvers of Product: price in major units.
func (r V1) Product() graphv1.ProductResolver { return v1Product{productResolver(r)} }

type v1Order struct{ orderResolver }

func (r v1Order) Total(ctx context.Context, obj *upstreams.Order) (float64, error) {
	m, err := r.orderResolver.Total(ctx, obj)
	if err != nil {
		return 0, err
	}
	return MajorUnits(*m), nil
}

type v1OrderItem struct{ orderItemResolver }

func (v1OrderItem) UnitPrice(_ context.Context, obj *upstreams.OrderItem) (float64, error) {
	return MajorUnits(obj.UnitPrice), nil
}

func (v1OrderItem) Currency(_ context.Context, obj *upstreams.OrderItem) (string, error) {
	return obj.UnitPrice.Currency, nil
}

type v1Product struct{ productResolver }

func (v1Product) Price(_ context.Context, obj *upstreams.Product) (float64, error) {
	return MajorUnits(obj.Price), nil
}

func (v1Product) Currency(_ context.Context, obj *upstreams.Product) (string, error) {
	return obj.Price.Currency, nil
}

// minorDigits are the currencies whose minor unit is not a hundredth (ISO 4217).
var minorDigits = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}

// MajorUnits is an amount in minor units as a number of major units: 1999 USD is
// 19.99, 1999 JPY is 1999, 1999 KWD is 1.999.
func MajorUnits(m upstreams.Money) float64 {
	digits, ok := minorDigits[m.Currency]
	if !ok {
		digits = 2
	}
	return float64(m.Amount) / math.Pow10(digits)
}

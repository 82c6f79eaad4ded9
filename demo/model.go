// Package demo holds the demo storefront services the gateway ships with: four small
// REST services (users, orders, catalog, reviews) over one deterministic, in-memory
// data set. They are used by `go run ./cmd/gateway` with no config, by tests and by
// the benchmark, and they honour the REST contract of the demo domain specification.
//
// Serving is cheap by design: every entity, every user's order list and every
// product's review list is marshalled to JSON once when the data set is built, and a
// request only copies pre-built bytes.
package demo

// Money is an amount of money in minor units, such as cents.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// User is a customer of the storefront.
type User struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	// Tier is one of STANDARD, SILVER and GOLD.
	Tier string `json:"tier"`
}

// Order is a purchase made by a user.
type Order struct {
	ID     string `json:"id"`
	UserID string `json:"userId"`
	// Status is one of PENDING, PAID, SHIPPED, DELIVERED and CANCELLED.
	Status string `json:"status"`
	// CreatedAt is an RFC 3339 timestamp in UTC, such as 2026-01-02T03:04:05Z.
	CreatedAt string      `json:"createdAt"`
	Items     []OrderItem `json:"items"`
}

// OrderItem is one line of an order.
type OrderItem struct {
	ProductID string `json:"productId"`
	Quantity  int    `json:"quantity"`
	UnitPrice Money  `json:"unitPrice"`
}

// Product is an article of the catalog.
type Product struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Category string `json:"category"`
	Price    Money  `json:"price"`
}

// Review is a user's opinion of a product.
type Review struct {
	ID        string `json:"id"`
	ProductID string `json:"productId"`
	AuthorID  string `json:"authorId"`
	// Rating is 1 to 5.
	Rating int    `json:"rating"`
	Body   string `json:"body"`
}

// The values of User.Tier.
const (
	TierStandard = "STANDARD"
	TierSilver   = "SILVER"
	TierGold     = "GOLD"
)

// The values of Order.Status.
const (
	StatusPending   = "PENDING"
	StatusPaid      = "PAID"
	StatusShipped   = "SHIPPED"
	StatusDelivered = "DELIVERED"
	StatusCancelled = "CANCELLED"
)

// Currency is the currency of every amount in the data set.
const Currency = "USD"

package upstreams

// Money is an amount in minor units of its currency: {"amount": 1999, "currency": "USD"}
// is 19.99 US dollars.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Tier is a user's loyalty tier as the users service spells it.
type Tier string

// The tiers of the users service.
const (
	TierStandard Tier = "STANDARD"
	TierSilver   Tier = "SILVER"
	TierGold     Tier = "GOLD"
)

// OrderStatus is the state of an order as the orders service spells it.
type OrderStatus string

// The order states of the orders service.
const (
	StatusPending   OrderStatus = "PENDING"
	StatusPaid      OrderStatus = "PAID"
	StatusShipped   OrderStatus = "SHIPPED"
	StatusDelivered OrderStatus = "DELIVERED"
	StatusCancelled OrderStatus = "CANCELLED"
)

// User is a record of the users service.
type User struct {
	ID    string  `json:"id"`
	Name  string  `json:"name"`
	Email *string `json:"email"` // nil when the service sends none
	Tier  Tier    `json:"tier"`
}

// Order is a record of the orders service.
type Order struct {
	ID        string      `json:"id"`
	UserID    string      `json:"userId"`
	Status    OrderStatus `json:"status"`
	CreatedAt string      `json:"createdAt"`
	Items     []OrderItem `json:"items"`
}

// OrderItem is one line of an order.
type OrderItem struct {
	ProductID string `json:"productId"`
	Quantity  int    `json:"quantity"`
	UnitPrice Money  `json:"unitPrice"`
}

// Product is a record of the catalog service.
type Product struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Category string `json:"category"`
	Price    Money  `json:"price"`
}

// Review is a record of the reviews service.
type Review struct {
	ID        string `json:"id"`
	ProductID string `json:"productId"`
	AuthorID  string `json:"authorId"`
	Rating    int    `json:"rating"`
	Body      string `json:"body"`
}

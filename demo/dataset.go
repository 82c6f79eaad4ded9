package demo

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sizes of the data set built by NewDataset.
const (
	// NumUsers is the number of users, u1 to u2000.
	NumUsers = 2000
	// NumProducts is the number of products, p1 to p1000.
	NumProducts = 1000
	// MaxOrdersPerUser is the largest number of orders a user has.
	MaxOrdersPerUser = 12
	// MaxReviewsPerProduct is the largest number of reviews a product has.
	MaxReviewsPerProduct = 8
)

// The seed of the generator behind NewDataset. Changing it changes every record but
// u1, p1, o1 and r1.
const (
	seed1 = 0x5317c4_a4d_de70
	seed2 = 0x0b5e_55ed_cafe
)

// Dataset is the immutable, deterministic data of the demo services. It is safe for
// concurrent use. Build it with NewDataset.
type Dataset struct {
	users    []User    // users[i] has ID "u<i+1>"
	products []Product // products[i] has ID "p<i+1>"
	orders   []Order   // orders[i] has ID "o<i+1>"
	reviews  []Review  // reviews[i] has ID "r<i+1>"

	ordersOf  [][]int32 // per user index: order indexes, newest first
	reviewsOf [][]int32 // per product index: review indexes, in ID order

	userJSON      [][]byte // per user: the User object
	productJSON   [][]byte // per product: the Product object
	orderJSON     [][]byte // per order: the Order object
	ordersOfJSON  [][]byte // per user: the [Order] array, newest first
	reviewsOfJSON [][]byte // per product: the [Review] array
}

// NewDataset builds the demo data set. It is the same on every call and every run:
// users u1 to u2000, products p1 to p1000, 0 to 12 orders per user (o1, o2, ...) and 0
// to 8 reviews per product (r1, r2, ...). The records u1, p1, o1 and r1 are the
// examples of the specification; u1 has 4 orders and p1 has 3 reviews.
func NewDataset() *Dataset {
	rng := rand.New(rand.NewPCG(seed1, seed2))
	ds := &Dataset{}
	ds.genUsers(rng)
	ds.genProducts(rng)
	ds.genOrders(rng)
	ds.genReviews(rng)
	ds.marshal()
	return ds
}

// pick returns a random element of s.
func pick[T any](rng *rand.Rand, s []T) T { return s[rng.IntN(len(s))] }

// weighted returns the index of the bucket a random number falls in; weights are
// cumulative percentages ending in 100.
func weighted(rng *rand.Rand, cumulative []int) int {
	n := rng.IntN(100)
	for i, c := range cumulative {
		if n < c {
			return i
		}
	}
	return len(cumulative) - 1
}

func (ds *Dataset) genUsers(rng *rand.Rand) {
	firstNames := []string{
		"Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Dennis",
		"Frances", "John", "Radia", "Niklaus", "Tony", "Leslie", "Hedy", "Katherine",
		"Dorothy", "Claude", "Linus", "Guido", "Rob", "Robert", "Adele", "Jean",
		"Karen", "Shafi", "Sophie", "Tim", "Vint", "Whitfield", "Annie", "Evelyn",
		"Mary", "Ida", "Carl", "Kristen", "Butler", "Fran", "Jim", "Ole",
	}
	lastNames := []string{
		"Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson",
		"Ritchie", "Allen", "Backus", "Perlman", "Wirth", "Hoare", "Lamport", "Lamarr",
		"Johnson", "Vaughan", "Shannon", "Torvalds", "Rossum", "Pike", "Griesemer",
		"Goldberg", "Sammet", "Goldwasser", "Wilson", "Berners-Lee", "Cerf", "Diffie",
		"Easley", "Granville", "Keller", "Nygaard", "Lampson", "Gray", "Kahan",
		"Engelbart", "Kay", "McCarthy", "Bartik",
	}
	tiers := []string{TierStandard, TierSilver, TierGold}
	ds.users = make([]User, NumUsers)
	ds.users[0] = User{ID: "u1", Name: "Ada Lovelace", Email: "ada@example.com", Tier: TierGold}
	for i := 1; i < NumUsers; i++ {
		first, last := pick(rng, firstNames), pick(rng, lastNames)
		ds.users[i] = User{
			ID:    "u" + strconv.Itoa(i+1),
			Name:  first + " " + last,
			Email: strings.ToLower(first+"."+last) + strconv.Itoa(i+1) + "@example.com",
			Tier:  tiers[weighted(rng, []int{60, 90, 100})],
		}
	}
}

func (ds *Dataset) genProducts(rng *rand.Rand) {
	categories := []struct {
		name  string
		nouns []string
	}{
		{"books", []string{"Manual", "Handbook", "Primer", "Field Guide", "Anthology", "Cookbook", "Atlas"}},
		{"electronics", []string{"Headphones", "Keyboard", "Monitor", "Speaker", "Charger", "Camera", "Router"}},
		{"home", []string{"Lamp", "Blanket", "Clock", "Mirror", "Rug", "Vase", "Shelf"}},
		{"kitchen", []string{"Kettle", "Skillet", "Knife Set", "Teapot", "Grinder", "Cutting Board"}},
		{"garden", []string{"Trowel", "Hose", "Planter", "Pruner", "Bird Feeder", "Wheelbarrow"}},
		{"toys", []string{"Puzzle", "Robot Kit", "Kite", "Board Game", "Building Blocks", "Yo-Yo"}},
		{"sports", []string{"Yoga Mat", "Water Bottle", "Racket", "Backpack", "Jump Rope", "Helmet"}},
		{"music", []string{"Ukulele", "Metronome", "Harmonica", "Tuner", "Drum Pad", "Songbook"}},
	}
	adjectives := []string{
		"Compact", "Deluxe", "Classic", "Portable", "Essential", "Vintage", "Modern",
		"Rugged", "Smart", "Quiet", "Handmade", "Minimal", "Sturdy", "Bright", "Recursive",
	}
	ds.products = make([]Product, NumProducts)
	ds.products[0] = Product{
		ID: "p1", Name: "Analytical Engine Manual", Category: "books",
		Price: Money{Amount: 1999, Currency: Currency},
	}
	for i := 1; i < NumProducts; i++ {
		c := pick(rng, categories)
		ds.products[i] = Product{
			ID:       "p" + strconv.Itoa(i+1),
			Name:     pick(rng, adjectives) + " " + pick(rng, c.nouns),
			Category: c.name,
			Price:    Money{Amount: int64(rng.IntN(500)+1)*100 - 1, Currency: Currency},
		}
	}
}

func (ds *Dataset) genOrders(rng *rand.Rand) {
	statuses := []string{StatusPending, StatusPaid, StatusShipped, StatusDelivered, StatusCancelled}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	span := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).Unix() - start
	ds.orders = make([]Order, 0, NumUsers*MaxOrdersPerUser/2)
	ds.ordersOf = make([][]int32, NumUsers)
	for u := range NumUsers {
		n := rng.IntN(MaxOrdersPerUser + 1)
		if u == 0 {
			n = 4
		}
		own := make([]int32, 0, n)
		for range n {
			id := len(ds.orders)
			if id == 0 {
				ds.orders = append(ds.orders, Order{
					ID: "o1", UserID: "u1", Status: StatusShipped, CreatedAt: "2026-01-02T03:04:05Z",
					Items: []OrderItem{{ProductID: "p1", Quantity: 2, UnitPrice: ds.products[0].Price}},
				})
				own = append(own, 0)
				continue
			}
			items := make([]OrderItem, 0, 1+rng.IntN(5))
			for len(items) < cap(items) {
				p := ds.products[rng.IntN(NumProducts)]
				if slices.ContainsFunc(items, func(it OrderItem) bool { return it.ProductID == p.ID }) {
					continue
				}
				items = append(items, OrderItem{ProductID: p.ID, Quantity: 1 + rng.IntN(3), UnitPrice: p.Price})
			}
			ds.orders = append(ds.orders, Order{
				ID:        "o" + strconv.Itoa(id+1),
				UserID:    ds.users[u].ID,
				Status:    statuses[weighted(rng, []int{10, 25, 45, 90, 100})],
				CreatedAt: time.Unix(start+rng.Int64N(span), 0).UTC().Format(time.RFC3339),
				Items:     items,
			})
			own = append(own, int32(id))
		}
		// Newest first; equal timestamps (fixed-width RFC 3339 in UTC sorts as text)
		// keep ID order, so the order is total and deterministic.
		slices.SortStableFunc(own, func(a, b int32) int {
			return strings.Compare(ds.orders[b].CreatedAt, ds.orders[a].CreatedAt)
		})
		ds.ordersOf[u] = own
	}
}

func (ds *Dataset) genReviews(rng *rand.Rand) {
	bodies := [6][]string{ // by rating
		1: {"Broke after a week.", "Not as described.", "Would not buy again."},
		2: {"Disappointing.", "Below expectations.", "Flimsy."},
		3: {"It is fine.", "Does the job.", "Average, nothing special."},
		4: {"Very good.", "Solid value.", "Works well, minor flaws."},
		5: {"Superb.", "Exactly what I needed.", "Would buy again.", "Excellent quality."},
	}
	ds.reviews = make([]Review, 0, NumProducts*MaxReviewsPerProduct/2)
	ds.reviewsOf = make([][]int32, NumProducts)
	for p := range NumProducts {
		n := rng.IntN(MaxReviewsPerProduct + 1)
		if p == 0 {
			n = 3
		}
		own := make([]int32, 0, n)
		for range n {
			id := len(ds.reviews)
			r := Review{ID: "r1", ProductID: "p1", AuthorID: "u2", Rating: 5, Body: "Superb."}
			if id > 0 {
				rating := 5 - weighted(rng, []int{40, 70, 85, 93, 100})
				r = Review{
					ID:        "r" + strconv.Itoa(id+1),
					ProductID: ds.products[p].ID,
					AuthorID:  ds.users[rng.IntN(NumUsers)].ID,
					Rating:    rating,
					Body:      pick(rng, bodies[rating]),
				}
			}
			ds.reviews = append(ds.reviews, r)
			own = append(own, int32(id))
		}
		ds.reviewsOf[p] = own
	}
}

// marshal pre-builds the JSON of every entity and list.
func (ds *Dataset) marshal() {
	ds.userJSON = marshalEach(ds.users)
	ds.productJSON = marshalEach(ds.products)
	ds.orderJSON = marshalEach(ds.orders)
	reviewJSON := marshalEach(ds.reviews)
	ds.ordersOfJSON = make([][]byte, len(ds.ordersOf))
	for u, own := range ds.ordersOf {
		ds.ordersOfJSON[u] = joinArray(own, ds.orderJSON)
	}
	ds.reviewsOfJSON = make([][]byte, len(ds.reviewsOf))
	for p, own := range ds.reviewsOf {
		ds.reviewsOfJSON[p] = joinArray(own, reviewJSON)
	}
}

func marshalEach[T any](s []T) [][]byte {
	out := make([][]byte, len(s))
	for i := range s {
		b, err := json.Marshal(&s[i])
		if err != nil {
			panic(fmt.Sprintf("demo: marshal %T: %v", s[i], err)) // plain structs of strings and ints
		}
		out[i] = b
	}
	return out
}

// joinArray returns the JSON array of the pre-built elements at idx.
func joinArray(idx []int32, elems [][]byte) []byte {
	n := 2
	for _, i := range idx {
		n += len(elems[i]) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for k, i := range idx {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, elems[i]...)
	}
	return slices.Clip(append(b, ']'))
}

// parseID returns the index of the ID "<prefix><n>" with 1 <= n <= count, such as
// 41 for "u42". IDs with a sign, leading zeros or anything else do not exist.
func parseID(id string, prefix byte, count int) (int, bool) {
	if len(id) < 2 || len(id) > 8 || id[0] != prefix || id[1] == '0' {
		return 0, false
	}
	n := 0
	for i := 1; i < len(id); i++ {
		c := id[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if n > count {
		return 0, false
	}
	return n - 1, true
}

func (ds *Dataset) userIndex(id string) (int, bool)    { return parseID(id, 'u', len(ds.users)) }
func (ds *Dataset) productIndex(id string) (int, bool) { return parseID(id, 'p', len(ds.products)) }
func (ds *Dataset) orderIndex(id string) (int, bool)   { return parseID(id, 'o', len(ds.orders)) }

// cloneOrder returns o with its own copy of the items, so callers cannot change the
// data set.
func cloneOrder(o Order) Order {
	o.Items = slices.Clone(o.Items)
	return o
}

// User returns the user with the given ID.
func (ds *Dataset) User(id string) (User, bool) {
	i, ok := ds.userIndex(id)
	if !ok {
		return User{}, false
	}
	return ds.users[i], true
}

// Product returns the product with the given ID.
func (ds *Dataset) Product(id string) (Product, bool) {
	i, ok := ds.productIndex(id)
	if !ok {
		return Product{}, false
	}
	return ds.products[i], true
}

// Order returns the order with the given ID.
func (ds *Dataset) Order(id string) (Order, bool) {
	i, ok := ds.orderIndex(id)
	if !ok {
		return Order{}, false
	}
	return cloneOrder(ds.orders[i]), true
}

// OrdersOf returns the orders of a user, newest first. It is empty for a user without
// orders and for an unknown user.
func (ds *Dataset) OrdersOf(userID string) []Order {
	i, ok := ds.userIndex(userID)
	if !ok {
		return []Order{}
	}
	out := make([]Order, len(ds.ordersOf[i]))
	for k, o := range ds.ordersOf[i] {
		out[k] = cloneOrder(ds.orders[o])
	}
	return out
}

// ReviewsOf returns the reviews of a product in ID order. It is empty for a product
// without reviews and for an unknown product.
func (ds *Dataset) ReviewsOf(productID string) []Review {
	i, ok := ds.productIndex(productID)
	if !ok {
		return []Review{}
	}
	out := make([]Review, len(ds.reviewsOf[i]))
	for k, r := range ds.reviewsOf[i] {
		out[k] = ds.reviews[r]
	}
	return out
}

// Users returns all users in ID order (u1, u2, ...).
func (ds *Dataset) Users() []User { return slices.Clone(ds.users) }

// Products returns all products in ID order (p1, p2, ...).
func (ds *Dataset) Products() []Product { return slices.Clone(ds.products) }

// Orders returns all orders in ID order (o1, o2, ...).
func (ds *Dataset) Orders() []Order {
	out := make([]Order, len(ds.orders))
	for i, o := range ds.orders {
		out[i] = cloneOrder(o)
	}
	return out
}

// Reviews returns all reviews in ID order (r1, r2, ...).
func (ds *Dataset) Reviews() []Review { return slices.Clone(ds.reviews) }

// NumOrders returns the number of orders, so the last order is "o<NumOrders>".
func (ds *Dataset) NumOrders() int { return len(ds.orders) }

// NumReviews returns the number of reviews, so the last review is "r<NumReviews>".
func (ds *Dataset) NumReviews() int { return len(ds.reviews) }

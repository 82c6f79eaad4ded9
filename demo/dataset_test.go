package demo

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"
)

// The examples of the specification, byte for byte.
const (
	wantU1 = `{"id":"u1","name":"Ada Lovelace","email":"ada@example.com","tier":"GOLD"}`
	wantP1 = `{"id":"p1","name":"Analytical Engine Manual","category":"books","price":{"amount":1999,"currency":"USD"}}`
	wantO1 = `{"id":"o1","userId":"u1","status":"SHIPPED","createdAt":"2026-01-02T03:04:05Z","items":[{"productId":"p1","quantity":2,"unitPrice":{"amount":1999,"currency":"USD"}}]}`
	wantR1 = `{"id":"r1","productId":"p1","authorId":"u2","rating":5,"body":"Superb."}`
)

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSpecExamples(t *testing.T) {
	ds := NewDataset()
	u1, _ := ds.User("u1")
	p1, _ := ds.Product("p1")
	o1, _ := ds.Order("o1")
	r1 := ds.Reviews()[0]
	for _, tc := range []struct {
		name string
		got  any
		want string
	}{
		{"u1", u1, wantU1},
		{"p1", p1, wantP1},
		{"o1", o1, wantO1},
		{"r1", r1, wantR1},
		{"u1 JSON", json.RawMessage(ds.userJSON[0]), wantU1},
		{"p1 JSON", json.RawMessage(ds.productJSON[0]), wantP1},
		{"o1 JSON", json.RawMessage(ds.orderJSON[0]), wantO1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustJSON(t, tc.got); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}

	orders := ds.OrdersOf("u1")
	if len(orders) < 3 || !slices.ContainsFunc(orders, func(o Order) bool { return o.ID == "o1" }) {
		t.Errorf("u1 has orders %v, want at least 3 with o1", orders)
	}
	reviews := ds.ReviewsOf("p1")
	if len(reviews) < 2 || reviews[0].ID != "r1" {
		t.Errorf("p1 has reviews %v, want at least 2 starting with r1", reviews)
	}
}

func TestDeterminism(t *testing.T) {
	a, b := NewDataset(), NewDataset()
	for _, tc := range []struct {
		name string
		a, b [][]byte
	}{
		{"users", a.userJSON, b.userJSON},
		{"products", a.productJSON, b.productJSON},
		{"orders", a.orderJSON, b.orderJSON},
		{"orders of", a.ordersOfJSON, b.ordersOfJSON},
		{"reviews of", a.reviewsOfJSON, b.reviewsOfJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.EqualFunc(tc.a, tc.b, bytes.Equal) {
				t.Error("two data sets differ")
			}
		})
	}
	if mustJSON(t, a.Reviews()) != mustJSON(t, b.Reviews()) {
		t.Error("reviews differ")
	}
}

func TestDatasetInvariants(t *testing.T) {
	ds := NewDataset()
	users, products, orders, reviews := ds.Users(), ds.Products(), ds.Orders(), ds.Reviews()
	if len(users) != NumUsers || len(products) != NumProducts {
		t.Fatalf("%d users, %d products", len(users), len(products))
	}
	if len(orders) != ds.NumOrders() || len(reviews) != ds.NumReviews() {
		t.Fatalf("%d orders, %d reviews; Num* say %d, %d", len(orders), len(reviews), ds.NumOrders(), ds.NumReviews())
	}

	t.Run("users", func(t *testing.T) {
		tiers := map[string]int{}
		for i, u := range users {
			if u.ID != "u"+strconv.Itoa(i+1) || u.Name == "" || u.Email == "" {
				t.Fatalf("bad user %d: %+v", i, u)
			}
			tiers[u.Tier]++
		}
		if len(tiers) != 3 || tiers[TierStandard] == 0 || tiers[TierSilver] == 0 || tiers[TierGold] == 0 {
			t.Errorf("tiers %v", tiers)
		}
	})

	t.Run("products", func(t *testing.T) {
		for i, p := range products {
			if p.ID != "p"+strconv.Itoa(i+1) || p.Name == "" || p.Category == "" ||
				p.Price.Amount <= 0 || p.Price.Currency != Currency {
				t.Fatalf("bad product %d: %+v", i, p)
			}
		}
	})

	t.Run("orders", func(t *testing.T) {
		statuses := map[string]int{}
		first := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		end := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
		seen := 0
		for ui, u := range users {
			own := ds.OrdersOf(u.ID)
			seen += len(own)
			if len(own) > MaxOrdersPerUser {
				t.Fatalf("%s has %d orders", u.ID, len(own))
			}
			if mustJSON(t, own) != string(ds.ordersOfJSON[ui]) {
				t.Fatalf("pre-built orders of %s differ from OrdersOf", u.ID)
			}
			for k, o := range own {
				if k > 0 && o.CreatedAt > own[k-1].CreatedAt {
					t.Fatalf("orders of %s not newest first: %s after %s", u.ID, o.CreatedAt, own[k-1].CreatedAt)
				}
				if o.UserID != u.ID {
					t.Fatalf("order %s of %s has user %s", o.ID, u.ID, o.UserID)
				}
				at, err := time.Parse(time.RFC3339, o.CreatedAt)
				if err != nil || at.Before(first) || !at.Before(end) || at.Format(time.RFC3339) != o.CreatedAt {
					t.Fatalf("order %s created at %q (%v)", o.ID, o.CreatedAt, err)
				}
				if n := len(o.Items); n < 1 || n > 5 {
					t.Fatalf("order %s has %d items", o.ID, n)
				}
				for _, it := range o.Items {
					p, ok := ds.Product(it.ProductID)
					if !ok || it.Quantity < 1 || it.UnitPrice != p.Price {
						t.Fatalf("order %s has bad item %+v", o.ID, it)
					}
				}
				statuses[o.Status]++
			}
		}
		if seen != len(orders) {
			t.Errorf("users have %d orders in all, want %d", seen, len(orders))
		}
		for i, o := range orders {
			if o.ID != "o"+strconv.Itoa(i+1) {
				t.Fatalf("order %d has ID %s", i, o.ID)
			}
		}
		for _, s := range []string{StatusPending, StatusPaid, StatusShipped, StatusDelivered, StatusCancelled} {
			if statuses[s] == 0 {
				t.Errorf("no order is %s", s)
			}
		}
		if len(statuses) != 5 {
			t.Errorf("statuses %v", statuses)
		}
	})

	t.Run("reviews", func(t *testing.T) {
		seen := 0
		for pi, p := range products {
			own := ds.ReviewsOf(p.ID)
			seen += len(own)
			if len(own) > MaxReviewsPerProduct {
				t.Fatalf("%s has %d reviews", p.ID, len(own))
			}
			if mustJSON(t, own) != string(ds.reviewsOfJSON[pi]) {
				t.Fatalf("pre-built reviews of %s differ from ReviewsOf", p.ID)
			}
			for _, r := range own {
				if _, ok := ds.User(r.AuthorID); !ok || r.ProductID != p.ID || r.Rating < 1 || r.Rating > 5 || r.Body == "" {
					t.Fatalf("bad review %+v", r)
				}
			}
		}
		if seen != len(reviews) {
			t.Errorf("products have %d reviews in all, want %d", seen, len(reviews))
		}
	})
}

func TestAccessorsDoNotShareState(t *testing.T) {
	ds := NewDataset()
	o, _ := ds.Order("o1")
	o.Items[0].Quantity = 99
	ds.OrdersOf("u1")[0].Items[0].Quantity = 99
	ds.Users()[0].Name = "changed"
	if got, _ := ds.Order("o1"); mustJSON(t, got) != wantO1 {
		t.Errorf("o1 changed to %s", mustJSON(t, got))
	}
	if got, _ := ds.User("u1"); mustJSON(t, got) != wantU1 {
		t.Errorf("u1 changed to %s", mustJSON(t, got))
	}
}

func TestParseID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want int
		ok   bool
	}{
		{"u1", 0, true},
		{"u2000", 1999, true},
		{"u2001", 0, false},
		{"u0", 0, false},
		{"u01", 0, false},
		{"u", 0, false},
		{"", 0, false},
		{"p1", 0, false},
		{"u-1", 0, false},
		{"u1x", 0, false},
		{"u99999999999999999999", 0, false},
	} {
		t.Run(tc.id, func(t *testing.T) {
			got, ok := parseID(tc.id, 'u', NumUsers)
			if got != tc.want || ok != tc.ok {
				t.Errorf("parseID(%q) = %d, %v; want %d, %v", tc.id, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestUnknownIDs(t *testing.T) {
	ds := NewDataset()
	if _, ok := ds.User("u0"); ok {
		t.Error("u0 exists")
	}
	if _, ok := ds.Product("p1001"); ok {
		t.Error("p1001 exists")
	}
	if _, ok := ds.Order("o" + strconv.Itoa(ds.NumOrders()+1)); ok {
		t.Error("order past the last exists")
	}
	if got := ds.OrdersOf("nobody"); got == nil || len(got) != 0 {
		t.Errorf("OrdersOf(nobody) = %#v, want empty", got)
	}
	if got := ds.ReviewsOf("nothing"); got == nil || len(got) != 0 {
		t.Errorf("ReviewsOf(nothing) = %#v, want empty", got)
	}
}

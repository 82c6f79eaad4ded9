package upstreams

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/vikstrous/dataloadgen"
)

const (
	goodUser    = `{"id":"u1","name":"Ada","email":"ada@example.com","tier":"GOLD"}`
	goodOrder   = `{"id":"o1","userId":"u1","status":"SHIPPED","createdAt":"2026-01-02T03:04:05Z","items":[{"productId":"p1","quantity":2,"unitPrice":{"amount":1999,"currency":"USD"}}]}`
	goodProduct = `{"id":"p1","name":"Manual","category":"books","price":{"amount":1999,"currency":"USD"}}`
	goodReview  = `{"id":"r1","productId":"p1","authorId":"u2","rating":5,"body":"Superb."}`
)

// refusedBy reports whether err is a bad response whose cause mentions reason.
func refusedBy(t *testing.T, err error, reason string) {
	t.Helper()
	var ue *Error
	if !errors.As(err, &ue) || ue.Kind != KindBadResponse {
		t.Fatalf("want a bad response, got %v", err)
	}
	if !strings.Contains(ue.Error(), reason) {
		t.Errorf("error %q does not say %q", ue.Error(), reason)
	}
}

func TestRecordsRefused(t *testing.T) {
	tests := []struct {
		name, body, reason string
		get                func(Doer) error
	}{
		{"unknown tier", `{"id":"u1","name":"Ada","tier":"PLATINUM"}`, "tier: not one of", getUser},
		{"null id and name", `{"id":null,"name":null,"tier":"GOLD"}`, "id: missing or null", getUser},
		{"missing name", `{"id":"u1","tier":"GOLD"}`, "name: missing or null", getUser},
		{"null tier", `{"id":"u1","name":"Ada","tier":null}`, "tier: missing or null", getUser},
		{"name a number", `{"id":"u1","name":7,"tier":"GOLD"}`, "expected string", getUser},
		{"another id", `{"id":"u999","name":"Ada","tier":"GOLD"}`, "another id", getUser},
		{"empty id", `{"id":"","name":"Ada","tier":"GOLD"}`, "id: empty id", getUser},
		{"invalid UTF-8 name", "{\"id\":\"u1\",\"name\":\"Ad\xff\",\"tier\":\"GOLD\"}", "name: not valid UTF-8", getUser},
		{"invalid UTF-8 email", "{\"id\":\"u1\",\"name\":\"Ada\",\"email\":\"\xc3(\",\"tier\":\"GOLD\"}", "email: not valid UTF-8", getUser},
		{"null record", `null`, "id: missing or null", getUser},
		{"unknown status", strings.Replace(goodOrder, "SHIPPED", "LOST", 1), "status: not one of", getOrder},
		{"null items", strings.Replace(goodOrder, `[{"productId":"p1","quantity":2,"unitPrice":{"amount":1999,"currency":"USD"}}]`, "null", 1), "items: missing", getOrder},
		{"null unit price", strings.Replace(goodOrder, `{"amount":1999,"currency":"USD"}`, "null", 1), "items[0].unitPrice.amount: missing", getOrder},
		{"quantity a string", strings.Replace(goodOrder, `"quantity":2`, `"quantity":"2"`, 1), "expected number", getOrder},
		{"amount a float", strings.Replace(goodOrder, `1999`, `19.99`, 1), "decoding", getOrder},
		{"missing currency", strings.Replace(goodProduct, `,"currency":"USD"`, "", 1), "price.currency: missing", getProduct},
		{"price a string", strings.Replace(goodProduct, `{"amount":1999,"currency":"USD"}`, `"19.99"`, 1), "decoding", getProduct},
		{"rating 6", `[` + strings.Replace(goodReview, `"rating":5`, `"rating":6`, 1) + `]`, "rating: out of range", listReviews},
		{"rating 0", `[` + strings.Replace(goodReview, `"rating":5`, `"rating":0`, 1) + `]`, "rating: out of range", listReviews},
		{"another product's review", `[` + strings.Replace(goodReview, `"p1"`, `"p2"`, 1) + `]`, "another key", listReviews},
		{"another user's order", `[` + strings.Replace(goodOrder, `"u1"`, `"u2"`, 1) + `]`, "another key", listOrders},
		{"a list of one bad order", `[` + goodOrder + `,` + strings.Replace(goodOrder, `"SHIPPED"`, `5`, 1) + `]`, "1 of 2 records refused", listOrders},
		{"null list", `null`, "null instead of a list", listOrders},
		{"an object for a list", `{}`, "decoding", listOrders},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			refusedBy(t, tc.get(answering(tc.body)), tc.reason)
		})
	}
}

func getUser(d Doer) error {
	_, err := NewUsers("users", d).Get(context.Background(), "u1")
	return err
}

func getOrder(d Doer) error {
	_, err := NewOrders("orders", d).Get(context.Background(), "o1")
	return err
}

func getProduct(d Doer) error {
	_, err := NewCatalog("catalog", d).Get(context.Background(), "p1")
	return err
}

func listReviews(d Doer) error {
	_, err := NewReviews("reviews", d).ByProduct(context.Background(), "p1")
	return err
}

func listOrders(d Doer) error {
	_, err := NewOrders("orders", d).ByUser(context.Background(), "u1")
	return err
}

func TestRecordsKept(t *testing.T) {
	ctx := context.Background()
	u, err := NewUsers("users", answering(`{"id":"u1","name":"","tier":"SILVER","extra":[1]}`)).Get(ctx, "u1")
	if err != nil || u.Name != "" || u.Tier != TierSilver || u.Email != nil {
		t.Fatalf("an empty name, no email, an unknown field: %+v %v", u, err)
	}
	// Escapes decode to valid UTF-8: a lone surrogate becomes U+FFFD.
	u, err = NewUsers("users", answering(`{"id":"u1","name":"A\u00e9\ud800","tier":"GOLD"}`)).Get(ctx, "u1")
	if err != nil || u.Name != "Aé\uFFFD" {
		t.Fatalf("escaped name: %+v %v", u, err)
	}
	o, err := NewOrders("orders", answering(strings.Replace(goodOrder, `[{"productId":"p1","quantity":2,"unitPrice":{"amount":1999,"currency":"USD"}}]`, "[]", 1))).Get(ctx, "o1")
	if err != nil || o.Items == nil || len(o.Items) != 0 {
		t.Fatalf("an order without items: %+v %v", o, err)
	}
	orders, err := NewOrders("orders", answering(`[]`)).ByUser(ctx, "u1")
	if err != nil || orders == nil || len(orders) != 0 {
		t.Fatalf("no orders: %#v %v", orders, err)
	}
}

func TestBatchRefusesPerKey(t *testing.T) {
	var logs bytes.Buffer
	body := `[` + goodProduct + `,` +
		strings.Replace(goodProduct, `"p1","name":"Manual"`, `"p2","name":null`, 1) + `,` +
		strings.Replace(goodProduct, `"p1"`, `"p999"`, 1) + `]`
	catalog := NewCatalog("catalog", answering(body))
	catalog.SetLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	got, err := catalog.GetMany(context.Background(), []string{"p1", "p2", "p3"})
	var re *RefusedError
	if !errors.As(err, &re) || len(got) != 1 || got[0].ID != "p1" {
		t.Fatalf("got %v, %v; want p1 and a refusal", got, err)
	}
	// p999 was not asked for: the answer is another's, or unfiltered, so p3, left
	// out, is refused rather than not found.
	if re.Keys["p2"] == nil || re.Keys["p2"].Kind != KindBadResponse || re.Unattributed == nil || len(re.Keys) != 1 {
		t.Fatalf("refusals: %+v", re)
	}
	aligned, errs := align([]string{"p1", "p2", "p3"}, got, err, productID)
	if aligned[0] == nil || aligned[1] != nil || errs[1] == nil || aligned[2] != nil || errs[2] == nil {
		t.Fatalf("aligned %v, errors %v", aligned, errs)
	}
	for _, want := range []string{"upstream=catalog", "target=\"/products?ids=p1,p2,p3\"", "name: missing or null", "not asked for"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "Manual") {
		t.Errorf("log shows the body:\n%s", logs.String())
	}

	// A record whose id cannot be read may have been any id that got no record.
	catalog = NewCatalog("catalog", answering(`[`+goodProduct+`,{"id":5}]`))
	got, err = catalog.GetMany(context.Background(), []string{"p1", "p2"})
	if !errors.As(err, &re) || re.Unattributed == nil || len(got) != 1 {
		t.Fatalf("got %v, %v; want p1 and an unattributed refusal", got, err)
	}
	if _, errs := align([]string{"p1", "p2"}, got, err, productID); errs[0] != nil || errs[1] == nil {
		t.Fatalf("errors %v", errs)
	}
}

func TestReviewsLoaderRefusesPerProduct(t *testing.T) {
	body := `[` + goodReview + `,` + strings.Replace(goodReview, `"p1","authorId":"u2","rating":5`, `"p2","authorId":"u2","rating":9`, 1) + `]`
	l := NewLoaders(&Clients{Reviews: NewReviews("reviews", answering(body))}, 0)
	got, err := l.Reviews().LoadAll(context.Background(), []string{"p1", "p2"})
	if len(got[0]) != 1 || got[1] != nil {
		t.Fatalf("reviews %v", got)
	}
	var errs dataloadgen.ErrorSlice
	if !errors.As(err, &errs) || len(errs) != 2 || errs[0] != nil {
		t.Fatalf("want p2's refusal only, got %v", err)
	}
	refusedBy(t, errs[1], "rating: out of range")
}

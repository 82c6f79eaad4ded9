package upstreams

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/lb"
)

// answering returns a pool that answers every call 200 with body.
func answering(body string) *fakePool {
	return &fakePool{do: func(_ *lb.Request, resp *lb.Response) error {
		resp.Status = 200
		resp.Body = append(resp.Body, body...)
		return nil
	}}
}

func benchUsers(n int) (ids []string, body string) {
	recs := make([]string, n)
	for i := range recs {
		id := fmt.Sprintf("u%d", i+1)
		ids = append(ids, id)
		recs[i] = fmt.Sprintf(`{"id":%q,"name":"Ada Lovelace %d","email":"ada.%d@example.com","tier":"GOLD"}`, id, i, i)
	}
	return ids, "[" + strings.Join(recs, ",") + "]"
}

func benchOrders(n int) string {
	recs := make([]string, n)
	for i := range recs {
		recs[i] = fmt.Sprintf(`{"id":"o%d","userId":"u1","status":"SHIPPED","createdAt":"2026-01-02T03:04:05Z","items":[`+
			`{"productId":"p1","quantity":2,"unitPrice":{"amount":1999,"currency":"USD"}},`+
			`{"productId":"p2","quantity":1,"unitPrice":{"amount":500,"currency":"USD"}}]}`, i+1)
	}
	return "[" + strings.Join(recs, ",") + "]"
}

// BenchmarkDecode measures a client call over a pool that answers at once, so that
// what is measured is the JSON core: decoding and checking the records.
func BenchmarkDecode(b *testing.B) {
	ctx := context.Background()
	b.Run("user", func(b *testing.B) {
		users := NewUsers("users", answering(`{"id":"u1","name":"Ada Lovelace","email":"ada@example.com","tier":"GOLD"}`))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := users.Get(ctx, "u1"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("users100", func(b *testing.B) {
		ids, body := benchUsers(100)
		users := NewUsers("users", answering(body))
		b.ReportAllocs()
		for b.Loop() {
			if got, err := users.GetMany(ctx, ids); err != nil || len(got) != 100 {
				b.Fatal(len(got), err)
			}
		}
	})
	b.Run("orders10", func(b *testing.B) {
		orders := NewOrders("orders", answering(benchOrders(10)))
		b.ReportAllocs()
		for b.Loop() {
			if got, err := orders.ByUser(ctx, "u1"); err != nil || len(got) != 10 {
				b.Fatal(len(got), err)
			}
		}
	})
}

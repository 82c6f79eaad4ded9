package connectors

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
)

// order is an object as a selection makes it: decoded JSON, numbers as json.Number.
func order() map[string]any {
	item := func(q, amount string) any {
		return map[string]any{
			"quantity":  json.Number(q),
			"unitPrice": map[string]any{"amount": json.Number(amount), "currency": "USD"},
			"product":   map[string]any{"id": "p1"},
		}
	}
	return map[string]any{"id": "o1", "items": []any{item("2", "1999"), item("1", "250")}}
}

func orderTotal(t testing.TB) *Compute {
	def := &ast.Definition{Name: "Order", Kind: ast.Object, Fields: ast.FieldList{
		{Name: "id", Type: ast.NonNullNamedType("ID", nil)},
		{Name: "items", Type: ast.NonNullListType(ast.NonNullNamedType("OrderItem", nil), nil)},
		{Name: "total", Type: ast.NonNullNamedType("Money", nil)},
	}}
	c, err := compileCompute(def, def.Fields.ForName("total"),
		`{amount: sum(items, .quantity * .unitPrice.amount), currency: len(items) == 0 ? "" : items[0].unitPrice.currency}`)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestComputeEval(t *testing.T) {
	c := orderTotal(t)
	obj := order()
	for range 2 { // a machine used twice computes the same
		got, err := c.Eval(obj)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"amount": json.Number("4248"), "currency": "USD"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Eval = %#v, want %#v", got, want)
		}
	}
	if !reflect.DeepEqual(obj, order()) {
		t.Fatalf("Eval changed its object: %#v", obj)
	}
}

func TestFromJSON(t *testing.T) {
	tests := []struct {
		name    string
		in, out any
		changed bool
	}{
		{"integer", json.Number("3"), 3, true},
		{"float", json.Number("1.5"), 1.5, true},
		{"string", "3", "3", false},
		{"list", []any{"a", json.Number("2")}, []any{"a", 2}, true},
		{"map", map[string]any{"a": map[string]any{"b": json.Number("2")}, "c": "d"}, map[string]any{"a": map[string]any{"b": 2}, "c": "d"}, true},
		{"no numbers", map[string]any{"a": []any{"b"}}, map[string]any{"a": []any{"b"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, changed := fromJSON(tt.in)
			if !reflect.DeepEqual(out, tt.out) || changed != tt.changed {
				t.Fatalf("fromJSON = %#v, %v; want %#v, %v", out, changed, tt.out, tt.changed)
			}
		})
	}
}

func BenchmarkComputeEval(b *testing.B) {
	c, obj := orderTotal(b), order()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Eval(obj); err != nil {
			b.Fatal(err)
		}
	}
}

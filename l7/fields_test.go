package l7

import "testing"

func TestFieldMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    FieldMap
		in   string
		want string
	}{
		{"rename and drop", FieldMap{Rename: map[string]string{"id": "productId"}, Drop: []string{"internal"}},
			`{"id":"p1","internal":{"cost":3},"price":19.990}`, `{"price":19.990,"productId":"p1"}`},
		{"nested", FieldMap{Drop: []string{"owner.email"}, Rename: map[string]string{"owner.name": "fullName"}},
			`{"owner":{"name":"Ada","email":"a@x"},"n":1}`, `{"n":1,"owner":{"fullName":"Ada"}}`},
		{"keep", FieldMap{Keep: []string{"id", "items.sku"}},
			`{"id":1,"secret":2,"items":[{"sku":"a","cost":1},{"sku":"b","cost":2}]}`, `{"id":1,"items":[{"sku":"a"},{"sku":"b"}]}`},
		{"an array of objects", FieldMap{Drop: []string{"b"}}, `[{"a":1,"b":2},{"b":3},4]`, `[{"a":1},{},4]`},
		{"no HTML escaping", FieldMap{Drop: []string{"x"}}, `{"s":"<a&b>"}`, `{"s":"<a&b>"}`},
	} {
		got, err := tc.m.Apply([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("%s: %s %v, want %s", tc.name, got, err, tc.want)
		}
	}
	if _, err := (&FieldMap{}).Apply([]byte(`{"a":`)); err == nil {
		t.Error("broken JSON accepted")
	}
}

package connectors

import (
	"encoding/json"
	"testing"
)

// appendString must escape as encoding/json's Marshal does, or declared answers
// would change.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\r\b\f", "\x00\x01\x1f\x7f", "é ✓ \xff\xfe invalid", "</script> & more", "\u2028\u2029", "\xe2\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, json.Marshal writes %s", s, got, want)
		}
	})
}

package connectors

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// decodeWithStd is what decodeAnswer must agree with.
func decodeWithStd(body []byte) (any, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errTrailing
	}
	return v, nil
}

func FuzzDecodeAnswer(f *testing.F) {
	for _, s := range []string{
		`{"id":"u1","n":1,"f":-1.5e3,"ok":true,"no":false,"x":null,"l":[1,"a",{"b":[]}],"e":{}}`,
		`[]`, `[{"a":1},{"a":2,"a":3}]`, `"a\u00e9\ud83d\ude00\n\"\\"`, `12`, `0`, `-0.0`, `true`, `null`,
		` {"a" : [ 1 , 2 ] } `, `{"a":1}{"b":2}`, `{"a":1,}`, `[1,]`, `01`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}",
		`{"a":1e999}`, `1.`, `[1 2]`, `{"a"}`, `"\u0001"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gotErr := decodeAnswer(body)
		want, wantErr := decodeWithStd(body)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: error %v, encoding/json's %v", body, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %#v, encoding/json's %#v", body, got, want)
		}
	})
}

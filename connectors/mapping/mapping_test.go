package mapping

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func decode(t testing.TB, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func encode(t testing.TB, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(b.String())
}

func TestEval(t *testing.T) {
	vars := Vars{
		"$args":  decode(t, `{"id":"u1","filter":{"tier":"GOLD"},"first":2,"from":1}`),
		"$this":  decode(t, `{"id":"p1","authorRef":"a9"}`),
		"$batch": decode(t, `[{"id":"1"},{"id":null},{"id":"3"}]`),
	}
	for _, tc := range []struct{ sel, in, want string }{
		{"id name", `{"id":1,"name":"a","x":2}`, `{"id":1,"name":"a"}`},
		{"id, name, x", `{"id":1,"name":"a","x":2}`, `{"id":1,"name":"a","x":2}`},
		{"name: full_name", `{"full_name":"Ada"}`, `{"name":"Ada"}`},
		{"city: address.city", `{"address":{"city":"Paris"}}`, `{"city":"Paris"}`},
		{"missing other", `{"other":1}`, `{"other":1}`},
		{"author { name }", `{"author":{"name":"Ben","x":1}}`, `{"author":{"name":"Ben"}}`},
		{"some.nested.path { a b }", `{"some":{"nested":{"path":{"a":"A","b":"B","c":"C"}}}}`, `{"a":"A","b":"B"}`},
		{"$.data { id name }\nnextCursor: meta.next_cursor", `{"data":{"id":7,"name":"n"},"meta":{"next_cursor":"c1"}}`, `{"id":7,"name":"n","nextCursor":"c1"}`},
		{"postID\nauthor: {\n  id: authorID\n  name: authorName\n}", `{"postID":1,"authorID":2,"authorName":"B"}`, `{"author":{"id":2,"name":"B"},"postID":1}`},
		{"id\nfriends: friend_ids { id: $ }", `{"id":123,"friend_ids":[234,345]}`, `{"friends":[{"id":234},{"id":345}],"id":123}`},
		{"titles: author.articles.title", `{"author":{"articles":[{"title":"T1"},{"title":"T2"}]}}`, `{"titles":["T1","T2"]}`},
		{"arts: author.articles { title }", `{"author":{"articles":[{"title":"T1","d":1},{"title":"T2"}]}}`, `{"arts":[{"title":"T1"},{"title":"T2"}]}`},
		{"$.results { id }", `{"results":[{"id":1,"x":0},{"id":2}]}`, `[{"id":1},{"id":2}]`},
		{"id name", `[{"id":1,"name":"a"},{"id":2}]`, `[{"id":1,"name":"a"},{"id":2}]`},
		{`kind: $("Book") n: $(5) ok: $(true) none: $(null) l: $([1, 'two'])`, `{}`, `{"kind":"Book","l":[1,"two"],"n":5,"none":null,"ok":true}`},
		{"id: $args.id tier: $args.filter.tier", `{}`, `{"id":"u1","tier":"GOLD"}`},
		{"author: { id: $this.authorRef }", `{}`, `{"author":{"id":"a9"}}`},
		{"tag: tags->first last: tags->last", `{"tags":["a","b","c"]}`, `{"last":"c","tag":"a"}`},
		{"tag: tags->first", `{"tags":[]}`, `{}`},
		{"ids: $batch.id->joinNotNull(',')", `{}`, `{"ids":"1,3"}`},
		{"names: items->map(@.name)", `{"items":[{"name":"x"},{"name":"y"}]}`, `{"names":["x","y"]}`},
		{"first: items->first.name", `{"items":[{"name":"x"},{"name":"y"}]}`, `{"first":"x"}`},
		{"'odd key': \"a-b\"", `{"a-b":1}`, `{"odd key":1}`},
		{"# a comment\nid # another\n", `{"id":1}`, `{"id":1}`},
		{"id", `"not an object"`, `{}`},
		{"two: l->slice(0, 2) rest: l->slice(1) none: l->slice(3, 1) all: l->slice(-5, 99) n: n->slice(0, 1)", `{"l":[1,2,3],"n":7}`, `{"all":[1,2,3],"n":7,"none":[],"rest":[2,3],"two":[1,2]}`},
		{"firstN: l->slice(0, $args.first) open: l->slice($args.from, $args.missing)", `{"l":["a","b","c"]}`, `{"firstN":["a","b"],"open":["b","c"]}`},
		{"$->slice(1, 2) { id }", `[{"id":1,"x":0},{"id":2,"x":0},{"id":3}]`, `[{"id":2}]`},
	} {
		sel, err := Parse(tc.sel)
		if err != nil {
			t.Errorf("%q: %v", tc.sel, err)
			continue
		}
		if got := encode(t, sel.Eval(decode(t, tc.in), vars)); got != tc.want {
			t.Errorf("%q on %s:\n got %s\nwant %s", tc.sel, tc.in, got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ sel, want string }{
		{"a.b", "a path needs an alias"},
		{"$.a", "a path from a variable needs an alias"},
		{"x: $nope.a", "unknown variable $nope"},
		{"x: a->shout", "unknown method ->shout"},
		{"x: a->first(1)", "->first takes 0 argument(s), got 1"},
		{"x: a->joinNotNull", "->joinNotNull takes 1 argument(s), got 0"},
		{"x: a->slice", "->slice takes 1 to 2 argument(s), got 0"},
		{"x: a->slice(1, 2, 3)", "->slice takes 1 to 2 argument(s), got 3"},
		{"a { b", "missing }"},
		{"a }", `expected a key, got "}"`},
		{"x: $(", "expected a literal"},
		{"x: 'open", "a quoted string is not closed"},
		{"x:", "a key is missing at the end"},
		{strings.Repeat("a { ", 100), "nested too deep"},
	} {
		_, err := Parse(tc.sel)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one with %q", tc.sel, err, tc.want)
		}
	}
}

func TestParsePath(t *testing.T) {
	p, err := ParsePath("$batch.id->joinNotNull(',')")
	if err != nil {
		t.Fatal(err)
	}
	v, ok := p.Eval(nil, Vars{"$batch": decode(t, `[{"id":"a"},{"id":"b"}]`)})
	if !ok || v != "a,b" {
		t.Fatalf("got %v, %v", v, ok)
	}
	if _, err := ParsePath("$args.id extra"); err == nil {
		t.Fatal("trailing text accepted")
	}
}

// FuzzParse: no input makes Parse or Eval panic or loop, and what parses evaluates.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"id name", "a: b.c { d }", "$.data { id }", "x: $(\"lit\")", "x: a->map(@.b)->first",
		"ids: $batch.id->joinNotNull(',')", "a: { b: c }", "'k': \"q\"", "# c\n a"} {
		f.Add(s)
	}
	in := decode(f, `{"id":1,"a":{"b":[{"c":1},{"c":2}]},"data":[{"id":1}],"tags":["x",null]}`)
	vars := Vars{"$args": map[string]any{"id": "1"}, "$batch": []any{map[string]any{"id": "1"}}}
	f.Fuzz(func(t *testing.T, src string) {
		sel, err := Parse(src)
		if err != nil {
			var e *Error
			if !asError(err, &e) || e.Offset < 0 || e.Offset > len(src) {
				t.Fatalf("%q: error %v has no offset in the source", src, err)
			}
			return
		}
		_ = sel.Eval(in, vars)
	})
}

func asError(err error, e **Error) bool {
	x, ok := err.(*Error)
	*e = x
	return ok
}

package mapping

import (
	"errors"
	"strings"
	"testing"
)

func TestTemplates(t *testing.T) {
	vars := Vars{
		"$args":   decode(t, `{"id":"a/b","q":"x y&z","tags":["p","q"],"none":null}`),
		"$this":   decode(t, `{"authorRef":".."}`),
		"$config": decode(t, `{"token":"s3cret"}`),
	}
	for _, tc := range []struct{ tpl, want string }{
		{"/users/{$args.id}", "/users/a%2Fb"},
		{"/authors/{$this.authorRef}/books", "/authors/%2E%2E/books"},
		{"/search?q={$args.q}&tags={$args.tags}", "/search?q=x+y%26z&tags=p%2Cq"},
		{"/literal/{{braces}}", "/literal/{braces}"},
	} {
		tpl, err := ParseTemplate(tc.tpl)
		if err != nil {
			t.Fatalf("%q: %v", tc.tpl, err)
		}
		got, err := tpl.ExpandURL(nil, vars)
		if err != nil || got != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.tpl, got, err, tc.want)
		}
	}
	h, _ := ParseTemplate("Bearer {$config.token}")
	if got, err := h.ExpandText(nil, vars); err != nil || got != "Bearer s3cret" {
		t.Errorf("header: %q, %v", got, err)
	}
	for _, src := range []string{"/x/{$args.none}", "/x/{$args.missing}", "/x/{$args}"} {
		tpl, err := ParseTemplate(src)
		if err != nil {
			t.Fatal(err)
		}
		var me *MissingError
		if _, err := tpl.ExpandURL(nil, vars); !errors.As(err, &me) {
			t.Errorf("%q: error %v, want a MissingError", src, err)
		}
	}
	for _, tc := range []struct{ tpl, want string }{
		{"/x/{$args.id", "a { is not closed"},
		{"/x/}", "a } without its {"},
		{"/x/{$nope.id}", "at offset 4: unknown variable $nope"},
	} {
		if _, err := ParseTemplate(tc.tpl); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.tpl, err, tc.want)
		}
	}
}

func TestQueryParams(t *testing.T) {
	sel, err := Parse("id: $batch.id limit: $(10) skip: $args.none")
	if err != nil {
		t.Fatal(err)
	}
	got := QueryParams(sel, nil, Vars{"$batch": decode(t, `[{"id":"1"},{"id":"2"}]`), "$args": decode(t, `{"none":null}`)})
	if enc := got.Encode(); enc != "id=1&id=2&limit=10" {
		t.Fatalf("got %s", enc)
	}
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"/users/{$args.id}", "/x?q={$args.q}", "{{}}", "/{$this.a.b->first}"} {
		f.Add(s)
	}
	vars := Vars{"$args": map[string]any{"id": "1", "q": []any{"a", "b"}}, "$this": map[string]any{"a": map[string]any{"b": []any{"c"}}}}
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := ParseTemplate(src)
		if err != nil {
			return
		}
		if s, err := tpl.ExpandURL(nil, vars); err == nil && strings.ContainsAny(s, "\r\n") && !strings.ContainsAny(src, "\r\n") {
			t.Fatalf("%q expanded to a value with a line break: %q", src, s)
		}
	})
}

// TestTemplateValues: integers as GraphQL arguments give them (int64), and an empty
// value is missing in a path, where it would name another resource.
func TestTemplateValues(t *testing.T) {
	tpl, _ := ParseTemplate("/books/{$args.id}?limit={$args.limit}")
	if got, err := tpl.ExpandURL(nil, Vars{"$args": map[string]any{"id": int64(5), "limit": int64(10)}}); err != nil || got != "/books/5?limit=10" {
		t.Errorf("int64 arguments: %q, %v", got, err)
	}
	var me *MissingError
	if _, err := tpl.ExpandURL(nil, Vars{"$args": map[string]any{"id": "", "limit": int64(1)}}); !errors.As(err, &me) {
		t.Errorf("an empty path segment: error %v, want a MissingError", err)
	}
}

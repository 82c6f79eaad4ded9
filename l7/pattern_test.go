package l7

import (
	"maps"
	"testing"
)

func TestPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		ok            bool
		vars          map[string]string
	}{
		{"/", "/", true, nil},
		{"/", "/x", false, nil},
		{"/a/{id}", "/a/42", true, map[string]string{"id": "42"}},
		{"/a/{id}", "/a/", false, nil},
		{"/a/{id}", "/a", false, nil},
		{"/a/{id}", "/a/42/b", false, nil},
		{"/a/{id}/b", "/a/42/b", true, map[string]string{"id": "42"}},
		{"/files/{rest...}", "/files/x/y.css", true, map[string]string{"rest": "x/y.css"}},
		{"/files/{rest...}", "/files", true, map[string]string{"rest": ""}},
		{"/files/{rest...}", "/filesx", false, nil},
		{"/{all...}", "/anything/at/all", true, map[string]string{"all": "anything/at/all"}},
	} {
		p, err := ParsePattern(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		vars, ok := p.Match(tc.path)
		if ok != tc.ok || (ok && !maps.Equal(vars, tc.vars)) {
			t.Errorf("%s on %s: %v %v", tc.pattern, tc.path, vars, ok)
		}
	}
	for _, bad := range []string{"a", "/{a}/{a}", "/{rest...}/x", "/x{a}", "/{}"} {
		if _, err := ParsePattern(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestTemplate(t *testing.T) {
	tpl, err := ParseTemplate("/v2/{id}/{rest}", []string{"id", "rest"})
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.Expand(map[string]string{"id": "a b", "rest": "x/y"}); got != "/v2/a%20b/x/y" {
		t.Errorf("got %q", got)
	}
	if _, err := ParseTemplate("/{nope}", []string{"id"}); err == nil {
		t.Error("an unknown name accepted")
	}
	if _, err := ParseTemplate("/{id", []string{"id"}); err == nil {
		t.Error("an open brace accepted")
	}
}

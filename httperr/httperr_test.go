package httperr

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestShapes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(*httptest.ResponseRecorder)
		want  string
	}{
		{"rest", func(w *httptest.ResponseRecorder) { REST(w, 429, "RATE_LIMITED", `slow "down" <now>`) },
			`{"error":{"code":"RATE_LIMITED","message":"slow \"down\" \u003cnow\u003e"}}`},
		{"rest upstream", func(w *httptest.ResponseRecorder) { RESTUpstream(w, 502, "UPSTREAM_UNAVAILABLE", "down", "users") },
			`{"error":{"code":"UPSTREAM_UNAVAILABLE","message":"down","upstream":"users"}}`},
		{"graphql", func(w *httptest.ResponseRecorder) { GraphQL(w, 401, "UNAUTHENTICATED", "bad\xfftoken") },
			`{"errors":[{"message":"bad\ufffdtoken","extensions":{"code":"UNAUTHENTICATED"}}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			tc.write(w)
			if got := w.Body.String(); got != tc.want {
				t.Errorf("body %s, want %s", got, tc.want)
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Error("not JSON")
			}
			if ct, cl := w.Header().Get("Content-Type"), w.Header().Get("Content-Length"); ct != "application/json" || cl == "" {
				t.Errorf("Content-Type %q, Content-Length %q", ct, cl)
			}
		})
	}
}

package upstreams

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/switchyard/switchyard/lb"
)

// TestServiceStart starts calls of a declared service from one goroutine and
// finishes them in turn, over a real pool and a pool that cannot start calls.
func TestServiceStart(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`"` + r.URL.Path + `"`))
	}))
	defer srv.Close()
	pool, err := lb.New("svc", lb.Options{Endpoints: []string{srv.URL}, HealthCheck: lb.HealthCheck{Disabled: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	doer := &fakePool{do: func(req *lb.Request, resp *lb.Response) error {
		resp.Status = 200
		resp.Body = append(resp.Body, `"`+req.Target+`"`...)
		return nil
	}}
	for name, p := range map[string]Doer{"starter": pool, "doer": doer} {
		t.Run(name, func(t *testing.T) {
			s := NewService("svc", p)
			ctx := context.Background()
			a := s.Start(ctx, "get a", "GET", "/a", nil, nil)
			b := s.Start(ctx, "get b", "GET", "/b", [][2]string{{"X-Test", "1"}}, nil)
			for _, tc := range []struct {
				st   *Started
				want string
			}{{a, `"/a"`}, {b, `"/b"`}} {
				var got string
				if err := tc.st.Finish(func(body []byte) error { got = string(body); return nil }); err != nil || got != tc.want {
					t.Fatalf("Finish: %q, %v; want %s", got, err, tc.want)
				}
			}
		})
	}
	err = NewService("svc", pool).Start(context.Background(), "get", "GET", "/missing", nil, nil).Finish(func([]byte) error { return nil })
	var ue *Error
	if !errors.As(err, &ue) || ue.Kind != KindNotFound {
		t.Fatalf("a 404: %v, want KindNotFound", err)
	}
}

package upstreams

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchyard/switchyard/lb"
)

// fakePool answers from a handler, so that the JSON core is tested without sockets.
type fakePool struct {
	calls atomic.Int64
	do    func(req *lb.Request, resp *lb.Response) error
}

func (f *fakePool) Do(ctx context.Context, req *lb.Request, resp *lb.Response) error {
	f.calls.Add(1)
	return f.do(req, resp)
}

func TestErrorKinds(t *testing.T) {
	tests := []struct {
		name   string
		do     func(req *lb.Request, resp *lb.Response) error
		kind   Kind
		status int
	}{
		{"404", func(_ *lb.Request, r *lb.Response) error { r.Status = 404; return nil }, KindNotFound, 404},
		{"503", func(_ *lb.Request, r *lb.Response) error { r.Status = 503; return nil }, KindUnavailable, 503},
		{"418", func(_ *lb.Request, r *lb.Response) error { r.Status = 418; return nil }, KindBadResponse, 418},
		{"bad JSON", func(_ *lb.Request, r *lb.Response) error {
			r.Status = 200
			r.Body = append(r.Body, "{nope"...)
			return nil
		}, KindBadResponse, 200},
		{"refused", func(*lb.Request, *lb.Response) error { return &lb.DialError{Err: errors.New("refused")} }, KindUnavailable, 0},
		{"deadline", func(*lb.Request, *lb.Response) error { return context.DeadlineExceeded }, KindTimeout, 0},
		{"i/o timeout", func(*lb.Request, *lb.Response) error { return fmt.Errorf("read: %w", os.ErrDeadlineExceeded) }, KindTimeout, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			users := NewUsers("users", &fakePool{do: tc.do})
			_, err := users.Get(context.Background(), "u1")
			var ue *Error
			if !errors.As(err, &ue) {
				t.Fatalf("want *Error, got %v", err)
			}
			if ue.Kind != tc.kind || ue.Status != tc.status || ue.Upstream != "users" {
				t.Errorf("got kind %v status %d upstream %q, want %v %d", ue.Kind, ue.Status, ue.Upstream, tc.kind, tc.status)
			}
		})
	}
}

func TestCanceledByCaller(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	users := NewUsers("users", &fakePool{do: func(*lb.Request, *lb.Response) error { return context.Canceled }})
	_, err := users.Get(ctx, "u1")
	var ue *Error
	if !errors.As(err, &ue) || ue.Kind != KindCanceled {
		t.Fatalf("want KindCanceled, got %v", err)
	}
}

func TestBatchesSplitAt100AndEscapeIDs(t *testing.T) {
	var targets atomic.Pointer[[]string]
	targets.Store(&[]string{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for {
			old := targets.Load()
			n := append(append([]string{}, *old...), r.URL.RequestURI())
			if targets.CompareAndSwap(old, &n) {
				break
			}
		}
		var out []string
		// Commas separate ids; a comma inside an id arrives escaped.
		for _, raw := range strings.Split(strings.TrimPrefix(r.URL.RawQuery, "ids="), ",") {
			id, _ := url.QueryUnescape(raw)
			out = append(out, fmt.Sprintf(`{"id":%q,"name":"n","tier":"GOLD"}`, id))
		}
		w.Write([]byte("[" + strings.Join(out, ",") + "]"))
	}))
	defer srv.Close()
	pool, err := lb.New("users", lb.Options{Endpoints: []string{srv.URL}, HealthCheck: lb.HealthCheck{Disabled: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	users := NewUsers("users", pool)
	ids := make([]string, 201)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%d", i)
	}
	ids[0] = "a,b&c"
	got, err := users.GetMany(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 201 || len(*targets.Load()) != 3 {
		t.Fatalf("%d users in %d calls, want 201 in 3", len(got), len(*targets.Load()))
	}
	found := false
	for _, u := range got {
		found = found || u.ID == "a,b&c"
	}
	if !found {
		t.Error("an id with ',' and '&' did not survive escaping")
	}
}

func TestAlign(t *testing.T) {
	got, errs := align([]string{"a", "b", "c"}, []User{{ID: "c"}, {ID: "a"}}, nil, func(u *User) string { return u.ID })
	if errs != nil || got[0].ID != "a" || got[1] != nil || got[2].ID != "c" {
		t.Fatalf("align: %v %v", got, errs)
	}
	boom := errors.New("boom")
	if _, errs := align[User]([]string{"a"}, nil, boom, nil); len(errs) != 1 || errs[0] != boom {
		t.Fatalf("a batch error must reach every key: %v", errs)
	}
}

func TestLoadersBatchAndDedupe(t *testing.T) {
	pool := &fakePool{do: func(req *lb.Request, resp *lb.Response) error {
		resp.Status = 200
		resp.Body = append(resp.Body, `[`+product("p1")+`,`+product("p2")+`]`...)
		return nil
	}}
	l := NewLoaders(&Clients{Catalog: NewCatalog("catalog", pool)}, time.Millisecond)
	ctx := context.Background()
	thunks := []func() (*Product, error){
		l.Products().LoadThunk(ctx, "p1"), l.Products().LoadThunk(ctx, "p2"),
		l.Products().LoadThunk(ctx, "p1"), l.Products().LoadThunk(ctx, "p9"),
	}
	want := []string{"p1", "p2", "p1", ""}
	for i, th := range thunks {
		p, err := th()
		if err != nil {
			t.Fatal(err)
		}
		if (p == nil && want[i] != "") || (p != nil && p.ID != want[i]) {
			t.Errorf("key %d: got %v, want %q", i, p, want[i])
		}
	}
	if n := pool.calls.Load(); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

// product is a product record of the contract with this id.
func product(id string) string {
	return `{"id":"` + id + `","name":"n","category":"books","price":{"amount":1999,"currency":"USD"}}`
}

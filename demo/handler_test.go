package demo

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startInstance starts svc on loopback and closes it when the test ends.
func startInstance(t testing.TB, ds *Dataset, svc Service) *Instance {
	t.Helper()
	in, err := StartInstance(ds, svc, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

// newClient returns a client of its own, so that tests do not share connections.
func newClient(t testing.TB) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t testing.TB, c *http.Client, method, url string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(body)}
}

// idList returns n comma-separated IDs prefix1..prefixN.
func idList(prefix string, n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = prefix + strconv.Itoa(i+1)
	}
	return strings.Join(ids, ",")
}

// ids returns the "id" members of a JSON array of objects.
func ids(t testing.TB, body string) []string {
	t.Helper()
	var objs []struct{ ID string }
	if err := json.Unmarshal([]byte(body), &objs); err != nil {
		t.Fatalf("not a JSON array: %v: %s", err, body)
	}
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.ID
	}
	return out
}

func TestRoutes(t *testing.T) {
	ds := NewDataset()
	c := newClient(t)
	base := map[Service]string{}
	for _, svc := range Services {
		base[svc] = startInstance(t, ds, svc).URL()
	}

	reviewIDs := func(products ...string) []string {
		var out []string
		for _, p := range products {
			for _, r := range ds.ReviewsOf(p) {
				out = append(out, r.ID)
			}
		}
		return out
	}
	const (
		notFound   = `{"error":"not found"}`
		healthy    = `{"status":"ok"}`
		notAllowed = `{"error":"method not allowed"}`
		tooMany    = `{"error":"too many ids: at most 100 per call"}`
	)

	tests := []struct {
		name     string
		svc      Service
		method   string // GET if empty
		target   string
		status   int
		body     string   // exact body, if not empty
		ids      []string // the IDs of the array answered, in order, if not nil
		anyOrder bool     // compare ids in any order
	}{
		{name: "users health", svc: Users, target: "/healthz", status: 200, body: healthy},
		{name: "orders health", svc: Orders, target: "/healthz", status: 200, body: healthy},
		{name: "catalog health", svc: Catalog, target: "/healthz", status: 200, body: healthy},
		{name: "reviews health", svc: Reviews, target: "/healthz", status: 200, body: healthy},
		{name: "health HEAD", svc: Users, method: "HEAD", target: "/healthz", status: 200},
		{name: "health POST", svc: Users, method: "POST", target: "/healthz", status: 405, body: notAllowed},

		{name: "user", svc: Users, target: "/users/u1", status: 200, body: wantU1},
		{name: "user last", svc: Users, target: "/users/u2000", status: 200},
		{name: "user unknown", svc: Users, target: "/users/u2001", status: 404, body: notFound},
		{name: "user zero", svc: Users, target: "/users/u0", status: 404, body: notFound},
		{name: "user leading zero", svc: Users, target: "/users/u01", status: 404, body: notFound},
		{name: "user garbage", svc: Users, target: "/users/xyz", status: 404, body: notFound},
		{name: "user empty id", svc: Users, target: "/users/", status: 404, body: notFound},
		{name: "user subpath", svc: Users, target: "/users/u1/orders", status: 404, body: notFound},
		{name: "user escaped", svc: Users, target: "/users/u%31", status: 200, body: wantU1},
		{name: "user POST", svc: Users, method: "POST", target: "/users/u1", status: 405, body: notAllowed},
		{name: "users DELETE", svc: Users, method: "DELETE", target: "/users?ids=u1", status: 405, body: notAllowed},
		{name: "users batch", svc: Users, target: "/users?ids=u1,u2,u3", status: 200, ids: []string{"u1", "u2", "u3"}, anyOrder: true},
		{name: "users batch unknown left out", svc: Users, target: "/users?ids=u1,nobody,u9999,u2", status: 200, ids: []string{"u1", "u2"}, anyOrder: true},
		{name: "users batch only unknown", svc: Users, target: "/users?ids=nobody", status: 200, body: `[]`},
		{name: "users batch duplicates", svc: Users, target: "/users?ids=u5,u5,u5", status: 200, ids: []string{"u5"}},
		{name: "users batch encoded commas", svc: Users, target: "/users?ids=" + url.QueryEscape("u1,u2"), status: 200, ids: []string{"u1", "u2"}, anyOrder: true},
		{name: "users batch empty items", svc: Users, target: "/users?ids=u1,,u2,", status: 200, ids: []string{"u1", "u2"}, anyOrder: true},
		{name: "users batch 100", svc: Users, target: "/users?ids=" + idList("u", 100), status: 200, ids: strings.Split(idList("u", 100), ","), anyOrder: true},
		{name: "users batch 101", svc: Users, target: "/users?ids=" + idList("u", 101), status: 400, body: tooMany},
		{name: "users batch 101 unknown", svc: Users, target: "/users?ids=" + idList("x", 101), status: 400, body: tooMany},
		{name: "users batch empty", svc: Users, target: "/users?ids=", status: 400, body: `{"error":"missing query parameter ids"}`},
		{name: "users batch missing", svc: Users, target: "/users", status: 400, body: `{"error":"missing query parameter ids"}`},
		{name: "users batch other param", svc: Users, target: "/users?id=u1", status: 400, body: `{"error":"missing query parameter ids"}`},
		{name: "users malformed query", svc: Users, target: "/users?ids=%zz", status: 400, body: `{"error":"malformed query"}`},
		{name: "users unknown route", svc: Users, target: "/products/p1", status: 404, body: notFound},
		{name: "users root", svc: Users, target: "/", status: 404, body: notFound},
		{name: "users unknown route POST", svc: Users, method: "POST", target: "/nope", status: 404, body: notFound},

		{name: "order", svc: Orders, target: "/orders/o1", status: 200, body: wantO1},
		{name: "order last", svc: Orders, target: "/orders/o" + strconv.Itoa(ds.NumOrders()), status: 200},
		{name: "order unknown", svc: Orders, target: "/orders/o" + strconv.Itoa(ds.NumOrders()+1), status: 404, body: notFound},
		{name: "order POST", svc: Orders, method: "POST", target: "/orders/o1", status: 405, body: notAllowed},
		{name: "orders of u1", svc: Orders, target: "/orders?userId=u1", status: 200, body: mustJSON(t, ds.OrdersOf("u1"))},
		{name: "orders of unknown user", svc: Orders, target: "/orders?userId=nobody", status: 200, body: `[]`},
		{name: "orders missing userId", svc: Orders, target: "/orders", status: 400, body: `{"error":"missing query parameter userId"}`},
		{name: "orders empty userId", svc: Orders, target: "/orders?userId=", status: 400, body: `{"error":"missing query parameter userId"}`},
		{name: "orders unknown route", svc: Orders, target: "/users/u1", status: 404, body: notFound},

		{name: "product", svc: Catalog, target: "/products/p1", status: 200, body: wantP1},
		{name: "product unknown", svc: Catalog, target: "/products/p1001", status: 404, body: notFound},
		{name: "product PUT", svc: Catalog, method: "PUT", target: "/products/p1", status: 405, body: notAllowed},
		{name: "products batch", svc: Catalog, target: "/products?ids=p1,p2", status: 200, ids: []string{"p1", "p2"}, anyOrder: true},
		{name: "products batch unknown left out", svc: Catalog, target: "/products?ids=p3,p0,p1001,u1", status: 200, ids: []string{"p3"}},
		{name: "products batch 100", svc: Catalog, target: "/products?ids=" + idList("p", 100), status: 200, ids: strings.Split(idList("p", 100), ","), anyOrder: true},
		{name: "products batch 101", svc: Catalog, target: "/products?ids=" + idList("p", 101), status: 400, body: tooMany},
		{name: "products batch missing", svc: Catalog, target: "/products", status: 400, body: `{"error":"missing query parameter ids"}`},
		{name: "catalog unknown route", svc: Catalog, target: "/users/u1", status: 404, body: notFound},

		{name: "reviews of p1", svc: Reviews, target: "/reviews?productId=p1", status: 200, body: mustJSON(t, ds.ReviewsOf("p1"))},
		{name: "reviews of unknown", svc: Reviews, target: "/reviews?productId=nothing", status: 200, body: `[]`},
		{name: "reviews batch", svc: Reviews, target: "/reviews?productIds=p1,p2,p3", status: 200, ids: reviewIDs("p1", "p2", "p3"), anyOrder: true},
		{name: "reviews batch unknown left out", svc: Reviews, target: "/reviews?productIds=p1,nothing,p9999", status: 200, ids: reviewIDs("p1"), anyOrder: true},
		{name: "reviews batch 100", svc: Reviews, target: "/reviews?productIds=" + idList("p", 100), status: 200, ids: reviewIDs(strings.Split(idList("p", 100), ",")...), anyOrder: true},
		{name: "reviews batch 101", svc: Reviews, target: "/reviews?productIds=" + idList("p", 101), status: 400, body: tooMany},
		{name: "reviews missing", svc: Reviews, target: "/reviews", status: 400, body: `{"error":"missing query parameter productId"}`},
		{name: "reviews empty", svc: Reviews, target: "/reviews?productId=&productIds=", status: 400, body: `{"error":"missing query parameter productId"}`},
		{name: "reviews item route", svc: Reviews, target: "/reviews/r1", status: 404, body: notFound},
		{name: "reviews POST", svc: Reviews, method: "POST", target: "/reviews?productId=p1", status: 405, body: notAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			r := do(t, c, method, base[tc.svc]+tc.target)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if r.status == 405 && r.header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", r.header.Get("Allow"))
			}
			if method == "HEAD" {
				return
			}
			if tc.body != "" && r.body != tc.body {
				t.Errorf("body\n got %s\nwant %s", r.body, tc.body)
			}
			if r.status == 200 && !json.Valid([]byte(r.body)) {
				t.Errorf("invalid JSON %s", r.body)
			}
			if tc.ids != nil {
				got, want := ids(t, r.body), slices.Clone(tc.ids)
				if tc.anyOrder {
					slices.Sort(got)
					slices.Sort(want)
				}
				if !slices.Equal(got, want) {
					t.Errorf("ids %v, want %v", got, want)
				}
			}
		})
	}
}

// TestBatchEntitiesExact checks that a batch answer carries the entities themselves.
func TestBatchEntitiesExact(t *testing.T) {
	ds := NewDataset()
	c := newClient(t)
	users := startInstance(t, ds, Users)
	r := do(t, c, "GET", users.URL()+"/users?ids=u1,u77")
	u77, _ := ds.User("u77")
	if want := "[" + wantU1 + "," + mustJSON(t, u77) + "]"; r.body != want {
		t.Errorf("got  %s\nwant %s", r.body, want)
	}
	reviews := startInstance(t, ds, Reviews)
	r = do(t, c, "GET", reviews.URL()+"/reviews?productIds=p1")
	if want := mustJSON(t, ds.ReviewsOf("p1")); r.body != want {
		t.Errorf("got  %s\nwant %s", r.body, want)
	}
}

func TestOrdersNewestFirstOverHTTP(t *testing.T) {
	ds := NewDataset()
	c := newClient(t)
	in := startInstance(t, ds, Orders)
	checked := 0
	for _, u := range ds.Users()[:200] {
		var orders []Order
		r := do(t, c, "GET", in.URL()+"/orders?userId="+u.ID)
		if err := json.Unmarshal([]byte(r.body), &orders); err != nil {
			t.Fatal(err)
		}
		if !slices.IsSortedFunc(orders, func(a, b Order) int { return strings.Compare(b.CreatedAt, a.CreatedAt) }) {
			t.Fatalf("orders of %s not newest first: %s", u.ID, r.body)
		}
		checked += len(orders)
	}
	if checked == 0 {
		t.Fatal("no orders checked")
	}
}

func TestNewHandlerPanicsOnUnknownService(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	NewHandler(NewDataset(), "payments")
}

func TestQueryValue(t *testing.T) {
	for _, tc := range []struct {
		raw, key, want string
		err            bool
	}{
		{"ids=a,b", "ids", "a,b", false},
		{"x=1&ids=a", "ids", "a", false},
		{"ids=a&ids=b", "ids", "a", false},
		{"ids", "ids", "", false},
		{"", "ids", "", false},
		{"idsx=a", "ids", "", false},
		{"ids=a%2Cb", "ids", "a,b", false},
		{"i%64s=a", "ids", "a", false},
		{"ids=a+b", "ids", "a b", false},
		{"ids=%zz", "ids", "", true},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			got, err := queryValue(tc.raw, tc.key)
			if got != tc.want || (err != nil) != tc.err {
				t.Errorf("queryValue(%q, %q) = %q, %v", tc.raw, tc.key, got, err)
			}
		})
	}
}

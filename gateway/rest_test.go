package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/switchyard/switchyard/demo"
)

func TestComposedRESTEndpoints(t *testing.T) {
	s := startStack(t, 1, nil)
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	p1 := s.ds.ReviewsOf("p1")
	t.Run("product page", func(t *testing.T) {
		resp, body := get("/rest/v2/products/p1")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		var got struct {
			ID      string  `json:"id"`
			Name    string  `json:"name"`
			Rating  float64 `json:"rating"`
			Reviews []struct {
				ID     string                `json:"id"`
				Author struct{ Name string } `json:"author"`
			} `json:"reviews"`
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("not plain JSON: %s", body)
		}
		if got.ID != "p1" || got.Name != "Analytical Engine Manual" || len(got.Reviews) != min(3, len(p1)) || got.Reviews[0].Author.Name == "" || got.Rating == 0 {
			t.Fatalf("%s", body)
		}
		if strings.Contains(body, `"data"`) || strings.Contains(body, `"errors"`) {
			t.Fatalf("a GraphQL envelope: %s", body)
		}
	})
	t.Run("user dashboard", func(t *testing.T) {
		resp, body := get("/rest/v2/users/u1/dashboard")
		if resp.StatusCode != 200 || !strings.HasPrefix(body, `{"id":"u1","name":"Ada Lovelace","tier":"GOLD","orders":[`) {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("query parameter", func(t *testing.T) {
		_, body := get("/rest/v2/products/p1?reviews=1")
		var got struct{ Reviews []any }
		json.Unmarshal([]byte(body), &got)
		if len(got.Reviews) != 1 {
			t.Fatalf("%s", body)
		}
		if resp, body := get("/rest/v2/products/p1?reviews=many"); resp.StatusCode != 400 || !strings.Contains(body, "BAD_REQUEST") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		if resp, body := get("/rest/v2/products/p1?reviews=-1"); resp.StatusCode != 400 || !strings.Contains(body, "BAD_USER_INPUT") {
			t.Fatalf("a negative count: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("unknown id", func(t *testing.T) {
		if resp, body := get("/rest/v2/users/nobody/dashboard"); resp.StatusCode != 404 || !strings.Contains(body, "NOT_FOUND") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("partial failure", func(t *testing.T) {
		// The authors of the reviews are missing; the rest of the page is there.
		s.cluster.SetFault(demo.Users, demo.Fault{Status: 500})
		defer s.cluster.SetFault(demo.Users, demo.Fault{})
		resp, body := get("/rest/v2/products/p1")
		if resp.StatusCode != 207 || !strings.Contains(body, `"author":null`) || !strings.Contains(body, `"name":"Analytical Engine Manual"`) ||
			!strings.Contains(resp.Header.Get("Switchyard-Errors"), `"upstream":"users"`) {
			t.Fatalf("%d %s %v", resp.StatusCode, body, resp.Header)
		}
	})
	t.Run("root upstream down", func(t *testing.T) {
		s.cluster.SetFault(demo.Catalog, demo.Fault{Status: 500})
		defer s.cluster.SetFault(demo.Catalog, demo.Fault{})
		resp, body := get("/rest/v2/products/p1")
		if resp.StatusCode != 502 || !strings.Contains(body, `"upstream":"catalog"`) {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("OpenAPI document validates", func(t *testing.T) {
		resp, body := get("/rest/openapi.json")
		if resp.StatusCode != 200 {
			t.Fatal(resp.StatusCode)
		}
		doc, err := openapi3.NewLoader().LoadFromData([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.Validate(context.Background()); err != nil {
			t.Fatalf("not valid OpenAPI 3: %v", err)
		}
		for _, p := range []string{"/rest/v2/products/{id}", "/rest/v2/users/{id}/dashboard"} {
			if doc.Paths.Find(p) == nil || doc.Paths.Find(p).Get == nil {
				t.Errorf("%s is not described", p)
			}
		}
	})
}

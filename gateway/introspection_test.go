package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/setting"
)

// With graphql.introspection: false, a query for __schema or __type (at the root,
// through a fragment or an inline fragment) is refused before it runs, with
// INTROSPECTION_DISABLED and a message that says so: 200 with application/json,
// 400 with the GraphQL response media type. __typename and other queries still
// run.
func TestIntrospectionDisabledSaysSo(t *testing.T) {
	_, srv := serveRuntime(t, demoConfig(t, startCluster(t, 1), func(c *config.Config) {
		c.GraphQL.Introspection = setting.Ptr(false)
	}))
	post := func(query, accept string) (int, []map[string]any, map[string]any) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"query": query})
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Data   map[string]any
			Errors []map[string]any
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, out.Errors, out.Data
	}
	for _, q := range []string{
		`{ __schema { types { name } } }`,
		`{ __type(name: "User") { name } }`,
		`{ ...F } fragment F on Query { __schema { queryType { name } } }`,
		`{ ... on Query { __type(name: "User") { name } } }`,
	} {
		for accept, want := range map[string]int{"application/json": 200, "application/graphql-response+json": 400} {
			status, errs, data := post(q, accept)
			if status != want || len(errs) != 1 || data != nil {
				t.Errorf("%s with %s: status %d, errors %v, data %v; want %d and one error", q, accept, status, errs, data, want)
				continue
			}
			ext, _ := errs[0]["extensions"].(map[string]any)
			if ext["code"] != "INTROSPECTION_DISABLED" || !strings.Contains(errs[0]["message"].(string), "introspection is disabled") {
				t.Errorf("%s: error %v", q, errs[0])
			}
		}
	}
	if status, errs, data := post(`{ __typename user(id: "u1") { __typename name } }`, "application/json"); status != 200 || errs != nil || data["user"] == nil {
		t.Errorf("__typename with introspection off: %d %v %v", status, errs, data)
	}
}

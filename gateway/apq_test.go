package gateway_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Every refusal of an automatic persisted query carries a code: a hash that does
// not match the query sent with it, a version the gateway does not speak, and
// extension data that is not APQ's, beside the unknown hash gqlgen codes itself.
func TestPersistedQueryErrorsHaveCodes(t *testing.T) {
	_, srv := serveRuntime(t, demoConfig(t, startCluster(t, 1), nil))
	for _, c := range []struct{ name, body, code string }{
		{"mismatch", `{"query":"{ __typename }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + strings.Repeat("0", 64) + `"}}}`, "PERSISTED_QUERY_HASH_MISMATCH"},
		{"version", `{"query":"{ __typename }","extensions":{"persistedQuery":{"version":2,"sha256Hash":"abc"}}}`, "PERSISTED_QUERY_VERSION_NOT_SUPPORTED"},
		{"data", `{"query":"{ __typename }","extensions":{"persistedQuery":"yes"}}`, "BAD_REQUEST"},
		{"unknown", `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + strings.Repeat("1", 64) + `"}}}`, "PERSISTED_QUERY_NOT_FOUND"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/graphql", "application/json", strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got struct {
				Errors []struct {
					Message    string
					Extensions map[string]any
				}
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if len(got.Errors) != 1 || got.Errors[0].Extensions["code"] != c.code {
				t.Errorf("status %d, errors %+v: want one error coded %s", resp.StatusCode, got.Errors, c.code)
			}
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d, want 200 (a request error, with Accept: application/json)", resp.StatusCode)
			}
		})
	}
}

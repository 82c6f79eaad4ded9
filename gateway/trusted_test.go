package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/config"
)

// TestTrustedDocuments checks the allow-list through real HTTP: a listed document by
// text or by hash runs; anything else is refused with 400 before it runs, also when
// a client tries to register it through APQ; the composed REST endpoints still work.
func TestTrustedDocuments(t *testing.T) {
	cluster := startCluster(t, 1)
	const listed = `query Name($id: ID!) { user(id: $id) { name } }`
	const unlisted = `{ user(id: "u1") { name email } }`
	hash := keyHash // the SHA-256 in hex
	manifest, _ := json.Marshal(map[string]any{
		"format": "apollo-persisted-query-manifest", "version": 1,
		"operations": []map[string]string{{"id": hash(listed), "name": "Name", "type": "query", "body": listed}},
	})
	file := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(file, manifest, 0o600); err != nil {
		t.Fatal(err)
	}
	// The gateway starts without the list, and a client has APQ cache a document
	// that the list will not hold; then a reload turns the list on.
	rt, srv := serveRuntime(t, demoConfig(t, cluster, nil))
	post := func(body map[string]any) (int, string) {
		b, _ := json.Marshal(body)
		resp, err := http.Post(srv.URL+"/graphql", "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	vars := map[string]any{"id": "u1"}
	pq := func(h string) map[string]any {
		return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": h}}
	}
	if status, body := post(map[string]any{"query": unlisted, "extensions": pq(hash(unlisted))}); status != 200 {
		t.Fatalf("registering through APQ before the list: %d %s", status, body)
	}
	if err := rt.Reload(demoConfig(t, cluster, func(c *config.Config) { c.GraphQL.TrustedDocuments = file })); err != nil {
		t.Fatal(err)
	}
	oddKeys := map[string]any{"PersistedQuery": map[string]any{"version": 1, "SHA256HASH": hash(unlisted)}}
	oddCase := map[string]any{"persistedQuery": map[string]any{"version": 1, "SHA256HASH": hash(unlisted)}}
	tests := []struct {
		name     string
		body     map[string]any
		status   int
		contains string
	}{
		{"listed, by text", map[string]any{"query": listed, "variables": vars}, 200, `"name":"Ada Lovelace"`},
		{"listed, by hash only", map[string]any{"variables": vars, "extensions": pq(hash(listed))}, 200, `"name":"Ada Lovelace"`},
		{"not listed, by text", map[string]any{"query": unlisted}, 400, "PERSISTED_QUERY_NOT_IN_LIST"},
		{"not listed, registered through APQ", map[string]any{"query": unlisted, "extensions": pq(hash(unlisted))}, 400, "PERSISTED_QUERY_NOT_IN_LIST"},
		{"not listed, then by hash", map[string]any{"extensions": pq(hash(unlisted))}, 400, "PERSISTED_QUERY_NOT_IN_LIST"},
		{"cached by APQ before the list, by hash", map[string]any{"extensions": pq(hash(unlisted))}, 400, "PERSISTED_QUERY_NOT_IN_LIST"},
		{"cached by APQ, the keys in other cases", map[string]any{"extensions": oddKeys}, 400, "PERSISTED_QUERY_NOT_IN_LIST"},
		{"cached by APQ, the hash key in another case", map[string]any{"extensions": oddCase}, 400, "PERSISTED_QUERY_NOT_IN_LIST"},
		{"listed, the hash in upper case", map[string]any{"variables": vars, "extensions": pq(strings.ToUpper(hash(listed)))}, 200, `"name":"Ada Lovelace"`},
		{"introspection is a document too", map[string]any{"query": `{ __schema { queryType { name } } }`}, 400, "PERSISTED_QUERY_NOT_IN_LIST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.body)
			if status != tc.status || !strings.Contains(body, tc.contains) {
				t.Errorf("%d %s, want %d with %s", status, body, tc.status, tc.contains)
			}
		})
	}
	resp, err := http.Get(srv.URL + "/rest/v2/products/p1")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a composed REST endpoint got %d under trusted documents", resp.StatusCode)
	}
}

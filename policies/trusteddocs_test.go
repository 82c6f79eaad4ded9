package policies

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

func TestParseTrustedDocuments(t *testing.T) {
	const doc = `{ a }`
	h := hashOf(doc)
	good := []string{
		fmt.Sprintf(`{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id":%q,"name":"A","type":"query","body":%q}]}`, h, doc),
		fmt.Sprintf(`{%q: %q}`, h, doc),
		fmt.Sprintf(`{"sha256:%s": %q}`, h, doc),
	}
	for _, m := range good {
		td, err := ParseTrustedDocuments([]byte(m))
		if err != nil || td.Len() != 1 {
			t.Errorf("%s: %v", m, err)
			continue
		}
		var p graphql.RawParams
		p.Extensions = map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": strings.ToUpper(h)}}
		if err := td.MutateOperationParameters(t.Context(), &p); err != nil || p.Query != doc {
			t.Errorf("%s: by hash gave %q, %v", m, p.Query, err)
		}
	}
	bad := map[string]string{
		`{"format":"relay","operations":[]}`: "unknown manifest format",
		fmt.Sprintf(`{"abc": %q}`, doc):      "is not the SHA-256",
		`{}`:                                 "lists no documents",
		`[1,2]`:                              "not a persisted query manifest",
		`{"format":"apollo-persisted-query-manifest","operations":[{"id":"x"}]}`: "has no body",
	}
	for m, want := range bad {
		if _, err := ParseTrustedDocuments([]byte(m)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one saying %q", m, err, want)
		}
	}
}

// FuzzTrustedDocuments checks that no manifest makes the parser panic, and that a
// manifest is accepted only when each id is its document's SHA-256.
func FuzzTrustedDocuments(f *testing.F) {
	f.Add(hashOf("{ a }"), "{ a }", false)
	f.Add("sha256:"+hashOf("{ a }"), "{ a }", false)
	f.Add("x", "{ a }", true)
	f.Add(hashOf(""), "", true)
	f.Fuzz(func(t *testing.T, id, body string, apollo bool) {
		var manifest []byte
		if apollo {
			manifest, _ = json.Marshal(map[string]any{"format": "apollo-persisted-query-manifest",
				"operations": []map[string]string{{"id": id, "body": body}}})
		} else {
			manifest, _ = json.Marshal(map[string]string{id: body})
		}
		td, err := ParseTrustedDocuments(manifest)
		if err != nil {
			return
		}
		if strings.TrimPrefix(id, "sha256:") != hashOf(body) {
			t.Fatalf("manifest %s accepted with an id that is not its document's hash", manifest)
		}
		if td.check(body) != nil {
			t.Fatalf("the listed document %q is refused", body)
		}
	})
}

package gateway

import (
	"testing"

	"github.com/switchyard/switchyard/schema"
)

// TestVersionTableMatchesSchema: every version schema.Versions names has its entry
// in the gateway's table, and the table has no other.
func TestVersionTableMatchesSchema(t *testing.T) {
	for _, v := range schema.Versions {
		if e, ok := schemaVersions[v]; !ok || e.schema == nil {
			t.Errorf("version %s has no entry", v)
		}
	}
	if len(schemaVersions) != len(schema.Versions) {
		t.Errorf("the table has %d versions, schema.Versions %d", len(schemaVersions), len(schema.Versions))
	}
	if _, ok := schemaVersions[schema.Current]; !ok {
		t.Errorf("the current version %s has no entry", schema.Current)
	}
}

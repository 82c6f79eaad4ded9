package switchyard

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependenciesPointDown enforces the layering of the code: each package imports
// only packages below it (cmd -> gateway/config -> policies, resolvers -> upstreams ->
// lb -> lb/h1, setting), lb knows no JSON or GraphQL, upstreams no GraphQL, and
// execution (the direct executor's runtime), lb/h1 (the HTTP/1.1 client) and setting
// (the options' shared field types) nothing of ours. A package may import its own
// subpackages. Direct imports are checked, not the standard library's own
// dependencies.
func TestDependenciesPointDown(t *testing.T) {
	const mod = "github.com/switchyard/switchyard/"
	forbidden := map[string][]string{
		"lb":        {mod, "encoding/json", "github.com/99designs/gqlgen", "github.com/vektah/gqlparser", "github.com/mailru/easyjson"},
		"lb/h1":     {mod, "encoding/json", "github.com/99designs/gqlgen", "github.com/vektah/gqlparser", "github.com/mailru/easyjson"},
		"upstreams": {mod + "graph", mod + "resolvers", mod + "gateway", mod + "policies", mod + "config", "github.com/99designs/gqlgen", "github.com/vektah/gqlparser"},
		"policies":  {mod + "upstreams", mod + "lb", mod + "resolvers", mod + "gateway"},
		"resolvers": {mod + "lb", mod + "gateway", mod + "config"},
		"config":    {mod + "gateway", mod + "resolvers", mod + "upstreams"},
		"execution": {mod}, // the generated code in graph/ imports it, never the reverse
		"setting":   {mod},
		"httperr":   {mod},
		"inbound":   {mod},
		// The mapping language knows nothing of GraphQL execution or HTTP.
		"connectors/mapping": {mod, "github.com/99designs/gqlgen", "github.com/vektah/gqlparser", "net/http"},
		// A declared schema needs neither the gateway nor the demo's code.
		"connectors": {mod + "gateway", mod + "config", mod + "resolvers", mod + "graph"},
		"l7":         {mod + "gateway", mod + "config", mod + "resolvers", mod + "upstreams", mod + "graph", "github.com/99designs/gqlgen"},
	}
	allowed := map[string]bool{mod + "setting": true} // below everything
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, "./"+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == mod+pkg || strings.HasPrefix(dep, mod+pkg+"/") || allowed[dep] {
				continue
			}
			for _, b := range bad {
				if dep == b || strings.HasPrefix(dep, strings.TrimSuffix(b, "/")+"/") || (strings.HasSuffix(b, "/") && strings.HasPrefix(dep, b)) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}

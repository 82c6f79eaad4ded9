package gateway_test

import (
	"os"
	"os/exec"
	"testing"
)

// graphql-http's audit of the GraphQL-over-HTTP specification passes on every
// GraphQL endpoint with no error and no warning. It runs with Node.js; ./test.sh
// installs the audit's packages (npm ci in testdata/httpaudit).
func TestGraphQLOverHTTPAudit(t *testing.T) {
	node, err := exec.LookPath("node")
	if _, statErr := os.Stat("testdata/httpaudit/node_modules/graphql-http"); err != nil || statErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node or the audit's packages are missing (./test.sh installs them)")
		}
		t.Skip("node or the audit's packages are missing: npm ci --prefix gateway/testdata/httpaudit")
	}
	_, srv := serveRuntime(t, demoConfig(t, startCluster(t, 1), nil))
	for _, path := range []string{"/graphql", "/v1/graphql", "/v2/graphql"} {
		out, err := exec.Command(node, "testdata/httpaudit/audit.mjs", srv.URL+path).CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", path, err, out)
		} else {
			t.Logf("%s", out)
		}
	}
}

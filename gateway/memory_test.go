package gateway_test

import (
	"math"
	"os"
	"runtime/debug"
	"testing"

	"github.com/switchyard/switchyard/config"
)

// memory_limit sets the runtime's soft memory limit at start and on a reload that
// changes it; 0 removes it.
func TestMemoryLimit(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT is set: it wins over memory_limit")
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	cluster := startCluster(t, 1)
	rt, _ := serveRuntime(t, demoConfig(t, cluster, func(c *config.Config) { c.MemoryLimit = 300 << 20 }))
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("limit %d after start, want 300 MiB", got)
	}
	if err := rt.Reload(demoConfig(t, cluster, func(c *config.Config) { c.MemoryLimit = 200 << 20 })); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 200<<20 {
		t.Errorf("limit %d after a reload, want 200 MiB", got)
	}
	if err := rt.Reload(demoConfig(t, cluster, nil)); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("limit %d after a reload without one, want none", got)
	}
}

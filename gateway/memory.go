package gateway

import (
	"log/slog"
	"math"
	"os"
	"runtime/debug"

	"github.com/switchyard/switchyard/config"
)

// applyMemoryLimit sets the Go runtime's soft memory limit from memory_limit (none
// when it is 0), unless GOMEMLIMIT in the environment set one, which wins.
func applyMemoryLimit(cfg *config.Config, log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		if cfg.MemoryLimit > 0 {
			log.Info("memory_limit ignored: GOMEMLIMIT is set in the environment")
		}
		return
	}
	limit := int64(cfg.MemoryLimit)
	if limit <= 0 {
		limit = math.MaxInt64 // the runtime's "no limit"
	}
	debug.SetMemoryLimit(limit)
}

package lb

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: health loops and
// cancellation callbacks must end with their owners.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

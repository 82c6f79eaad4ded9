package gateway_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: pools' health loops, loaders and
// cancellation callbacks must end with their owners.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

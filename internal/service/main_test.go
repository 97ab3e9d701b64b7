package service

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them, such as a request lease's
// heartbeat.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

package cloudwatch

import (
	"testing"
	"time"

	"github.com/shardwise/shardwise/internal/leakcheck"
)

// TestMain fails the package if a publisher goroutine outlives the tests:
// every publisher must have been closed, and Close must have waited for its
// goroutine.
func TestMain(m *testing.M) {
	leakcheck.Main(m, 5*time.Second)
}

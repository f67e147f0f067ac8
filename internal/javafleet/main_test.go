package javafleet

import (
	"testing"
	"time"

	"github.com/shardwise/shardwise/internal/leakcheck"
)

// TestMain fails the package if a goroutine it started outlives the tests.
func TestMain(m *testing.M) { leakcheck.Main(m, 10*time.Second) }

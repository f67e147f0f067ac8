package leases_test

import (
	"testing"

	"github.com/shardwise/shardwise/internal/storesuite"
	"github.com/shardwise/shardwise/leases"
)

func TestMemoryCoordinatorStore(t *testing.T) {
	storesuite.Coordinator(t, leases.NewMemoryCoordinatorStore())
}

func TestMemoryWorkerStore(t *testing.T) {
	storesuite.Workers(t, func(*testing.T) leases.WorkerStore { return leases.NewMemoryWorkerStore() })
}

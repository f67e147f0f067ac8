package leases

// The memory stores' own constructors, for this package's external tests.
var (
	NewMemoryStore            = newMemoryStore
	NewMemoryWorkerStore      = newMemoryWorkerStore
	NewMemoryCoordinatorStore = newMemoryCoordinatorStore
)

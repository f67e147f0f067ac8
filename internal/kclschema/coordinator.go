package kclschema

// Attribute names of the coordinator-state table (<app>-CoordinatorState,
// hash key "key").
const (
	AttrCoordKey       = "key"    // S, hash key
	AttrCoordLeader    = "leader" // S: the leader's worker id
	AttrCoordSessionID = "sid"    // S: the leader's worker session
	AttrCoordEpoch     = "epoch"  // N: incremented by every claim and release
	// CoordLeaderKey is the key of the item that names the leader.
	CoordLeaderKey = "Leader"
)

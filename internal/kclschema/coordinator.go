package kclschema

// Attribute names of the coordinator-state table (<app>-CoordinatorState,
// hash key "key").
const (
	AttrCoordKey       = "key"    // S, hash key
	AttrCoordLeader    = "leader" // S: the leader's worker id
	AttrCoordSessionID = "sid"    // S: the leader's worker session
	AttrCoordEpoch     = "epoch"  // N: incremented by every claim and release
	// CoordLeaderKey is the key of the item that names Shardwise's
	// leader. It is not the Java KCL's key, so the two can never collide:
	// Java's lock item stays as Java wrote it, and a rollback to Java
	// finds it so.
	CoordLeaderKey = "ShardwiseLeader"
	// CoordLegacyLeaderKey is the key both the Java KCL's leader lock
	// (DynamoDB lock client) and Shardwise before its own key used.
	CoordLegacyLeaderKey = "Leader"
	// CoordJavaMigrationKey is the Java KCL's 2.x -> 3.x migration-state
	// item.
	CoordJavaMigrationKey = "Migration3.0"
)

// Attributes of the Java KCL's leader lock item, as the DynamoDB lock
// client writes it (all strings; recordVersionNumber is a fresh UUID at
// every heartbeat of the lock holder).
const (
	AttrLockOwnerName     = "ownerName"
	AttrLockLeaseDuration = "leaseDuration"
	AttrLockRecordVersion = "recordVersionNumber"
	AttrLockIsReleased    = "isReleased" // BOOL, when released without deleting
)

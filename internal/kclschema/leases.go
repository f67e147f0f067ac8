package kclschema

// Attribute names of the lease table, exactly as the Java KCL v3 writes
// them, so a table written by the Java KCL can be taken over.
const (
	AttrLeaseKey                           = "leaseKey"                           // S, hash key
	AttrLeaseOwner                         = "leaseOwner"                         // S
	AttrLeaseCounter                       = "leaseCounter"                       // N
	AttrCheckpoint                         = "checkpoint"                         // S
	AttrCheckpointSubSequenceNumber        = "checkpointSubSequenceNumber"        // N
	AttrPendingCheckpoint                  = "pendingCheckpoint"                  // S
	AttrPendingCheckpointSubSequenceNumber = "pendingCheckpointSubSequenceNumber" // N
	AttrPendingCheckpointState             = "pendingCheckpointState"             // B
	AttrOwnerSwitchesSinceCheckpoint       = "ownerSwitchesSinceCheckpoint"       // N
	AttrParentShardID                      = "parentShardId"                      // SS
	AttrChildShardIDs                      = "childShardIds"                      // SS
	AttrStartingHashKey                    = "startingHashKey"                    // S
	AttrEndingHashKey                      = "endingHashKey"                      // S
	AttrThroughputKBps                     = "throughputKBps"                     // N
	AttrCheckpointOwner                    = "checkpointOwner"                    // S
	AttrEntityType                         = "entityType"                         // S; absent or "LEASE" for a lease

	// EntityTypeLease marks a lease item in a table that also holds other
	// KCL entities. Items of any other entity type are skipped by List.
	EntityTypeLease = "LEASE"
	// Entity types of the Java KCL 3.5's other items in the lease table
	// (single-table mode): the leader lock and the worker metrics.
	EntityTypeLeader        = "LEADER"
	EntityTypeWorkerMetrics = "WORKER_METRIC_STATS"

	// OwnerIndexName is the GSI over (leaseOwner, leaseKey), keys only.
	OwnerIndexName = "LeaseOwnerToLeaseKeyIndex"
)

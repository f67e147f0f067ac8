package kclschema

// Attributes the Java KCL's multi-stream lease serializer
// (DynamoDBMultiStreamLeaseSerializer) writes on every lease of a
// multi-stream lease table, besides the single-stream ones. The lease key
// is then "<account>:<stream>:<creationEpoch>:<shardId>"; parentShardId and
// childShardIds still hold bare shard ids.
const (
	// AttrStreamName holds, for legacy reasons, the whole serialized stream
	// identifier ("<account>:<stream>:<creationEpoch>"), not the bare name.
	AttrStreamName = "streamName" // S
	// AttrShardID is the bare shard id.
	AttrShardID = "shardId" // S
)

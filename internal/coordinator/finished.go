package coordinator

import (
	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/leasekey"
	"github.com/shardwise/shardwise/leases"
)

// parentMayGo is the Java KCL's rule for deleting a finished lease l: each
// child has a lease checkpointed past TRIM_HORIZON and AT_TIMESTAMP, and
// none of l's own parents has a lease left. key is l's lease key: child
// and parent ids are bare shard ids, and in a multi-stream table their
// lease keys carry the stream prefix of key.
func parentMayGo(key string, l leases.Lease, byKey map[string]leases.Lease) bool {
	for _, child := range l.ChildShardIDs {
		cl, ok := byKey[leasekey.Related(key, child)]
		if !ok || cl.Checkpoint.IsZero() || cl.Checkpoint.SequenceNumber == consumer.TrimHorizon.SequenceNumber || cl.Checkpoint.SequenceNumber == consumer.AtTimestamp.SequenceNumber {
			return false
		}
	}
	for _, p := range l.ParentShardIDs {
		if _, ok := byKey[leasekey.Related(key, p)]; ok {
			return false
		}
	}
	return true
}

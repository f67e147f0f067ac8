package checkpoint

import (
	"fmt"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/seqnum"
)

// Check applies the checkpoint rules that every Shardwise
// consumer.Checkpointer enforces, the scheduler's and Fake alike. It
// returns nil if a checkpoint at requested may be written, given the last
// checkpoint and the largest position delivered to the processor
// (consumer.ShardEnd once the shard has ended and all its records were
// delivered). Otherwise it returns a *consumer.CheckpointError naming the
// rule requested breaks:
//
//   - it must be a valid sequence number or SHARD_END (the other sentinels
//     name where to start reading, not progress);
//   - SHARD_END only once the shard has ended;
//   - never below last;
//   - never beyond largestDelivered.
//
// A request equal to last passes; checkpointers then write nothing and
// report success.
func Check(requested, last, largestDelivered consumer.ExtendedSequenceNumber) error {
	if err := requested.Validate(); err != nil {
		return &consumer.CheckpointError{Requested: requested, Reason: err.Error()}
	}
	if seqnum.IsSentinel(requested.SequenceNumber) && !requested.IsShardEnd() {
		return &consumer.CheckpointError{Requested: requested, Reason: "only SHARD_END or a sequence number can be checkpointed"}
	}
	if requested.IsShardEnd() && !largestDelivered.IsShardEnd() {
		return &consumer.CheckpointError{Requested: requested, Reason: "SHARD_END before the shard has ended"}
	}
	if consumer.Compare(requested, last) < 0 {
		return &consumer.CheckpointError{Requested: requested, Reason: fmt.Sprintf("below the last checkpoint %s", last)}
	}
	if consumer.Compare(requested, largestDelivered) > 0 {
		return &consumer.CheckpointError{Requested: requested, Reason: fmt.Sprintf("beyond the largest position delivered %s", largestDelivered)}
	}
	return nil
}

package consumer

import (
	"errors"
	"fmt"
)

// ErrLeaseLost is returned by checkpoint calls when this worker no longer
// holds the lease: another worker took it, or this worker fenced itself
// because it could not prove it was alive. Stop processing the shard; the
// records after the last successful checkpoint will be delivered to the new
// owner.
var ErrLeaseLost = errors.New("shardwise: lease lost")

// ErrShutdown is returned by checkpoint calls made after the shard's
// processing ended.
var ErrShutdown = errors.New("shardwise: shard consumer is shut down")

// CheckpointError reports a checkpoint request that breaks the
// checkpointer's rules (below the last checkpoint, beyond what was
// delivered, malformed). Nothing was written.
type CheckpointError struct {
	Requested ExtendedSequenceNumber
	Reason    string
}

func (e *CheckpointError) Error() string {
	return fmt.Sprintf("shardwise: invalid checkpoint %s: %s", e.Requested, e.Reason)
}

// ErrInvalidCheckpoint matches every *CheckpointError with errors.Is.
var ErrInvalidCheckpoint = errors.New("shardwise: invalid checkpoint")

// Is makes errors.Is(err, ErrInvalidCheckpoint) true for a CheckpointError.
func (e *CheckpointError) Is(target error) bool { return target == ErrInvalidCheckpoint }

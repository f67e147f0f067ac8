package consumer

import (
	"errors"
	"fmt"
)

// Every error Shardwise creates starts with "shardwise: "; an error that
// wraps one of Shardwise's own starts with the wrapped error ("%w: ...")
// or adds its context after the prefix. Errors a caller acts on are the
// sentinels and typed errors below (and ErrStalled in package batch),
// matched with errors.Is and errors.As, never by their text.

// ErrLeaseLost is returned by checkpoint calls when this worker no longer
// holds the lease: another worker took it, or this worker fenced itself
// because it could not prove it was alive. Stop processing the shard; the
// records after the last successful checkpoint will be delivered to the new
// owner. It is also the context.Cause of a processor's context when its
// lease ends that way.
var ErrLeaseLost = errors.New("shardwise: lease lost")

// ErrShutdown is the context.Cause of a processor's context when the
// scheduler shuts down (Run's context ended), and is returned by checkpoint
// calls made after the shard's processing ended.
var ErrShutdown = errors.New("shardwise: shut down")

// ErrShutdownTimeout is wrapped by the error Run returns when graceful
// shutdown did not finish within the scheduler's ShutdownTimeout and the
// remaining processors were abandoned (their records after the last
// checkpoint will be delivered again).
var ErrShutdownTimeout = errors.New("shardwise: shutdown timeout exceeded")

// CheckpointError reports a checkpoint request that breaks the
// checkpointer's rules (below the last checkpoint, beyond what was
// delivered, malformed). Nothing was written.
type CheckpointError struct {
	// Requested is the position the checkpoint asked for.
	Requested ExtendedSequenceNumber
	// Reason says which rule it broke.
	Reason string
}

func (e *CheckpointError) Error() string {
	return fmt.Sprintf("shardwise: invalid checkpoint %s: %s", e.Requested, e.Reason)
}

// ErrInvalidCheckpoint matches every *CheckpointError with errors.Is.
var ErrInvalidCheckpoint = errors.New("shardwise: invalid checkpoint")

// Is makes errors.Is(err, ErrInvalidCheckpoint) true for a CheckpointError.
func (e *CheckpointError) Is(target error) bool { return target == ErrInvalidCheckpoint }

// ConfigError reports an invalid configuration: a field of a config struct
// of any Shardwise package (scheduler.Config, the batch handler's Config,
// the CloudWatch publisher's Config, ...), or an argument of a constructor.
// Find the field with errors.As; every ConfigError also matches
// ErrInvalidConfig with errors.Is.
type ConfigError struct {
	// Field names the field as a Go selector relative to the config struct
	// ("FailoverTime", "Tables.LeaseTableName"), or the argument ("factory").
	Field string
	// Reason says what is wrong with its value.
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("shardwise: invalid config: %s: %s", e.Field, e.Reason)
}

// ErrInvalidConfig matches every *ConfigError with errors.Is.
var ErrInvalidConfig = errors.New("shardwise: invalid config")

// Is makes errors.Is(err, ErrInvalidConfig) true for a ConfigError.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

package batch

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
)

// Config holds the settings of a Lambda event source mapping for Kinesis,
// and the few a process needs that Lambda keeps to itself. The zero value
// is Lambda's defaults. Invalid values make New return a
// *consumer.ConfigError naming the field.
type Config struct {
	// BatchSize mirrors the event source mapping's BatchSize: the most
	// records one handler call receives. 1 to 10,000. Default: 100.
	BatchSize int

	// BatchWindow mirrors MaximumBatchingWindowInSeconds: how long to
	// gather records before calling the handler with a batch that is not
	// full. A batch is handed over when it is full or when BatchWindow has
	// passed since its first record reached the processor, whichever comes
	// first, also when no further records arrive. 0 to 300s. Default: 0
	// (hand over what is there at once).
	BatchWindow time.Duration

	// ParallelizationFactor mirrors the event source mapping's
	// ParallelizationFactor: up to this many batches of one shard are
	// handled at once. Records are spread over that many lanes by a hash
	// of their partition key, so every key belongs to exactly one lane and
	// a key's records are handled in sequence order; the checkpoint
	// advances only over the contiguous prefix of finished records. 1 to
	// 10. Default: 1.
	ParallelizationFactor int

	// BisectOnError mirrors BisectBatchOnFunctionError: a batch whose
	// handler call fails is split in two and each half tried on its own,
	// down to single records, which isolates a poison record. Splitting
	// does not use up retry attempts (as in Lambda). A partial batch
	// response is not bisected: the batch is retried from its lowest
	// failed record. Default: false.
	BisectOnError bool

	// MaxRetryAttempts mirrors MaximumRetryAttempts, with Lambda's values:
	// how many times records whose handler call failed are retried before
	// they are given up to OnFailure. -1 retries until success; 0 gives up
	// after the first failure; at most 10,000. With a partial batch
	// response the count belongs to the record processing resumes at (see
	// Response.BatchItemFailures). It is a pointer, as in the AWS SDK's
	// Lambda API, because 0 is a setting of its own and not the default:
	// write new(2). Default: -1 (retry until success, as Lambda).
	MaxRetryAttempts *int

	// MaxRecordAge mirrors MaximumRecordAgeInSeconds: records older than
	// this (now minus their ApproximateArrivalTimestamp) when they are
	// about to be handed to the handler, first time or retry, are given up
	// to OnFailure instead. Records without an arrival timestamp never
	// expire. Up to 7 days (Lambda's lower bound of 60s is not enforced,
	// so tests and impatient services can use less); -1, Lambda's value
	// for no limit, is accepted too. Default: none (no limit).
	MaxRecordAge time.Duration

	// OnFailure mirrors the on-failure destination
	// (DestinationConfig.OnFailure): it receives the records given up by
	// MaxRetryAttempts or MaxRecordAge. Records count as finished only
	// after it returned nil. Default: none (given-up records are
	// discarded, as Lambda does, with an error in the log).
	OnFailure FailureDestination

	// TumblingWindow mirrors TumblingWindowInSeconds: records are grouped
	// into windows of this length by their ApproximateArrivalTimestamp;
	// calls within a window carry its state (Batch.Window.State, returned
	// in Response.State) and the window ends with a final call
	// (IsFinalInvokeForWindow). A window's records are checkpointed only
	// after its final call succeeded. State is per shard, or per lane
	// with ParallelizationFactor above 1, is kept in memory, and is
	// bounded by MaxWindowStateSize. A window ends when a record of a
	// later window arrives in its lane, or, when the shard is caught up
	// (MillisBehindLatest 0), when the clock passes its end; a record that
	// arrives for a window that already ended opens it again with empty
	// state. 1ms to 15 minutes. Default: 0 (no windows).
	TumblingWindow time.Duration

	// Filter mirrors event filtering (FilterCriteria): only records for
	// which it returns true reach the handler; the others count as
	// handled at once. It runs inside ProcessRecords, on the scheduler's
	// processor goroutine, one record at a time, and must not keep the
	// record. Default: none (every record reaches the handler).
	Filter func(r *consumer.Record) bool

	// MaxWindowStateSize bounds the tumbling window state carried between
	// calls, in bytes. When a call returns more, the handler is called at
	// once with that state, IsFinalInvokeForWindow and
	// IsWindowTerminatedEarly set, and the window goes on with empty
	// state. Default: 1 MiB (Lambda's limit of 1 MB per shard).
	MaxWindowStateSize int

	// MaxPendingRecords and MaxPendingBytes bound what one shard's
	// processor holds: records taken from the scheduler and not yet part
	// of the finished prefix (buffered, in flight, being retried, held by
	// an open tumbling window, or finished behind an unfinished one), and
	// their payload bytes. When either is reached, ProcessRecords blocks,
	// which stops the scheduler's processor goroutine and so, through its
	// bounded prefetch queue, the shard's fetching. A single record is
	// always taken when nothing is held. MaxPendingRecords counts records.
	// Default: 4 full batches per lane (4 × BatchSize ×
	// ParallelizationFactor), at least 1,000.
	MaxPendingRecords int
	// MaxPendingBytes is in bytes; see MaxPendingRecords. Default: 64 MiB.
	MaxPendingBytes int64

	// RetryBackoff is the first wait before retrying a failed handler call
	// or OnFailure destination; it doubles, with jitter, up to
	// RetryMaxBackoff. Splitting a batch (BisectOnError) retries the
	// halves at once. Default: 100ms.
	RetryBackoff time.Duration
	// RetryMaxBackoff is the longest wait between retries. It may not be
	// below RetryBackoff. Default: 10s, or RetryBackoff if that is longer.
	RetryMaxBackoff time.Duration

	// CheckpointInterval is the least time between two checkpoint writes
	// while the shard is being processed (Lambda checkpoints after every
	// batch, internally; here every write is a lease-table write). The
	// first finished records are checkpointed at once, later ones at most
	// once per interval; ShutdownRequested and ShardEnded checkpoint at
	// once, so the interval bounds only how much a crashed worker's
	// successor handles again. 5s is at most 720 lease-table writes per
	// shard-hour, fewer than the Java KCL spends renewing a lease. A
	// negative value writes as soon as the finished prefix grows (writes
	// still coalesce while one is in flight). Default: 5s.
	CheckpointInterval time.Duration

	// Logger receives the processor's logs: retries, give-ups, and
	// destination or checkpoint failures. Default: no logs.
	Logger zerolog.Logger
}

// Limits of the settings, as Lambda sets them for a Kinesis event source
// mapping, and the defaults that are not zero.
const (
	defaultBatchSize          = 100
	maxBatchSize              = 10000
	maxBatchWindow            = 300 * time.Second
	maxParallelization        = 10
	defaultRetryAttempts      = -1 // until success
	maxRetryAttempts          = 10000
	maxRecordAge              = 7 * 24 * time.Hour
	maxTumblingWindow         = 15 * time.Minute
	defaultMaxWindowStateSize = 1 << 20
	minPendingRecords         = 1000
	defaultMaxPendingBytes    = 64 << 20
	defaultRetryBackoff       = 100 * time.Millisecond
	defaultRetryMaxBackoff    = 10 * time.Second
	defaultCheckpointInterval = 5 * time.Second
)

// Validate reports the first invalid field as a *consumer.ConfigError
// (which matches consumer.ErrInvalidConfig), or nil. New calls it.
func (c Config) Validate() error {
	return c.withDefaults().validate()
}

// withDefaults returns c with every zero field set to its default. It is
// the only place defaults are applied.
func (c Config) withDefaults() Config {
	if c.BatchSize == 0 {
		c.BatchSize = defaultBatchSize
	}
	if c.ParallelizationFactor == 0 {
		c.ParallelizationFactor = 1
	}
	if c.MaxRetryAttempts == nil {
		c.MaxRetryAttempts = new(defaultRetryAttempts)
	} else {
		// A copy: the processor must not see the caller change it later.
		c.MaxRetryAttempts = new(*c.MaxRetryAttempts)
	}
	if c.MaxWindowStateSize == 0 {
		c.MaxWindowStateSize = defaultMaxWindowStateSize
	}
	if c.MaxPendingRecords == 0 {
		// Room for every lane to have a batch in flight and more queued
		// behind it, so lanes do not starve while the slowest one holds
		// the head of the prefix.
		c.MaxPendingRecords = max(4*c.BatchSize*c.ParallelizationFactor, minPendingRecords)
	}
	if c.MaxPendingBytes == 0 {
		c.MaxPendingBytes = defaultMaxPendingBytes
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = defaultRetryBackoff
	}
	if c.RetryMaxBackoff == 0 {
		c.RetryMaxBackoff = max(defaultRetryMaxBackoff, c.RetryBackoff)
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = defaultCheckpointInterval
	}
	return c
}

// validate checks a Config that withDefaults filled in.
func (c Config) validate() error {
	bad := func(field, format string, args ...any) error {
		return &consumer.ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.BatchSize < 1 || c.BatchSize > maxBatchSize:
		return bad("BatchSize", "%d is outside 1..%d", c.BatchSize, maxBatchSize)
	case c.BatchWindow < 0 || c.BatchWindow > maxBatchWindow:
		return bad("BatchWindow", "%v is outside 0..%v", c.BatchWindow, maxBatchWindow)
	case c.ParallelizationFactor < 1 || c.ParallelizationFactor > maxParallelization:
		return bad("ParallelizationFactor", "%d is outside 1..%d", c.ParallelizationFactor, maxParallelization)
	case *c.MaxRetryAttempts < -1 || *c.MaxRetryAttempts > maxRetryAttempts:
		return bad("MaxRetryAttempts", "%d is outside -1..%d (-1 retries until success)", *c.MaxRetryAttempts, maxRetryAttempts)
	case c.MaxRecordAge < 0 && c.MaxRecordAge != -1:
		return bad("MaxRecordAge", "%v is negative; use 0 or -1 for no limit", c.MaxRecordAge)
	case c.MaxRecordAge > maxRecordAge:
		return bad("MaxRecordAge", "%v is above %v", c.MaxRecordAge, maxRecordAge)
	case c.TumblingWindow < 0 || c.TumblingWindow > maxTumblingWindow:
		return bad("TumblingWindow", "%v is outside 0..%v", c.TumblingWindow, maxTumblingWindow)
	case c.TumblingWindow > 0 && c.TumblingWindow < time.Millisecond:
		return bad("TumblingWindow", "%v is below 1ms", c.TumblingWindow)
	case c.MaxWindowStateSize < 0:
		return bad("MaxWindowStateSize", "%d is negative", c.MaxWindowStateSize)
	case c.MaxPendingRecords < 0:
		return bad("MaxPendingRecords", "%d is negative", c.MaxPendingRecords)
	case c.MaxPendingBytes < 0:
		return bad("MaxPendingBytes", "%d is negative", c.MaxPendingBytes)
	case c.RetryBackoff < 0:
		return bad("RetryBackoff", "%v is negative", c.RetryBackoff)
	case c.RetryMaxBackoff < c.RetryBackoff:
		return bad("RetryMaxBackoff", "%v is below RetryBackoff %v", c.RetryMaxBackoff, c.RetryBackoff)
	}
	return nil
}

// maxRetries is MaxRetryAttempts of a Config withDefaults filled in.
func (c *Config) maxRetries() int { return *c.MaxRetryAttempts }

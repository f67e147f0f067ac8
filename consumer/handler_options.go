package consumer

import (
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// HandlerOption configures NewBatchHandler and NewBatchResponseHandler.
// Options apply in order (a later one wins) and are validated together by
// the constructor.
type HandlerOption func(*handlerConfig)

// OptionError reports an invalid handler option.
type OptionError struct {
	Option string
	Reason string
}

func (e *OptionError) Error() string {
	return fmt.Sprintf("shardwise: invalid batch handler option %s: %s", e.Option, e.Reason)
}

// ErrInvalidOption matches every *OptionError with errors.Is.
var ErrInvalidOption = errors.New("shardwise: invalid batch handler option")

// Is makes errors.Is(err, ErrInvalidOption) true for an OptionError.
func (e *OptionError) Is(target error) bool { return target == ErrInvalidOption }

// Limits of the settings, as Lambda sets them for a Kinesis event source
// mapping (MaxRecordAge: Lambda's lower bound of 60 s is not enforced, so
// tests and impatient services can use less).
const (
	DefaultBatchSize         = 100
	MaxBatchSize             = 10000
	MaxBatchWindow           = 300 * time.Second
	MaxParallelizationFactor = 10
	MaxRetryAttemptsLimit    = 10000
	MaxRecordAgeLimit        = 7 * 24 * time.Hour
	MaxTumblingWindow        = 15 * time.Minute
	// DefaultMaxWindowStateSize is Lambda's limit on tumbling window state
	// per shard: 1 MB.
	DefaultMaxWindowStateSize = 1 << 20
	// DefaultCheckpointInterval is the least time between two checkpoint
	// writes while a shard is processed: 720 lease-table writes per
	// shard-hour at most, fewer than the Java KCL spends renewing a
	// lease, for at most about 5 s of records handled again after a crash.
	DefaultCheckpointInterval = 5 * time.Second
)

type handlerConfig struct {
	handler ResponseHandler // set by the constructor

	batchSize       int
	batchWindow     time.Duration
	parallelization int
	bisect          bool
	maxRetries      int           // -1: until success
	maxAge          time.Duration // < 0: no limit
	onFailure       FailureDestination
	tumbling        time.Duration // 0: off
	filter          func(*Record) bool
	maxStateSize    int
	maxPendingRecs  int   // 0: derived from batch size and parallelization
	maxPendingBytes int64 // 0: default
	retryBase       time.Duration
	retryMax        time.Duration
	checkpointEvery time.Duration // least time between checkpoint writes
	log             zerolog.Logger
}

func defaultHandlerConfig() handlerConfig {
	return handlerConfig{
		batchSize:       DefaultBatchSize,
		parallelization: 1,
		maxRetries:      -1,
		maxAge:          -1,
		maxStateSize:    DefaultMaxWindowStateSize,
		retryBase:       100 * time.Millisecond,
		retryMax:        10 * time.Second,
		checkpointEvery: DefaultCheckpointInterval,
	}
}

// BatchSize mirrors the event source mapping's BatchSize: the most records
// one handler call receives. 1 to 10,000; default 100.
func BatchSize(n int) HandlerOption { return func(c *handlerConfig) { c.batchSize = n } }

// BatchWindow mirrors MaximumBatchingWindowInSeconds: how long to gather
// records before calling the handler with a batch that is not full. A batch
// is handed over when it is full or when the window has passed since its
// first record arrived at the processor, whichever comes first, also when
// no further records arrive. 0 to 300 s; default 0 (hand over what is there
// at once).
func BatchWindow(d time.Duration) HandlerOption { return func(c *handlerConfig) { c.batchWindow = d } }

// ParallelizationFactor mirrors the event source mapping's
// ParallelizationFactor: up to n batches of one shard are handled at once.
// Records are spread over n lanes by a hash of their partition key, so
// every key belongs to exactly one lane and a key's records are handled in
// sequence order; the checkpoint advances only over the contiguous prefix
// of finished records. 1 to 10; default 1.
func ParallelizationFactor(n int) HandlerOption {
	return func(c *handlerConfig) { c.parallelization = n }
}

// BisectOnError mirrors BisectBatchOnFunctionError: a batch whose handler
// call fails is split in two and each half tried on its own, down to single
// records, which isolates a poison record. Splitting does not use up retry
// attempts (as in Lambda). A partial batch response is not bisected: the
// batch is retried from its lowest failed record. Default false.
func BisectOnError(on bool) HandlerOption { return func(c *handlerConfig) { c.bisect = on } }

// MaxRetryAttempts mirrors MaximumRetryAttempts: how many times records
// whose handler call failed are retried before they are given up to the
// OnFailure destination. -1 retries until success (Lambda's default, and
// this option's); 0 gives up after the first failure; at most 10,000.
// With a partial batch response the count belongs to the record processing
// resumes at (see BatchResponse.BatchItemFailures).
func MaxRetryAttempts(n int) HandlerOption { return func(c *handlerConfig) { c.maxRetries = n } }

// MaxRecordAge mirrors MaximumRecordAgeInSeconds: records older than d
// (now minus their ApproximateArrivalTimestamp) when they are about to be
// handed to the handler, first time or retry, are given up to the
// OnFailure destination instead. A negative d (-1) means no limit, the
// default; otherwise d must be positive and at most 7 days. Records without
// an arrival timestamp never expire.
func MaxRecordAge(d time.Duration) HandlerOption {
	return func(c *handlerConfig) { c.maxAge = d }
}

// OnFailure mirrors the on-failure destination (DestinationConfig.OnFailure):
// dest receives the records given up by MaxRetryAttempts or MaxRecordAge.
// Records count as finished only after dest returned nil. Without a
// destination, given-up records are discarded (as Lambda does), with an
// error in the log.
func OnFailure(dest FailureDestination) HandlerOption {
	return func(c *handlerConfig) { c.onFailure = dest }
}

// TumblingWindow mirrors TumblingWindowInSeconds: records are grouped into
// windows of length d by their ApproximateArrivalTimestamp; calls within a
// window carry its state (Batch.Window.State, returned in
// BatchResponse.State) and the window ends with a final call
// (IsFinalInvokeForWindow). A window's records are checkpointed only after
// its final call succeeded. State is per shard, or per lane with
// ParallelizationFactor above 1, is kept in memory, and is bounded by
// WithMaxWindowStateSize. A window ends when a record of a later window
// arrives in its lane, or, when the shard is caught up (MillisBehindLatest
// 0), when the clock passes its end; a record that arrives for a window
// that already ended opens it again with empty state. 0 (off, the default)
// to 15 minutes.
func TumblingWindow(d time.Duration) HandlerOption { return func(c *handlerConfig) { c.tumbling = d } }

// FilterCriteria mirrors event filtering (FilterCriteria): only records for
// which keep returns true reach the handler; the others count as handled
// at once. keep runs inside ProcessRecords, on the scheduler's processor
// goroutine, one record at a time, and must not keep the record.
func FilterCriteria(keep func(r *Record) bool) HandlerOption {
	return func(c *handlerConfig) { c.filter = keep }
}

// WithMaxWindowStateSize bounds the tumbling window state carried between
// calls, in bytes. Default 1 MiB (Lambda's limit). When a call returns
// more, the handler is called at once with that state, IsFinalInvokeForWindow
// and IsWindowTerminatedEarly set, and the window goes on with empty state.
func WithMaxWindowStateSize(n int) HandlerOption {
	return func(c *handlerConfig) { c.maxStateSize = n }
}

// WithMaxPending bounds what one shard's processor holds: records taken
// from the scheduler and not yet part of the finished prefix (buffered,
// in flight, being retried, held by an open tumbling window, or finished
// behind an unfinished one), and their payload bytes. When it is full,
// ProcessRecords blocks, which stops the scheduler's processor goroutine
// and so, through its bounded prefetch queue, the shard's fetching. A
// single record is always taken when nothing is held. 0 keeps a default:
// 4 full batches per lane, at least 1,000 records; 64 MiB.
func WithMaxPending(records int, bytes int64) HandlerOption {
	return func(c *handlerConfig) { c.maxPendingRecs, c.maxPendingBytes = records, bytes }
}

// WithRetryBackoff sets the wait before retrying a failed handler call or
// OnFailure destination: base, doubling with jitter up to max. Defaults
// 100 ms and 10 s. Splitting a batch (BisectOnError) retries the halves
// at once.
func WithRetryBackoff(base, max time.Duration) HandlerOption {
	return func(c *handlerConfig) { c.retryBase, c.retryMax = base, max }
}

// WithCheckpointInterval sets the least time between two checkpoint
// writes while the shard is being processed (Lambda checkpoints after
// every batch, internally; here every write is a lease-table write). The
// first finished records are checkpointed at once, later ones at most
// once per d; ShutdownRequested and ShardEnded checkpoint at once. So d
// bounds only how much a crashed worker's successor handles again. 0
// writes as soon as the finished prefix grows (writes still coalesce while
// one is in flight). Default 5 s.
func WithCheckpointInterval(d time.Duration) HandlerOption {
	return func(c *handlerConfig) { c.checkpointEvery = d }
}

// WithLogger sets where the processor logs retries, give-ups and
// destination or checkpoint failures. Default: no logs.
func WithLogger(l zerolog.Logger) HandlerOption { return func(c *handlerConfig) { c.log = l } }

func (c *handlerConfig) validate() error {
	bad := func(opt, format string, args ...any) error {
		return &OptionError{Option: opt, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.batchSize < 1 || c.batchSize > MaxBatchSize:
		return bad("BatchSize", "%d is outside 1..%d", c.batchSize, MaxBatchSize)
	case c.batchWindow < 0 || c.batchWindow > MaxBatchWindow:
		return bad("BatchWindow", "%v is outside 0..%v", c.batchWindow, MaxBatchWindow)
	case c.parallelization < 1 || c.parallelization > MaxParallelizationFactor:
		return bad("ParallelizationFactor", "%d is outside 1..%d", c.parallelization, MaxParallelizationFactor)
	case c.maxRetries < -1 || c.maxRetries > MaxRetryAttemptsLimit:
		return bad("MaxRetryAttempts", "%d is outside -1..%d (-1 retries until success)", c.maxRetries, MaxRetryAttemptsLimit)
	case c.maxAge == 0: // the default is -1, so 0 was asked for
		return bad("MaxRecordAge", "0 would expire every record; use -1 for no limit")
	case c.maxAge > MaxRecordAgeLimit:
		return bad("MaxRecordAge", "%v is above %v", c.maxAge, MaxRecordAgeLimit)
	case c.tumbling < 0 || c.tumbling > MaxTumblingWindow:
		return bad("TumblingWindow", "%v is outside 0..%v", c.tumbling, MaxTumblingWindow)
	case c.tumbling > 0 && c.tumbling < time.Millisecond:
		return bad("TumblingWindow", "%v is below 1ms", c.tumbling)
	case c.maxStateSize < 0:
		return bad("WithMaxWindowStateSize", "%d is negative", c.maxStateSize)
	case c.maxPendingRecs < 0:
		return bad("WithMaxPending", "records %d is negative", c.maxPendingRecs)
	case c.maxPendingBytes < 0:
		return bad("WithMaxPending", "bytes %d is negative", c.maxPendingBytes)
	case c.checkpointEvery < 0:
		return bad("WithCheckpointInterval", "%v is negative", c.checkpointEvery)
	case c.retryBase <= 0:
		return bad("WithRetryBackoff", "base %v is not positive", c.retryBase)
	case c.retryMax < c.retryBase:
		return bad("WithRetryBackoff", "max %v is below base %v", c.retryMax, c.retryBase)
	}
	return nil
}

// finish fills in the defaults that depend on other settings.
func (c *handlerConfig) finish() {
	if c.maxPendingRecs == 0 {
		// Room for every lane to have a batch in flight and more queued
		// behind it, so lanes do not starve while the slowest one holds
		// the head of the prefix.
		c.maxPendingRecs = max(4*c.batchSize*c.parallelization, 1000)
	}
	if c.maxPendingBytes == 0 {
		c.maxPendingBytes = 64 << 20
	}
}

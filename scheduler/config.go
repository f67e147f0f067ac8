package scheduler

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/leases"
)

// KinesisAPI is the part of *kinesis.Client a Scheduler uses.
type KinesisAPI = awsapi.Kinesis

// DynamoDBAPI is the part of *dynamodb.Client a Scheduler uses.
type DynamoDBAPI = awsapi.DynamoDB

// Config configures a Scheduler. Every field states its default; zero means
// the default.
type Config struct {
	// ApplicationName names the consumer application (required). It is the
	// lease table's name unless LeaseTableName is set, and the metrics
	// namespace.
	ApplicationName string
	// StreamName or StreamARN names the stream (exactly one is required,
	// or both if they agree).
	StreamName string
	StreamARN  string
	// InitialPosition is where a shard with no checkpoint starts.
	// Default: LATEST (as the Java KCL).
	InitialPosition consumer.InitialPosition

	// AWSConfig builds the Kinesis and DynamoDB clients that are not given.
	// Required unless both KinesisClient and (DynamoDBClient or LeaseStore)
	// are set.
	AWSConfig *aws.Config
	// KinesisClient overrides the client built from AWSConfig.
	KinesisClient KinesisAPI
	// DynamoDBClient overrides the client built from AWSConfig.
	DynamoDBClient DynamoDBAPI
	// LeaseStore overrides the DynamoDB lease store (for tests and for
	// stores of your own). When set, DynamoDBClient is not used for leases.
	LeaseStore leases.Store
	// LeaseTableName is the lease table. Default: ApplicationName.
	LeaseTableName string

	// WorkerID identifies this worker in the lease table. It must be unique
	// among the application's workers. Default: hostname plus a random
	// suffix.
	WorkerID string
	// Logger receives structured logs. Default: no logs.
	Logger zerolog.Logger

	// MaxRecords is the Limit of each GetRecords call (1..10000).
	// Default: 10000.
	MaxRecords int
	// MinGetRecordsInterval is the least time between two GetRecords calls
	// of one shard; Kinesis allows 5 calls per second per shard.
	// Default: 200ms.
	MinGetRecordsInterval time.Duration
	// IdleTimeBetweenReads is the wait before polling again a shard that
	// returned no records and is caught up. Default: 1s.
	IdleTimeBetweenReads time.Duration
	// MaxPendingRecords and MaxPendingBytes bound one shard's prefetch
	// queue (records fetched but not yet processed). A single batch larger
	// than the bound is still admitted when the queue is empty, so the
	// bound can be exceeded by at most one GetRecords response.
	// Defaults: 20000 records, 8 MiB.
	MaxPendingRecords int
	MaxPendingBytes   int64
	// MaxTotalPendingBytes bounds the prefetched bytes of all shards of
	// this worker together. Default: 256 MiB.
	MaxTotalPendingBytes int64
	// MaxConcurrentFetches bounds GetRecords calls (and so response
	// decodes) in flight across all shards; decoding is CPU-bound, and more
	// decodes in flight than a few per core only adds contention.
	// Default: 4 per CPU, at least 8.
	MaxConcurrentFetches int

	// FailoverTime is how long a lease may go unproven before another
	// worker may take it. Default: 10s.
	FailoverTime time.Duration
	// LeaseDiscoveryInterval is how often the worker reads the lease table
	// for leases to take and for leases it lost. Default: FailoverTime/3.
	LeaseDiscoveryInterval time.Duration
	// ShardSyncInterval is how often shard sync creates leases for shards
	// that have none. Default: 60s.
	ShardSyncInterval time.Duration
	// ParentPollInterval is how often a child shard waiting for a parent on
	// another worker re-reads the parent's lease. Default: 1s.
	ParentPollInterval time.Duration

	// ProcessorRetryBackoff is the first wait before a batch whose
	// ProcessRecords failed is offered again; it doubles (with jitter) up
	// to ProcessorRetryMaxBackoff. Defaults: 100ms and 10s.
	ProcessorRetryBackoff    time.Duration
	ProcessorRetryMaxBackoff time.Duration
	// ThrottleBackoff and ThrottleMaxBackoff bound the backoff after a
	// throttled or failed GetRecords. Defaults: 200ms and 5s.
	ThrottleBackoff    time.Duration
	ThrottleMaxBackoff time.Duration
	// ShutdownTimeout bounds graceful shutdown. Default: 30s.
	ShutdownTimeout time.Duration
}

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("shardwise: invalid config: %s: %s", e.Field, e.Reason)
}

// ErrInvalidConfig matches every *ConfigError with errors.Is.
var ErrInvalidConfig = errors.New("shardwise: invalid config")

// Is makes errors.Is(err, ErrInvalidConfig) true for a ConfigError.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// withDefaults returns a copy of c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.LeaseTableName == "" {
		c.LeaseTableName = c.ApplicationName
	}
	if c.StreamName == "" && c.StreamARN != "" {
		if a, err := arn.Parse(c.StreamARN); err == nil {
			c.StreamName = strings.TrimPrefix(a.Resource, "stream/")
		}
	}
	if c.WorkerID == "" {
		c.WorkerID = defaultWorkerID()
	}
	setDefault(&c.MaxRecords, 10000)
	setDefault(&c.MinGetRecordsInterval, 200*time.Millisecond)
	setDefault(&c.IdleTimeBetweenReads, time.Second)
	setDefault(&c.MaxPendingRecords, 20000)
	setDefault(&c.MaxPendingBytes, 8<<20)
	setDefault(&c.MaxTotalPendingBytes, 256<<20)
	setDefault(&c.MaxConcurrentFetches, defaultConcurrentFetches())
	setDefault(&c.FailoverTime, 10*time.Second)
	setDefault(&c.LeaseDiscoveryInterval, c.FailoverTime/3)
	setDefault(&c.ShardSyncInterval, 60*time.Second)
	setDefault(&c.ParentPollInterval, time.Second)
	setDefault(&c.ProcessorRetryBackoff, 100*time.Millisecond)
	setDefault(&c.ProcessorRetryMaxBackoff, 10*time.Second)
	setDefault(&c.ThrottleBackoff, 200*time.Millisecond)
	setDefault(&c.ThrottleMaxBackoff, 5*time.Second)
	setDefault(&c.ShutdownTimeout, 30*time.Second)
	return c
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Validate reports the first invalid field of c (after defaults are
// applied), as a *ConfigError.
func (c Config) Validate() error {
	return c.withDefaults().validate()
}

func (c Config) validate() error {
	bad := func(field, reason string, args ...any) error {
		return &ConfigError{Field: field, Reason: fmt.Sprintf(reason, args...)}
	}
	if c.ApplicationName == "" {
		return bad("ApplicationName", "is required")
	}
	if !validTableName(c.LeaseTableName) {
		return bad("LeaseTableName", "%q is not a valid DynamoDB table name (3-255 of a-z A-Z 0-9 _ - .)", c.LeaseTableName)
	}
	if c.StreamName == "" && c.StreamARN == "" {
		return bad("StreamName", "one of StreamName or StreamARN is required")
	}
	if c.StreamARN != "" {
		a, err := arn.Parse(c.StreamARN)
		if err != nil || a.Service != "kinesis" || !strings.HasPrefix(a.Resource, "stream/") {
			return bad("StreamARN", "%q is not a Kinesis stream ARN", c.StreamARN)
		}
		if name := strings.TrimPrefix(a.Resource, "stream/"); name != c.StreamName {
			return bad("StreamARN", "names stream %q but StreamName is %q", name, c.StreamName)
		}
	}
	if !validStreamName(c.StreamName) {
		return bad("StreamName", "%q is not a valid stream name (1-128 of a-z A-Z 0-9 _ - .)", c.StreamName)
	}
	if err := c.InitialPosition.Validate(); err != nil {
		return bad("InitialPosition", "%v", err)
	}
	if c.AWSConfig == nil && (c.KinesisClient == nil || (c.DynamoDBClient == nil && c.LeaseStore == nil)) {
		return bad("AWSConfig", "is required unless KinesisClient and DynamoDBClient (or LeaseStore) are set")
	}
	if strings.TrimSpace(c.WorkerID) != c.WorkerID || len(c.WorkerID) > 512 {
		return bad("WorkerID", "%q must have no surrounding spaces and at most 512 bytes", c.WorkerID)
	}
	if c.MaxRecords < 1 || c.MaxRecords > 10000 {
		return bad("MaxRecords", "%d is outside 1..10000", c.MaxRecords)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"MinGetRecordsInterval", c.MinGetRecordsInterval},
		{"IdleTimeBetweenReads", c.IdleTimeBetweenReads},
		{"FailoverTime", c.FailoverTime},
		{"LeaseDiscoveryInterval", c.LeaseDiscoveryInterval},
		{"ShardSyncInterval", c.ShardSyncInterval},
		{"ParentPollInterval", c.ParentPollInterval},
		{"ProcessorRetryBackoff", c.ProcessorRetryBackoff},
		{"ProcessorRetryMaxBackoff", c.ProcessorRetryMaxBackoff},
		{"ThrottleBackoff", c.ThrottleBackoff},
		{"ThrottleMaxBackoff", c.ThrottleMaxBackoff},
		{"ShutdownTimeout", c.ShutdownTimeout},
	} {
		if d.v < 0 {
			return bad(d.name, "%v is negative", d.v)
		}
	}
	if c.ProcessorRetryMaxBackoff < c.ProcessorRetryBackoff {
		return bad("ProcessorRetryMaxBackoff", "%v is below ProcessorRetryBackoff %v", c.ProcessorRetryMaxBackoff, c.ProcessorRetryBackoff)
	}
	if c.ThrottleMaxBackoff < c.ThrottleBackoff {
		return bad("ThrottleMaxBackoff", "%v is below ThrottleBackoff %v", c.ThrottleMaxBackoff, c.ThrottleBackoff)
	}
	if c.FailoverTime < time.Second {
		return bad("FailoverTime", "%v is below 1s", c.FailoverTime)
	}
	if c.LeaseDiscoveryInterval > c.FailoverTime {
		return bad("LeaseDiscoveryInterval", "%v is above FailoverTime %v", c.LeaseDiscoveryInterval, c.FailoverTime)
	}
	if c.MaxPendingRecords < 1 {
		return bad("MaxPendingRecords", "%d is below 1", c.MaxPendingRecords)
	}
	if c.MaxPendingBytes < 1 {
		return bad("MaxPendingBytes", "%d is below 1", c.MaxPendingBytes)
	}
	if c.MaxTotalPendingBytes < c.MaxPendingBytes {
		return bad("MaxTotalPendingBytes", "%d is below MaxPendingBytes %d", c.MaxTotalPendingBytes, c.MaxPendingBytes)
	}
	if c.MaxConcurrentFetches < 1 {
		return bad("MaxConcurrentFetches", "%d is below 1", c.MaxConcurrentFetches)
	}
	return nil
}

func validStreamName(s string) bool { return len(s) >= 1 && len(s) <= 128 && nameChars(s) }
func validTableName(s string) bool  { return len(s) >= 3 && len(s) <= 255 && nameChars(s) }

func nameChars(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '-' || b == '.') {
			return false
		}
	}
	return true
}

func defaultWorkerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	return host + "-" + randomHex(6)
}

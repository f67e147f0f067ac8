package scheduler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/balancer"
	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/metrics"
)

// KinesisAPI is the part of *kinesis.Client a Scheduler calls: a client of
// your own (a wrapper, a fake such as kinesistest's) answers these.
type KinesisAPI interface {
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
	// Enhanced fan-out (Config.FanOut) calls these three; a polling
	// worker never does, so a fake of your own may leave them failing.
	RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error)
	DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error)
	SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, optFns ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error)
}

// DynamoDBAPI is the part of *dynamodb.Client a Scheduler calls for the
// lease, worker-metrics and coordinator-state tables.
type DynamoDBAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTable(ctx context.Context, in *dynamodb.UpdateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTableOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

var (
	_ KinesisAPI  = (*kinesis.Client)(nil)
	_ DynamoDBAPI = (*dynamodb.Client)(nil)
	// The internal layers take the same method sets.
	_ awsapi.Kinesis  = KinesisAPI(nil)
	_ awsapi.DynamoDB = DynamoDBAPI(nil)
)

// Config configures a Scheduler. It is one flat struct, as the Java KCL's
// settings read in its documentation: a field is found by its KCL name, and
// a zero Config with the required fields set is a working worker.
//
// Every field states its default in the form "Default: X." and a zero
// value means that default. Defaults are applied once, by New (and
// Validate), in one function; TestConfigDocumentedDefaults checks every
// documented default against the value that function applies. A default
// written in terms of another field (FailoverTime/2) follows that field's
// final value.
type Config struct {
	// ApplicationName names the consumer application. It is the lease
	// table's name unless LeaseTableName is set, and the metrics
	// namespace. Required.
	ApplicationName string
	// StreamName names the stream. Exactly one of StreamName and
	// StreamARN is required (or both, if they name the same stream).
	// Default: the name in StreamARN.
	StreamName string
	// StreamARN names the stream by ARN. Default: none.
	StreamARN string
	// InitialPosition is where a shard with no checkpoint starts.
	// Default: LATEST (as the Java KCL).
	InitialPosition consumer.InitialPosition
	// Streams makes a multi-stream application: one lease table for the
	// shards of every stream listed (by name, or by ARN for a stream of
	// another account), each with its own initial position. Lease keys
	// are then the Java KCL's multi-stream keys
	// ("<account>:<stream>:<creationEpoch>:<shardId>"), so a Java
	// multi-stream application's table is taken over as it is. StreamName
	// and StreamARN must be empty. A stream listed that does not exist
	// makes Run fail at start. Default: none (single-stream).
	Streams []StreamConfig
	// StreamTracker, when set, is asked for the streams at start and at
	// every shard sync (the Java KCL's StreamTracker) instead of reading
	// Streams: streams it adds get leases at that sync, streams it drops
	// stop being read (their leases follow FormerStreamLeases). An error
	// keeps the previous list (at start, Run fails with it). Default:
	// none.
	StreamTracker func(ctx context.Context) ([]StreamConfig, error)
	// FormerStreamLeases says what becomes of the leases of a stream a
	// multi-stream application no longer consumes (dropped from Streams
	// or by StreamTracker), as the Java KCL's
	// FormerStreamsLeasesDeletionStrategy: "keep" leaves them
	// (NoLeaseDeletionStrategy); "delete-when-gone" has the leader delete
	// them once the stream has been gone (deleted, or created again
	// under its name) for FormerStreamLeasesWait
	// (AutoDetectionAndDeferredDeletionStrategy); "delete-listed" deletes
	// those of the streams named in FormerStreamsToDelete once they have
	// not been consumed for FormerStreamLeasesWait
	// (ProvidedStreamsDeferredDeletionStrategy). Default: keep.
	FormerStreamLeases string
	// FormerStreamLeasesWait is how long a former stream's leases are
	// kept before a deleting FormerStreamLeases strategy deletes them.
	// Default: 1h.
	FormerStreamLeasesWait time.Duration
	// FormerStreamsToDelete names the former streams whose leases
	// "delete-listed" deletes: by name, by ARN, or by serialized stream
	// identifier ("<account>:<name>:<creationEpoch>"). Default: none.
	FormerStreamsToDelete []string

	// AWSConfig builds the Kinesis and DynamoDB clients that are not
	// given. Required unless KinesisClient is set and DynamoDBClient or
	// Stores is. Default: none.
	AWSConfig *aws.Config
	// KinesisClient is the Kinesis client. With FanOut, one built from
	// AWSConfig gets a 256 KB HTTP/2 receive window per subscription (what
	// the transport reads ahead is outside MaxTotalPendingBytes); set it on
	// a client of your own (README, Enhanced fan-out). Default: none (one
	// built from AWSConfig).
	KinesisClient KinesisAPI
	// DynamoDBClient is the DynamoDB client for the three tables.
	// Default: none (one built from AWSConfig).
	DynamoDBClient DynamoDBAPI
	// Stores replaces the three DynamoDB tables (for tests, with
	// leases.NewMemoryStores, or stores of your own); set all three of its
	// stores, or none. Default: none (the DynamoDB tables).
	Stores leases.Stores
	// LeaseTableName is the lease table. Default: ApplicationName.
	LeaseTableName string
	// WorkerMetricsTableName holds one record per worker: its session,
	// heartbeat and load. Default: ApplicationName + "-WorkerMetricStats".
	WorkerMetricsTableName string
	// CoordinatorTableName holds the leader item. Default:
	// ApplicationName + "-CoordinatorState".
	CoordinatorTableName string

	// JavaFleetCheckWindow is how long a starting worker watches the
	// tables for a Java KCL fleet still running on them, before it takes
	// part in anything (see "Moving from the Java KCL" in the README). It
	// watches only when the tables hold leases owned by workers without a
	// Shardwise record, or Java worker-metrics rows updated in the last
	// few minutes; otherwise the check is one read of each table. On
	// seeing a Java worker alive (its leader lock heartbeated, its
	// worker-metrics row updated, a lease it owns renewed) Run returns an
	// error saying what it saw. Only the DynamoDB tables are checked, not
	// Stores. Default: 12s.
	JavaFleetCheckWindow time.Duration
	// AllowLiveJavaFleet skips that check: the worker starts even while
	// Java KCL workers run on the same tables, and its leader takes their
	// leases (a Java worker is never a Shardwise worker, so the leader
	// takes their owners for gone). Running both at once is not supported; set it
	// only when you know the Java workers are gone and the check cannot
	// tell (a worker-metrics row written by a skewed clock). Default: false.
	AllowLiveJavaFleet bool

	// WorkerID identifies this worker in the lease table. It must be
	// unique among the application's workers and at most 512 bytes.
	// Default: the host name, a dash and 12 random hex digits.
	WorkerID string
	// Logger receives structured logs. Default: none (no logs).
	Logger zerolog.Logger

	// Metrics receives the worker's metrics, with the Java KCL's names and
	// dimensions (see package metrics). To publish to CloudWatch, pass a
	// publisher from package metrics/cloudwatch (cloudwatch.New). The
	// scheduler does not close a sink it was given; close it after Run
	// returns, so the last interval is published. Default: none (no
	// metrics).
	Metrics metrics.Sink

	// SDKDecoder switches GetRecords responses, and the event streams of
	// SubscribeToShard (FanOut), back to the AWS SDK's own decoders. By
	// default Shardwise decodes them itself, into exactly the output the
	// SDK would produce (proven by differential and fuzz tests) at a
	// fraction of the CPU, checking the event-stream framing and its CRCs;
	// errors, throttling and retries stay the SDK's either way. Default:
	// false.
	SDKDecoder bool

	// FanOut reads the shards with enhanced fan-out (SubscribeToShard:
	// records pushed over HTTP/2 as they are written, 2 MB/s per shard for
	// this application alone) instead of polling with GetRecords. The
	// worker registers the stream consumer ConsumerName (or uses
	// ConsumerARN) when it starts, and never deregisters it. Fan-out is
	// billed per consumer-shard hour and per GB read. Everything above the
	// retrieval (queues, budgets, checkpoints, resharding, hand-offs,
	// metrics) works the same in both modes. A multi-stream application
	// (Streams or StreamTracker) registers ConsumerName on each of its
	// streams, a stream added later when it is first read. Default: false
	// (polling).
	FanOut bool
	// ConsumerARN is the registered stream consumer to read with when
	// FanOut is set; the worker then registers nothing and waits for it to
	// be ACTIVE. Single-stream applications only (a consumer belongs to
	// one stream). Default: none (ConsumerName is registered).
	ConsumerARN string
	// ConsumerName is the stream consumer registered (or found already
	// registered, by this or another worker) when FanOut is set and
	// ConsumerARN is not; the Java KCL names it after the application too,
	// so a Java fleet's consumer is reused. Default: ApplicationName.
	ConsumerName string
	// SubscriptionIdleTimeout: a fan-out subscription that delivers no
	// event for this long is dropped and the shard resubscribed from the
	// last position read (the service sends events on idle shards too, so
	// silence means a stuck connection). Default: 30s.
	SubscriptionIdleTimeout time.Duration

	// MaxRecords is the Limit of each GetRecords call, in records
	// (1..10000). Default: 10000.
	MaxRecords int
	// MinGetRecordsInterval is the least time between two GetRecords calls
	// of one shard; Kinesis allows 5 calls per second per shard.
	// Default: 200ms.
	MinGetRecordsInterval time.Duration
	// IdleTimeBetweenReads is the wait before polling again a shard that
	// returned no records and is caught up. Default: 1s.
	IdleTimeBetweenReads time.Duration
	// MaxPendingRecords bounds one shard's prefetch queue (records fetched
	// but not yet processed), in records. A single batch larger than the
	// bound is still admitted when the queue is empty, so the bound can be
	// exceeded by at most one GetRecords response. Default: 20000.
	MaxPendingRecords int
	// MaxPendingBytes bounds one shard's prefetch queue in bytes of record
	// data, as MaxPendingRecords does in records. Default: 8 MiB.
	MaxPendingBytes int64
	// MaxTotalPendingBytes bounds the prefetched bytes of all shards of
	// this worker together: records fetched and not yet processed, and
	// GetRecords responses being read and decoded (budgeted before each
	// call at 2.5 times the payload expected — the shard's previous
	// response, else the worker's recent ones, else 10 MiB, the most a
	// response holds — then settled at the actual payload). A response
	// bigger than its reservation waits for room while it holds its call
	// slot, so the bound can be exceeded only by responses much larger
	// than their shard's previous one, at most MaxConcurrentFetches of
	// them. With FanOut, a subscription reads an event-stream message only
	// once the budget has room for reading and decoding it (its buffer
	// and 1.5 times its length, settled at its records' bytes once
	// decoded). Default: 256 MiB.
	MaxTotalPendingBytes int64
	// MaxConcurrentFetches bounds GetRecords calls (and so response
	// decodes) in flight across all shards. Their memory is bounded by
	// MaxTotalPendingBytes, so this bound is about CPU: decodes beyond
	// what the cores can run only wait. Measured on 2 cores at 64 shards
	// (the bench command's -throughput-fetches), 8, 16, 32 and 64 calls in
	// flight read 1 KB records at 0.85, 0.82, 0.90 and 1.1 M/s and KPL
	// sub-records at 5.0, 5.5, 5.85 and 5.65 M/s: waiting on the network
	// is part of a call, so more calls than cores pay off.
	// Default: 32*GOMAXPROCS.
	MaxConcurrentFetches int

	// FailoverTime is how long a worker's heartbeat may stand still before
	// its leases are given to other workers (at least 1s).
	// Default: 10s.
	FailoverTime time.Duration
	// HeartbeatInterval is the time between two heartbeats of this worker
	// (one DynamoDB write each, whatever the number of leases). A failed
	// heartbeat is retried at a quarter of it. It must leave room for
	// retries before the fencing deadline (below FailoverTime -
	// FenceMargin). Default: FailoverTime/2.
	HeartbeatInterval time.Duration
	// FenceMargin: a worker whose last successful heartbeat was sent more
	// than FailoverTime - FenceMargin ago stops all its processors before
	// anyone may take its leases. Default: FailoverTime/5.
	FenceMargin time.Duration
	// LeaseDiscoveryInterval is how often the worker reads which leases it
	// owns (a query of the owner index), to start new ones and notice lost
	// ones and hand-off requests; at most HeartbeatInterval.
	// Default: min(500ms, HeartbeatInterval).
	LeaseDiscoveryInterval time.Duration
	// LeaderScanInterval is how often every worker checks the election and
	// the leader reads the worker table; at most FailoverTime/2.
	// Default: FailoverTime/10.
	LeaderScanInterval time.Duration
	// LeaseAssignmentInterval is how often the leader reads the lease
	// table and plans when nothing prompts it sooner.
	// Default: FailoverTime/2.
	LeaseAssignmentInterval time.Duration
	// GracefulHandoffTimeout bounds a graceful hand-off: if the old owner
	// has not finished it by then, the leader completes it.
	// Default: FailoverTime.
	GracefulHandoffTimeout time.Duration
	// LoadSampler, if set, replaces the CPU measurement sent with each
	// heartbeat: it returns this worker's utilization in percent (0-100)
	// of what it may use, or -1 when unknown. Use it to balance on a load
	// figure of your own; it is always sent. Without it a worker sends
	// the CPU use of its cgroup only when the cgroup has a CPU limit (a
	// figure of its own); the host's figure, or an unlimited cgroup's, is
	// shared with other processes and not sent, and the leader balances
	// such workers on throughput and lease counts. The worker logs once
	// at start which signal it is balanced on. Default: none.
	LoadSampler func() float64
	// MaxLeasesForWorker caps the leases the leader gives one worker; 0 is
	// unlimited. Default: 0.
	MaxLeasesForWorker int
	// RebalanceThresholdPercent is how far above the fleet's average load
	// a worker may be before the leader moves leases away from it, in
	// percent of the average (KCL's reBalanceThresholdPercentage).
	// Default: 10.
	RebalanceThresholdPercent float64
	// RebalanceDampeningPercent is the share of the excess load moved in
	// one rebalance, in percent (KCL's dampeningPercentage). Default: 60.
	RebalanceDampeningPercent float64
	// BalanceEvery makes every Nth assignment run balance load variance.
	// Default: 3.
	BalanceEvery int
	// ShardSyncInterval is how often shard sync creates leases for shards
	// that have none. Default: 60s.
	ShardSyncInterval time.Duration
	// ParentPollInterval is how often a child shard waiting for a parent on
	// another worker re-reads the parent's lease. Default: 500ms.
	ParentPollInterval time.Duration

	// ProcessorRetryBackoff is the first wait before a batch whose
	// ProcessRecords failed is offered again; it doubles (with jitter) up
	// to ProcessorRetryMaxBackoff. Default: 100ms.
	ProcessorRetryBackoff time.Duration
	// ProcessorRetryMaxBackoff caps ProcessorRetryBackoff's doubling.
	// Default: 10s.
	ProcessorRetryMaxBackoff time.Duration
	// ThrottleBackoff is the first wait after a throttled or failed
	// GetRecords; it doubles (with jitter) up to ThrottleMaxBackoff.
	// Default: 200ms.
	ThrottleBackoff time.Duration
	// ThrottleMaxBackoff caps ThrottleBackoff's doubling. Default: 5s.
	ThrottleMaxBackoff time.Duration
	// ShutdownTimeout bounds graceful shutdown; past it the processors
	// still running are cancelled and Run returns an error wrapping
	// consumer.ErrShutdownTimeout. Default: 30s.
	ShutdownTimeout time.Duration
	// StallTimeout is how long a processor may hold a batch (one
	// ProcessRecords call, or several when it fails and the batch is
	// offered again) before Healthy reports the shard as stalled. Set it
	// above the longest batch your processor may legitimately take; a
	// negative value turns the check off. Default: 5m.
	StallTimeout time.Duration
}

// withDefaults returns a copy of c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.LeaseTableName == "" {
		c.LeaseTableName = c.ApplicationName
	}
	if c.WorkerMetricsTableName == "" {
		c.WorkerMetricsTableName = c.ApplicationName + "-WorkerMetricStats"
	}
	if c.CoordinatorTableName == "" {
		c.CoordinatorTableName = c.ApplicationName + "-CoordinatorState"
	}
	if c.StreamName == "" && c.StreamARN != "" {
		if a, err := arn.Parse(c.StreamARN); err == nil {
			c.StreamName = strings.TrimPrefix(a.Resource, "stream/")
		}
	}
	if c.WorkerID == "" {
		c.WorkerID = defaultWorkerID()
	}
	setDefault(&c.ConsumerName, c.ApplicationName)
	setDefault(&c.SubscriptionIdleTimeout, 30*time.Second)
	setDefault(&c.FormerStreamLeases, formerKeep)
	setDefault(&c.FormerStreamLeasesWait, time.Hour)
	setDefault(&c.MaxRecords, 10000)
	setDefault(&c.MinGetRecordsInterval, 200*time.Millisecond)
	setDefault(&c.IdleTimeBetweenReads, time.Second)
	setDefault(&c.MaxPendingRecords, 20000)
	setDefault(&c.MaxPendingBytes, 8<<20)
	setDefault(&c.MaxTotalPendingBytes, 256<<20)
	setDefault(&c.MaxConcurrentFetches, defaultConcurrentFetches())
	setDefault(&c.FailoverTime, 10*time.Second)
	setDefault(&c.HeartbeatInterval, c.FailoverTime/2)
	setDefault(&c.FenceMargin, c.FailoverTime/5)
	setDefault(&c.LeaseDiscoveryInterval, min(500*time.Millisecond, c.HeartbeatInterval))
	setDefault(&c.LeaderScanInterval, c.FailoverTime/10)
	setDefault(&c.LeaseAssignmentInterval, c.FailoverTime/2)
	setDefault(&c.GracefulHandoffTimeout, c.FailoverTime)
	setDefault(&c.RebalanceThresholdPercent, 10)
	setDefault(&c.RebalanceDampeningPercent, 60)
	setDefault(&c.BalanceEvery, 3)
	setDefault(&c.ShardSyncInterval, 60*time.Second)
	setDefault(&c.ParentPollInterval, 500*time.Millisecond)
	setDefault(&c.ProcessorRetryBackoff, 100*time.Millisecond)
	setDefault(&c.ProcessorRetryMaxBackoff, 10*time.Second)
	setDefault(&c.ThrottleBackoff, 200*time.Millisecond)
	setDefault(&c.ThrottleMaxBackoff, 5*time.Second)
	setDefault(&c.ShutdownTimeout, 30*time.Second)
	setDefault(&c.StallTimeout, 5*time.Minute)
	setDefault(&c.JavaFleetCheckWindow, 12*time.Second)
	return c
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Validate reports the first invalid field of c (after defaults are
// applied), as a *consumer.ConfigError.
func (c Config) Validate() error {
	return c.withDefaults().validate()
}

func (c Config) validate() error {
	bad := func(field, reason string, args ...any) error {
		return &consumer.ConfigError{Field: field, Reason: fmt.Sprintf(reason, args...)}
	}
	if c.ApplicationName == "" {
		return bad("ApplicationName", "is required")
	}
	for _, t := range []struct{ field, name string }{
		{"LeaseTableName", c.LeaseTableName},
		{"WorkerMetricsTableName", c.WorkerMetricsTableName},
		{"CoordinatorTableName", c.CoordinatorTableName},
	} {
		if !validTableName(t.name) {
			return bad(t.field, "%q is not a valid DynamoDB table name (3-255 of a-z A-Z 0-9 _ - .)", t.name)
		}
	}
	if c.LeaseTableName == c.WorkerMetricsTableName || c.LeaseTableName == c.CoordinatorTableName || c.WorkerMetricsTableName == c.CoordinatorTableName {
		return bad("LeaseTableName", "the lease, worker-metrics and coordinator tables must be three different tables")
	}
	if st := c.Stores; (st.Leases == nil) != (st.Workers == nil) || (st.Leases == nil) != (st.Coordinator == nil) {
		return bad("Stores", "set Leases, Workers and Coordinator together, or none of them")
	}
	if c.multiStream() {
		if c.StreamName != "" || c.StreamARN != "" {
			return bad("Streams", "a multi-stream application (Streams or StreamTracker) takes no StreamName or StreamARN")
		}
		if err := validateStreams("Streams", c.Streams); err != nil {
			return err
		}
	} else if c.StreamName == "" && c.StreamARN == "" {
		return bad("StreamName", "one of StreamName or StreamARN is required (or Streams, or StreamTracker)")
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
	if !c.multiStream() && !validStreamName(c.StreamName) {
		return bad("StreamName", "%q is not a valid stream name (1-128 of a-z A-Z 0-9 _ - .)", c.StreamName)
	}
	switch c.FormerStreamLeases {
	case formerKeep:
	case formerDeleteWhenGone, formerDeleteListed:
		if !c.multiStream() {
			return bad("FormerStreamLeases", "%q needs a multi-stream application (Streams or StreamTracker)", c.FormerStreamLeases)
		}
	default:
		return bad("FormerStreamLeases", "%q is not one of %q, %q, %q", c.FormerStreamLeases, formerKeep, formerDeleteWhenGone, formerDeleteListed)
	}
	if c.FormerStreamLeases == formerDeleteListed && len(c.FormerStreamsToDelete) == 0 {
		return bad("FormerStreamsToDelete", "is empty, so %q would delete nothing", formerDeleteListed)
	}
	if err := c.InitialPosition.Validate(); err != nil {
		return bad("InitialPosition", "%v", err)
	}
	if c.AWSConfig == nil && (c.KinesisClient == nil || (c.DynamoDBClient == nil && c.Stores.Leases == nil)) {
		return bad("AWSConfig", "is required unless KinesisClient and DynamoDBClient (or Stores) are set")
	}
	if strings.TrimSpace(c.WorkerID) != c.WorkerID || len(c.WorkerID) > 512 {
		return bad("WorkerID", "%q must have no surrounding spaces and at most 512 bytes", c.WorkerID)
	}
	if err := c.validateFanOut(); err != nil {
		return err
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
		{"HeartbeatInterval", c.HeartbeatInterval},
		{"FenceMargin", c.FenceMargin},
		{"LeaderScanInterval", c.LeaderScanInterval},
		{"LeaseAssignmentInterval", c.LeaseAssignmentInterval},
		{"GracefulHandoffTimeout", c.GracefulHandoffTimeout},
		{"ShardSyncInterval", c.ShardSyncInterval},
		{"ParentPollInterval", c.ParentPollInterval},
		{"ProcessorRetryBackoff", c.ProcessorRetryBackoff},
		{"ProcessorRetryMaxBackoff", c.ProcessorRetryMaxBackoff},
		{"ThrottleBackoff", c.ThrottleBackoff},
		{"ThrottleMaxBackoff", c.ThrottleMaxBackoff},
		{"ShutdownTimeout", c.ShutdownTimeout},
		{"SubscriptionIdleTimeout", c.SubscriptionIdleTimeout},
		{"FormerStreamLeasesWait", c.FormerStreamLeasesWait},
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
	if c.FenceMargin >= c.FailoverTime {
		return bad("FenceMargin", "%v is not below FailoverTime %v", c.FenceMargin, c.FailoverTime)
	}
	if c.HeartbeatInterval >= c.FailoverTime-c.FenceMargin {
		return bad("HeartbeatInterval", "%v leaves no time to retry before the fencing deadline (FailoverTime %v - FenceMargin %v)", c.HeartbeatInterval, c.FailoverTime, c.FenceMargin)
	}
	if c.LeaseDiscoveryInterval > c.HeartbeatInterval {
		return bad("LeaseDiscoveryInterval", "%v is above HeartbeatInterval %v (a lost lease must be noticed within one heartbeat)", c.LeaseDiscoveryInterval, c.HeartbeatInterval)
	}
	if c.LeaderScanInterval > c.FailoverTime/2 {
		return bad("LeaderScanInterval", "%v is above FailoverTime/2", c.LeaderScanInterval)
	}
	if c.MaxLeasesForWorker < 0 {
		return bad("MaxLeasesForWorker", "%d is negative", c.MaxLeasesForWorker)
	}
	if c.JavaFleetCheckWindow < 0 {
		return bad("JavaFleetCheckWindow", "%v is negative", c.JavaFleetCheckWindow)
	}
	if c.BalanceEvery < 1 {
		return bad("BalanceEvery", "%d is below 1", c.BalanceEvery)
	}
	var pe *consumer.ConfigError
	if err := (balancer.PlanConfig{ThresholdPercent: c.RebalanceThresholdPercent, DampeningPercent: c.RebalanceDampeningPercent}).Validate(); errors.As(err, &pe) {
		return bad("Rebalance"+pe.Field, "%s", pe.Reason)
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

// validateFanOut checks the enhanced fan-out fields.
func (c Config) validateFanOut() error {
	bad := func(field, reason string, args ...any) error {
		return &consumer.ConfigError{Field: field, Reason: fmt.Sprintf(reason, args...)}
	}
	if !c.FanOut {
		if c.ConsumerARN != "" {
			return bad("ConsumerARN", "is set but FanOut is not")
		}
		return nil
	}
	if c.ConsumerARN != "" && c.multiStream() {
		return bad("ConsumerARN", "names the consumer of one stream; a multi-stream application (Streams or StreamTracker) registers ConsumerName on each of its streams")
	}
	if c.ConsumerARN != "" {
		a, err := arn.Parse(c.ConsumerARN)
		stream, _, ok := strings.Cut(strings.TrimPrefix(a.Resource, "stream/"), "/consumer/")
		if err != nil || a.Service != "kinesis" || !strings.HasPrefix(a.Resource, "stream/") || !ok {
			return bad("ConsumerARN", "%q is not a Kinesis stream consumer ARN", c.ConsumerARN)
		}
		if stream != c.StreamName {
			return bad("ConsumerARN", "is a consumer of stream %q but StreamName is %q", stream, c.StreamName)
		}
		return nil
	}
	if !validStreamName(c.ConsumerName) {
		return bad("ConsumerName", "%q is not a valid consumer name (1-128 of a-z A-Z 0-9 _ - .)", c.ConsumerName)
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

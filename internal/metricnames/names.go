package metricnames

// Dimension names, as the Java KCL spells them.
const (
	// DimensionOperation names the component that recorded a metric
	// (one of the Operation* values). Always published.
	DimensionOperation = "Operation"
	// DimensionShardID is the shard (lease key) a per-shard metric is
	// about.
	DimensionShardID = "ShardId"
	// DimensionWorkerIdentifier is the worker that recorded a metric.
	// KCL publishes it only when configured to, and so does Shardwise.
	DimensionWorkerIdentifier = "WorkerIdentifier"
)

// Operation dimension values used by the Java KCL (those Shardwise records
// under), so dashboards and alarms written for a KCL application keep
// matching.
const (
	// OperationProcessTask: per-shard retrieval and processing (records
	// and bytes processed, lag, processRecords time, GetRecords success and
	// time, expired iterators).
	OperationProcessTask = "ProcessTask"
	// OperationRenewAllLeases: the worker's lease liveness pass
	// (CurrentLeases, LostLeases), with WorkerIdentifier.
	OperationRenewAllLeases = "RenewAllLeases"
	// OperationLeaseAssignmentManager: the leader's assignment run
	// (TotalLeases, NumWorkers, ExpiredLeases, NumOfLeasesReassignment).
	OperationLeaseAssignmentManager = "LeaseAssignmentManager"
	// OperationLeaderDecider: leader checks (LeaderDecider:IsLeader).
	OperationLeaderDecider = "LeaderDecider"
)

// Metric names published by the Java KCL, with the operation and level it
// records them at.
const (
	// MetricRecordsProcessed: records handed to the processor per batch
	// (ProcessTask, SUMMARY, Count).
	MetricRecordsProcessed = "RecordsProcessed"
	// MetricDataBytesProcessed: bytes of record data handed to the
	// processor (ProcessTask, SUMMARY, Bytes).
	MetricDataBytesProcessed = "DataBytesProcessed"
	// MetricMillisBehindLatest: how far the last GetRecords response was
	// behind the tip of the shard (ProcessTask, SUMMARY, Milliseconds).
	MetricMillisBehindLatest = "MillisBehindLatest"
	// MetricProcessRecordsTime: time spent in the processor's
	// ProcessRecords (ProcessTask, SUMMARY, Milliseconds).
	MetricProcessRecordsTime = "RecordProcessor.processRecords.Time"
	// MetricProcessTaskSuccess: outcome (1/0) of one processing task
	// (ProcessTask, SUMMARY, Count).
	MetricProcessTaskSuccess = "Success"
	// MetricGetRecordsSuccess / MetricGetRecordsTime: outcome (1/0) and
	// latency of each GetRecords call (ProcessTask, DETAILED).
	MetricGetRecordsSuccess = "KinesisDataFetcher.getRecords.Success"
	MetricGetRecordsTime    = "KinesisDataFetcher.getRecords.Time"
	// MetricExpiredIterator: GetRecords calls that found the iterator
	// expired (ProcessTask, SUMMARY, Count).
	MetricExpiredIterator = "ExpiredIterator"
	// MetricCurrentLeases / MetricLostLeases: leases the worker holds and
	// lost, per liveness pass (RenewAllLeases, SUMMARY, Count).
	MetricCurrentLeases = "CurrentLeases"
	MetricLostLeases    = "LostLeases"
	// MetricTotalLeases, MetricNumWorkers, MetricExpiredLeases,
	// MetricNumOfLeasesReassignment: the leader's view per assignment run
	// (LeaseAssignmentManager, SUMMARY, Count).
	MetricTotalLeases             = "TotalLeases"
	MetricNumWorkers              = "NumWorkers"
	MetricExpiredLeases           = "ExpiredLeases"
	MetricNumOfLeasesReassignment = "NumOfLeasesReassignment"
	// MetricIsLeader: 1 when the worker is the leader at a check, else 0
	// (LeaderDecider, DETAILED, Count).
	MetricIsLeader = "LeaderDecider:IsLeader"
)

// Metrics of Shardwise's own, for what the Java KCL does not measure.
// They use the same dimensions.
const (
	// MetricHandoffTime: from the leader's hand-off request to the
	// transfer completing (per shard, SUMMARY, Milliseconds).
	MetricHandoffTime = "LeaseHandoff.Time"
	// MetricGetRecordsThrottled: GetRecords calls throttled
	// (ProcessTask, SUMMARY, Count).
	MetricGetRecordsThrottled = "KinesisDataFetcher.getRecords.Throttled"
	// MetricProcessRecordsRetries: batches offered again after the
	// processor failed or panicked (ProcessTask, SUMMARY, Count).
	MetricProcessRecordsRetries = "RecordProcessor.processRecords.Retries"
	// MetricOldestUncheckpointedRecordAge: age of the oldest record
	// fetched from the shard and not yet checkpointed, 0 when none is,
	// per heartbeat (ProcessTask, DETAILED, Milliseconds).
	MetricOldestUncheckpointedRecordAge = "OldestUncheckpointedRecordAge"
	// MetricMaxOldestUncheckpointedRecordAge: the largest of the worker's
	// OldestUncheckpointedRecordAge, per heartbeat (RenewAllLeases,
	// SUMMARY, Milliseconds).
	MetricMaxOldestUncheckpointedRecordAge = "MaxOldestUncheckpointedRecordAge"
	// MetricMaxMillisBehindLatest: the largest MillisBehindLatest of the
	// worker's shards (each shard's last GetRecords response), per
	// heartbeat (RenewAllLeases, SUMMARY, Milliseconds).
	MetricMaxMillisBehindLatest = "MaxMillisBehindLatest"
	// MetricUnreadableLeaseItems: lease-table items skipped by a listing
	// because an attribute had an unexpected type, per listing
	// (RenewAllLeases, SUMMARY, Count).
	MetricUnreadableLeaseItems = "UnreadableLeaseItems"
)

// Multi-stream metrics and dimensions.
const (
	// DimensionStreamID is the serialized stream identifier
	// ("<account>:<stream>:<creationEpoch>") a per-shard metric is about,
	// added next to ShardId in multi-stream mode, as the Java KCL does.
	DimensionStreamID = "StreamId"
	// MetricUnknownLeases: leases found (by shard sync or lease discovery)
	// whose key this worker does not consume — malformed, of another
	// stream, or of the other (single/multi-stream) form — and so leaves
	// untouched (RenewAllLeases, SUMMARY, Count). Shardwise's own.
	MetricUnknownLeases = "UnknownLeases"
)

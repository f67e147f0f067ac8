// Package metrics is the interface between Shardwise and a metrics backend:
// the Sink a scheduler records into (scheduler.Config.Metrics), KCL's
// levels (NONE, SUMMARY, DETAILED), a no-op sink (Nop) and an in-memory sink
// for tests (Memory).
//
// The CloudWatch publisher is in package metrics/cloudwatch, so a program
// that does not publish to CloudWatch does not compile its client; the
// OpenTelemetry and Prometheus adapters are in metrics/otelmetrics and
// metrics/prommetrics for the same reason. To send metrics elsewhere
// (StatsD, say), implement Sink.
//
// # What Shardwise records
//
// The scheduler records the Java KCL's metric names, units and dimensions,
// so dashboards and alarms built for a KCL application keep working, plus
// metrics of its own (marked *). Every metric carries the Operation
// dimension and WorkerIdentifier (the worker's id); ProcessTask metrics also
// carry ShardId (the shard id) and, in a multi-stream application, StreamId
// (the stream's "<account>:<stream>:<creationEpoch>", as the Java KCL adds
// it). The CloudWatch publisher, like KCL,
// publishes only Operation and ShardId unless configured otherwise.
//
//	Metric                                   Operation               Level     Unit
//	RecordsProcessed                         ProcessTask             SUMMARY   Count         records handed to the processor, per batch
//	DataBytesProcessed                       ProcessTask             SUMMARY   Bytes         bytes of record data handed to the processor, per batch
//	MillisBehindLatest                       ProcessTask             SUMMARY   Milliseconds  how far the batch's GetRecords response was behind the tip of the shard
//	RecordProcessor.processRecords.Time      ProcessTask             SUMMARY   Milliseconds  time spent in the processor's ProcessRecords
//	Success                                  ProcessTask             SUMMARY   Count         1 when ProcessRecords succeeded, 0 when it failed
//	RecordProcessor.processRecords.Retries*  ProcessTask             SUMMARY   Count         batches offered again after the processor failed or panicked
//	LeaseHandoff.Time*                       ProcessTask             SUMMARY   Milliseconds  from the leader's hand-off request to the transfer completing
//	ExpiredIterator                          ProcessTask             SUMMARY   Count         GetRecords calls that found the iterator expired
//	KinesisDataFetcher.getRecords.Throttled* ProcessTask             SUMMARY   Count         GetRecords calls throttled
//	OldestUncheckpointedRecordAge*           ProcessTask             DETAILED  Milliseconds  age of the oldest record fetched and not yet checkpointed (0 when none), per heartbeat
//	KinesisDataFetcher.getRecords.Success    ProcessTask             DETAILED  Count         1 per GetRecords call that succeeded, 0 per failure
//	KinesisDataFetcher.getRecords.Time       ProcessTask             DETAILED  Milliseconds  latency of each GetRecords call
//	CurrentLeases                            RenewAllLeases          SUMMARY   Count         leases the worker holds, per liveness pass
//	LostLeases                               RenewAllLeases          SUMMARY   Count         leases the worker lost since the previous pass
//	MaxMillisBehindLatest*                   RenewAllLeases          SUMMARY   Milliseconds  the largest MillisBehindLatest of the worker's shards (last response each), per heartbeat
//	MaxOldestUncheckpointedRecordAge*        RenewAllLeases          SUMMARY   Milliseconds  the largest OldestUncheckpointedRecordAge of the worker's shards, per heartbeat
//	UnreadableLeaseItems*                    RenewAllLeases          SUMMARY   Count         lease-table items a listing skipped because an attribute had an unexpected type
//	UnknownLeases*                           RenewAllLeases          SUMMARY   Count         leases found (shard sync, discovery) whose key this worker does not consume, left untouched
//	TotalLeases                              LeaseAssignmentManager  SUMMARY   Count         leases in the table, per assignment run (leader only)
//	NumWorkers                               LeaseAssignmentManager  SUMMARY   Count         live workers, per assignment run (leader only)
//	ExpiredLeases                            LeaseAssignmentManager  SUMMARY   Count         leases held by workers found dead, per run (leader only)
//	NumOfLeasesReassignment                  LeaseAssignmentManager  SUMMARY   Count         leases the run assigned or moved (leader only)
//	LeaderDecider:IsLeader                   LeaderDecider           DETAILED  Count         1 when the worker is the leader at a check, else 0
//
// The ".Success" metrics are 1 or 0 per attempt, so their average is the
// success rate, as in KCL.
//
// # What it must not do
//
//   - Block or slow a record processor. Record never waits for the network;
//     a sink that cannot keep an observation drops and counts it. A sink's
//     level check is two comparisons, without locks or allocations.
//   - Depend on the rest of Shardwise: the scheduler and the balancer
//     import it, never the reverse.
//   - Log through a global logger or per observation.
package metrics

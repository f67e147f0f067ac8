// Package otelmetrics is a metrics.Sink that records Shardwise's metrics
// into OpenTelemetry instruments (go.opentelemetry.io/otel/metric), on a
// MeterProvider the program configures with its own readers and exporters.
//
// It lives apart from package metrics so that a program that does not use
// OpenTelemetry does not compile it; the scheduler never imports it.
//
// # Usage
//
//	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)) // go.opentelemetry.io/otel/sdk/metric
//	sink, err := otelmetrics.New(otelmetrics.Config{
//		MeterProvider: provider,
//		Level:         metrics.LevelSummary, // no per-shard series
//	})
//	if err != nil {
//		return err
//	}
//	cfg.Metrics = sink // scheduler.Config
//	// after Run returns:
//	sink.Close(ctx)
//	provider.Shutdown(ctx) // exports what is pending
//
// # Names
//
// The Java KCL's metric names are CamelCase and carry their unit in the
// name (MillisBehindLatest); OpenTelemetry's are lowercase, dotted, and
// carry the unit apart, in UCUM. Every instrument is under the "shardwise."
// namespace: OpenTelemetry reserves unprefixed and well-known namespaces
// (such as "messaging." or "aws.") for its semantic conventions, whose
// definitions these metrics do not follow exactly, so an instrumentation
// library names its own instruments after itself. Durations are in seconds
// ("s"), as the semantic conventions require, so the
// OpenTelemetry-to-Prometheus exporters produce the same "_seconds" names
// as package prommetrics. To rename, use a View of the SDK.
//
//	KCL metric                              OTel instrument                             kind       unit
//	RecordsProcessed                        shardwise.records.processed                 counter    {record}
//	DataBytesProcessed                      shardwise.data.processed                    counter    By
//	MillisBehindLatest                      shardwise.behind_latest                     gauge      s
//	OldestUncheckpointedRecordAge           shardwise.oldest_uncheckpointed_record.age  gauge      s
//	MaxMillisBehindLatest                   shardwise.behind_latest.max                 gauge      s
//	MaxOldestUncheckpointedRecordAge        shardwise.oldest_uncheckpointed_record.max_age  gauge  s
//	RecordProcessor.processRecords.Time     shardwise.process_records.duration          histogram  s
//	Success                                 shardwise.process_records.calls             counter    {call}
//	RecordProcessor.processRecords.Retries  shardwise.process_records.retries           counter    {batch}
//	LeaseHandoff.Time                       shardwise.lease.handoff.duration            histogram  s
//	ExpiredIterator                         shardwise.get_records.expired_iterators     counter    {call}
//	KinesisDataFetcher.getRecords.Throttled shardwise.get_records.throttled             counter    {call}
//	KinesisDataFetcher.getRecords.Success   shardwise.get_records.calls                 counter    {call}
//	KinesisDataFetcher.getRecords.Time      shardwise.get_records.duration              histogram  s
//	CurrentLeases                           shardwise.leases.held                       gauge      {lease}
//	LostLeases                              shardwise.leases.lost                       counter    {lease}
//	UnknownLeases                           shardwise.leases.unknown                    counter    {lease}
//	TotalLeases                             shardwise.lease_table.leases                gauge      {lease}
//	UnreadableLeaseItems                    shardwise.lease_table.unreadable_items      gauge      {item}
//	NumWorkers                              shardwise.workers                           gauge      {worker}
//	ExpiredLeases                           shardwise.leases.expired                    gauge      {lease}
//	NumOfLeasesReassignment                 shardwise.leases.reassigned                 counter    {lease}
//	LeaderDecider:IsLeader                  shardwise.leader                            gauge      {leader}
//
// A counter adds each observation (records, bytes, calls). The KCL
// ".Success" metrics, 1 or 0 per attempt, become counters of attempts with
// the attribute outcome="success" or "failure", so the success rate is one
// series divided by the sum. A gauge is the last value recorded (a
// synchronous Float64Gauge). A histogram takes every observation, with
// bucket bounds from 1 ms to 120 s given as the instrument's advice.
//
// A metric not in the table (one added to Shardwise later) is exported
// all the same, as a histogram named "shardwise." plus its name in snake
// case, its unit converted ("Foo.barCount" becomes shardwise.foo.bar_count;
// "Foo.fetchTime" in milliseconds becomes shardwise.foo.fetch_duration, in
// seconds).
//
// # Attributes and cardinality
//
// Dimensions become attributes: Operation is "operation", WorkerIdentifier
// "worker.id", ShardId "shard.id"; another dimension keeps its name in
// snake case. The shard.id attribute is kept only when the sink's Level is
// metrics.LevelDetailed: at LevelSummary a worker has one series per metric
// whatever the number of shards it holds. A per-shard gauge then reports
// the largest of its shards' last values (the worst lag), as KCL's Maximum
// statistic over the shards would.
//
// A gauge keeps the last value recorded for its series, as OpenTelemetry's
// synchronous gauges do: the lag of a shard this worker no longer holds
// stays at its last value.
//
// # What it must not do
//
//   - Block or allocate on the recording path once a series exists: the
//     instruments and attribute sets of each (metric, dimensions) pair are
//     built at its first observation and kept.
//   - Drop a metric silently or panic on an unexpected name, unit or value:
//     unknown names get the generic mapping, and values an instrument cannot
//     take are counted (sink.Dropped).
//   - Shut down the MeterProvider: its owner does.
package otelmetrics

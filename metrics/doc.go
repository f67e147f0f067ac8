// Package metrics is Shardwise's metrics layer: a small Sink interface with
// KCL's levels (NONE, SUMMARY, DETAILED), a Scope that binds dimensions
// once, a no-op sink (Nop), an in-memory sink (Memory) and a CloudWatch
// publisher (CloudWatch), plus the metric, dimension and operation names the
// Java KCL publishes, so that dashboards and alarms built for a KCL
// application keep working.
//
// # What it owns
//
//   - Aggregation: observations of one metric name, unit and dimension set
//     are folded into a statistic set (SampleCount, Sum, Minimum, Maximum)
//     per flush interval, as KCL does, so the cost and the CloudWatch bill
//     do not grow with the record rate.
//   - Publishing to CloudWatch: batched PutMetricData within the service's
//     limits (1000 datums and 1 MB per request, 30 dimensions per metric),
//     sent by one background goroutine from a bounded queue, retried with
//     backoff on throttling, flushed on Close. Drops are counted and logged
//     at most once per interval.
//
// # What it must not do
//
//   - Block or slow a record processor. Record never waits for the network;
//     when the queue is full it drops and counts. A sink's level check is two
//     comparisons, without locks or allocations.
//   - Depend on the rest of Shardwise. It imports only the standard library,
//     the CloudWatch client, smithy-go and zerolog; the scheduler and the
//     balancer import it, never the reverse.
//   - Log through a global logger or per observation.
//
// # Wiring
//
// A component makes one Scope per unit of work when that unit starts (a
// shard consumer: Operation=ProcessTask plus ShardId; the lease liveness
// loop: Operation=RenewAllLeases plus WorkerIdentifier) and records through
// it a handful of times per GetRecords call and per batch, never per
// record:
//
//	scope := metrics.NewScope(sink,
//		metrics.Dimension{Name: metrics.DimensionOperation, Value: metrics.OperationProcessTask},
//		metrics.Dimension{Name: metrics.DimensionShardID, Value: shardID})
//	scope.Count(metrics.MetricRecordsProcessed, int64(len(batch)), metrics.LevelSummary)
//	scope.Value(metrics.MetricMillisBehindLatest, float64(lag), metrics.UnitMilliseconds, metrics.LevelSummary)
//	scope.Time(metrics.MetricProcessRecordsTime, elapsed, metrics.LevelSummary)
//
// The scheduler owns the sink and closes it last on shutdown, after the
// processors have stopped, so their final observations are published.
package metrics

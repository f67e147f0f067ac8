// Package prommetrics is a metrics.Sink that records Shardwise's metrics
// into Prometheus collectors (github.com/prometheus/client_golang),
// registered on a Registerer the program serves with promhttp.
//
// It lives apart from package metrics so that a program that does not use
// Prometheus does not compile its client; the scheduler never imports it.
//
// # Usage
//
//	reg := prometheus.NewRegistry() // or prometheus.DefaultRegisterer
//	sink, err := prommetrics.New(prommetrics.Config{
//		Registerer: reg,
//		Level:      metrics.LevelSummary, // no per-shard series
//	})
//	if err != nil {
//		return err
//	}
//	cfg.Metrics = sink // scheduler.Config
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Each metric is registered when it is first recorded, so a metric the
// worker never records (the leader's, on a worker that never leads) does
// not appear.
//
// # Names
//
// The Java KCL's metric names are CamelCase and carry their unit in the
// name (MillisBehindLatest); Prometheus's are snake_case under a namespace,
// with the base unit as a suffix ("_seconds", "_bytes") and "_total" on
// counters. The namespace is "shardwise_"; durations are converted from
// KCL's milliseconds to seconds. To add a prefix or constant labels, wrap
// the Registerer (prometheus.WrapRegistererWithPrefix, WrapRegistererWith).
// They are also the names OpenTelemetry's Prometheus exporter derives
// (with its default suffixes) from the instruments of package otelmetrics,
// so one dashboard serves either way of exporting.
//
//	KCL metric                              Prometheus metric                                   type
//	RecordsProcessed                        shardwise_records_processed_total                   counter
//	DataBytesProcessed                      shardwise_data_processed_bytes_total                counter
//	MillisBehindLatest                      shardwise_behind_latest_seconds                     gauge
//	OldestUncheckpointedRecordAge           shardwise_oldest_uncheckpointed_record_age_seconds  gauge
//	MaxMillisBehindLatest                   shardwise_behind_latest_max_seconds                 gauge
//	MaxOldestUncheckpointedRecordAge        shardwise_oldest_uncheckpointed_record_max_age_seconds  gauge
//	RecordProcessor.processRecords.Time     shardwise_process_records_duration_seconds          histogram
//	Success                                 shardwise_process_records_calls_total               counter
//	RecordProcessor.processRecords.Retries  shardwise_process_records_retries_total             counter
//	LeaseHandoff.Time                       shardwise_lease_handoff_duration_seconds            histogram
//	ExpiredIterator                         shardwise_get_records_expired_iterators_total       counter
//	KinesisDataFetcher.getRecords.Throttled shardwise_get_records_throttled_total               counter
//	KinesisDataFetcher.getRecords.Success   shardwise_get_records_calls_total                   counter
//	KinesisDataFetcher.getRecords.Time      shardwise_get_records_duration_seconds              histogram
//	CurrentLeases                           shardwise_leases_held                               gauge
//	LostLeases                              shardwise_leases_lost_total                         counter
//	UnknownLeases                           shardwise_leases_unknown_total                      counter
//	TotalLeases                             shardwise_lease_table_leases                        gauge
//	UnreadableLeaseItems                    shardwise_lease_table_unreadable_items              gauge
//	NumWorkers                              shardwise_workers                                   gauge
//	ExpiredLeases                           shardwise_leases_expired                            gauge
//	NumOfLeasesReassignment                 shardwise_leases_reassigned_total                   counter
//	LeaderDecider:IsLeader                  shardwise_leader                                    gauge
//
// A counter adds each observation (records, bytes, calls). The KCL
// ".Success" metrics, 1 or 0 per attempt, become counters of attempts with
// the label outcome="success" or "failure", so the success rate is
// rate(..._total{outcome="success"}) over the sum of both. A gauge is the
// last value recorded.
//
// Durations are histograms, not summaries: a histogram's buckets add up
// across shards and workers (histogram_quantile over a sum by le), while a
// summary's quantiles cannot be aggregated; and observing into a histogram
// is a few atomic additions, where a summary takes a lock and maintains
// quantile streams. The buckets run from 1 ms to 120 s (1, 2.5, 5, 10, 25,
// 50, 100, 250, 500 ms, 1, 2.5, 5, 10, 30, 60, 120 s), covering a fast
// GetRecords up to a slow processor or a hand-off.
//
// A metric not in the table (one added to Shardwise later) is exported
// all the same, as a histogram named "shardwise_" plus its name in snake
// case with its unit's suffix ("Foo.barCount" becomes
// shardwise_foo_bar_count; "Foo.fetchTime" in milliseconds becomes
// shardwise_foo_fetch_duration_seconds, in seconds); counts and sizes get
// buckets at the powers of four up to 16 Mi.
//
// # Labels and cardinality
//
// Dimensions become labels: Operation is "operation", WorkerIdentifier
// "worker_id", ShardId "shard_id"; another dimension keeps its name in
// snake case. The shard_id label is kept only when the sink's Level is
// metrics.LevelDetailed: at LevelSummary a worker has one series per metric
// whatever the number of shards it holds. A per-shard gauge then reports
// the largest of its shards' last values (the worst lag), as KCL's Maximum
// statistic over the shards would.
//
// Prometheus requires one set of label names per metric: a metric's are
// fixed by its first observation (for Shardwise's own metrics, always the
// same dimensions); a later observation without one of them leaves it
// empty, and a dimension outside the set is not exported.
//
// A gauge keeps the last value recorded for its series: the lag of a shard
// this worker no longer holds stays at its last value.
//
// # What it must not do
//
//   - Block or allocate on the recording path once a series exists: its
//     labelled child collector is resolved at its first observation and
//     kept.
//   - Drop a metric silently or panic on an unexpected name, unit, label
//     value or registration conflict: unknown names get the generic
//     mapping; what cannot be exported is counted (sink.Dropped), and
//     registration failures are returned by Close.
//   - Unregister its collectors: the last values stay readable after Run
//     returns, and a new sink on the same Registerer shares them.
package prommetrics

// Package metricmap maps the Java KCL's metric names, units and dimensions
// to OpenTelemetry's and Prometheus's naming rules, for the adapters in
// metrics/otelmetrics and metrics/prommetrics. The table here is the one
// their package documentation shows (a test keeps them in step).
//
// It also holds what both adapters do the same way: the copy-on-write
// series cache that keeps Record free of locks and allocations once a
// series exists, and the per-worker maximum a gauge folds its shards into
// when per-shard series are not published.
package metricmap

import (
	"math"
	"strings"
	"unicode/utf8"

	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/metrics"
)

// Kind is how a metric is exported.
type Kind int8

const (
	// Histogram: each observation is one sample of a distribution
	// (durations, and every metric not in the table).
	Histogram Kind = iota
	// Counter: each observation adds its value to a running total.
	Counter
	// Gauge: each observation replaces the current level.
	Gauge
	// Outcome: a KCL ".Success" metric (1 or 0 per attempt), exported as
	// a counter of attempts with an outcome attribute, success or failure.
	Outcome
)

func (k Kind) String() string {
	switch k {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	case Outcome:
		return "counter"
	}
	return "histogram"
}

// Metric says how one KCL metric is exported.
type Metric struct {
	Kind Kind
	// OTel is the OpenTelemetry instrument name and OTelUnit its UCUM unit.
	OTel, OTelUnit string
	// Prom is the Prometheus metric name, with its base-unit suffix and,
	// for counters, "_total".
	Prom string
	// Help describes the metric (both ecosystems' description).
	Help string
	// Scale converts a recorded value to the exported unit
	// (milliseconds to seconds: 0.001).
	Scale float64
	// Buckets are the histogram's upper bounds in the exported unit.
	Buckets []float64
}

// SecondsBuckets are the histogram bounds of durations, in seconds: from a
// millisecond (a fast GetRecords) to two minutes (a slow processor or a
// hand-off waiting for a checkpoint).
var SecondsBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// SizeBuckets are the histogram bounds of other values (counts, bytes):
// powers of four from 1 to 4^12 (16 Mi).
var SizeBuckets = func() []float64 {
	b := make([]float64, 13)
	for i := range b {
		b[i] = math.Pow(4, float64(i))
	}
	return b
}()

const msToS = 0.001

// table is the mapping of every metric Shardwise records.
var table = map[string]Metric{
	metricnames.MetricRecordsProcessed: {Counter, "shardwise.records.processed", "{record}", "shardwise_records_processed_total",
		"Records handed to the record processor.", 1, nil},
	metricnames.MetricDataBytesProcessed: {Counter, "shardwise.data.processed", "By", "shardwise_data_processed_bytes_total",
		"Bytes of record data handed to the record processor.", 1, nil},
	metricnames.MetricMillisBehindLatest: {Gauge, "shardwise.behind_latest", "s", "shardwise_behind_latest_seconds",
		"How far the last processed GetRecords response was behind the tip of the shard (KCL MillisBehindLatest).", msToS, nil},
	metricnames.MetricOldestUncheckpointedRecordAge: {Gauge, "shardwise.oldest_uncheckpointed_record.age", "s", "shardwise_oldest_uncheckpointed_record_age_seconds",
		"Age of the oldest record this worker fetched and has not checkpointed.", msToS, nil},
	metricnames.MetricMaxOldestUncheckpointedRecordAge: {Gauge, "shardwise.oldest_uncheckpointed_record.max_age", "s", "shardwise_oldest_uncheckpointed_record_max_age_seconds",
		"The largest OldestUncheckpointedRecordAge of the worker's shards.", msToS, nil},
	metricnames.MetricMaxMillisBehindLatest: {Gauge, "shardwise.behind_latest.max", "s", "shardwise_behind_latest_max_seconds",
		"The largest MillisBehindLatest of the worker's shards.", msToS, nil},
	metricnames.MetricUnreadableLeaseItems: {Gauge, "shardwise.lease_table.unreadable_items", "{item}", "shardwise_lease_table_unreadable_items",
		"Lease-table items the last listing skipped because an attribute had an unexpected type.", 1, nil},
	metricnames.MetricProcessRecordsTime: {Histogram, "shardwise.process_records.duration", "s", "shardwise_process_records_duration_seconds",
		"Time spent in the record processor's ProcessRecords.", msToS, SecondsBuckets},
	metricnames.MetricProcessTaskSuccess: {Outcome, "shardwise.process_records.calls", "{call}", "shardwise_process_records_calls_total",
		"ProcessRecords calls, by outcome (KCL Success).", 1, nil},
	metricnames.MetricProcessRecordsRetries: {Counter, "shardwise.process_records.retries", "{batch}", "shardwise_process_records_retries_total",
		"Batches offered again after the processor failed or panicked.", 1, nil},
	metricnames.MetricHandoffTime: {Histogram, "shardwise.lease.handoff.duration", "s", "shardwise_lease_handoff_duration_seconds",
		"From the leader's hand-off request to the lease transfer completing.", msToS, SecondsBuckets},
	metricnames.MetricExpiredIterator: {Counter, "shardwise.get_records.expired_iterators", "{call}", "shardwise_get_records_expired_iterators_total",
		"GetRecords calls that found the shard iterator expired.", 1, nil},
	metricnames.MetricGetRecordsThrottled: {Counter, "shardwise.get_records.throttled", "{call}", "shardwise_get_records_throttled_total",
		"GetRecords calls throttled.", 1, nil},
	metricnames.MetricGetRecordsSuccess: {Outcome, "shardwise.get_records.calls", "{call}", "shardwise_get_records_calls_total",
		"GetRecords calls, by outcome (KCL KinesisDataFetcher.getRecords.Success).", 1, nil},
	metricnames.MetricGetRecordsTime: {Histogram, "shardwise.get_records.duration", "s", "shardwise_get_records_duration_seconds",
		"Latency of GetRecords calls.", msToS, SecondsBuckets},
	metricnames.MetricCurrentLeases: {Gauge, "shardwise.leases.held", "{lease}", "shardwise_leases_held",
		"Leases the worker holds (KCL CurrentLeases).", 1, nil},
	metricnames.MetricLostLeases: {Counter, "shardwise.leases.lost", "{lease}", "shardwise_leases_lost_total",
		"Leases the worker lost.", 1, nil},
	metricnames.MetricUnknownLeases: {Counter, "shardwise.leases.unknown", "{lease}", "shardwise_leases_unknown_total",
		"Leases found whose key this worker does not consume (another stream's, malformed, the other key form), left untouched.", 1, nil},
	metricnames.MetricTotalLeases: {Gauge, "shardwise.lease_table.leases", "{lease}", "shardwise_lease_table_leases",
		"Leases in the lease table, seen by the leader (KCL TotalLeases).", 1, nil},
	metricnames.MetricNumWorkers: {Gauge, "shardwise.workers", "{worker}", "shardwise_workers",
		"Live workers, seen by the leader (KCL NumWorkers).", 1, nil},
	metricnames.MetricExpiredLeases: {Gauge, "shardwise.leases.expired", "{lease}", "shardwise_leases_expired",
		"Leases held by workers found dead, seen by the leader (KCL ExpiredLeases).", 1, nil},
	metricnames.MetricNumOfLeasesReassignment: {Counter, "shardwise.leases.reassigned", "{lease}", "shardwise_leases_reassigned_total",
		"Leases the leader assigned or moved (KCL NumOfLeasesReassignment).", 1, nil},
	metricnames.MetricIsLeader: {Gauge, "shardwise.leader", "{leader}", "shardwise_leader",
		"1 when the worker is the leader, else 0 (KCL LeaderDecider:IsLeader).", 1, nil},
}

// Known returns the table's mapping of a KCL metric name.
func Known(name string) (Metric, bool) {
	m, ok := table[name]
	return m, ok
}

// Names returns the KCL names in the table (in no order).
func Names() []string {
	out := make([]string, 0, len(table))
	for n := range table {
		out = append(out, n)
	}
	return out
}

// Lookup returns the mapping of name recorded in unit: the table's row,
// or for a name not in it a histogram named after it, so that a metric
// added later is exported, never dropped.
//
// The generic name is "shardwise." plus the KCL name in snake case, dots
// kept ("Foo.barCount" -> "shardwise.foo.bar_count"); in a duration's
// name a final "time" becomes "duration" ("Foo.Time" ->
// "shardwise.foo.duration"). Prometheus's name replaces the dots with
// underscores and adds the base unit ("_seconds", "_bytes").
func Lookup(name string, unit metrics.Unit) Metric {
	if m, ok := table[name]; ok {
		return m
	}
	parts := strings.FieldsFunc(name, func(r rune) bool { return r == '.' || r == ':' || r == '/' })
	for i, p := range parts {
		parts[i] = Snake(p)
	}
	m := Metric{Kind: Histogram, Scale: 1, Buckets: SizeBuckets,
		Help: "Shardwise metric " + name + " (" + string(unit) + "), not in the adapter's table."}
	suffix := ""
	switch unit {
	case metrics.UnitMilliseconds, "Seconds", "Microseconds":
		m.OTelUnit, suffix, m.Buckets = "s", "_seconds", SecondsBuckets
		switch unit {
		case metrics.UnitMilliseconds:
			m.Scale = msToS
		case "Microseconds":
			m.Scale = 1e-6
		}
		if n := len(parts); n > 0 && (parts[n-1] == "time" || strings.HasSuffix(parts[n-1], "_time")) {
			parts[n-1] = strings.TrimSuffix(parts[n-1], "time") + "duration"
		}
	case metrics.UnitBytes:
		m.OTelUnit, suffix = "By", "_bytes"
	case metrics.UnitCount:
		m.OTelUnit = "{count}"
	case "Percent":
		m.OTelUnit, suffix = "%", "_percent"
	}
	if len(parts) == 0 {
		parts = []string{"unnamed"}
	}
	m.OTel = "shardwise." + strings.Join(parts, ".")
	m.Prom = promName("shardwise_"+strings.Join(parts, "_"), suffix)
	return m
}

// promName makes s a valid Prometheus metric name ending in suffix.
func promName(s, suffix string) string {
	s = sanitize(s)
	if suffix != "" && !strings.HasSuffix(s, suffix) {
		s += suffix
	}
	return s
}

// sanitize replaces what Prometheus's classic name rules do not allow
// ([a-zA-Z_][a-zA-Z0-9_]*) with underscores.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// Snake converts a KCL name part to snake case: "processRecords" ->
// "process_records", "GetRecordsHTTPTime" -> "get_records_http_time".
// Characters other than ASCII letters and digits become underscores, so
// the result is a valid part of both ecosystems' names.
func Snake(s string) string {
	upper := func(c byte) bool { return c >= 'A' && c <= 'Z' }
	lower := func(c byte) bool { return c >= 'a' && c <= 'z' }
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	var b strings.Builder
	for i, r := range s {
		if r >= utf8.RuneSelf {
			b.WriteByte('_')
			continue
		}
		c := byte(r)
		switch {
		case upper(c):
			if i > 0 && (lower(s[i-1]) || digit(s[i-1]) || upper(s[i-1]) && i+1 < len(s) && lower(s[i+1])) {
				b.WriteByte('_')
			}
			b.WriteByte(c + 'a' - 'A')
		case lower(c) || digit(c):
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Attribute names of the dimensions Shardwise records.
var attrs = map[string][2]string{ // dimension -> {OTel, Prometheus}
	metricnames.DimensionOperation:        {"operation", "operation"},
	metricnames.DimensionShardID:          {"shard.id", "shard_id"},
	metricnames.DimensionWorkerIdentifier: {"worker.id", "worker_id"},
	metricnames.DimensionStreamID:         {"stream.id", "stream_id"},
}

// Label is one dimension as an OpenTelemetry attribute and a Prometheus
// label.
type Label struct {
	OTel, Prom, Value string
}

// Labels maps dims to attributes, in dimension-name order. ShardId is
// left out unless detailed: per-shard series are published only at the
// DETAILED level, so the number of series of a SUMMARY sink grows with
// the workers, not with the shards. A dimension not in the table keeps its
// name in snake case.
func Labels(dims metrics.Dims, detailed bool) []Label {
	out := make([]Label, 0, dims.Len())
	for d := range dims.All() {
		if d.Name == metricnames.DimensionShardID && !detailed {
			continue
		}
		n, ok := attrs[d.Name]
		if !ok {
			s := Snake(d.Name)
			if s == "" {
				s = "dimension"
			}
			p := sanitize(s)
			if strings.HasPrefix(p, "__") { // reserved by Prometheus
				p = "dim" + p
			}
			n = [2]string{s, p}
		}
		out = append(out, Label{OTel: n[0], Prom: n[1], Value: d.Value})
	}
	return out
}

// OutcomeLabel is the attribute (both ecosystems) that tells the attempts of
// an Outcome metric apart, with values OutcomeSuccess and OutcomeFailure.
const (
	OutcomeLabel   = "outcome"
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

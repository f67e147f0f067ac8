package prommetrics

import (
	"context"
	"errors"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/metricmap"
	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/internal/racebuild"
	"github.com/shardwise/shardwise/metrics"
)

var (
	opTask   = metrics.Dimension{Name: metricnames.DimensionOperation, Value: metricnames.OperationProcessTask}
	opRenew  = metrics.Dimension{Name: metricnames.DimensionOperation, Value: metricnames.OperationRenewAllLeases}
	worker   = metrics.Dimension{Name: metricnames.DimensionWorkerIdentifier, Value: "w1"}
	shard1   = metrics.Dimension{Name: metricnames.DimensionShardID, Value: "shardId-000000000001"}
	shard2   = metrics.Dimension{Name: metricnames.DimensionShardID, Value: "shardId-000000000002"}
	shardDim = metrics.NewDims(opTask, shard1, worker)
)

func newSink(t *testing.T, level metrics.Level) (*sink, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	s, err := buildSink(Config{Registerer: reg, Level: level})
	if err != nil {
		t.Fatal(err)
	}
	return s, reg
}

// expose checks the registry's exposition of the named metrics against
// want (text format, HELP and TYPE lines included).
func expose(t *testing.T, reg *prometheus.Registry, want string, names ...string) {
	t.Helper()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

// TestDetailedExportsKCLMetrics records what a shard consumer and the
// liveness pass record and reads the exposition back: names, types, help,
// labels (shard_id included at DETAILED) and values in base units.
func TestDetailedExportsKCLMetrics(t *testing.T) {
	s, reg := newSink(t, metrics.LevelDetailed)
	d2 := metrics.NewDims(opTask, shard2, worker)
	s.Record(metricnames.MetricRecordsProcessed, 500, metrics.UnitCount, metrics.LevelSummary, shardDim)
	s.Record(metricnames.MetricRecordsProcessed, 250, metrics.UnitCount, metrics.LevelSummary, shardDim)
	s.Record(metricnames.MetricRecordsProcessed, 7, metrics.UnitCount, metrics.LevelSummary, d2)
	s.Record(metricnames.MetricDataBytesProcessed, 1024, metrics.UnitBytes, metrics.LevelSummary, shardDim)
	s.Record(metricnames.MetricMillisBehindLatest, 1500, metrics.UnitMilliseconds, metrics.LevelSummary, shardDim)
	s.Record(metricnames.MetricMillisBehindLatest, 250, metrics.UnitMilliseconds, metrics.LevelSummary, d2)
	s.Record(metricnames.MetricGetRecordsTime, 20, metrics.UnitMilliseconds, metrics.LevelDetailed, shardDim)
	s.Record(metricnames.MetricGetRecordsTime, 2000, metrics.UnitMilliseconds, metrics.LevelDetailed, shardDim)
	s.Record(metricnames.MetricGetRecordsSuccess, 1, metrics.UnitCount, metrics.LevelDetailed, shardDim)
	s.Record(metricnames.MetricGetRecordsSuccess, 1, metrics.UnitCount, metrics.LevelDetailed, shardDim)
	s.Record(metricnames.MetricGetRecordsSuccess, 0, metrics.UnitCount, metrics.LevelDetailed, shardDim)
	s.Record(metricnames.MetricCurrentLeases, 3, metrics.UnitCount, metrics.LevelSummary, metrics.NewDims(opRenew, worker))
	s.Record(metricnames.MetricCurrentLeases, 2, metrics.UnitCount, metrics.LevelSummary, metrics.NewDims(opRenew, worker))

	expose(t, reg, `
# HELP shardwise_records_processed_total Records handed to the record processor.
# TYPE shardwise_records_processed_total counter
shardwise_records_processed_total{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1"} 750
shardwise_records_processed_total{operation="ProcessTask",shard_id="shardId-000000000002",worker_id="w1"} 7
# HELP shardwise_data_processed_bytes_total Bytes of record data handed to the record processor.
# TYPE shardwise_data_processed_bytes_total counter
shardwise_data_processed_bytes_total{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1"} 1024
# HELP shardwise_behind_latest_seconds How far the last processed GetRecords response was behind the tip of the shard (KCL MillisBehindLatest).
# TYPE shardwise_behind_latest_seconds gauge
shardwise_behind_latest_seconds{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1"} 1.5
shardwise_behind_latest_seconds{operation="ProcessTask",shard_id="shardId-000000000002",worker_id="w1"} 0.25
# HELP shardwise_get_records_calls_total GetRecords calls, by outcome (KCL KinesisDataFetcher.getRecords.Success).
# TYPE shardwise_get_records_calls_total counter
shardwise_get_records_calls_total{operation="ProcessTask",outcome="failure",shard_id="shardId-000000000001",worker_id="w1"} 1
shardwise_get_records_calls_total{operation="ProcessTask",outcome="success",shard_id="shardId-000000000001",worker_id="w1"} 2
# HELP shardwise_leases_held Leases the worker holds (KCL CurrentLeases).
# TYPE shardwise_leases_held gauge
shardwise_leases_held{operation="RenewAllLeases",worker_id="w1"} 2
`, "shardwise_records_processed_total", "shardwise_data_processed_bytes_total", "shardwise_behind_latest_seconds",
		"shardwise_get_records_calls_total", "shardwise_leases_held")

	expose(t, reg, `
# HELP shardwise_get_records_duration_seconds Latency of GetRecords calls.
# TYPE shardwise_get_records_duration_seconds histogram
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="0.001"} 0
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="0.0025"} 0
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="0.005"} 0
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="0.01"} 0
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="0.025"} 1
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="0.05"} 1
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="0.1"} 1
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="0.25"} 1
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="0.5"} 1
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="1"} 1
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="2.5"} 2
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="5"} 2
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="10"} 2
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="30"} 2
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="60"} 2
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="120"} 2
shardwise_get_records_duration_seconds_bucket{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1",le="+Inf"} 2
shardwise_get_records_duration_seconds_sum{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1"} 2.02
shardwise_get_records_duration_seconds_count{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1"} 2
`, "shardwise_get_records_duration_seconds")
	if s.Dropped() != 0 {
		t.Errorf("Dropped() = %d", s.Dropped())
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("Close() = %v", err)
	}
}

// TestSummaryDropsShardLabel pins the cardinality rule: below DETAILED no
// series has a shard_id label, the shards of a worker share one series (a
// gauge reports the largest of their last values), and DETAILED metrics
// are not recorded at all.
func TestSummaryDropsShardLabel(t *testing.T) {
	s, reg := newSink(t, metrics.LevelSummary)
	if s.Enabled(metrics.LevelDetailed) || !s.Enabled(metrics.LevelSummary) {
		t.Fatal("Enabled does not follow the level")
	}
	d2 := metrics.NewDims(opTask, shard2, worker)
	s.Record(metricnames.MetricRecordsProcessed, 500, metrics.UnitCount, metrics.LevelSummary, shardDim)
	s.Record(metricnames.MetricRecordsProcessed, 7, metrics.UnitCount, metrics.LevelSummary, d2)
	s.Record(metricnames.MetricMillisBehindLatest, 9000, metrics.UnitMilliseconds, metrics.LevelSummary, shardDim)
	s.Record(metricnames.MetricMillisBehindLatest, 100, metrics.UnitMilliseconds, metrics.LevelSummary, d2)
	s.Record(metricnames.MetricProcessTaskSuccess, 1, metrics.UnitCount, metrics.LevelSummary, d2)
	s.Record(metricnames.MetricGetRecordsTime, 20, metrics.UnitMilliseconds, metrics.LevelDetailed, shardDim)

	expose(t, reg, `
# HELP shardwise_records_processed_total Records handed to the record processor.
# TYPE shardwise_records_processed_total counter
shardwise_records_processed_total{operation="ProcessTask",worker_id="w1"} 507
# HELP shardwise_behind_latest_seconds How far the last processed GetRecords response was behind the tip of the shard (KCL MillisBehindLatest).
# TYPE shardwise_behind_latest_seconds gauge
shardwise_behind_latest_seconds{operation="ProcessTask",worker_id="w1"} 9
`, "shardwise_records_processed_total", "shardwise_behind_latest_seconds")
	// The worst shard catches up: the worker's lag follows.
	s.Record(metricnames.MetricMillisBehindLatest, 0, metrics.UnitMilliseconds, metrics.LevelSummary, shardDim)
	if v := testutil.ToFloat64(mustGauge(t, reg)); v != 0.1 {
		t.Errorf("behind_latest after catching up = %v, want 0.1", v)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "shard_id" {
					t.Errorf("%s has a shard_id series at SUMMARY", mf.GetName())
				}
			}
		}
	}
	if want := []string{"shardwise_behind_latest_seconds", "shardwise_process_records_calls_total", "shardwise_records_processed_total"}; !slices.Equal(names, want) {
		t.Errorf("registered %v, want %v (no DETAILED metric)", names, want)
	}
	if n, err := testutil.GatherAndCount(reg, "shardwise_records_processed_total"); err != nil || n != 1 {
		t.Errorf("%d records_processed series (%v), want 1", n, err)
	}
}

// mustGauge returns the one behind_latest series, as a collector for
// testutil.ToFloat64.
func mustGauge(t *testing.T, reg *prometheus.Registry) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "shardwise_behind_latest_seconds" && len(mf.GetMetric()) == 1 {
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x", Help: "x"}, mf.GetMetric()[0].GetGauge().GetValue)
		}
	}
	t.Fatal("no single behind_latest series")
	return nil
}

// TestUnknownMetricExported: a name not in the table is exported under
// the generic mapping, with its unit converted and its dimensions as
// labels; a later series with other dimensions keeps the first one's
// label names.
func TestUnknownMetricExported(t *testing.T) {
	s, reg := newSink(t, metrics.LevelDetailed)
	stream := metrics.Dimension{Name: "StreamName", Value: "orders"}
	s.Record("Lag.fetchTime", 250, metrics.UnitMilliseconds, metrics.LevelSummary, metrics.NewDims(opTask, stream))
	s.Record("Lag.fetchTime", 50, metrics.UnitMilliseconds, metrics.LevelSummary, metrics.NewDims(opRenew, worker))
	s.Record("Queue:Depth", 3, metrics.UnitCount, metrics.LevelSummary, metrics.Dims{})
	if n, err := testutil.GatherAndCount(reg, "shardwise_lag_fetch_duration_seconds"); err != nil || n != 2 {
		t.Errorf("%d generic duration series (%v), want 2", n, err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, mf := range mfs {
		switch mf.GetName() {
		case "shardwise_lag_fetch_duration_seconds":
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				h := m.GetHistogram()
				switch labels["operation"] {
				case "ProcessTask":
					found++
					if labels["stream_name"] != "orders" || h.GetSampleSum() != 0.25 || h.GetSampleCount() != 1 {
						t.Errorf("first series: labels %v, sum %v", labels, h.GetSampleSum())
					}
				case "RenewAllLeases":
					found++
					if _, ok := labels["worker_id"]; ok || h.GetSampleSum() != 0.05 {
						t.Errorf("second series: labels %v (worker_id is not a label of this metric), sum %v", labels, h.GetSampleSum())
					}
				}
			}
		case "shardwise_queue_depth":
			found++
			if h := mf.GetMetric()[0].GetHistogram(); mf.GetType().String() != "HISTOGRAM" || h.GetSampleSum() != 3 {
				t.Errorf("queue depth: %v %v", mf.GetType(), h)
			}
		}
	}
	if found != 3 {
		t.Errorf("found %d of 3 generic series", found)
	}
}

// TestDropsWhatCollectorsCannotTake: non-finite values, negative counter
// increments, invalid label values, a registration conflict and
// observations after Close are counted, not exported, and do not panic;
// Close reports the conflict.
func TestDropsWhatCollectorsCannotTake(t *testing.T) {
	s, reg := newSink(t, metrics.LevelDetailed)
	// Someone else holds the name with other labels.
	reg.MustRegister(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "shardwise_leases_held", Help: "not ours"}, []string{"x"}))
	s.Record(metricnames.MetricRecordsProcessed, 5, metrics.UnitCount, metrics.LevelSummary, shardDim)
	s.Record(metricnames.MetricRecordsProcessed, math.NaN(), metrics.UnitCount, metrics.LevelSummary, shardDim)
	s.Record(metricnames.MetricMillisBehindLatest, math.Inf(-1), metrics.UnitMilliseconds, metrics.LevelSummary, shardDim)
	s.Record(metricnames.MetricRecordsProcessed, -3, metrics.UnitCount, metrics.LevelSummary, shardDim)
	s.Record(metricnames.MetricRecordsProcessed, 1, metrics.UnitCount, metrics.LevelSummary,
		metrics.NewDims(opTask, metrics.Dimension{Name: metricnames.DimensionShardID, Value: "bad\xff"}, worker))
	s.Record(metricnames.MetricCurrentLeases, 3, metrics.UnitCount, metrics.LevelSummary, metrics.NewDims(opRenew, worker))
	s.Record(metricnames.MetricRecordsProcessed, 1, metrics.UnitCount, metrics.LevelNone, shardDim) // never published, not counted
	err := s.Close(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "shardwise: ") || !strings.Contains(err.Error(), "shardwise_leases_held") {
		t.Errorf("Close() = %v, want the registration conflict", err)
	}
	s.Record(metricnames.MetricRecordsProcessed, 5, metrics.UnitCount, metrics.LevelSummary, shardDim)
	if s.Enabled(metrics.LevelSummary) {
		t.Error("Enabled after Close")
	}
	if got := s.Dropped(); got != 6 {
		t.Errorf("Dropped() = %d, want 6", got)
	}
	expose(t, reg, `
# HELP shardwise_records_processed_total Records handed to the record processor.
# TYPE shardwise_records_processed_total counter
shardwise_records_processed_total{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1"} 5
`, "shardwise_records_processed_total")
}

// TestSecondSinkSharesCollectors: a sink made after another on the same
// registry (a restarted scheduler) continues its series instead of
// failing to register.
func TestSecondSinkSharesCollectors(t *testing.T) {
	s1, reg := newSink(t, metrics.LevelDetailed)
	s1.Record(metricnames.MetricRecordsProcessed, 5, metrics.UnitCount, metrics.LevelSummary, shardDim)
	s1.Record(metricnames.MetricGetRecordsTime, 5, metrics.UnitMilliseconds, metrics.LevelDetailed, shardDim)
	s1.Close(context.Background())
	s2, err := buildSink(Config{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	s2.Record(metricnames.MetricRecordsProcessed, 6, metrics.UnitCount, metrics.LevelSummary, shardDim)
	s2.Record(metricnames.MetricGetRecordsTime, 5, metrics.UnitMilliseconds, metrics.LevelDetailed, shardDim)
	if err := s2.Close(context.Background()); err != nil || s2.Dropped() != 0 {
		t.Errorf("second sink: Close() = %v, Dropped() = %d", err, s2.Dropped())
	}
	expose(t, reg, `
# HELP shardwise_records_processed_total Records handed to the record processor.
# TYPE shardwise_records_processed_total counter
shardwise_records_processed_total{operation="ProcessTask",shard_id="shardId-000000000001",worker_id="w1"} 11
`, "shardwise_records_processed_total")
}

func TestConfig(t *testing.T) {
	err := Config{Level: 7}.Validate()
	var ce *consumer.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Level" || !errors.Is(err, consumer.ErrInvalidConfig) {
		t.Errorf("Validate() = %v, want a ConfigError on Level", err)
	}
	if _, err := buildSink(Config{Level: -1}); err == nil {
		t.Error("New accepted an invalid level")
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
}

// TestRecordDoesNotAllocate pins the hot path: recording into an existing
// series allocates nothing.
func TestRecordDoesNotAllocate(t *testing.T) {
	if racebuild.Enabled {
		t.Skip("the race detector adds allocations")
	}
	s, _ := newSink(t, metrics.LevelDetailed)
	record := func() {
		s.Record(metricnames.MetricRecordsProcessed, 100, metrics.UnitCount, metrics.LevelSummary, shardDim)
		s.Record(metricnames.MetricProcessRecordsTime, 3, metrics.UnitMilliseconds, metrics.LevelSummary, shardDim)
		s.Record(metricnames.MetricMillisBehindLatest, 30, metrics.UnitMilliseconds, metrics.LevelSummary, shardDim)
		s.Record(metricnames.MetricProcessTaskSuccess, 1, metrics.UnitCount, metrics.LevelSummary, shardDim)
	}
	record()
	if n := testing.AllocsPerRun(1000, record); n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

// TestDocTableMatchesMapping keeps the package documentation's table in
// step with the mapping the sink applies, and checks that every metric
// Shardwise records has a row.
func TestDocTableMatchesMapping(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	inTable := false
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "//\tKCL metric") {
			inTable = true
			continue
		}
		if !strings.HasPrefix(line, "//\t") {
			inTable = false
		}
		if !inTable {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, "//\t"))
		m, ok := metricmap.Known(f[0])
		if !ok || len(f) != 3 {
			t.Errorf("doc row %q: not in the mapping", line)
			continue
		}
		seen[f[0]] = true
		if want := []string{m.Prom, m.Kind.String()}; !slices.Equal(f[1:], want) {
			t.Errorf("doc row %s = %v, mapping says %v", f[0], f[1:], want)
		}
	}
	for _, n := range metricmap.Names() {
		if !seen[n] {
			t.Errorf("%s has no row in doc.go", n)
		}
	}
	if len(seen) < 19 {
		t.Errorf("read %d rows: parsing went wrong", len(seen))
	}
}

// BenchmarkRecord is the per-batch cost a shard consumer pays: one
// observation of each kind into an existing series, from parallel
// goroutines on their own shards.
func BenchmarkRecord(b *testing.B) {
	s, err := buildSink(Config{Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		d := metrics.NewDims(opTask, worker, metrics.Dimension{Name: metricnames.DimensionShardID, Value: strconv.FormatInt(next.Add(1), 10)})
		for pb.Next() {
			s.Record(metricnames.MetricRecordsProcessed, 100, metrics.UnitCount, metrics.LevelSummary, d)
			s.Record(metricnames.MetricProcessRecordsTime, 3, metrics.UnitMilliseconds, metrics.LevelSummary, d)
			s.Record(metricnames.MetricMillisBehindLatest, 30, metrics.UnitMilliseconds, metrics.LevelSummary, d)
			s.Record(metricnames.MetricProcessTaskSuccess, 1, metrics.UnitCount, metrics.LevelSummary, d)
		}
	})
}

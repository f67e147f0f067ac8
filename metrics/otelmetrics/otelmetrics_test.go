package otelmetrics

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

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

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

// newSink returns a sink at level on a provider read by a ManualReader.
func newSink(t *testing.T, level metrics.Level) (*sink, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { provider.Shutdown(context.Background()) })
	s, err := buildSink(Config{MeterProvider: provider, Level: level})
	if err != nil {
		t.Fatal(err)
	}
	return s, reader
}

// collect reads every metric of the sink's scope, by name.
func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != scopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, scopeName)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// attrs returns the identity of an attribute set, the key of the maps
// below.
func attrs(kv ...attribute.KeyValue) attribute.Distinct {
	set := attribute.NewSet(kv...)
	return set.Equivalent()
}

var (
	aTask   = attribute.String("operation", "ProcessTask")
	aRenew  = attribute.String("operation", "RenewAllLeases")
	aWorker = attribute.String("worker.id", "w1")
	aShard1 = attribute.String("shard.id", "shardId-000000000001")
	aShard2 = attribute.String("shard.id", "shardId-000000000002")
)

// sum returns the monotonic float sum's points by attribute set.
func sum(t *testing.T, m metricdata.Metrics) map[attribute.Distinct]float64 {
	t.Helper()
	s, ok := m.Data.(metricdata.Sum[float64])
	if !ok || !s.IsMonotonic || s.Temporality != metricdata.CumulativeTemporality {
		t.Fatalf("%s: %T (monotonic %v), want a cumulative monotonic Sum[float64]", m.Name, m.Data, ok && s.IsMonotonic)
	}
	out := map[attribute.Distinct]float64{}
	for _, p := range s.DataPoints {
		out[p.Attributes.Equivalent()] = p.Value
	}
	return out
}

func gauge(t *testing.T, m metricdata.Metrics) map[attribute.Distinct]float64 {
	t.Helper()
	g, ok := m.Data.(metricdata.Gauge[float64])
	if !ok {
		t.Fatalf("%s: %T, want Gauge[float64]", m.Name, m.Data)
	}
	out := map[attribute.Distinct]float64{}
	for _, p := range g.DataPoints {
		out[p.Attributes.Equivalent()] = p.Value
	}
	return out
}

func histogram(t *testing.T, m metricdata.Metrics) map[attribute.Distinct]metricdata.HistogramDataPoint[float64] {
	t.Helper()
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s: %T, want Histogram[float64]", m.Name, m.Data)
	}
	out := map[attribute.Distinct]metricdata.HistogramDataPoint[float64]{}
	for _, p := range h.DataPoints {
		out[p.Attributes.Equivalent()] = p
	}
	return out
}

func wantUnit(t *testing.T, m metricdata.Metrics, unit string) {
	t.Helper()
	if m.Unit != unit {
		t.Errorf("%s: unit %q, want %q", m.Name, m.Unit, unit)
	}
	if m.Description == "" {
		t.Errorf("%s: no description", m.Name)
	}
}

// TestDetailedExportsKCLMetrics records what a shard consumer and the
// liveness pass record and reads the instruments back: names, units,
// kinds, attributes (shard.id included at DETAILED) and values.
func TestDetailedExportsKCLMetrics(t *testing.T) {
	s, r := newSink(t, metrics.LevelDetailed)
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

	got := collect(t, r)
	sh1 := attrs(aTask, aShard1, aWorker)
	sh2 := attrs(aTask, aShard2, aWorker)

	m := got["shardwise.records.processed"]
	wantUnit(t, m, "{record}")
	if v := sum(t, m); v[sh1] != 750 || v[sh2] != 7 || len(v) != 2 {
		t.Errorf("records.processed = %v, want 750 on shard 1 and 7 on shard 2", v)
	}
	m = got["shardwise.data.processed"]
	wantUnit(t, m, "By")
	if v := sum(t, m); v[sh1] != 1024 {
		t.Errorf("data.processed = %v", v)
	}
	m = got["shardwise.behind_latest"]
	wantUnit(t, m, "s")
	if v := gauge(t, m); v[sh1] != 1.5 || v[sh2] != 0.25 || len(v) != 2 {
		t.Errorf("behind_latest = %v, want 1.5 s and 0.25 s per shard", v)
	}
	m = got["shardwise.get_records.duration"]
	wantUnit(t, m, "s")
	h := histogram(t, m)[sh1]
	if h.Count != 2 || h.Sum != 2.02 || !slices.Equal(h.Bounds, metricmap.SecondsBuckets) {
		t.Errorf("get_records.duration: count %d sum %v bounds %v", h.Count, h.Sum, h.Bounds)
	}
	if mn, _ := h.Min.Value(); mn != 0.02 {
		t.Errorf("get_records.duration min = %v, want 0.02", mn)
	}
	m = got["shardwise.get_records.calls"]
	wantUnit(t, m, "{call}")
	calls := sum(t, m)
	if ok, bad := calls[attrs(aTask, aShard1, aWorker, attribute.String("outcome", "success"))],
		calls[attrs(aTask, aShard1, aWorker, attribute.String("outcome", "failure"))]; ok != 2 || bad != 1 {
		t.Errorf("get_records.calls = %v, want 2 successes and 1 failure", calls)
	}
	m = got["shardwise.leases.held"]
	wantUnit(t, m, "{lease}")
	if v := gauge(t, m); v[attrs(aRenew, aWorker)] != 2 || len(v) != 1 {
		t.Errorf("leases.held = %v, want the last value 2", v)
	}
	if s.Dropped() != 0 {
		t.Errorf("Dropped() = %d", s.Dropped())
	}
}

// TestSummaryDropsShardAttribute pins the cardinality rule: below
// DETAILED, no series carries shard.id, the shards of a worker share one
// series (a gauge reports the largest of their last values), and DETAILED
// metrics are not recorded at all.
func TestSummaryDropsShardAttribute(t *testing.T) {
	s, r := newSink(t, metrics.LevelSummary)
	if s.Enabled(metrics.LevelDetailed) || !s.Enabled(metrics.LevelSummary) {
		t.Fatal("Enabled does not follow the level")
	}
	d2 := metrics.NewDims(opTask, shard2, worker)
	s.Record(metricnames.MetricRecordsProcessed, 500, metrics.UnitCount, metrics.LevelSummary, shardDim)
	s.Record(metricnames.MetricRecordsProcessed, 7, metrics.UnitCount, metrics.LevelSummary, d2)
	s.Record(metricnames.MetricMillisBehindLatest, 9000, metrics.UnitMilliseconds, metrics.LevelSummary, shardDim)
	s.Record(metricnames.MetricMillisBehindLatest, 100, metrics.UnitMilliseconds, metrics.LevelSummary, d2)
	s.Record(metricnames.MetricProcessRecordsTime, 30, metrics.UnitMilliseconds, metrics.LevelSummary, d2)
	s.Record(metricnames.MetricGetRecordsTime, 20, metrics.UnitMilliseconds, metrics.LevelDetailed, shardDim)

	got := collect(t, r)
	w := attrs(aTask, aWorker)
	if v := sum(t, got["shardwise.records.processed"]); v[w] != 507 || len(v) != 1 {
		t.Errorf("records.processed = %v, want one series of 507", v)
	}
	if v := gauge(t, got["shardwise.behind_latest"]); v[w] != 9 || len(v) != 1 {
		t.Errorf("behind_latest = %v, want one series at the worst shard's 9 s", v)
	}
	// The worst shard catches up: the worker's lag follows.
	s.Record(metricnames.MetricMillisBehindLatest, 0, metrics.UnitMilliseconds, metrics.LevelSummary, shardDim)
	if v := gauge(t, collect(t, r)["shardwise.behind_latest"]); v[w] != 0.1 {
		t.Errorf("behind_latest after catching up = %v, want 0.1", v)
	}
	if _, ok := got["shardwise.get_records.duration"]; ok {
		t.Error("a DETAILED metric was recorded by a SUMMARY sink")
	}
	for name, m := range got {
		var sets []attribute.Set
		switch d := m.Data.(type) {
		case metricdata.Sum[float64]:
			for _, p := range d.DataPoints {
				sets = append(sets, p.Attributes)
			}
		case metricdata.Gauge[float64]:
			for _, p := range d.DataPoints {
				sets = append(sets, p.Attributes)
			}
		case metricdata.Histogram[float64]:
			for _, p := range d.DataPoints {
				sets = append(sets, p.Attributes)
			}
		}
		for _, set := range sets {
			if set.HasValue("shard.id") {
				t.Errorf("%s has a shard.id series at SUMMARY: %v", name, set.Encoded(attribute.DefaultEncoder()))
			}
		}
	}
}

// TestUnknownMetricExported: a name not in the table is exported under
// the generic mapping, with its unit converted and its dimensions kept.
func TestUnknownMetricExported(t *testing.T) {
	s, r := newSink(t, metrics.LevelDetailed)
	d := metrics.NewDims(opTask, shard1, metrics.Dimension{Name: "StreamName", Value: "orders"})
	s.Record("Lag.fetchTime", 250, metrics.UnitMilliseconds, metrics.LevelSummary, d)
	s.Record("Queue:Depth", 3, metrics.UnitCount, metrics.LevelSummary, metrics.Dims{})
	got := collect(t, r)
	m, ok := got["shardwise.lag.fetch_duration"]
	if !ok {
		t.Fatalf("generic metric missing; got %v", keys(got))
	}
	wantUnit(t, m, "s")
	p := histogram(t, m)[attrs(aTask, aShard1, attribute.String("stream_name", "orders"))]
	if p.Count != 1 || p.Sum != 0.25 {
		t.Errorf("generic histogram: count %d sum %v", p.Count, p.Sum)
	}
	m, ok = got["shardwise.queue.depth"]
	if !ok {
		t.Fatalf("generic count metric missing; got %v", keys(got))
	}
	wantUnit(t, m, "{count}")
	if p := histogram(t, m)[attrs()]; p.Count != 1 || p.Sum != 3 {
		t.Errorf("generic count histogram: count %d sum %v", p.Count, p.Sum)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestDropsWhatInstrumentsCannotTake: non-finite values, negative counter
// increments and observations after Close are counted, not exported, and
// do not panic.
func TestDropsWhatInstrumentsCannotTake(t *testing.T) {
	s, r := newSink(t, metrics.LevelDetailed)
	s.Record(metricnames.MetricRecordsProcessed, 5, metrics.UnitCount, metrics.LevelSummary, shardDim)
	s.Record(metricnames.MetricRecordsProcessed, math.NaN(), metrics.UnitCount, metrics.LevelSummary, shardDim)
	s.Record(metricnames.MetricMillisBehindLatest, math.Inf(1), metrics.UnitMilliseconds, metrics.LevelSummary, shardDim)
	s.Record(metricnames.MetricRecordsProcessed, -3, metrics.UnitCount, metrics.LevelSummary, shardDim)
	s.Record(metricnames.MetricRecordsProcessed, 1, metrics.UnitCount, metrics.LevelNone, shardDim) // never published, not counted
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Record(metricnames.MetricRecordsProcessed, 5, metrics.UnitCount, metrics.LevelSummary, shardDim)
	if s.Enabled(metrics.LevelSummary) {
		t.Error("Enabled after Close")
	}
	if got := s.Dropped(); got != 4 {
		t.Errorf("Dropped() = %d, want 4", got)
	}
	if v := sum(t, collect(t, r)["shardwise.records.processed"]); v[attrs(aTask, aShard1, aWorker)] != 5 {
		t.Errorf("records.processed = %v, want 5", v)
	}
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
	// The zero Config takes the global provider (a no-op one here) and
	// records without error.
	s, err := buildSink(Config{})
	if err != nil {
		t.Fatal(err)
	}
	s.Record(metricnames.MetricRecordsProcessed, 1, metrics.UnitCount, metrics.LevelSummary, shardDim)
	if !s.Enabled(metrics.LevelDetailed) {
		t.Error("the default level is not DETAILED")
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
	rows := 0
	seen := map[string]bool{}
	inTable := false
	for _, line := range strings.Split(string(doc), "\n") {
		f := strings.Fields(strings.TrimPrefix(line, "//\t"))
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
		m, ok := metricmap.Known(f[0])
		if !ok {
			t.Errorf("doc row %q: not in the mapping", f[0])
			continue
		}
		rows++
		seen[f[0]] = true
		if want := []string{m.OTel, m.Kind.String(), m.OTelUnit}; !slices.Equal(f[1:], want) {
			t.Errorf("doc row %s = %v, mapping says %v", f[0], f[1:], want)
		}
	}
	for _, n := range metricmap.Names() {
		if !seen[n] {
			t.Errorf("%s has no row in doc.go", n)
		}
	}
	if rows < 19 {
		t.Errorf("read %d rows: parsing went wrong", rows)
	}
}

// BenchmarkRecord is the per-batch cost a shard consumer pays: one
// observation of each kind into an existing series, from parallel
// goroutines on their own shards.
func BenchmarkRecord(b *testing.B) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(context.Background())
	s, err := buildSink(Config{MeterProvider: provider})
	if err != nil {
		b.Fatal(err)
	}
	benchRecord(b, s)
}

func benchRecord(b *testing.B, s metrics.Sink) {
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

package main

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/prometheus/client_golang/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/kinesistest"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/metrics"
	shardwisecw "github.com/shardwise/shardwise/metrics/cloudwatch"
	"github.com/shardwise/shardwise/metrics/otelmetrics"
	"github.com/shardwise/shardwise/metrics/prommetrics"
	"github.com/shardwise/shardwise/scheduler"
)

func init() {
	register("metrics-overhead", "records/s with metrics off vs DETAILED CloudWatch, OpenTelemetry and Prometheus metrics, same in-memory input, alternating rounds", runMetricsOverhead)
}

// discardCloudWatch accepts every PutMetricData and counts the datums, so
// the publisher does all its work (aggregation, batching, encoding) but
// nothing leaves the process.
type discardCloudWatch struct{ datums atomic.Int64 }

func (d *discardCloudWatch) PutMetricData(_ context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	d.datums.Add(int64(len(in.MetricData)))
	return &cloudwatch.PutMetricDataOutput{}, nil
}

// sinkMode is the metrics sink a round runs with.
type sinkMode int

const (
	sinkOff sinkMode = iota
	sinkCloudWatch
	sinkOTel
	sinkPrometheus
	numSinkModes
)

func runMetricsOverhead(ctx context.Context, opts options, out *report) error {
	const shards = 4
	records, rounds := 1_000_000, 15
	if opts.quick {
		records, rounds = 200_000, 3
	}
	out.kv("shards", shards)
	out.kv("records_per_round", records)
	out.kv("record_bytes", 100)
	var rate, cpu [numSinkModes][]float64
	var datums, series int64
	for r := 0; r < rounds; r++ {
		// Rotate which mode goes first, so drift hits all alike.
		for i := range numSinkModes {
			mode := (sinkMode(r) + i) % numSinkModes
			res, err := consumeOnce(ctx, shards, records, mode, nil)
			if err != nil {
				return err
			}
			rate[mode], cpu[mode] = append(rate[mode], res.rate), append(cpu[mode], res.cpuNsPerRecord)
			switch mode {
			case sinkCloudWatch:
				datums += res.datums
			case sinkOTel, sinkPrometheus:
				series = max(series, res.datums)
			}
		}
	}
	// The sinks' own cost, measured apart from the noise of whole rounds:
	// one more round records every observation the scheduler makes at
	// DETAILED level, then those exact calls are replayed into a fresh
	// sink of each kind in a tight loop. Its CPU per consumed record over
	// the CPU per record with metrics off is the share of the work the sink
	// adds (the scheduler's side, computing the values, is in the rounds).
	capture := &captureSink{}
	if _, err := consumeOnce(ctx, shards, records, sinkOff, capture); err != nil {
		return err
	}
	offCPU := median(cpu[sinkOff])
	out.kv("rounds", rounds)
	out.kv("records_per_s_metrics_off", slices.Max(rate[sinkOff]))
	out.kv("median_records_per_s_metrics_off", median(rate[sinkOff]))
	out.kv("cpu_ns_per_record_metrics_off", offCPU)
	out.kv("sink_calls_per_record", float64(len(capture.calls))/float64(records))
	for _, m := range []struct {
		mode sinkMode
		name string // "detailed" is the CloudWatch publisher, the key it had before the others joined
	}{{sinkCloudWatch, "detailed"}, {sinkOTel, "otel"}, {sinkPrometheus, "prometheus"}} {
		// Each round ran every mode back to back, so a round's ratio
		// compares runs that met the same machine load; the median over
		// rounds is the headline, robust to a round another process
		// disturbed. Best against best is shown as well.
		paired := make([]float64, rounds)
		for r := range paired {
			paired[r] = rate[m.mode][r] / rate[sinkOff][r]
		}
		out.kv("records_per_s_metrics_"+m.name, slices.Max(rate[m.mode]))
		out.kv("median_records_per_s_metrics_"+m.name, median(rate[m.mode]))
		out.kv("ratio_"+m.name+"_over_off", median(paired))
		out.kv("best_ratio_"+m.name+"_over_off", slices.Max(rate[m.mode])/slices.Max(rate[sinkOff]))
		out.kv("paired_ratio_min_"+m.name, slices.Min(paired))
		out.kv("paired_ratio_max_"+m.name, slices.Max(paired))
		out.kv("cpu_ns_per_record_metrics_"+m.name, median(cpu[m.mode]))
		out.kv("cpu_ratio_off_over_"+m.name, offCPU/median(cpu[m.mode]))
		ns, err := replayNs(ctx, m.mode, capture.calls)
		if err != nil {
			return err
		}
		perRecord := ns / float64(records)
		out.kv("sink_ns_per_record_"+m.name, perRecord)
		out.kv("sink_cpu_share_"+m.name, perRecord/offCPU)
		out.kv("sink_bound_ratio_"+m.name+"_over_off", offCPU/(offCPU+perRecord))
	}
	out.kv("cloudwatch_datums_published", datums)
	out.kv("otel_prometheus_points_exported", series)
	return nil
}

// sinkCall is one observation the scheduler made.
type sinkCall struct {
	name  string
	value float64
	unit  metrics.Unit
	level metrics.Level
	dims  metrics.Dims
}

// captureSink keeps every observation, as a DETAILED sink would see them.
type captureSink struct {
	mu    sync.Mutex
	calls []sinkCall
}

func (c *captureSink) Enabled(metrics.Level) bool { return true }

func (c *captureSink) Record(name string, value float64, unit metrics.Unit, level metrics.Level, dims metrics.Dims) {
	c.mu.Lock()
	c.calls = append(c.calls, sinkCall{name, value, unit, level, dims})
	c.mu.Unlock()
}

func (c *captureSink) Close(context.Context) error { return nil }

// replayNs builds a fresh sink of the mode, replays calls into it until at
// least 200ms have passed, and returns the mean nanoseconds of one replay
// of all calls (wall time of one goroutine, which is its CPU time).
func replayNs(ctx context.Context, mode sinkMode, calls []sinkCall) (float64, error) {
	if len(calls) == 0 {
		return 0, fmt.Errorf("the capture round recorded no observation")
	}
	sink, err := newBenchSink(ctx, mode, &discardCloudWatch{})
	if err != nil {
		return 0, err
	}
	defer sink.release()
	var n int
	start := time.Now()
	for n == 0 || time.Since(start) < 200*time.Millisecond {
		for _, c := range calls {
			sink.Record(c.name, c.value, c.unit, c.level, c.dims)
		}
		n++
	}
	elapsed := time.Since(start)
	return float64(elapsed.Nanoseconds()) / float64(n), ctx.Err()
}

// benchSink is a DETAILED sink of one mode publishing nowhere, with what
// it exported (CloudWatch datums sent, OpenTelemetry data points or
// Prometheus series, read through the library) and a release of whatever
// it was built on.
type benchSink struct {
	metrics.Sink
	exported func() (int64, error)
	release  func()
}

// newBenchSink returns the sink of the mode; sinkOff is metrics.Nop.
func newBenchSink(ctx context.Context, mode sinkMode, cw *discardCloudWatch) (benchSink, error) {
	b := benchSink{Sink: metrics.Nop, exported: func() (int64, error) { return cw.datums.Load(), nil }, release: func() {}}
	var err error
	switch mode {
	case sinkCloudWatch:
		b.Sink, err = shardwisecw.New(shardwisecw.Config{Client: cw, Namespace: "bench", Level: metrics.LevelDetailed})
		if err == nil {
			b.release = func() { b.Sink.Close(context.Background()) }
		}
	case sinkOTel:
		reader := sdkmetric.NewManualReader()
		provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		b.Sink, err = otelmetrics.New(otelmetrics.Config{MeterProvider: provider, Level: metrics.LevelDetailed})
		b.exported = func() (int64, error) { return otelPoints(ctx, reader) }
		b.release = func() { provider.Shutdown(context.Background()) }
	case sinkPrometheus:
		reg := prometheus.NewRegistry()
		b.Sink, err = prommetrics.New(prommetrics.Config{Registerer: reg, Level: metrics.LevelDetailed})
		b.exported = func() (int64, error) { return promSeries(reg) }
	}
	return b, err
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type roundResult struct {
	rate           float64 // records/s from the first batch to the last
	cpuNsPerRecord float64 // process CPU over the same span, per record
	datums         int64   // CloudWatch datums sent, or OpenTelemetry points / Prometheus series exported
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// consumeOnce loads a fresh in-memory stream with n records and measures
// the records/s of one worker from its first processed batch to the last.
func consumeOnce(ctx context.Context, shards, n int, mode sinkMode, capture metrics.Sink) (roundResult, error) {
	fake, err := kinesistest.New(kinesistest.Config{GetRecordsPerSecond: -1, GetShardIteratorPerSecond: -1})
	if err != nil {
		return roundResult{}, err
	}
	if err := fake.CreateStream("bench", shards); err != nil {
		return roundResult{}, err
	}
	payload := make([]byte, 100)
	const chunk = 10_000
	for sent := 0; sent < n; sent += chunk {
		entries := make([]kinesistest.PutEntry, min(chunk, n-sent))
		for i := range entries {
			entries[i] = kinesistest.PutEntry{PartitionKey: "k" + strconv.Itoa((sent+i)%1000), Data: payload}
		}
		if _, err := fake.PutRecords("bench", entries); err != nil {
			return roundResult{}, err
		}
	}
	// The previous round's stream is garbage now: collect it before this
	// round is measured, not during it.
	runtime.GC()
	var count atomic.Int64
	var first, last atomic.Int64 // unix nanos
	var cpuFirst, cpuLast atomic.Int64
	done := make(chan struct{})
	var once sync.Once
	cfg := scheduler.Config{
		ApplicationName:       "bench",
		StreamName:            "bench",
		InitialPosition:       consumer.InitialPositionTrimHorizon,
		KinesisClient:         fake,
		Stores:                leases.NewMemoryStores(),
		WorkerID:              "bench-worker",
		MinGetRecordsInterval: time.Millisecond,
		LeaderScanInterval:    50 * time.Millisecond,
	}
	cw := &discardCloudWatch{}
	sink, err := newBenchSink(ctx, mode, cw)
	if err != nil {
		return roundResult{}, err
	}
	// The scheduler does not close a sink it was given: close it after Run
	// returns (below), which sends the last interval. The deferred release
	// covers the early returns.
	defer sink.release()
	cfg.Metrics = sink.Sink
	if capture != nil {
		cfg.Metrics = capture
	}
	s, err := scheduler.New(cfg, consumer.ProcessorFactoryFunc(func(string) consumer.Processor {
		return &countingBenchProcessor{count: &count, first: &first, last: &last, cpuFirst: &cpuFirst, cpuLast: &cpuLast, target: int64(n), done: done, once: &once}
	}))
	if err != nil {
		return roundResult{}, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- s.Run(runCtx) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		cancel()
		<-errc
		return roundResult{}, fmt.Errorf("consumed %d of %d records in 5 minutes", count.Load(), n)
	case err := <-errc:
		cancel()
		return roundResult{}, fmt.Errorf("worker stopped early: %v", err)
	}
	cancel()
	if err := <-errc; err != nil {
		return roundResult{}, err
	}
	if err := sink.Close(ctx); err != nil {
		return roundResult{}, err
	}
	elapsed := time.Duration(last.Load() - first.Load())
	points, err := sink.exported()
	if err != nil {
		return roundResult{}, err
	}
	return roundResult{
		rate:           float64(n) / elapsed.Seconds(),
		cpuNsPerRecord: float64(cpuLast.Load()-cpuFirst.Load()) / float64(n),
		datums:         points,
	}, nil
}

// otelPoints collects the reader once and counts the data points, so the
// round shows the sink exported what the worker recorded.
func otelPoints(ctx context.Context, r *sdkmetric.ManualReader) (int64, error) {
	var rm metricdata.ResourceMetrics
	if err := r.Collect(ctx, &rm); err != nil {
		return 0, err
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[float64]:
				n += int64(len(d.DataPoints))
			case metricdata.Gauge[float64]:
				n += int64(len(d.DataPoints))
			case metricdata.Histogram[float64]:
				n += int64(len(d.DataPoints))
			}
		}
	}
	if n == 0 {
		return 0, fmt.Errorf("the OpenTelemetry sink exported nothing")
	}
	return n, nil
}

// promSeries gathers the registry and counts the series.
func promSeries(reg *prometheus.Registry) (int64, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, mf := range mfs {
		n += int64(len(mf.GetMetric()))
	}
	if n == 0 {
		return 0, fmt.Errorf("the Prometheus sink exported nothing")
	}
	return n, nil
}

// countingBenchProcessor counts records and checkpoints every batch.
type countingBenchProcessor struct {
	count             *atomic.Int64
	first, last       *atomic.Int64
	cpuFirst, cpuLast *atomic.Int64
	target            int64
	done              chan struct{}
	once              *sync.Once
}

func (p *countingBenchProcessor) Initialize(context.Context, consumer.InitializationInput) error {
	return nil
}

func (p *countingBenchProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	if p.first.CompareAndSwap(0, time.Now().UnixNano()) {
		p.cpuFirst.Store(int64(processCPU()))
	}
	if err := in.Checkpointer.Checkpoint(ctx); err != nil {
		return err
	}
	if p.count.Add(int64(len(in.Records))) >= p.target {
		p.once.Do(func() {
			p.last.Store(time.Now().UnixNano())
			p.cpuLast.Store(int64(processCPU()))
			close(p.done)
		})
	}
	return nil
}

func (p *countingBenchProcessor) LeaseLost(context.Context, consumer.LeaseLostInput) {}

func (p *countingBenchProcessor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *countingBenchProcessor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

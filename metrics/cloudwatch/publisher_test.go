package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/metricagg"
	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/internal/mscope"
	"github.com/shardwise/shardwise/metrics"
)

// dim is a metrics.Dimension, briefly.
func dim(name, value string) metrics.Dimension { return metrics.Dimension{Name: name, Value: value} }

// stats is a statistic set, briefly.
func stats(count, sum, minimum, maximum float64) metricagg.Stats {
	return metricagg.Stats{SampleCount: count, Sum: sum, Minimum: minimum, Maximum: maximum}
}

func shardScope(s metrics.Sink, shard string) *mscope.Scope {
	return mscope.New(s,
		dim(metricnames.DimensionOperation, metricnames.OperationProcessTask),
		dim(metricnames.DimensionShardID, shard),
		dim(metricnames.DimensionWorkerIdentifier, "worker-a"))
}

func TestPublisherPublishesStatisticSets(t *testing.T) {
	r := newReceiver(t)
	cw := newTestCloudWatch(t, testConfig(t, r))

	s1 := shardScope(cw, "shardId-000000000001")
	s2 := shardScope(cw, "shardId-000000000002")
	app := mscope.New(cw, dim(metricnames.DimensionOperation, "ApplicationTracker"))

	// Eight processors record concurrently into the same series.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for v := 1; v <= 100; v++ {
				s1.Count(metricnames.MetricRecordsProcessed, int64(v), metrics.LevelSummary)
			}
		})
	}
	wg.Wait()
	s1.Value(metricnames.MetricDataBytesProcessed, 4096, metrics.UnitBytes, metrics.LevelSummary)
	s2.Value(metricnames.MetricMillisBehindLatest, 250, metrics.UnitMilliseconds, metrics.LevelSummary)
	s2.Value(metricnames.MetricMillisBehindLatest, 50, metrics.UnitMilliseconds, metrics.LevelSummary)
	s2.Time(metricnames.MetricProcessRecordsTime, 1500*time.Microsecond, metrics.LevelSummary)
	app.Value(metricnames.MetricMillisBehindLatest, 250, metrics.UnitMilliseconds, metrics.LevelSummary)

	if err := cw.Flush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}

	reqs := r.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	if reqs[0].Namespace != "orders-consumer" {
		t.Errorf("namespace %q, want orders-consumer", reqs[0].Namespace)
	}
	if reqs[0].Gzip {
		t.Errorf("a %d-byte body was gzipped; the SDK compresses only above 10 KiB", reqs[0].BodyBytes)
	}
	shard := func(id string) map[string]string {
		return map[string]string{"Operation": "ProcessTask", "ShardId": id, "WorkerIdentifier": "worker-a"}
	}
	want := []gotDatum{
		{Name: "DataBytesProcessed", Unit: "Bytes", Dims: shard("shardId-000000000001"), Stats: stats(1, 4096, 4096, 4096)},
		{Name: "MillisBehindLatest", Unit: "Milliseconds", Dims: map[string]string{"Operation": "ApplicationTracker"}, Stats: stats(1, 250, 250, 250)},
		{Name: "MillisBehindLatest", Unit: "Milliseconds", Dims: shard("shardId-000000000002"), Stats: stats(2, 300, 50, 250)},
		{Name: "RecordProcessor.processRecords.Time", Unit: "Milliseconds", Dims: shard("shardId-000000000002"), Stats: stats(1, 1.5, 1.5, 1.5)},
		{Name: "RecordsProcessed", Unit: "Count", Dims: shard("shardId-000000000001"), Stats: stats(800, 8*5050, 1, 100)},
	}
	got := r.datums()
	if len(got) != len(want) {
		t.Fatalf("got %d datums, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.Name || g.Unit != w.Unit || !maps.Equal(g.Dims, w.Dims) || g.Stats != w.Stats {
			t.Errorf("datum %d:\n got %+v\nwant %+v", i, g, w)
		}
		if !g.Timestamp.Equal(testTime) {
			t.Errorf("datum %d timestamp %v, want %v", i, g.Timestamp, testTime)
		}
	}
	if d := cw.Dropped(); d != 0 {
		t.Errorf("Dropped() = %d, want 0", d)
	}
}

func TestPublisherIntervalsAreSeparate(t *testing.T) {
	r := newReceiver(t)
	cw := newTestCloudWatch(t, testConfig(t, r))
	s := shardScope(cw, "shardId-1")
	ctx := ctxTimeout(t, 10*time.Second)

	s.Count(metricnames.MetricRecordsProcessed, 10, metrics.LevelSummary)
	if err := cw.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.Count(metricnames.MetricRecordsProcessed, 3, metrics.LevelSummary)
	s.Count(metricnames.MetricRecordsProcessed, 4, metrics.LevelSummary)
	if err := cw.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cw.Flush(ctx); err != nil { // nothing recorded: no request
		t.Fatal(err)
	}
	reqs := r.requests()
	if len(reqs) != 2 {
		t.Fatalf("got %d requests, want 2 (an empty interval sends nothing)", len(reqs))
	}
	if got, want := reqs[0].Datums[0].Stats, (stats(1, 10, 10, 10)); got != want {
		t.Errorf("first interval %+v, want %+v", got, want)
	}
	if got, want := reqs[1].Datums[0].Stats, (stats(2, 7, 3, 4)); got != want {
		t.Errorf("second interval %+v, want %+v", got, want)
	}
}

func TestPublisherBatching(t *testing.T) {
	for _, tc := range []struct {
		perRequest int // 0: default
		wantReqs   int
	}{
		{0, 3},   // 2500 -> 1000, 1000, 500
		{300, 9}, // 8 x 300 + 100
	} {
		t.Run(fmt.Sprintf("max%d", tc.perRequest), func(t *testing.T) {
			r := newReceiver(t)
			cfg := testConfig(t, r)
			cfg.MaxDatumsPerRequest = tc.perRequest
			cw := newTestCloudWatch(t, cfg)
			s := shardScope(cw, "shardId-1")
			const n = 2500
			for i := range n {
				s.Count(fmt.Sprintf("metric-%04d", i), 1, metrics.LevelSummary)
			}
			if err := cw.Flush(ctxTimeout(t, 20*time.Second)); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			limit := tc.perRequest
			if limit == 0 {
				limit = maxDatumsPerRequest
			}
			reqs := r.requests()
			if len(reqs) != tc.wantReqs {
				t.Errorf("got %d requests, want %d", len(reqs), tc.wantReqs)
			}
			seen := map[string]bool{}
			for i, q := range reqs {
				if len(q.Datums) > limit {
					t.Errorf("request %d carries %d datums, limit %d", i, len(q.Datums), limit)
				}
				// The SDK gzips bodies from 10 KiB on; the receiver saw
				// those compressed and decoded them.
				if big := q.BodyBytes >= 10240; big != q.Gzip {
					t.Errorf("request %d: %d bytes, gzip=%v", i, q.BodyBytes, q.Gzip)
				}
				for _, d := range q.Datums {
					if seen[d.Name] {
						t.Errorf("datum %s sent twice", d.Name)
					}
					seen[d.Name] = true
				}
			}
			if len(seen) != n {
				t.Errorf("received %d distinct metrics, want %d", len(seen), n)
			}
			if !reqs[0].Gzip {
				t.Errorf("first request (%d bytes) was not gzipped", reqs[0].BodyBytes)
			}
		})
	}
}

func TestPublisherPayloadLimit(t *testing.T) {
	r := newReceiver(t)
	cw := newTestCloudWatch(t, testConfig(t, r))

	// 30 dimensions with 1 KiB values: ~40 KB per datum, so 60 datums
	// cannot fit one 1 MB request even though 1000 datums are allowed.
	dims := make([]metrics.Dimension, maxDimensionsPerMetric)
	for i := range dims {
		dims[i] = metrics.Dimension{Name: fmt.Sprintf("%02d-%s", i, strings.Repeat("n", 250)), Value: strings.Repeat("v", 1024)}
	}
	s := mscope.New(cw, dims...)
	const n = 60
	for i := range n {
		s.Count(fmt.Sprintf("metric-%02d", i), 1, metrics.LevelSummary)
	}
	if err := cw.Flush(ctxTimeout(t, 20*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	reqs := r.requests()
	if len(reqs) < 3 {
		t.Errorf("got %d requests; %d datums of ~40 KB need at least 3", len(reqs), n)
	}
	total := 0
	for i, q := range reqs {
		total += len(q.Datums)
		if q.BodyBytes > maxRequestBytes {
			t.Errorf("request %d: %d bytes, over the %d budget", i, q.BodyBytes, maxRequestBytes)
		}
		estimate := requestOverhead(q.Namespace)
		for _, d := range q.Datums {
			if len(d.Dims) != maxDimensionsPerMetric {
				t.Fatalf("datum %s has %d dimensions, want %d", d.Name, len(d.Dims), maxDimensionsPerMetric)
			}
			estimate += datumSize(d.Name, metrics.Unit(d.Unit), dimsOf(d.Dims))
		}
		if q.BodyBytes > estimate {
			t.Errorf("request %d: encoded %d bytes, estimated %d: the estimate must not be below the real size", i, q.BodyBytes, estimate)
		}
	}
	if total != n {
		t.Errorf("received %d datums, want %d", total, n)
	}
}

// TestCloudWatchSizeEstimateIsConservative compares the size estimate with
// the real encoding for small and typical datums, one per request.
func TestPublisherSizeEstimateIsConservative(t *testing.T) {
	r := newReceiver(t)
	cfg := testConfig(t, r)
	cfg.MaxDatumsPerRequest = 1
	cw := newTestCloudWatch(t, cfg)
	cw.Record("a", 1, "", metrics.LevelSummary, metrics.Dims{})
	cw.Record(metricnames.MetricMillisBehindLatest, 1e100, metrics.UnitMilliseconds, metrics.LevelSummary, metrics.NewDims(dim("Operation", "ProcessTask"), dim("ShardId", "shardId-000000000001")))
	cw.Record(strings.Repeat("x", 255), -0.5, metrics.Unit("Count/Second"), metrics.LevelSummary, metrics.NewDims(dim(strings.Repeat("k", 255), strings.Repeat("v", 1024))))
	if err := cw.Flush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	reqs := r.requests()
	if len(reqs) != 3 {
		t.Fatalf("got %d requests, want 3", len(reqs))
	}
	for _, q := range reqs {
		d := q.Datums[0]
		est := requestOverhead(q.Namespace) + datumSize(d.Name, metrics.Unit(d.Unit), dimsOf(d.Dims))
		if q.BodyBytes > est {
			t.Errorf("datum %.20s: encoded %d bytes, estimated %d", d.Name, q.BodyBytes, est)
		}
	}
}

func dimsOf(m map[string]string) metrics.Dims {
	var d []metrics.Dimension
	for k, v := range m {
		d = append(d, dim(k, v))
	}
	return metrics.NewDims(d...)
}

func TestPublisherDropsDatumsBreakingLimits(t *testing.T) {
	r := newReceiver(t)
	cw := newTestCloudWatch(t, testConfig(t, r))
	dims := make([]metrics.Dimension, maxDimensionsPerMetric+1)
	for i := range dims {
		dims[i] = metrics.Dimension{Name: fmt.Sprintf("d%02d", i), Value: "v"}
	}
	tooMany := mscope.New(cw, dims...)
	tooMany.Count("TooManyDims", 1, metrics.LevelSummary)
	tooMany.Count("TooManyDims", 1, metrics.LevelSummary)
	mscope.New(cw, dim("ShardId", "")).Count("EmptyDimValue", 1, metrics.LevelSummary)
	cw.Record("NaN", nan(), metrics.UnitNone, metrics.LevelSummary, metrics.Dims{})
	ok := mscope.New(cw, dims[:maxDimensionsPerMetric]...)
	ok.Count("ThirtyDims", 1, metrics.LevelSummary)

	// The bad datums must not fail the request carrying the good one.
	if err := cw.Flush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	got := r.datums()
	if len(got) != 1 || got[0].Name != "ThirtyDims" {
		t.Fatalf("received %+v, want only ThirtyDims", got)
	}
	if d := cw.Dropped(); d != 4 {
		t.Errorf("Dropped() = %d, want 4 (two observations with 31 dimensions, one empty value, one NaN)", d)
	}
}

func nan() float64 { var z float64; return z / z }

func TestPublisherDefaultDimensionsFollowKCL(t *testing.T) {
	r := newReceiver(t)
	cfg := testConfig(t, r)
	cfg.Dimensions = nil // KCL's default: Operation and ShardId
	cw := newTestCloudWatch(t, cfg)
	for _, worker := range []string{"w1", "w2"} {
		s := mscope.New(cw,
			dim(metricnames.DimensionOperation, metricnames.OperationProcessTask),
			dim(metricnames.DimensionShardID, "shardId-1"),
			dim(metricnames.DimensionWorkerIdentifier, worker),
			dim("StreamName", "orders"))
		s.Count(metricnames.MetricRecordsProcessed, 5, metrics.LevelSummary)
	}
	if err := cw.Close(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got := r.datums()
	if len(got) != 1 {
		t.Fatalf("got %d datums, want the two workers' series merged into 1: %+v", len(got), got)
	}
	if want := map[string]string{"Operation": "ProcessTask", "ShardId": "shardId-1"}; !maps.Equal(got[0].Dims, want) {
		t.Errorf("dimensions %v, want %v", got[0].Dims, want)
	}
	if want := (stats(2, 10, 5, 5)); got[0].Stats != want {
		t.Errorf("stats %+v, want %+v", got[0].Stats, want)
	}
}

func TestPublisherFlushesOnClose(t *testing.T) {
	r := newReceiver(t)
	cw := newTestCloudWatch(t, testConfig(t, r)) // FlushInterval 1 h: only Close sends
	s := shardScope(cw, "shardId-7")
	for i := range 1500 {
		s.Count(fmt.Sprintf("m%d", i), 1, metrics.LevelSummary)
	}
	if n := len(r.requests()); n != 0 {
		t.Fatalf("%d requests before Close", n)
	}
	if err := cw.Close(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := len(r.datums()); got != 1500 {
		t.Errorf("received %d datums after Close, want 1500", got)
	}
	if err := cw.Close(ctxTimeout(t, time.Second)); err != nil {
		t.Errorf("second Close: %v", err)
	}
	s.Count("late", 1, metrics.LevelSummary)
	if d := cw.Dropped(); d != 1 {
		t.Errorf("Dropped() after a Record on a closed sink = %d, want 1", d)
	}
	if err := cw.Flush(ctxTimeout(t, time.Second)); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
}

func TestPublisherLevels(t *testing.T) {
	t.Run("summary", func(t *testing.T) {
		r := newReceiver(t)
		cfg := testConfig(t, r)
		cfg.Level = metrics.LevelSummary
		cw := newTestCloudWatch(t, cfg)
		s := shardScope(cw, "shardId-1")
		if !s.Enabled(metrics.LevelSummary) || s.Enabled(metrics.LevelDetailed) {
			t.Errorf("Enabled(SUMMARY)=%v Enabled(DETAILED)=%v, want true, false", s.Enabled(metrics.LevelSummary), s.Enabled(metrics.LevelDetailed))
		}
		s.Time(metricnames.MetricGetRecordsTime, time.Millisecond, metrics.LevelDetailed)
		s.Success(metricnames.MetricGetRecordsSuccess, true, metrics.LevelDetailed)
		s.Count(metricnames.MetricRecordsProcessed, 3, metrics.LevelSummary)
		s.Count("RecordedAtNone", 1, metrics.LevelNone)
		if err := cw.Close(ctxTimeout(t, 10*time.Second)); err != nil {
			t.Fatal(err)
		}
		got := r.datums()
		if len(got) != 1 || got[0].Name != metricnames.MetricRecordsProcessed {
			t.Errorf("received %+v, want only RecordsProcessed", got)
		}
		if d := cw.Dropped(); d != 0 {
			t.Errorf("Dropped() = %d: filtered levels are not drops", d)
		}
	})
	t.Run("none", func(t *testing.T) {
		r := newReceiver(t)
		cfg := testConfig(t, r)
		cfg.Level = metrics.LevelNone
		cw := newTestCloudWatch(t, cfg)
		s := shardScope(cw, "shardId-1")
		s.Count(metricnames.MetricRecordsProcessed, 3, metrics.LevelSummary)
		s.Count(metricnames.MetricGetRecordsSuccess, 3, metrics.LevelDetailed)
		if cw.Enabled(metrics.LevelSummary) || cw.Enabled(metrics.LevelDetailed) {
			t.Error("a NONE sink reports a level enabled")
		}
		if err := cw.Flush(ctxTimeout(t, time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := cw.Close(ctxTimeout(t, time.Second)); err != nil {
			t.Fatal(err)
		}
		if n := len(r.requests()); n != 0 {
			t.Errorf("a NONE sink sent %d requests", n)
		}
	})
}

func TestPublisherRetriesThrottling(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply reply
	}{
		{"query-compatible Throttling", throttled()},
		{"ThrottlingException type", reply{status: 400, errType: "ThrottlingException"}},
		{"InternalServiceFault", reply{status: 500, errType: "com.amazonaws.cloudwatch#InternalServiceFault", queryErr: "InternalServiceError;Receiver"}},
		{"503 without body type", reply{status: 503}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t)
			r.script(func(n int) reply {
				if n <= 2 {
					return tc.reply
				}
				return reply{}
			})
			cw := newTestCloudWatch(t, testConfig(t, r))
			s := shardScope(cw, "shardId-1")
			s.Count(metricnames.MetricRecordsProcessed, 42, metrics.LevelSummary)
			s.Count(metricnames.MetricExpiredIterator, 1, metrics.LevelSummary)
			if err := cw.Flush(ctxTimeout(t, 10*time.Second)); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			reqs := r.requests()
			if len(reqs) != 3 {
				t.Fatalf("got %d requests, want 3 (two failures, then success)", len(reqs))
			}
			for i, q := range reqs {
				if len(q.Datums) != 2 {
					t.Errorf("attempt %d carried %d datums, want the same 2", i+1, len(q.Datums))
				}
			}
			if d := cw.Dropped(); d != 0 {
				t.Errorf("Dropped() = %d, want 0", d)
			}
		})
	}
}

func TestPublisherGivesUpAfterMaxRetries(t *testing.T) {
	r := newReceiver(t)
	r.script(func(int) reply { return throttled() })
	cfg := testConfig(t, r)
	cfg.MaxRetries = 2
	cw := newTestCloudWatch(t, cfg)
	s := shardScope(cw, "shardId-1")
	for range 5 {
		s.Count(metricnames.MetricRecordsProcessed, 1, metrics.LevelSummary)
	}
	s.Count(metricnames.MetricDataBytesProcessed, 1, metrics.LevelSummary)

	err := cw.Flush(ctxTimeout(t, 10*time.Second))
	var ue *UndeliveredError
	if !errors.As(err, &ue) || ue.Observations != 6 {
		t.Fatalf("Flush = %v, want an UndeliveredError for 6 observations", err)
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "Throttling" {
		t.Errorf("Flush error %v does not carry the Throttling API error", err)
	}
	// One attempt plus two retries: more would mean the SDK retried too.
	if n := len(r.requests()); n != 3 {
		t.Errorf("got %d requests, want 3", n)
	}
	if d := cw.Dropped(); d != 6 {
		t.Errorf("Dropped() = %d, want 6", d)
	}
}

func TestPublisherDoesNotRetryClientErrors(t *testing.T) {
	r := newReceiver(t)
	r.script(func(int) reply {
		return reply{status: 400, errType: "com.amazonaws.cloudwatch#InvalidParameterValueException", queryErr: "InvalidParameterValue;Sender"}
	})
	cw := newTestCloudWatch(t, testConfig(t, r))
	shardScope(cw, "shardId-1").Count(metricnames.MetricRecordsProcessed, 1, metrics.LevelSummary)
	err := cw.Flush(ctxTimeout(t, 10*time.Second))
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterValue" {
		t.Fatalf("Flush = %v, want the InvalidParameterValue error", err)
	}
	if n := len(r.requests()); n != 1 {
		t.Errorf("got %d requests, want 1: a rejected batch is not retried", n)
	}
}

func TestPublisherQueueOverflowIsCounted(t *testing.T) {
	r := newReceiver(t)
	cfg := testConfig(t, r)
	cfg.QueueSize = 10
	cw := newTestCloudWatch(t, cfg)
	s := shardScope(cw, "shardId-1")
	for i := range 15 {
		s.Count(fmt.Sprintf("m%02d", i), 1, metrics.LevelSummary)
	}
	if d := cw.Dropped(); d != 5 {
		t.Fatalf("Dropped() = %d after 15 series into a queue of 10, want 5", d)
	}
	// A full queue still aggregates into series it holds.
	s.Count("m00", 1, metrics.LevelSummary)
	if d := cw.Dropped(); d != 5 {
		t.Errorf("Dropped() = %d after recording into an existing series, want 5", d)
	}
	if err := cw.Flush(ctxTimeout(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	got := r.datums()
	if len(got) != 10 || got[0].Name != "m00" || got[0].Stats.SampleCount != 2 {
		t.Fatalf("received %d datums (first %+v), want m00..m09 with m00 counted twice", len(got), got[0])
	}
	// Delivered datums free their slots.
	for i := range 10 {
		s.Count(fmt.Sprintf("n%02d", i), 1, metrics.LevelSummary)
	}
	if d := cw.Dropped(); d != 5 {
		t.Errorf("Dropped() = %d after the queue drained, want still 5", d)
	}
}

// TestCloudWatchSlowReceiverDoesNotBlockRecord records 100 000 observations
// while the receiver holds the publisher's request open (stalled) or
// fails every request, and requires them to complete: Record must not wait
// for the network, and a full queue must drop rather than block.
func TestPublisherSlowReceiverDoesNotBlockRecord(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply reply
	}{
		{"stalled", reply{stall: true}},
		{"failing", reply{status: 500, errType: "InternalServiceFault"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t)
			r.script(func(int) reply { return tc.reply })
			cfg := testConfig(t, r)
			cfg.QueueSize = 1000
			cfg.MaxRetries = 1
			cw := newTestCloudWatch(t, cfg)

			s := shardScope(cw, "shardId-1")
			for i := range 10 {
				s.Count(fmt.Sprintf("warmup-%d", i), 1, metrics.LevelSummary)
			}
			flushCtx, cancelFlush := context.WithCancel(context.Background())
			defer cancelFlush()
			flushErr := make(chan error, 1)
			go func() { flushErr <- cw.Flush(flushCtx) }()
			r.waitArrival(t, 10*time.Second) // the publisher is now in a request

			const total = 100_000
			done := make(chan struct{})
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					sc := shardScope(cw, fmt.Sprintf("shardId-%d", g))
					for i := range total / 4 {
						sc.Count(fmt.Sprintf("m%d", i%5000), 1, metrics.LevelSummary)
					}
				})
			}
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Record calls did not complete while the receiver was slow: Record blocks")
			}
			if d := cw.Dropped(); d == 0 {
				t.Errorf("Dropped() = 0: 20 000 series cannot fit a queue of 1000")
			}

			if tc.reply.stall {
				cancelFlush()
			}
			if err := <-flushErr; err == nil {
				t.Errorf("Flush succeeded against a %s receiver", tc.name)
			}
			// Close gives up at its deadline, aborting a stalled request,
			// and still waits for the goroutine.
			closed := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				defer cancel()
				closed <- cw.Close(ctx)
			}()
			select {
			case err := <-closed:
				var ue *UndeliveredError
				if !errors.As(err, &ue) || ue.Observations == 0 {
					t.Errorf("Close = %v, want an UndeliveredError", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Close did not return after its context ended")
			}
		})
	}
}

func TestPublisherCloseAbortsBackoff(t *testing.T) {
	r := newReceiver(t)
	r.script(func(int) reply { return throttled() })
	cfg := testConfig(t, r)
	cfg.RetryBaseDelay = time.Hour
	cfg.RetryMaxDelay = time.Hour
	cw := newTestCloudWatch(t, cfg)
	shardScope(cw, "shardId-1").Count(metricnames.MetricRecordsProcessed, 1, metrics.LevelSummary)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := cw.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want it to give up with DeadlineExceeded", err)
	}
	var ue *UndeliveredError
	if !errors.As(err, &ue) || ue.Observations != 1 {
		t.Errorf("Close = %v, want 1 undelivered observation", err)
	}
	if n := len(r.requests()); n != 1 {
		t.Errorf("got %d requests, want 1 (then an hour of backoff, cut short)", n)
	}
}

func TestPublisherFlushesOnTimer(t *testing.T) {
	r := newReceiver(t)
	cfg := testConfig(t, r)
	cfg.FlushInterval = 20 * time.Millisecond
	cw := newTestCloudWatch(t, cfg)
	shardScope(cw, "shardId-1").Count(metricnames.MetricRecordsProcessed, 9, metrics.LevelSummary)
	r.waitArrival(t, 10*time.Second)
	got := r.datums()
	if len(got) != 1 || got[0].Stats.Sum != 9 {
		t.Errorf("timer flush sent %+v", got)
	}
}

func TestConfigValidation(t *testing.T) {
	r := newReceiver(t)
	good := func() Config { return Config{Client: r.client(), Namespace: "app"} }
	for _, tc := range []struct {
		field string
		edit  func(*Config)
	}{
		{"Client", func(c *Config) { c.Client = nil }},
		{"Namespace", func(c *Config) { c.Namespace = "" }},
		{"Namespace", func(c *Config) { c.Namespace = "AWS/Kinesis" }},
		{"Namespace", func(c *Config) { c.Namespace = strings.Repeat("n", 256) }},
		{"Namespace", func(c *Config) { c.Namespace = "bad\nname" }},
		{"Level", func(c *Config) { c.Level = 7 }},
		{"FlushInterval", func(c *Config) { c.FlushInterval = -time.Second }},
		{"QueueSize", func(c *Config) { c.QueueSize = -1 }},
		{"MaxDatumsPerRequest", func(c *Config) { c.MaxDatumsPerRequest = 1001 }},
		{"RetryBaseDelay", func(c *Config) { c.RetryBaseDelay = -1 }},
		{"RetryMaxDelay", func(c *Config) { c.RetryBaseDelay, c.RetryMaxDelay = time.Second, time.Millisecond }},
		{"RequestTimeout", func(c *Config) { c.RequestTimeout = -1 }},
		{"Dimensions[1]", func(c *Config) { c.Dimensions = []string{"ShardId", ""} }},
		{"Dimensions", func(c *Config) { c.Dimensions = []string{"ShardId", AllDimensions} }},
	} {
		cfg := good()
		tc.edit(&cfg)
		cw, err := New(cfg)
		var ce *consumer.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field || !errors.Is(err, consumer.ErrInvalidConfig) {
			t.Errorf("%s: New error %v, want a consumer.ConfigError for %s", tc.field, err, tc.field)
		}
		if err == nil || !strings.HasPrefix(err.Error(), "shardwise: ") {
			t.Errorf("%s: error %q does not start with \"shardwise: \"", tc.field, err)
		}
		if verr := cfg.Validate(); verr == nil || verr.Error() != err.Error() {
			t.Errorf("%s: Validate() = %v, New reported %v", tc.field, verr, err)
		}
		if cw != nil {
			t.Errorf("%s: New returned a publisher with an error", tc.field)
		}
	}
	cw, err := New(good())
	if err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if err := cw.Close(ctxTimeout(t, time.Second)); err != nil {
		t.Fatal(err)
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/kinesisserver"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/scheduler"
)

// Shardwise's own fan-out in the fanout scenario: variants (b) and (c),
// the added latency at 1,000 records/s per shard, and the 10 MB-record
// heap case in fan-out mode.

// fanOutClient is a Kinesis client over h2c, as the endpoint serves
// SubscribeToShard; the endpoint answers every other call on it too.
func fanOutClient(url string) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, BaseEndpoint: aws.String(url), HTTPClient: h2cClient(),
	})
}

// fanOutConfig is the worker of variants (b) (sdkDecoder) and (c): the
// throughput worker in fan-out mode. It registers the consumer named
// after the application once; later runs find it registered.
func fanOutConfig(ep *endpoint, sdkDecoder bool) scheduler.Config {
	cfg := shardwiseConfig(ep, sdkDecoder)
	cfg.KinesisClient = fanOutClient(ep.url)
	cfg.FanOut = true
	return cfg
}

// runShardwiseFanOut runs one fan-out worker with the counting processor
// (bytes counted, a checkpoint every batch) until ctx ends.
func runShardwiseFanOut(ctx context.Context, ep *endpoint, sdkDecoder bool, c *counter) error {
	var bytes atomic.Int64
	s, err := scheduler.New(fanOutConfig(ep, sdkDecoder), consumer.ProcessorFactoryFunc(func(string) consumer.Processor {
		return &countingProcessor{c: c, bytes: &bytes}
	}))
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// pageSample is a processor call that received a page's first record.
type pageSample struct {
	shard string
	page  uint64
	at    time.Time
}

// pageProcessor notes, while on, the first call that gets each page, and
// checkpoints every batch.
type pageProcessor struct {
	on      *atomic.Bool
	mu      *sync.Mutex
	samples *[]pageSample
}

func (p *pageProcessor) Initialize(context.Context, consumer.InitializationInput) error { return nil }

func (p *pageProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	now := time.Now()
	if p.on.Load() {
		last := ^uint64(0)
		p.mu.Lock()
		for i := range in.Records {
			pg, ok := kinesisserver.PageOf(in.Records[i].SequenceNumber)
			if ok && pg != last {
				*p.samples = append(*p.samples, pageSample{in.ShardID, pg, now})
				last = pg
			}
		}
		p.mu.Unlock()
	}
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *pageProcessor) LeaseLost(context.Context, consumer.LeaseLostInput) {}

func (p *pageProcessor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *pageProcessor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

// measureFanOutAddedLatency runs a fan-out worker at LATEST on an
// in-process endpoint that writes rate records/s of 1 KB per shard, in
// events of 10 records pushed as they are written, and returns, per page
// processed in the window, the time from the endpoint's flush of its event
// (OnEventSent) to the processor call that got it.
func measureFanOutAddedLatency(ctx context.Context, sdkDecoder bool, shards int, rate float64, window time.Duration) ([]time.Duration, error) {
	type key struct {
		shard string
		page  uint64
	}
	var sentMu sync.Mutex
	sent := map[key]time.Time{}
	srv, err := kinesisserver.Start(kinesisserver.Config{Shards: shards, RecordsPerCall: 10, RecordSize: 1024, RecordsPerSecond: rate,
		OnEventSent: func(shard string, page uint64, at time.Time) {
			sentMu.Lock()
			sent[key{shard, page}] = at
			sentMu.Unlock()
		}})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	var (
		on      atomic.Bool
		mu      sync.Mutex
		samples []pageSample
	)
	s, err := scheduler.New(scheduler.Config{
		ApplicationName: "bench-latency",
		StreamName:      "bench",
		InitialPosition: consumer.InitialPositionLatest,
		KinesisClient:   fanOutClient(srv.URL),
		Stores:          leases.NewMemoryStores(),
		WorkerID:        "bench-worker",
		FanOut:          true,
		SDKDecoder:      sdkDecoder,
	}, consumer.ProcessorFactoryFunc(func(string) consumer.Processor {
		return &pageProcessor{on: &on, mu: &mu, samples: &samples}
	}))
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	if err := waitOrFail(time.Minute, "every shard processing", func() bool {
		n := 0
		for _, sh := range s.Stats().Leases {
			if sh.State == "processing" {
				n++
			}
		}
		return n == shards
	}); err != nil {
		return nil, err
	}
	if !sleepCtx(ctx, 2*time.Second) { // warm-up
		return nil, ctx.Err()
	}
	on.Store(true)
	if !sleepCtx(ctx, window) {
		return nil, ctx.Err()
	}
	on.Store(false)
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	// OnEventSent runs after the flush on the endpoint's goroutine, which
	// may come after the processor call: the pairs are matched once both
	// sides are done.
	sentMu.Lock()
	defer sentMu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	var lat []time.Duration
	for _, smp := range samples {
		if t0, ok := sent[key{smp.shard, smp.page}]; ok {
			lat = append(lat, max(smp.at.Sub(t0), 0))
		}
	}
	if len(lat) == 0 {
		return nil, errors.New("no event processed in the window")
	}
	return lat, nil
}

// runFanOutAddedLatency prints the added latency of fan-out with both
// decoders next to polling's at its default settings. Polling has no
// moment at which the endpoint sends a record, and the HTTP/2 endpoint's
// GetRecords serves one page per call regardless of what is written, so
// polling's figure is taken on the in-memory fake (which answers with
// every record written), from the put to the processor call: the moment
// the record could first have been sent.
func runFanOutAddedLatency(ctx context.Context, opts options, out *report) error {
	const shards, rate = 4, 1000
	window := 10 * time.Second
	if opts.quick {
		window = 3 * time.Second
	}
	out.kv("latency_shards", shards)
	out.kv("latency_records_per_s_per_shard", rate)
	out.kv("latency_window_s", window.Seconds())
	for _, v := range []struct {
		name string
		sdk  bool
	}{{"fanout_fast", false}, {"fanout_sdk", true}} {
		lat, err := measureFanOutAddedLatency(ctx, v.sdk, shards, rate, window)
		if err != nil {
			return fmt.Errorf("latency %s: %w", v.name, err)
		}
		out.kv(v.name+"_added_latency_ms_p50", percentileMs(lat, 50))
		out.kv(v.name+"_added_latency_ms_p99", percentileMs(lat, 99))
		out.kv(v.name+"_latency_samples", len(lat))
	}
	_, e2e, err := measureLatency(ctx, false, shards, rate, 1024, window)
	if err != nil {
		return fmt.Errorf("latency polling: %w", err)
	}
	out.kv("polling_added_latency_ms_p50", percentileMs(e2e, 50))
	out.kv("polling_added_latency_ms_p99", percentileMs(e2e, 99))
	out.kv("polling_latency_samples", len(e2e))
	out.note("fan-out latency: from the endpoint's flush of an event (OnEventSent) to the processor call; polling (defaults, in-memory fake): from the put to the processor call")
	return nil
}

// runFanOutMemoryCase is the throughput scenario's 10 MB-record heap case
// (64 shards, a processor taking 200 ms a batch) in fan-out mode, for each
// decoder: with the runtime's defaults, and under a soft memory limit of
// the heap before the worker started + the configured bound + 64 MB.
func runFanOutMemoryCase(ctx context.Context, opts options, out *report) error {
	dur := 8 * time.Second
	if opts.quick {
		dur = 4 * time.Second
	}
	cfg := kinesisserver.Config{Shards: 64, RecordsPerCall: 1, RecordSize: 10 << 20, SubscribeInterval: -1}
	ep, err := startEndpoint(cfg)
	if err != nil {
		return err
	}
	defer ep.close()
	out.kv("case", memoryCaseName+"/fanout")
	// What the HTTP/2 transport has received and the reader has not read
	// is outside the budget: Go's transport lets each stream run up to
	// 4 MB ahead by default (256 MB over 64 subscriptions). The heap case
	// is measured with the transport's default and with 256 KB a stream
	// (http.Transport.HTTP2.MaxReceiveBufferPerStream), what a fan-out
	// worker sets on the Kinesis client it builds from AWSConfig (this
	// case passes a client of its own, over h2c, so it sets it here, as
	// the README tells a user with a client of their own to).
	const streamBuffer = 256 << 10
	out.kv("h2_stream_buffer_mb", float64(streamBuffer)/(1<<20))
	for _, v := range []struct {
		name   string
		sdk    bool
		buffer int
	}{{"fanout_fast", false, streamBuffer}, {"fanout_sdk", true, streamBuffer}, {"fanout_fast_h2default", false, 0}} {
		scfg := fanOutConfig(ep, v.sdk)
		if v.buffer > 0 {
			hc := h2cClient()
			hc.Transport.(*http.Transport).HTTP2 = &http.HTTP2Config{MaxReceiveBufferPerStream: v.buffer}
			scfg.KinesisClient = kinesis.New(kinesis.Options{
				Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, BaseEndpoint: aws.String(ep.url), HTTPClient: hc,
			})
		}
		scfg.ApplicationName = "bench-memory-" + v.name // a consumer of its own
		bound := defaultTotalPending(scfg)
		out.kv("configured_queue_mb", float64(bound)/(1<<20))

		runtime.GC()
		base := heapInuse()
		free, err := memoryRun(ctx, ep, scfg, dur)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		runtime.GC()
		base2 := heapInuse()
		limit := int64(base2) + bound + 64<<20
		prev := debug.SetMemoryLimit(limit)
		limited, err := memoryRun(ctx, ep, scfg, dur)
		debug.SetMemoryLimit(prev)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		out.kv(v.name+"_peak_heap_mb", limited.peakMB(base2))
		out.kv(v.name+"_peak_live_heap_mb", limited.peakLiveMB(base2))
		out.kv(v.name+"_peak_heap_mb_without_memlimit", free.peakMB(base))
		out.kv(v.name+"_peak_live_heap_mb_without_memlimit", free.peakLiveMB(base))
		out.kv(v.name+"_memlimit_mb", float64(limit)/(1<<20))
		out.kv(v.name+"_records_processed", limited.records)
	}
	out.note("peak_heap_mb is under the memory limit (bound + 64 MB above the heap before the worker started); the target is peak_heap_mb <= configured_queue_mb + 64")
	return nil
}

// percentileMs is the p-th percentile of ds in milliseconds.
func percentileMs(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, len(s)*p/100)
	return float64(s[i]) / float64(time.Millisecond)
}

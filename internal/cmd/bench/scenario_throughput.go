package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"golang.org/x/sync/semaphore"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/fastdecode"
	"github.com/shardwise/shardwise/internal/hashkey"
	"github.com/shardwise/shardwise/internal/kinesisserver"
	"github.com/shardwise/shardwise/internal/kpl"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/scheduler"
)

// The throughput scenario measures, side by side and in alternating rounds
// so that machine drift hits all of them alike:
//
//	(a) raw: the best plain loop of aws-sdk-go-v2 GetRecords calls over
//	    every shard that does nothing with the records — one goroutine per
//	    shard, unbounded and with at most 8 calls in flight, the faster
//	    of the two per round;
//	(b) Shardwise with the SDK's decoder (Config.SDKDecoder);
//	(c) Shardwise with its fast decode path (the default);
//
// (b) and (c) with a processor that counts bytes and checkpoints every
// batch, for 1 KB records and for KPL aggregates of 100 x 100 B on 4 and
// 64 shards; then 10 MB records on 64 shards with a slow processor, for the
// peak heap against the configured prefetch bound.
//
// Records are user records: for KPL, the raw loop counts 100 per Kinesis
// record without deaggregating (it does nothing with records), Shardwise
// counts the sub-records its processor receives. That raw loop skips work
// Shardwise cannot skip, so KPL cases add (a') raw-deagg: the same loop
// that also deaggregates every response with internal/kpl (digests
// checked, sub-records outside the shard's hash range dropped), which is
// the fair baseline: the ratios of a KPL case are against it, and the
// plain raw loop stays printed for reference.
//
// The Kinesis endpoint (internal/kinesisserver) runs in a child process of
// this command, so that CPU time, allocations and heap figures are the
// consumer's alone; -throughput-inprocess runs it in this process.
//
// All three clients are the same *kinesis.Client configuration: the SDK's
// HTTP client with idle connections enough for 64 shards, and
// fastdecode.RequestBodyFix, without which net/http tears down 1-4% of
// the connections carrying a large response from a local endpoint (the
// race is described in internal/fastdecode/requestbody.go) and the SDK
// retries them after a backoff; the fix is about the request, not the
// decoding, so it is in the bar too.
func init() {
	register("throughput", "records/s: raw SDK loop vs Shardwise with the SDK decoder vs the fast path; heap with 10 MB records", runThroughput)
	if os.Getenv(childServerEnv) != "" {
		os.Exit(serveChild())
	}
}

var (
	throughputInProcess = flag.Bool("throughput-inprocess", false, "throughput: run the Kinesis endpoint in this process instead of a child process")
	throughputCaseRE    = flag.String("throughput-cases", "", "throughput: run only the cases whose name matches this regular expression (for profiling)")
	throughputFetches   = flag.Int("throughput-fetches", 0, "throughput: Shardwise's MaxConcurrentFetches (0: its default)")
	throughputVariantRE = flag.String("throughput-variants", "", "throughput: run only the variants whose name matches this regular expression (for profiling; ratios need all)")
)

const childServerEnv = "SHARDWISE_BENCH_KINESIS_SERVER"

type throughputCase struct {
	name       string
	server     kinesisserver.Config
	usersPer   int // user records per Kinesis record
	payloadPer int // payload bytes per user record
}

func throughputCases() []throughputCase {
	var cs []throughputCase
	for _, shards := range []int{4, 64} {
		cs = append(cs, throughputCase{
			name:       fmt.Sprintf("1kb/%dshards", shards),
			server:     kinesisserver.Config{Shards: shards, RecordsPerCall: 1000, RecordSize: 1024},
			usersPer:   1,
			payloadPer: 1024,
		})
	}
	for _, shards := range []int{4, 64} {
		cs = append(cs, throughputCase{
			name:       fmt.Sprintf("kpl100x100b/%dshards", shards),
			server:     kinesisserver.Config{Shards: shards, RecordsPerCall: 100, SubRecords: 100, SubRecordSize: 100},
			usersPer:   100,
			payloadPer: 100,
		})
	}
	return cs
}

func runThroughput(ctx context.Context, opts options, out *report) error {
	rounds, warmup, window := 3, time.Second, 4*time.Second
	if opts.quick {
		rounds, warmup, window = 1, 500*time.Millisecond, 1500*time.Millisecond
	}
	out.kv("rounds", rounds)
	out.kv("window_s", window.Seconds())
	out.kv("gomaxprocs", runtime.GOMAXPROCS(0))
	caseRE, err := regexp.Compile(*throughputCaseRE)
	if err != nil {
		return fmt.Errorf("-throughput-cases: %w", err)
	}
	for _, tc := range throughputCases() {
		if !caseRE.MatchString(tc.name) {
			continue
		}
		if err := runThroughputCase(ctx, tc, rounds, warmup, window, out); err != nil {
			return fmt.Errorf("%s: %w", tc.name, err)
		}
	}
	if !caseRE.MatchString(memoryCaseName) {
		return nil
	}
	return runMemoryCase(ctx, opts, out)
}

const memoryCaseName = "10mb/64shards/slow"

// variant is one way of consuming the stream, measured over a window.
type variant struct {
	name string
	run  func(ctx context.Context, ep *endpoint, tc throughputCase, c *counter) error
}

func runThroughputCase(ctx context.Context, tc throughputCase, rounds int, warmup, window time.Duration, out *report) error {
	ep, err := startEndpoint(tc.server)
	if err != nil {
		return err
	}
	defer ep.close()
	variants := []variant{
		{"raw-unbounded", func(ctx context.Context, ep *endpoint, tc throughputCase, c *counter) error {
			return rawLoop(ctx, ep, tc, 0, c)
		}},
		{"raw-bounded8", func(ctx context.Context, ep *endpoint, tc throughputCase, c *counter) error {
			return rawLoop(ctx, ep, tc, 8, c)
		}},
		{"sdk_decoder", func(ctx context.Context, ep *endpoint, tc throughputCase, c *counter) error {
			return runShardwise(ctx, ep, tc, true, 0, c)
		}},
		{"fast", func(ctx context.Context, ep *endpoint, tc throughputCase, c *counter) error {
			return runShardwise(ctx, ep, tc, false, 0, c)
		}},
	}
	kplCase := tc.usersPer > 1
	if kplCase {
		// The fair baseline for KPL: the raw loop that also deaggregates
		// with internal/kpl, as Shardwise must (see rawDeaggLoop).
		variants = append(variants,
			variant{"raw-deagg-unbounded", func(ctx context.Context, ep *endpoint, tc throughputCase, c *counter) error {
				return rawDeaggLoop(ctx, ep, tc, 0, c)
			}},
			variant{"raw-deagg-bounded8", func(ctx context.Context, ep *endpoint, tc throughputCase, c *counter) error {
				return rawDeaggLoop(ctx, ep, tc, 8, c)
			}})
	}
	all := len(variants)
	variantRE, err := regexp.Compile(*throughputVariantRE)
	if err != nil {
		return fmt.Errorf("-throughput-variants: %w", err)
	}
	variants = slices.DeleteFunc(variants, func(v variant) bool { return !variantRE.MatchString(v.name) })
	if len(variants) < all {
		// Profiling a subset: per-round lines only, no ratios.
		for _, v := range variants {
			for round := range rounds {
				m, err := measureVariant(ctx, ep, tc, v, warmup, window)
				if err != nil {
					return fmt.Errorf("%s: %w", v.name, err)
				}
				out.note("%s round %d %s: %.0f records/s, %.3g allocs/record, %.3g cpu s/GB", tc.name, round+1, v.name, m.rate(), m.allocsPerRecord(), m.cpuPerGB(tc))
			}
		}
		return nil
	}
	results := map[string][]measurement{}
	for round := range rounds {
		// Rotate the order each round so that no variant always runs
		// first or last.
		order := slices.Clone(variants)
		for range round % len(order) {
			order = append(order[1:], order[0])
		}
		for _, v := range order {
			m, err := measureVariant(ctx, ep, tc, v, warmup, window)
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			results[v.name] = append(results[v.name], m)
			out.note("%s round %d %s: %.0f records/s, %.3g allocs/record, %.3g cpu s/GB", tc.name, round+1, v.name, m.rate(), m.allocsPerRecord(), m.cpuPerGB(tc))
		}
	}
	raw := bestPerRound(results, "raw-unbounded", "raw-bounded8", rounds)
	rawRate, sdkRate, fastRate := medianOf(raw, measurement.rate), medianOf(results["sdk_decoder"], measurement.rate), medianOf(results["fast"], measurement.rate)
	out.kv("case", tc.name)
	out.kv("raw_records_per_s", rawRate)
	out.kv("raw_best_variant", bestRaw(results, "raw-unbounded", "raw-bounded8"))
	out.kv("sdk_decoder_records_per_s", sdkRate)
	out.kv("fast_records_per_s", fastRate)
	base, baseRate := "raw", rawRate
	if kplCase {
		// The ratios of a KPL case are against the raw loop that also
		// deaggregates; the plain raw loop (which counts 100 user records
		// per Kinesis record without looking at them) stays above for
		// reference, with its ratios.
		deagg := bestPerRound(results, "raw-deagg-unbounded", "raw-deagg-bounded8", rounds)
		base, baseRate = "raw_deagg", medianOf(deagg, measurement.rate)
		out.kv("raw_deagg_records_per_s", baseRate)
		out.kv("raw_deagg_best_variant", bestRaw(results, "raw-deagg-unbounded", "raw-deagg-bounded8"))
		out.kv("raw_deagg_allocs_per_record", medianOf(deagg, measurement.allocsPerRecord))
		out.kv("raw_deagg_cpu_s_per_gb", medianOf(deagg, func(m measurement) float64 { return m.cpuPerGB(tc) }))
		out.kv("sdk_decoder_ratio_vs_raw_no_deagg", sdkRate/rawRate)
		out.kv("fast_ratio_vs_raw_no_deagg", fastRate/rawRate)
	}
	out.kv("ratio_baseline", base)
	out.kv("sdk_decoder_ratio", sdkRate/baseRate)
	out.kv("fast_ratio", fastRate/baseRate)
	out.kv("allocs_per_record", medianOf(results["fast"], measurement.allocsPerRecord))
	out.kv("cpu_s_per_gb", medianOf(results["fast"], func(m measurement) float64 { return m.cpuPerGB(tc) }))
	out.kv("sdk_decoder_allocs_per_record", medianOf(results["sdk_decoder"], measurement.allocsPerRecord))
	out.kv("sdk_decoder_cpu_s_per_gb", medianOf(results["sdk_decoder"], func(m measurement) float64 { return m.cpuPerGB(tc) }))
	out.kv("raw_allocs_per_record", medianOf(raw, measurement.allocsPerRecord))
	out.kv("raw_cpu_s_per_gb", medianOf(raw, func(m measurement) float64 { return m.cpuPerGB(tc) }))
	return nil
}

// bestPerRound is, round by round, the faster of two variants' measurements.
func bestPerRound(results map[string][]measurement, unbounded, bounded string, rounds int) []measurement {
	best := make([]measurement, rounds)
	for i := range best {
		best[i] = results[unbounded][i]
		if b := results[bounded][i]; b.rate() > best[i].rate() {
			best[i] = b
		}
	}
	return best
}

func bestRaw(results map[string][]measurement, unbounded, bounded string) string {
	if medianOf(results[bounded], measurement.rate) > medianOf(results[unbounded], measurement.rate) {
		return "bounded8"
	}
	return "unbounded"
}

func medianOf(ms []measurement, f func(measurement) float64) float64 {
	vs := make([]float64, len(ms))
	for i, m := range ms {
		vs[i] = f(m)
	}
	slices.Sort(vs)
	if len(vs) == 0 {
		return 0
	}
	return vs[len(vs)/2]
}

// counter counts what a variant consumed; it is read by the measurement
// while the variant runs.
type counter struct {
	records atomic.Int64 // user records
}

type measurement struct {
	records   int64
	seconds   float64
	cpu       float64 // process CPU seconds
	serverCPU float64 // the endpoint's child process's CPU seconds (0 in-process)
	mallocs   uint64
}

func (m measurement) rate() float64 { return float64(m.records) / m.seconds }

func (m measurement) allocsPerRecord() float64 {
	return float64(m.mallocs) / float64(max(m.records, 1))
}

func (m measurement) cpuPerGB(tc throughputCase) float64 {
	gb := float64(m.records) * float64(tc.payloadPer) / 1e9
	return m.cpu / gb
}

// measureVariant runs v until it has records flowing, lets it warm up,
// then measures it over the window, and stops it.
func measureVariant(ctx context.Context, ep *endpoint, tc throughputCase, v variant, warmup, window time.Duration) (measurement, error) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var c counter
	done := make(chan error, 1)
	go func() { done <- v.run(runCtx, ep, tc, &c) }()

	// Wait for the first records, bounded.
	deadline := time.Now().Add(30 * time.Second)
	for c.records.Load() == 0 {
		select {
		case err := <-done:
			return measurement{}, fmt.Errorf("stopped before any record: %v", err)
		case <-ctx.Done():
			return measurement{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return measurement{}, errors.New("no record within 30s")
		}
	}
	if !sleepCtx(ctx, warmup) {
		return measurement{}, ctx.Err()
	}
	r0, cpu0, m0, t0, s0 := c.records.Load(), cpuSeconds(), mallocs(), time.Now(), childCPUSeconds(ep.pid)
	if !sleepCtx(ctx, window) {
		return measurement{}, ctx.Err()
	}
	r1, cpu1, m1, t1, s1 := c.records.Load(), cpuSeconds(), mallocs(), time.Now(), childCPUSeconds(ep.pid)
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			return measurement{}, err
		}
	case <-time.After(time.Minute):
		return measurement{}, errors.New("did not stop within a minute")
	}
	return measurement{records: r1 - r0, seconds: t1.Sub(t0).Seconds(), cpu: cpu1 - cpu0, serverCPU: s1 - s0, mallocs: m1 - m0}, nil
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// childCPUSeconds is the user+system CPU time of process pid so far
// (Linux /proc; 0 when pid is 0 or unreadable).
func childCPUSeconds(pid int) float64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command (which is in parentheses and may hold
	// spaces): utime and stime are the 12th and 13th of them, in clock
	// ticks (100 a second on Linux).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return (ut + st) / 100
}

var mallocSample = []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}

func mallocs() uint64 {
	metrics.Read(mallocSample)
	return mallocSample[0].Value.Uint64()
}

// newClient is the client every variant uses (see the scenario's doc).
func newClient(ep *endpoint) *kinesis.Client {
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 256
	})
	return kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		Credentials:  aws.AnonymousCredentials{},
		BaseEndpoint: aws.String(ep.url),
		HTTPClient:   httpClient,
	}, fastdecode.RequestBodyFix)
}

// rawLoop is variant (a): GetRecords over every shard, one goroutine per
// shard, with at most bound calls in flight (0: unbounded).
func rawLoop(ctx context.Context, ep *endpoint, tc throughputCase, bound int, c *counter) error {
	client := newClient(ep)
	var sem *semaphore.Weighted
	if bound > 0 {
		sem = semaphore.NewWeighted(int64(bound))
	}
	var wg sync.WaitGroup
	for _, shard := range ep.shards {
		wg.Go(func() {
			it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
				StreamName: aws.String("bench"), ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
			})
			if err != nil {
				return
			}
			iter := it.ShardIterator
			for ctx.Err() == nil {
				if sem != nil && sem.Acquire(ctx, 1) != nil {
					return
				}
				out, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
				if sem != nil {
					sem.Release(1)
				}
				if err != nil {
					continue // the same iterator again; the SDK has retried already
				}
				c.records.Add(int64(len(out.Records) * tc.usersPer))
				iter = out.NextShardIterator
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// countingProcessor counts records and bytes and checkpoints every batch.
// With a delay it is the slow processor of the memory case.
type countingProcessor struct {
	c     *counter
	bytes *atomic.Int64
	delay time.Duration
}

func (p *countingProcessor) Initialize(context.Context, consumer.InitializationInput) error {
	return nil
}

func (p *countingProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	var n int64
	for i := range in.Records {
		n += int64(len(in.Records[i].Data))
	}
	p.bytes.Add(n)
	if p.delay > 0 && !sleepCtx(ctx, p.delay) {
		return ctx.Err()
	}
	p.c.records.Add(int64(len(in.Records)))
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *countingProcessor) LeaseLost(context.Context, consumer.LeaseLostInput) {}

func (p *countingProcessor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *countingProcessor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

// shardwiseConfig is the worker of variants (b) and (c). GetRecords is
// not held to Kinesis's five calls per second per shard
// (MinGetRecordsInterval), since the raw loop is not either.
func shardwiseConfig(ep *endpoint, sdkDecoder bool) scheduler.Config {
	return scheduler.Config{
		ApplicationName:       "bench-throughput",
		StreamName:            "bench",
		InitialPosition:       consumer.InitialPositionTrimHorizon,
		KinesisClient:         newClient(ep),
		Stores:                leases.NewMemoryStores(),
		WorkerID:              "bench-worker",
		MinGetRecordsInterval: time.Microsecond,
		ShutdownTimeout:       10 * time.Second,
		SDKDecoder:            sdkDecoder,
		MaxConcurrentFetches:  *throughputFetches,
	}
}

func runShardwise(ctx context.Context, ep *endpoint, tc throughputCase, sdkDecoder bool, delay time.Duration, c *counter) error {
	var bytes atomic.Int64
	factory := consumer.ProcessorFactoryFunc(func(string) consumer.Processor {
		return &countingProcessor{c: c, bytes: &bytes, delay: delay}
	})
	s, err := scheduler.New(shardwiseConfig(ep, sdkDecoder), factory)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// runMemoryCase: 64 shards of 10 MB records, a processor that takes 200 ms
// a batch. The prefetch queues fill and must stay within their bound.
//
// It runs twice: with the Go runtime's defaults (GOGC=100 lets the heap
// grow to about twice what is live before collecting, so heap in use
// measures the GC's policy more than the worker), and with a soft memory
// limit (debug.SetMemoryLimit, what GOMEMLIMIT sets) of the heap before the
// worker started + the configured bound + 64 MB, the way a service that
// must fit a memory budget is run. Live heap is reported for both.
func runMemoryCase(ctx context.Context, opts options, out *report) error {
	dur := 8 * time.Second
	if opts.quick {
		dur = 4 * time.Second
	}
	cfg := kinesisserver.Config{Shards: 64, RecordsPerCall: 1, RecordSize: 10 << 20}
	ep, err := startEndpoint(cfg)
	if err != nil {
		return err
	}
	defer ep.close()
	scfg := shardwiseConfig(ep, false)
	// The bound a user configures for what is fetched and not yet
	// processed is the worker-wide one (the per-shard bound admits one
	// batch above it, and every shard's batch is 10 MB here).
	bound := defaultTotalPending(scfg)
	out.kv("case", memoryCaseName)
	out.kv("configured_queue_mb", float64(bound)/(1<<20))

	runtime.GC()
	base := heapInuse()
	free, err := memoryRun(ctx, ep, scfg, dur)
	if err != nil {
		return err
	}
	out.kv("peak_heap_mb_without_memlimit", free.peakMB(base))
	out.kv("peak_live_heap_mb_without_memlimit", free.peakLiveMB(base))

	runtime.GC()
	base = heapInuse()
	limit := int64(base) + bound + 64<<20
	prev := debug.SetMemoryLimit(limit)
	limited, err := memoryRun(ctx, ep, scfg, dur)
	debug.SetMemoryLimit(prev)
	if err != nil {
		return err
	}
	out.kv("memlimit_mb", float64(limit)/(1<<20))
	out.kv("peak_heap_mb", limited.peakMB(base))
	out.kv("peak_live_heap_mb", limited.peakLiveMB(base))
	out.kv("records_processed", limited.records)
	out.kv("records_processed_without_memlimit", free.records)
	out.note("heap figures are above the heap in use before the worker started (%.0f MB); peak_heap_mb is under the memory limit", float64(base)/(1<<20))
	return nil
}

type memoryPeaks struct {
	peak, peakLive uint64
	records        int64
}

func (m memoryPeaks) peakMB(base uint64) float64 {
	return float64(m.peak-min(base, m.peak)) / (1 << 20)
}

func (m memoryPeaks) peakLiveMB(base uint64) float64 {
	return float64(m.peakLive-min(base, m.peakLive)) / (1 << 20)
}

// memoryRun runs one worker with the slow processor for dur and samples
// the heap every 20 ms.
func memoryRun(ctx context.Context, ep *endpoint, scfg scheduler.Config, dur time.Duration) (memoryPeaks, error) {
	var res memoryPeaks
	var c counter
	var bytes atomic.Int64
	s, err := scheduler.New(scfg, consumer.ProcessorFactoryFunc(func(string) consumer.Processor {
		return &countingProcessor{c: &c, bytes: &bytes, delay: 200 * time.Millisecond}
	}))
	if err != nil {
		return res, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	end := time.After(dur)
loop:
	for {
		select {
		case <-tick.C:
			res.peak = max(res.peak, heapInuse())
			res.peakLive = max(res.peakLive, liveHeap())
		case <-end:
			break loop
		case err := <-done:
			return res, fmt.Errorf("memory case: worker stopped: %v", err)
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return res, err
	}
	res.records = c.records.Load()
	return res, nil
}

func defaultTotalPending(cfg scheduler.Config) int64 {
	if cfg.MaxTotalPendingBytes > 0 {
		return cfg.MaxTotalPendingBytes
	}
	return 256 << 20 // scheduler.Config's documented default
}

var heapSamples = []metrics.Sample{
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/heap/unused:bytes"},
	{Name: "/gc/heap/live:bytes"},
}

// heapInuse is the heap's in-use spans (runtime.MemStats.HeapInuse),
// without stopping the world.
func heapInuse() uint64 {
	metrics.Read(heapSamples)
	return heapSamples[0].Value.Uint64() + heapSamples[1].Value.Uint64()
}

// liveHeap is the heap the last GC found live.
func liveHeap() uint64 {
	metrics.Read(heapSamples)
	return heapSamples[2].Value.Uint64()
}

// endpoint is a running kinesisserver, in a child process or in this one.
type endpoint struct {
	url    string
	shards []string
	close  func()
	pid    int // the child process serving it; 0 in this process
}

func startEndpoint(cfg kinesisserver.Config) (*endpoint, error) {
	shards := make([]string, cfg.Shards)
	for i := range shards {
		shards[i] = fmt.Sprintf("shardId-%012d", i)
	}
	if *throughputInProcess {
		s, err := kinesisserver.Start(cfg)
		if err != nil {
			return nil, err
		}
		return &endpoint{url: s.URL, shards: shards, close: func() { _ = s.Close() }}, nil
	}
	conf, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childServerEnv+"="+string(conf))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		_ = stdin.Close() // the child stops when its stdin closes
		waited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-waited
		}
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		stop()
		return nil, fmt.Errorf("the endpoint process did not start: %v", err)
	}
	var url string
	if _, err := fmt.Sscanf(line, "url=%s", &url); err != nil {
		stop()
		return nil, fmt.Errorf("the endpoint process said %q", line)
	}
	return &endpoint{url: url, shards: shards, close: stop, pid: cmd.Process.Pid}, nil
}

// serveChild is the endpoint process: it serves until its stdin closes.
func serveChild() int {
	var cfg kinesisserver.Config
	if err := json.Unmarshal([]byte(os.Getenv(childServerEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench endpoint:", err)
		return 2
	}
	s, err := kinesisserver.Start(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench endpoint:", err)
		return 1
	}
	fmt.Printf("url=%s\n", s.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = s.Close()
	return 0
}

// rawDeaggLoop is variant (a') of KPL cases: rawLoop, plus deaggregation
// of every response with internal/kpl the way a consumer must do it —
// the digests of a response's aggregates checked in one Verify, every
// aggregate split into sub-records (slices of the response's data, not
// copies), those outside the shard's hash range dropped — counting the
// sub-records it gets. It isolates the cost of our own KPL machinery from
// the rest of Shardwise.
func rawDeaggLoop(ctx context.Context, ep *endpoint, tc throughputCase, bound int, c *counter) error {
	client := newClient(ep)
	var sem *semaphore.Weighted
	if bound > 0 {
		sem = semaphore.NewWeighted(int64(bound))
	}
	// The endpoint splits the hash key space evenly, as CreateStream does.
	ranges := hashkey.Split(hashkey.Full, len(ep.shards))
	var wg sync.WaitGroup
	for i, shard := range ep.shards {
		keep := ranges[i]
		wg.Go(func() {
			it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
				StreamName: aws.String("bench"), ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
			})
			if err != nil {
				return
			}
			var (
				d    kpl.Deaggregator
				aggs [][]byte
				ok   []bool
			)
			iter := it.ShardIterator
			for ctx.Err() == nil {
				if sem != nil && sem.Acquire(ctx, 1) != nil {
					return
				}
				out, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
				if sem != nil {
					sem.Release(1)
				}
				if err != nil {
					continue // the same iterator again; the SDK has retried already
				}
				aggs = aggs[:0]
				for i := range out.Records {
					aggs = append(aggs, out.Records[i].Data)
				}
				ok = slices.Grow(ok[:0], len(aggs))[:len(aggs)]
				n := countSubRecords(&d, aggs, ok, &keep)
				clear(aggs) // do not pin the responses
				c.records.Add(int64(n))
				iter = out.NextShardIterator
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

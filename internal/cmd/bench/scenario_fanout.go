package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/shardwise/shardwise/internal/fastdecode"
	"github.com/shardwise/shardwise/internal/hashkey"
	"github.com/shardwise/shardwise/internal/kinesisserver"
	"github.com/shardwise/shardwise/internal/kpl"
)

// The fanout scenario measures enhanced fan-out's wire on the in-process
// endpoint (internal/kinesisserver, in a child process as for throughput):
// a raw aws-sdk-go-v2 SubscribeToShard loop over every shard — subscribe,
// drain the events counting records, resubscribe from the last
// ContinuationSequenceNumber when a subscription ends — once with the
// SDK's event-stream decoder (raw) and once with Shardwise's
// (raw_fast, fastdecode.SubscribeToShardOption), side by side in
// alternating rounds, for 1 KB records and KPL 100 x 100 B on 4 and 64
// shards; then, with the endpoint pacing every shard at 1,000 records/s
// (in this process, so that send and receive share a clock), the latency
// from the moment the endpoint flushes an event to the moment the loop
// has it decoded.
//
// Against it run Shardwise's own fan-out workers, (b) fanout_sdk with the
// SDK's decoder (Config.SDKDecoder) and (c) fanout_fast with its own, each
// with a processor that counts bytes and checkpoints every batch; their
// ratios are against raw (the raw loop with the SDK's decoder). raw_fast,
// the raw loop with Shardwise's decoder, is printed for reference: the
// wire's ceiling. Then the added latency of fan-out (flush to processor
// call) next to polling's, and the 10 MB-record heap case in fan-out mode
// (scenario_fanout_shardwise.go).
func init() {
	register("fanout", "enhanced fan-out records/s and CPU: raw SDK SubscribeToShard loop vs Shardwise fan-out with the SDK's decoder and its own; added latency at 1,000 records/s per shard vs polling; heap with 10 MB records", runFanout)
}

func fanoutVariants(tc throughputCase) []variant {
	vs := []variant{
		{"raw", func(ctx context.Context, ep *endpoint, tc throughputCase, c *counter) error {
			return rawSubscribeLoop(ctx, ep, tc, fastdecode.SDKSubscribeToShardOption, c, nil)
		}},
		{"raw_fast", func(ctx context.Context, ep *endpoint, tc throughputCase, c *counter) error {
			return rawSubscribeLoop(ctx, ep, tc, fastdecode.SubscribeToShardOption, c, nil)
		}},
		{"fanout_sdk", func(ctx context.Context, ep *endpoint, _ throughputCase, c *counter) error {
			return runShardwiseFanOut(ctx, ep, true, c)
		}},
		{"fanout_fast", func(ctx context.Context, ep *endpoint, _ throughputCase, c *counter) error {
			return runShardwiseFanOut(ctx, ep, false, c)
		}},
	}
	if tc.usersPer > 1 {
		// KPL: the raw loop that also deaggregates, as Shardwise must,
		// is the baseline the ratios are taken against; raw (counting
		// aggregates times their size, without opening them) stays
		// printed for reference.
		vs = append(vs, variant{"raw_deagg", func(ctx context.Context, ep *endpoint, tc throughputCase, c *counter) error {
			return rawSubscribeLoop(ctx, ep, tc, fastdecode.SDKSubscribeToShardOption, c, nil, true)
		}})
	}
	return vs
}

// fanoutRounds overrides the number of paired rounds (profiling, or a
// steadier figure on a busy machine).
var fanoutRounds = flag.Int("fanout-rounds", 0, "fanout: paired rounds per case (0: 7, 3 with -quick)")

func runFanout(ctx context.Context, opts options, out *report) error {
	// Many short rounds rather than a few long ones: each round runs every
	// variant back to back, so a round's ratios compare runs that met the
	// same machine load, and the median over rounds shrugs off a round
	// that another process disturbed (see runFanoutCase).
	rounds, warmup, window := 7, time.Second, 2*time.Second
	if opts.quick {
		rounds, warmup, window = 3, 500*time.Millisecond, time.Second
	}
	if *fanoutRounds > 0 {
		rounds = *fanoutRounds
	}
	out.kv("rounds", rounds)
	out.kv("window_s", window.Seconds())
	out.kv("gomaxprocs", runtime.GOMAXPROCS(0))
	// -throughput-cases narrows this scenario too, for profiling:
	// "latency" and the memory case's name are cases as well.
	caseRE, err := regexp.Compile(*throughputCaseRE)
	if err != nil {
		return fmt.Errorf("-throughput-cases: %w", err)
	}
	for _, tc := range throughputCases() {
		if !caseRE.MatchString(tc.name) {
			continue
		}
		tc.server.SubscribeInterval = -1 // resubscriptions between rounds
		if err := runFanoutCase(ctx, tc, rounds, warmup, window, out); err != nil {
			return fmt.Errorf("%s: %w", tc.name, err)
		}
	}
	if caseRE.MatchString("latency") {
		if err := runFanoutLatency(ctx, opts, out); err != nil {
			return err
		}
		if err := runFanOutAddedLatency(ctx, opts, out); err != nil {
			return err
		}
	}
	if !caseRE.MatchString(memoryCaseName + "/fanout") {
		return nil
	}
	return runFanOutMemoryCase(ctx, opts, out)
}

// loadAverage is the 1-minute load average (Linux), or -1: the figures of
// a run are printed with the machine's load they met.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// runFanoutCase measures every variant of tc in paired, alternating
// rounds: each round runs all of them back to back (a, b, c, ... then the
// next round rotated by one, so none always runs first or last), and a
// variant's ratio is taken round by round against the baseline of the same
// round. The headline <variant>_ratio is the median of those per-round
// ratios; _ratio_min and _ratio_max give their spread, and
// _ratio_of_medians the ratio of the median rates (the figure before the
// rounds were paired). The same is printed for CPU per GB (the baseline's
// over the variant's: above 1 the variant is cheaper).
func runFanoutCase(ctx context.Context, tc throughputCase, rounds int, warmup, window time.Duration, out *report) error {
	ep, err := startEndpoint(tc.server)
	if err != nil {
		return err
	}
	defer ep.close()
	variants := fanoutVariants(tc)
	all := len(variants)
	if *throughputVariantRE != "" {
		re, err := regexp.Compile(*throughputVariantRE)
		if err != nil {
			return fmt.Errorf("-throughput-variants: %w", err)
		}
		variants = slices.DeleteFunc(variants, func(v variant) bool { return !re.MatchString(v.name) })
	}
	load0 := loadAverage()
	results := map[string][]measurement{}
	for round := range rounds {
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
	out.kv("case", tc.name)
	out.kv("load_avg_1m_start", load0)
	out.kv("load_avg_1m_end", loadAverage())
	baseline := "raw"
	if tc.usersPer > 1 {
		baseline = "raw_deagg"
	}
	if len(variants) < all {
		// Profiling a subset: per-variant medians only, no ratios.
		for _, v := range variants {
			out.kv(v.name+"_records_per_s", medianOf(results[v.name], measurement.rate))
			out.kv(v.name+"_cpu_s_per_gb", medianOf(results[v.name], func(m measurement) float64 { return m.cpuPerGB(tc) }))
		}
		return nil
	}
	out.kv("ratio_baseline", baseline)
	base := results[baseline]
	cpuPerGB := func(m measurement) float64 { return m.cpuPerGB(tc) }
	for _, v := range variants {
		ms := results[v.name]
		out.kv(v.name+"_records_per_s", medianOf(ms, measurement.rate))
		if v.name != baseline && v.name != "raw" {
			rate, cpu := make([]float64, rounds), make([]float64, rounds)
			for r := range rounds {
				rate[r] = ms[r].rate() / base[r].rate()
				cpu[r] = base[r].cpuPerGB(tc) / ms[r].cpuPerGB(tc)
			}
			out.kv(v.name+"_ratio", median(rate))
			out.kv(v.name+"_ratio_min", slices.Min(rate))
			out.kv(v.name+"_ratio_max", slices.Max(rate))
			out.kv(v.name+"_ratio_of_medians", medianOf(ms, measurement.rate)/medianOf(base, measurement.rate))
			out.kv(v.name+"_cpu_ratio", median(cpu))
			out.kv(v.name+"_cpu_ratio_min", slices.Min(cpu))
			out.kv(v.name+"_cpu_ratio_max", slices.Max(cpu))
		}
		out.kv(v.name+"_cpu_s_per_gb", medianOf(ms, cpuPerGB))
		if ep.pid != 0 {
			// The endpoint's share: the two processes share the machine's
			// cores, so records/s ratios are below the CPU ratios by it.
			out.kv(v.name+"_server_cpu_s_per_gb", medianOf(ms, func(m measurement) float64 {
				return m.serverCPU / (float64(m.records) * float64(tc.payloadPer) / 1e9)
			}))
		}
		out.kv(v.name+"_allocs_per_record", medianOf(ms, measurement.allocsPerRecord))
	}
	return nil
}

// h2cClient speaks HTTP/2 without TLS, as the endpoint serves
// SubscribeToShard.
func h2cClient() *http.Client {
	protos := new(http.Protocols)
	protos.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: protos}}
}

var consumerSeq atomic.Int64

// rawSubscribeLoop registers a consumer of its own, subscribes to every
// shard and drains the events, resubscribing after the last continuation
// whenever a subscription ends, until ctx ends; then it deregisters the
// consumer. received, when set, is called with every event and the time
// it was decoded.
//
// With deagg (variant raw_deagg of the KPL cases) it deaggregates every
// event's records with internal/kpl as a consumer must — digests checked
// in one Verify, sub-records outside the shard's hash range dropped — and
// counts the sub-records it gets, as rawDeaggLoop does for GetRecords.
func rawSubscribeLoop(ctx context.Context, ep *endpoint, tc throughputCase, opt func(*kinesis.Options), c *counter,
	received func(shard string, ev *types.SubscribeToShardEvent, at time.Time), deagg ...bool,
) error {
	deaggregate := len(deagg) > 0 && deagg[0]
	ranges := hashkey.Split(hashkey.Full, len(ep.shards))
	client := kinesis.New(kinesis.Options{
		Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, BaseEndpoint: aws.String(ep.url), HTTPClient: h2cClient(),
	})
	streamARN := "arn:aws:kinesis:us-east-1:000000000000:stream/bench"
	reg, err := client.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{
		StreamARN: aws.String(streamARN), ConsumerName: aws.String(fmt.Sprintf("raw-%d", consumerSeq.Add(1))),
	})
	if err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = client.DeregisterStreamConsumer(dctx, &kinesis.DeregisterStreamConsumerInput{ConsumerARN: reg.Consumer.ConsumerARN})
	}()
	var wg sync.WaitGroup
	errs := make(chan error, len(ep.shards))
	for i, shard := range ep.shards {
		keep := ranges[i]
		wg.Go(func() {
			var (
				d    kpl.Deaggregator
				aggs [][]byte
				ok   []bool
			)
			count := func(recs []types.Record) int64 {
				if !deaggregate {
					return int64(len(recs) * tc.usersPer)
				}
				aggs = aggs[:0]
				for i := range recs {
					aggs = append(aggs, recs[i].Data)
				}
				ok = slices.Grow(ok[:0], len(aggs))[:len(aggs)]
				n := countSubRecords(&d, aggs, ok, &keep)
				clear(aggs) // do not pin the events
				return int64(n)
			}
			pos := &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}
			if received != nil {
				pos.Type = types.ShardIteratorTypeLatest
			}
			for ctx.Err() == nil {
				out, err := client.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
					ConsumerARN: reg.Consumer.ConsumerARN, ShardId: aws.String(shard), StartingPosition: pos,
				}, opt)
				var api smithy.APIError
				switch {
				case err != nil && ctx.Err() != nil:
					return
				case err != nil && errors.As(err, &api) && (api.ErrorCode() == "LimitExceededException" || api.ErrorCode() == "ResourceInUseException"):
					sleepCtx(ctx, 100*time.Millisecond)
					continue
				case err != nil:
					errs <- err
					return
				}
				es := out.GetStream()
				for ev := range es.Events() {
					e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
					if !ok {
						continue
					}
					if received != nil {
						received(shard, &e.Value, time.Now())
					}
					c.records.Add(count(e.Value.Records))
					if e.Value.ContinuationSequenceNumber != nil {
						pos = &types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: e.Value.ContinuationSequenceNumber}
					}
				}
				_ = es.Close()
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return ctx.Err()
}

// countSubRecords is what the raw loops that deaggregate do with the
// aggregates of a response or an event, as Shardwise does (see its
// recordConverter): the digests checked in one Verify, every aggregate's
// framing scanned, then its sub-records decoded and those outside keep
// dropped (kpl's Scan and Each: no copy of the sub-records); it counts the
// records a consumer gets, an aggregate that fails as one plain record.
// len(ok) must be at least len(aggs).
func countSubRecords(d *kpl.Deaggregator, aggs [][]byte, ok []bool, keep *hashkey.Range) int {
	d.Verify(aggs, ok[:len(aggs)])
	n := 0
	for i, agg := range aggs {
		if !ok[i] {
			n++ // delivered as one plain record
			continue
		}
		s, err := d.Scan(agg)
		if err != nil {
			n++
			continue
		}
		subs := 0
		if err := d.Each(&s, keep, func(kpl.SubRecord) { subs++ }); err != nil {
			subs = 1
		}
		n += subs
	}
	return n
}

// runFanoutLatency measures, per decoder, how long after the endpoint
// flushes an event the raw loop has it decoded, with the endpoint writing
// 1,000 records/s per shard (events of 10 records, each pushed the moment
// its records are written), on 4 shards.
func runFanoutLatency(ctx context.Context, opts options, out *report) error {
	window := 5 * time.Second
	if opts.quick {
		window = 2 * time.Second
	}
	type key struct {
		shard string
		page  uint64
	}
	var mu sync.Mutex
	sent := map[key]time.Time{}
	cfg := kinesisserver.Config{Shards: 4, RecordsPerCall: 10, RecordSize: 1024, RecordsPerSecond: 1000, SubscribeInterval: -1,
		OnEventSent: func(shard string, page uint64, at time.Time) {
			mu.Lock()
			sent[key{shard, page}] = at
			mu.Unlock()
		}}
	s, err := kinesisserver.Start(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ep := &endpoint{url: s.URL, shards: s.Shards(), close: func() {}}
	tc := throughputCase{name: "latency", usersPer: 1, payloadPer: 1024}
	for _, v := range []struct {
		name string
		opt  func(*kinesis.Options)
	}{{"raw", fastdecode.SDKSubscribeToShardOption}, {"raw_fast", fastdecode.SubscribeToShardOption}} {
		var lat []float64
		var latMu sync.Mutex
		runCtx, cancel := context.WithTimeout(ctx, window)
		var c counter
		err := rawSubscribeLoop(runCtx, ep, tc, v.opt, &c, func(shard string, ev *types.SubscribeToShardEvent, at time.Time) {
			if len(ev.Records) == 0 {
				return
			}
			page, ok := kinesisserver.PageOf(aws.ToString(ev.Records[0].SequenceNumber))
			if !ok {
				return
			}
			// OnEventSent runs after the flush, on the server's
			// goroutine: await it, bounded, so no sample is lost to
			// the race between it and the client.
			var t0 time.Time
			for range 1000 {
				mu.Lock()
				t0, ok = sent[key{shard, page}]
				mu.Unlock()
				if ok {
					break
				}
				time.Sleep(10 * time.Microsecond)
			}
			if !ok {
				return
			}
			latMu.Lock()
			lat = append(lat, float64(max(at.Sub(t0), 0))/float64(time.Millisecond))
			latMu.Unlock()
		})
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("latency %s: %w", v.name, err)
		}
		slices.Sort(lat)
		if len(lat) == 0 {
			return fmt.Errorf("latency %s: no event measured", v.name)
		}
		out.kv(v.name+"_events_measured", len(lat))
		out.kv(v.name+"_event_latency_ms_p50", lat[len(lat)/2])
		out.kv(v.name+"_event_latency_ms_p99", lat[len(lat)*99/100])
	}
	return nil
}

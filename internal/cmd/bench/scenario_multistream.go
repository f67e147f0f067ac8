package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/leasekey"
	"github.com/shardwise/shardwise/kinesistest"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/scheduler"
)

func init() {
	register("multistream", "3 workers, one application on 3 streams (in-memory fakes, real time); a 4th stream added, one removed (leases kept), one split 4 -> 8 while a producer writes per-key counters: lost records, per-key order, lease spread, streams active, the removed stream's leases", runMultiStream)
}

// msLedger records what the workers' processors saw, across streams.
type msLedger struct {
	mu        sync.Mutex
	seen      map[string]bool // payload "stream/key:counter"
	maxByKey  map[string]int  // "stream/key" -> highest counter delivered for the first time
	violation int
}

func (l *msLedger) add(payload string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[payload] {
		return // a redelivery after a lease moved: at-least-once, not an order violation
	}
	l.seen[payload] = true
	key, cs, _ := strings.Cut(payload, ":")
	c, _ := strconv.Atoi(cs)
	if prev, ok := l.maxByKey[key]; ok && c < prev {
		l.violation++
	}
	if c > l.maxByKey[key] {
		l.maxByKey[key] = c
	}
}

func (l *msLedger) has(payload string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[payload]
}

type msBenchProc struct{ l *msLedger }

func (p msBenchProc) Initialize(context.Context, consumer.InitializationInput) error { return nil }
func (p msBenchProc) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	for _, r := range in.Records {
		p.l.add(string(r.Data))
	}
	return in.Checkpointer.Checkpoint(ctx)
}
func (p msBenchProc) LeaseLost(context.Context, consumer.LeaseLostInput) {}
func (p msBenchProc) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}
func (p msBenchProc) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

func runMultiStream(ctx context.Context, opts options, out *report) error {
	const (
		failover = 3 * time.Second
		keys     = 16
	)
	perTick := 4
	phase := 3 * time.Second
	if opts.quick {
		phase = time.Second
	}
	fake, err := kinesistest.New(kinesistest.Config{GetRecordsPerSecond: -1, GetShardIteratorPerSecond: -1})
	if err != nil {
		return err
	}
	for _, s := range []string{"ms-1", "ms-2", "ms-3", "ms-4"} {
		if err := fake.CreateStream(s, 4); err != nil {
			return err
		}
	}
	var tracked atomic.Pointer[[]scheduler.StreamConfig]
	track := func(names ...string) {
		l := make([]scheduler.StreamConfig, len(names))
		for i, n := range names {
			l[i] = scheduler.StreamConfig{Name: n}
		}
		tracked.Store(&l)
	}
	track("ms-1", "ms-2", "ms-3")
	stores := leases.NewMemoryStores()
	ledger := &msLedger{seen: map[string]bool{}, maxByKey: map[string]int{}}
	wctx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	runErr := make(chan error, 3)
	for _, id := range []string{"w1", "w2", "w3"} {
		s, err := scheduler.New(scheduler.Config{
			ApplicationName:        "multistream-bench",
			StreamTracker:          func(context.Context) ([]scheduler.StreamConfig, error) { return *tracked.Load(), nil },
			InitialPosition:        consumer.InitialPositionTrimHorizon,
			KinesisClient:          fake,
			Stores:                 stores,
			WorkerID:               id,
			Logger:                 zerolog.Nop(),
			FailoverTime:           failover,
			ShardSyncInterval:      500 * time.Millisecond,
			LeaseDiscoveryInterval: 50 * time.Millisecond,
			ParentPollInterval:     50 * time.Millisecond,
			IdleTimeBetweenReads:   20 * time.Millisecond,
			MinGetRecordsInterval:  10 * time.Millisecond,
			LoadSampler:            func() float64 { return -1 },
		}, consumer.ProcessorFactoryFunc(func(string) consumer.Processor { return msBenchProc{ledger} }))
		if err != nil {
			stopWorkers()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Run(wctx); err != nil {
				runErr <- fmt.Errorf("worker %s: %w", id, err)
			}
		}()
	}
	defer func() { stopWorkers(); wg.Wait() }()

	// The producer writes per-key counters to every stream it is told to.
	var (
		pmu      sync.Mutex
		writeTo  = map[string]bool{"ms-1": true, "ms-2": true, "ms-3": true}
		counters = map[string]int{}
		produced atomic.Int64
		lastOf   = map[string]map[string]string{} // stream -> key -> last payload written
	)
	pctx, stopProd := context.WithCancel(ctx)
	defer stopProd()
	prodDone := make(chan error, 1)
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-pctx.Done():
				prodDone <- nil
				return
			case <-tick.C:
			}
			pmu.Lock()
			for stream := range writeTo {
				entries := make([]kinesistest.PutEntry, perTick)
				for i := range entries {
					k := stream + "/key-" + strconv.Itoa(int(produced.Load()+int64(i))%keys)
					counters[k]++
					p := k + ":" + strconv.Itoa(counters[k])
					entries[i] = kinesistest.PutEntry{PartitionKey: k, Data: []byte(p)}
					if lastOf[stream] == nil {
						lastOf[stream] = map[string]string{}
					}
					lastOf[stream][k] = p
				}
				if _, err := fake.PutRecords(stream, entries); err != nil {
					pmu.Unlock()
					prodDone <- err
					return
				}
				produced.Add(int64(perTick))
			}
			pmu.Unlock()
		}
	}()
	caughtUp := func(what string, streams ...string) error {
		pmu.Lock()
		// Every key's last record: a key's records are in order on one
		// shard (and its children), so its last one seen means all were.
		var want []string
		for _, s := range streams {
			for _, p := range lastOf[s] {
				want = append(want, p)
			}
		}
		pmu.Unlock()
		return waitOrFail(10*failover, what, func() bool {
			for _, p := range want {
				if p != "" && !ledger.has(p) {
					return false
				}
			}
			return true
		})
	}
	sleep := func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-runErr:
			return err
		case <-time.After(phase):
			return nil
		}
	}
	if err := sleep(); err != nil {
		return err
	}
	if err := caughtUp("three streams flowing", "ms-1", "ms-2", "ms-3"); err != nil {
		return err
	}
	// Add ms-4.
	track("ms-1", "ms-2", "ms-3", "ms-4")
	pmu.Lock()
	writeTo["ms-4"] = true
	pmu.Unlock()
	if err := sleep(); err != nil {
		return err
	}
	if err := caughtUp("the added stream flowing", "ms-4"); err != nil {
		return err
	}
	// Remove ms-2 (keep strategy): its producer stops first and what it
	// wrote is processed, so nothing of it counts as lost.
	pmu.Lock()
	delete(writeTo, "ms-2")
	pmu.Unlock()
	if err := caughtUp("the stream to remove drained", "ms-2"); err != nil {
		return err
	}
	track("ms-1", "ms-3", "ms-4")
	// Split ms-1 4 -> 8.
	if err := fake.UpdateShardCount("ms-1", 8); err != nil {
		return err
	}
	if err := sleep(); err != nil {
		return err
	}
	if err := caughtUp("records flowing after the split", "ms-1", "ms-3", "ms-4"); err != nil {
		return err
	}
	// Lease spread over the workers (the unfinished leases of the
	// consumed streams), measured while the producer still writes, once
	// the leader has settled.
	active := map[string]bool{}
	for _, sc := range *tracked.Load() {
		active[sc.Name] = true
	}
	var perWorker map[string]int
	spread := func() (ratio float64, removedLeft int) {
		all, _ := stores.Leases.List(context.Background())
		per := map[string]int{"w1": 0, "w2": 0, "w3": 0}
		for _, l := range all {
			k, err := leasekey.Parse(l.Key)
			if err != nil || !k.Multi {
				continue
			}
			if !active[k.Stream.Name] {
				if k.Stream.Name == "ms-2" {
					removedLeft++
				}
				continue
			}
			if !l.IsFinished() && l.Owner != "" {
				per[l.Owner]++
			}
		}
		perWorker = per
		lo, hi := -1, 0
		for _, n := range per {
			if lo < 0 || n < lo {
				lo = n
			}
			hi = max(hi, n)
		}
		if lo == 0 {
			return float64(hi) + 1, removedLeft // stands for "unbalanced"
		}
		return float64(hi) / float64(lo), removedLeft
	}
	// Measured once the leader has settled: no lease changed owner for
	// two balancing rounds (BalanceEvery=3 runs of FailoverTime/2 each).
	owners := func() string {
		all, _ := stores.Leases.List(context.Background())
		var b strings.Builder
		for _, l := range all {
			if !l.IsFinished() {
				b.WriteString(l.Key + "=" + l.Owner + ";")
			}
		}
		return b.String()
	}
	settle := func() {
		last, since := owners(), time.Now()
		_ = waitOrFail(20*failover, "lease owners settled", func() bool {
			if o := owners(); o != last {
				last, since = o, time.Now()
			}
			return time.Since(since) >= 2*3*failover/2
		})
	}
	settle()
	loadRatio, _ := spread()
	loadPer := perWorker
	// The leader balances on lease throughput when no CPU figure exists:
	// the load each worker carries, from the heartbeats.
	kbpsRatio := 0.0
	if ws, err := stores.Workers.List(context.Background()); err == nil {
		lo, hi := -1.0, 0.0
		for _, w := range ws {
			sum := 0.0
			for _, v := range w.LeaseThroughput {
				sum += v
			}
			if lo < 0 || sum < lo {
				lo = sum
			}
			hi = max(hi, sum)
		}
		if lo > 0 {
			kbpsRatio = hi / lo
		}
	}
	stopProd()
	if err := <-prodDone; err != nil {
		return err
	}
	if err := caughtUp("every record processed", "ms-1", "ms-3", "ms-4"); err != nil {
		return err
	}
	// And at the end, the producer stopped, once settled again.
	settle()
	ratio, removedLeft := spread()

	ledger.mu.Lock()
	distinct := len(ledger.seen)
	violations := ledger.violation
	ledger.mu.Unlock()
	out.kv("records_produced", produced.Load())
	out.kv("records_lost", produced.Load()-int64(distinct))
	out.kv("order_violations", violations)
	out.kv("leases_per_worker_max_over_min", ratio)
	out.kv("leases_per_worker", fmt.Sprintf("w1:%d,w2:%d,w3:%d", perWorker["w1"], perWorker["w2"], perWorker["w3"]))
	out.kv("under_load_leases_per_worker_max_over_min", loadRatio)
	out.kv("under_load_leases_per_worker", fmt.Sprintf("w1:%d,w2:%d,w3:%d", loadPer["w1"], loadPer["w2"], loadPer["w3"]))
	out.kv("under_load_kbps_per_worker_max_over_min", kbpsRatio)
	out.kv("streams_active", len(active))
	out.kv("removed_stream_leases_left", removedLeft)
	return nil
}

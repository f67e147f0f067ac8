package scheduler

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/crashtest"
	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/metrics"
)

// Stats.ProcessorErrors counts every failed ProcessRecords call (each
// retry of the batch is one), not the batches.
func TestStatsCountProcessorErrors(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 10, 2)
	cfg := h.config("w1")
	cfg.MaxRecords = 100
	j := &journal{}
	stop := h.start(cfg, factoryOf(j, "w1", func(p *testProcessor) {
		p.fail = func(call int) error {
			if call <= 3 {
				return errors.New("injected processor failure")
			}
			return nil
		}
	}))
	// The journal fills inside ProcessRecords; Stats counts the batch
	// once the call has returned, so await the counter itself.
	var st Stats
	waitFor(t, 10*time.Second, "the 10 records processed after three failures", func() bool {
		st = h.sched.Stats()
		return j.count() >= 10 && st.RecordsProcessed >= 10
	})
	ds, _ := j.snapshot()
	bytes := 0
	for _, d := range ds {
		bytes += len(d.data)
	}
	if st.ProcessorErrors != 3 || st.RecordsProcessed != 10 || st.BytesProcessed != int64(bytes) {
		t.Errorf("Stats: ProcessorErrors %d RecordsProcessed %d BytesProcessed %d, want 3, 10 and %d", st.ProcessorErrors, st.RecordsProcessed, st.BytesProcessed, bytes)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// A lease's throughput in the worker's heartbeat (LeaseThroughput, KB/s;
// what the leader balances on) comes from the bytes its processor
// handled: the shard with traffic shows a rate, the idle one 0.
func TestHeartbeatCarriesEachLeasesThroughput(t *testing.T) {
	h := newHarness(t, 2)
	cfg := h.config("w1")
	j := &journal{}
	h.start(cfg, factoryOf(j, "w1", nil))
	waitFor(t, 10*time.Second, "both leases running", func() bool {
		r, err := h.workers.Get(context.Background(), "w1")
		return err == nil && len(r.LeaseThroughput) == 2
	})
	// 64 KB a round into shard 0 only: of two shards, it holds the lower
	// half of the hash-key space (MD5 of the partition key).
	var keys []string
	for i := 0; len(keys) < 4; i++ {
		k := "key-" + strconv.Itoa(i)
		if sum := md5.Sum([]byte(k)); sum[0] < 0x80 {
			keys = append(keys, k)
		}
	}
	payload := make([]byte, 1024)
	var r leases.WorkerRecord
	waitFor(t, 20*time.Second, "a throughput figure for the busy lease", func() bool {
		for i := range 64 {
			if _, _, err := h.fake.PutRecord(h.stream, keys[i%len(keys)], payload); err != nil {
				t.Fatal(err)
			}
		}
		var err error
		r, err = h.workers.Get(context.Background(), "w1")
		return err == nil && r.LeaseThroughput["shardId-000000000000"] > 0
	})
	t.Logf("heartbeat LeaseThroughput %v", r.LeaseThroughput)
	if v, ok := r.LeaseThroughput["shardId-000000000001"]; !ok || v != 0 {
		t.Errorf("idle lease throughput %v (listed %v), want 0 and listed", v, ok)
	}
}

// shutdownBlocker blocks in ShutdownRequested until released.
type shutdownBlocker struct {
	*testProcessor
	in      chan struct{}
	release chan struct{}
}

func (p *shutdownBlocker) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	close(p.in)
	<-p.release
	return p.testProcessor.ShutdownRequested(ctx, in)
}

// While a shard's processor is in ShutdownRequested, Stats shows the
// lease as "shutting-down" (not still "processing").
func TestStatsShowShuttingDown(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 5, 1)
	j := &journal{}
	p := &shutdownBlocker{testProcessor: &testProcessor{j: j, shard: "shardId-000000000000", worker: "w1", checkpoint: true},
		in: make(chan struct{}), release: make(chan struct{})}
	stop := h.start(h.config("w1"), consumer.ProcessorFactoryFunc(func(string) consumer.Processor { return p }))
	waitFor(t, 10*time.Second, "the records processed", func() bool { return j.count() >= 5 })
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	<-p.in
	ls := h.sched.Stats().Leases
	close(p.release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 || ls[0].State != "shutting-down" {
		t.Errorf("lease stats while ShutdownRequested runs: %+v, want one lease shutting-down", ls)
	}
}

// stoppableProcessor returns from ProcessRecords only once the shard is
// asked to stop.
type stoppableProcessor struct{ *testProcessor }

func (p stoppableProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	select {
	case <-in.Stopping:
	case <-ctx.Done():
	}
	return nil
}

// A child shard whose consumer is stopped while it waits for its parent
// never gets a processor: its lease was already handed on by then.
func TestChildStoppedWhileWaitingGetsNoProcessor(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 5, 1)
	const parent = "shardId-000000000000"
	var mu sync.Mutex
	asked := map[string]int{}
	j := &journal{}
	cfg := h.config("w1")
	stop := h.start(cfg, consumer.ProcessorFactoryFunc(func(shard string) consumer.Processor {
		mu.Lock()
		asked[shard]++
		mu.Unlock()
		return stoppableProcessor{&testProcessor{j: j, shard: shard, worker: "w1"}}
	}))
	waitFor(t, 10*time.Second, "the parent's processor created", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return asked[parent] == 1
	})
	if err := h.fake.SplitShard(h.stream, parent, "170141183460469231731687303715884105728"); err != nil {
		t.Fatal(err)
	}
	// The parent's processor never returns its batch, so the parent never
	// ends: the children's consumers start and wait for it.
	waitFor(t, 10*time.Second, "both children's consumers waiting", func() bool {
		return len(h.sched.Stats().Leases) == 3
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 {
		t.Errorf("processors created per shard %v: a child stopped while waiting for its parent got one", asked)
	}
	// Their leases were released on the way out (no other worker to
	// hand them to), not left to expire.
	all, err := h.store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		if len(l.ParentShardIDs) > 0 && l.Owner != "" {
			t.Errorf("child lease %s still owned by %q after the worker stopped", l.Key, l.Owner)
		}
	}
}

// initProcessor's Initialize blocks until released, then fails while
// failing is set; it counts its calls.
type initProcessor struct {
	*testProcessor
	entered  chan struct{}
	release  chan struct{}
	failing  atomic.Bool
	inits    atomic.Int32
	shutdown atomic.Int32
	batches  atomic.Int32
}

func (p *initProcessor) Initialize(ctx context.Context, in consumer.InitializationInput) error {
	if p.inits.Add(1) == 1 {
		close(p.entered)
		<-p.release
	}
	if p.failing.Load() {
		return errors.New("injected Initialize failure")
	}
	return nil
}

func (p *initProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	p.batches.Add(1)
	return nil
}

func (p *initProcessor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	p.shutdown.Add(1)
	return nil
}

// While Initialize runs, Stats shows the lease "initializing". A
// processor whose Initialize keeps failing until the worker stops gets
// ShutdownRequested once and no batch, and its lease is released.
func TestInitializingAndInitializeFailingUntilShutdown(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 4, 1)
	p := &initProcessor{testProcessor: &testProcessor{j: &journal{}, worker: "w1"}, entered: make(chan struct{}), release: make(chan struct{})}
	p.failing.Store(true)
	stop := h.start(h.config("w1"), consumer.ProcessorFactoryFunc(func(shard string) consumer.Processor { return p }))
	<-p.entered
	ls := h.sched.Stats().Leases
	close(p.release)
	if len(ls) != 1 || ls[0].State != "initializing" {
		t.Errorf("lease stats while Initialize runs: %+v, want one lease initializing", ls)
	}
	waitFor(t, 10*time.Second, "Initialize retried", func() bool { return p.inits.Load() >= 3 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n, b := p.shutdown.Load(), p.batches.Load(); n != 1 || b != 0 {
		t.Errorf("ShutdownRequested %d times and %d batches after Initialize never succeeded; want once and none", n, b)
	}
	l, err := h.store.Get(context.Background(), "shardId-000000000000")
	if err != nil || l.Owner != "" {
		t.Errorf("lease after the stop: %+v, %v; want it released", l, err)
	}
}

// A graceful hand-off this worker completes is timed: LeaseHandoff.Time
// from the leader's request to the new owner's start.
func TestCompletedHandoffIsTimed(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 5, 1)
	sink := metrics.NewMemory(metrics.LevelDetailed)
	cfg := h.config("w1")
	cfg.Metrics = sink
	j := &journal{}
	h.start(cfg, factoryOf(j, "w1", nil))
	const key = "shardId-000000000000"
	waitFor(t, 10*time.Second, "the records processed", func() bool { return j.count() >= 5 })
	ctx := context.Background()
	l, err := h.store.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	// What the leader writes to move the lease to w2.
	if _, err := h.store.StartHandoff(ctx, l, "w2"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the hand-off completed by w1", func() bool {
		return j.hasEvent(key + ":shutdown-requested")
	})
	pt := []metrics.Dimension{dim(metricnames.DimensionOperation, metricnames.OperationProcessTask), dim(metricnames.DimensionShardID, key), dim(metricnames.DimensionWorkerIdentifier, "w1")}
	waitFor(t, 10*time.Second, "a LeaseHandoff.Time sample", func() bool { return sink.Count(metricnames.MetricHandoffTime, pt...) == 1 })
}

// countingProcessor counts ProcessRecords calls and LeaseLost on one
// processor instance, checkpointing every batch.
type countingProcessor struct {
	*testProcessor
	calls    atomic.Int32
	lostCall atomic.Int32 // ProcessRecords calls made before LeaseLost
}

func (p *countingProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	p.calls.Add(1)
	return p.testProcessor.ProcessRecords(ctx, in)
}

func (p *countingProcessor) LeaseLost(ctx context.Context, in consumer.LeaseLostInput) {
	p.lostCall.Store(p.calls.Load())
	p.testProcessor.LeaseLost(ctx, in)
}

// A checkpoint write that proves the lease lost ends the shard's
// processing at once: no further batch is handed to the processor, which
// gets LeaseLost, although discovery (an hour away here) has not looked
// at the lease again.
func TestLostCheckpointEndsProcessingAtOnce(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 4, 1)
	cfg := h.config("w1")
	cfg.MaxRecords = 4
	cfg.FailoverTime, cfg.HeartbeatInterval, cfg.LeaseDiscoveryInterval = 3*time.Hour, time.Hour, time.Hour
	j := &journal{}
	var mu sync.Mutex
	var procs []*countingProcessor
	h.start(cfg, consumer.ProcessorFactoryFunc(func(shard string) consumer.Processor {
		p := &countingProcessor{testProcessor: &testProcessor{j: j, shard: shard, worker: "w1", checkpoint: true}}
		p.lostCall.Store(-1)
		mu.Lock()
		procs = append(procs, p)
		mu.Unlock()
		return p
	}))
	waitFor(t, 10*time.Second, "the first batch processed", func() bool { return j.count() >= 4 })
	faults := storeFaults(t, h)
	// The next checkpoint is refused as a write by a worker that no
	// longer holds the lease would be.
	faults.InjectError("Checkpoint", fmt.Errorf("injected: %w", consumer.ErrLeaseLost), 1)
	for i := 1; i <= 5; i++ {
		h.put(4*i, 4, 1)
	}
	mu.Lock()
	p := procs[0]
	mu.Unlock()
	waitFor(t, 10*time.Second, "LeaseLost", func() bool { return p.lostCall.Load() >= 0 })
	h.put(100, 8, 1)
	// Batches keep arriving for a while; none may reach the processor.
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if n := p.calls.Load(); n != p.lostCall.Load() {
			t.Fatalf("ProcessRecords called %d times, %d before LeaseLost: a batch was handed out after a checkpoint proved the lease lost", n, p.lostCall.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := p.calls.Load(); n != 2 {
		t.Errorf("ProcessRecords called %d times, want 2 (the batch whose checkpoint was refused is the last)", n)
	}
	if n := h.sched.Stats().LeasesLost; n != 1 {
		t.Errorf("Stats.LeasesLost %d, want 1", n)
	}
}

// endBlocker blocks in ShardEnded until released.
type endBlocker struct {
	*testProcessor
	in      chan struct{}
	release chan struct{}
}

func (p *endBlocker) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	select {
	case <-p.in:
	default:
		close(p.in)
	}
	<-p.release
	return p.testProcessor.ShardEnded(ctx, in)
}

// While a finished shard's processor is in ShardEnded, Stats shows its
// lease "shard-ended".
func TestStatsShowShardEnded(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 4, 1)
	const parent = "shardId-000000000000"
	j := &journal{}
	p := &endBlocker{testProcessor: &testProcessor{j: j, shard: parent, worker: "w1", checkpoint: true},
		in: make(chan struct{}), release: make(chan struct{})}
	h.start(h.config("w1"), consumer.ProcessorFactoryFunc(func(shard string) consumer.Processor {
		if shard == parent {
			return p
		}
		return &testProcessor{j: j, shard: shard, worker: "w1", checkpoint: true}
	}))
	waitFor(t, 10*time.Second, "the parent's records", func() bool { return j.count() >= 4 })
	if err := h.fake.SplitShard(h.stream, parent, "170141183460469231731687303715884105728"); err != nil {
		t.Fatal(err)
	}
	<-p.in
	var state string
	for _, l := range h.sched.Stats().Leases {
		if l.ShardID == parent {
			state = l.State
		}
	}
	close(p.release)
	if state != "shard-ended" {
		t.Errorf("the parent's state while ShardEnded runs: %q, want shard-ended", state)
	}
}

// A simulated crash (Run's context ending with crashtest.ErrCrash) is a
// dead process: its processors get no end call and its leases are not
// released or handed on; they wait for the failover time like a killed
// worker's.
func TestCrashCallsNothingAndWritesNothing(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 4, 1)
	j := &journal{}
	s, err := New(h.config("w1"), factoryOf(j, "w1", nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, 10*time.Second, "records processed", func() bool { return j.count() >= 4 })
	cancel(crashtest.ErrCrash)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after the crash")
	}
	_, evs := j.snapshot()
	for _, e := range evs {
		if strings.Contains(e, "shutdown-requested") || strings.Contains(e, "lease-lost") {
			t.Errorf("a crashed worker's processor got %q", e)
		}
	}
	l, err := h.store.Get(context.Background(), "shardId-000000000000")
	if err != nil || l.Owner != "w1" {
		t.Errorf("lease after the crash: %+v, %v; want it still owned by the dead w1", l, err)
	}
}

// storeFaults is the harness's memory store's fault injection.
func storeFaults(t *testing.T, h *harness) interface {
	InjectError(op string, err error, times int)
} {
	t.Helper()
	f, ok := h.store.(interface {
		InjectError(op string, err error, times int)
	})
	if !ok {
		t.Fatal("the memory store has no InjectError")
	}
	return f
}

// writeCounts is the memory store's count of write requests per operation.
func writeCounts(t *testing.T, h *harness) map[string]int {
	t.Helper()
	c, ok := h.store.(interface{ Writes() map[string]int })
	if !ok {
		t.Fatal("the memory store has no Writes")
	}
	return c.Writes()
}

// A worker shutting down hands each lease straight to another live worker
// (one write each, no release after it), so nobody waits for expiry.
func TestShutdownHandsLeasesOnInOneWrite(t *testing.T) {
	h := newHarness(t, 4)
	h.put(0, 40, 8)
	j := &journal{}
	stop1 := h.start(h.config("w1"), factoryOf(j, "w1", nil))
	s1 := h.sched
	h.start(h.config("w2"), factoryOf(j, "w2", nil))
	s2 := h.sched
	owned := func() map[string][]string {
		all, err := h.store.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][]string{}
		for _, l := range all {
			m[l.Owner] = append(m[l.Owner], l.Key)
		}
		return m
	}
	// A settled fleet: two leases each, all running, so the leader has
	// nothing to move while w1 shuts down.
	waitFor(t, 20*time.Second, "two leases running on each worker", func() bool {
		m := owned()
		return len(m["w1"]) == 2 && len(m["w2"]) == 2 && len(s1.Stats().Leases) == 2 && len(s2.Stats().Leases) == 2
	})
	before := writeCounts(t, h)
	if err := stop1(); err != nil {
		t.Fatal(err)
	}
	after := writeCounts(t, h)
	if m := owned(); len(m["w2"]) != 4 {
		t.Errorf("leases after w1 stopped: %v; want all four on w2 at once", m)
	}
	if n := after["Release"] - before["Release"]; n != 0 {
		t.Errorf("%d Release writes during the shutdown; a lease handed on is not released after", n)
	}
}

// A lease whose loss a checkpoint in ShutdownRequested proved is neither
// handed on nor released by the worker that lost it: no write.
func TestLeaseLostDuringShutdownIsNotWritten(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 4, 1)
	j := &journal{}
	// The processor checkpoints only in ShutdownRequested.
	stop := h.start(h.config("w1"), factoryOf(j, "w1", func(p *testProcessor) { p.checkpoint = false }))
	waitFor(t, 10*time.Second, "records processed", func() bool { return j.count() >= 4 })
	faults := storeFaults(t, h)
	// ShutdownRequested's checkpoint is refused as a lost lease's.
	faults.InjectError("Checkpoint", fmt.Errorf("injected: %w", consumer.ErrLeaseLost), -1)
	before := writeCounts(t, h)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	after := writeCounts(t, h)
	faults.InjectError("Checkpoint", nil, 0)
	if !j.hasEvent("shardId-000000000000:shutdown-requested") {
		t.Fatal("ShutdownRequested was not called")
	}
	for _, op := range []string{"Take", "Release", "CompleteHandoff"} {
		if n := after[op] - before[op]; n != 0 {
			t.Errorf("%d %s writes after the lease was proved lost", n, op)
		}
	}
}

// handoffInShutdown starts a hand-off of its lease to w2 (as a leader
// would) while it is in ShutdownRequested.
type handoffInShutdown struct {
	*testProcessor
	store leases.Store
	key   string
}

func (p *handoffInShutdown) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	if err := p.testProcessor.ShutdownRequested(ctx, in); err != nil {
		return err
	}
	l, err := p.store.Get(ctx, p.key)
	if err != nil {
		return err
	}
	_, err = p.store.StartHandoff(ctx, l, "w2")
	return err
}

// A worker shutting down with nobody to hand its lease to releases it;
// when the leader started a hand-off of it meanwhile (the release then
// loses its compare-and-set), the worker completes the hand-off at once
// instead of leaving the new owner to the leader's hand-off timeout.
func TestShutdownCompletesAHandoffRequestedMeanwhile(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 4, 1)
	const key = "shardId-000000000000"
	j := &journal{}
	stop := h.start(h.config("w1"), consumer.ProcessorFactoryFunc(func(shard string) consumer.Processor {
		return &handoffInShutdown{testProcessor: &testProcessor{j: j, shard: shard, worker: "w1", checkpoint: true}, store: h.store, key: key}
	}))
	waitFor(t, 10*time.Second, "records processed", func() bool { return j.count() >= 4 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	l, err := h.store.Get(context.Background(), key)
	if err != nil || l.Owner != "w2" || l.HandoffPending() {
		t.Errorf("lease after the shutdown: %+v, %v; want the hand-off to w2 completed", l, err)
	}
}

// A failed write of the child list on the parent's lease (a transient
// error, not a lost lease) is logged and the shard still ends at once:
// ShardEnded is called, SHARD_END checkpointed, the parent processed once.
func TestChildListWriteFailureStillEndsTheShard(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 8, 2)
	const parent = "shardId-000000000000"
	j := &journal{}
	h.start(h.config("w1"), factoryOf(j, "w1", nil))
	waitFor(t, 10*time.Second, "the parent's records", func() bool { return j.count() >= 8 })
	faults := storeFaults(t, h)
	faults.InjectError("SetChildShards", errors.New("injected: throttled"), 1)
	if err := h.fake.SplitShard(h.stream, parent, "170141183460469231731687303715884105728"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the parent's ShardEnded", func() bool { return j.hasEvent(parent + ":shard-ended") })
	waitFor(t, 10*time.Second, "SHARD_END checkpointed", func() bool {
		l, err := h.store.Get(context.Background(), parent)
		return err == nil && l.Checkpoint.IsShardEnd()
	})
	_, evs := j.snapshot()
	inits := 0
	for _, e := range evs {
		if strings.HasPrefix(e, parent+":init:") {
			inits++
		}
	}
	if inits != 1 {
		t.Errorf("the parent was initialized %d times; a failed child-list write must not end its consumer", inits)
	}
}

// Children waiting on this worker for their parent start the moment the
// parent's SHARD_END is checkpointed (the worker wakes them), not at
// their next poll of the parent's lease (an hour away here).
func TestChildrenStartWhenTheParentEndsHere(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 4, 1)
	const parent = "shardId-000000000000"
	j := &journal{}
	p := &endBlocker{testProcessor: &testProcessor{j: j, shard: parent, worker: "w1", checkpoint: true},
		in: make(chan struct{}), release: make(chan struct{})}
	cfg := h.config("w1")
	cfg.ParentPollInterval = time.Hour
	h.start(cfg, consumer.ProcessorFactoryFunc(func(shard string) consumer.Processor {
		if shard == parent {
			return p
		}
		return &testProcessor{j: j, shard: shard, worker: "w1", checkpoint: true}
	}))
	waitFor(t, 10*time.Second, "the parent's records", func() bool { return j.count() >= 4 })
	if err := h.fake.SplitShard(h.stream, parent, "170141183460469231731687303715884105728"); err != nil {
		t.Fatal(err)
	}
	<-p.in
	// The children's consumers are waiting (shard sync leased them).
	waitFor(t, 10*time.Second, "both children's consumers waiting", func() bool { return len(h.sched.Stats().Leases) == 3 })
	close(p.release)
	waitFor(t, 10*time.Second, "both children initialized", func() bool {
		_, evs := j.snapshot()
		n := 0
		for _, e := range evs {
			if strings.Contains(e, ":init:") && !strings.HasPrefix(e, parent) {
				n++
			}
		}
		return n == 2
	})
}

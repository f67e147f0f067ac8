package scheduler

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/kinesistest"
	"github.com/shardwise/shardwise/leases"
)

// harness is a stream on the in-memory Kinesis fake and an in-memory lease
// store with DynamoDB's conditional-write semantics.
type harness struct {
	t       *testing.T
	fake    *kinesistest.Fake
	store   leases.Store
	workers leases.WorkerStore
	coord   leases.CoordinatorStore
	stream  string
	sched   *Scheduler // the last one started
}

// cfg, if given, configures the fake; its call-rate limits are off unless
// cfg sets them, as tests poll fast.
func newHarness(t *testing.T, shards int, cfg ...kinesistest.Config) *harness {
	t.Helper()
	var kc kinesistest.Config
	if len(cfg) > 0 {
		kc = cfg[0]
	}
	if kc.GetRecordsPerSecond == 0 {
		kc.GetRecordsPerSecond = -1
	}
	if kc.GetShardIteratorPerSecond == 0 {
		kc.GetShardIteratorPerSecond = -1
	}
	fake, err := kinesistest.New(kc)
	if err != nil {
		t.Fatal(err)
	}
	st := leases.NewMemoryStores()
	h := &harness{t: t, fake: fake, store: st.Leases, workers: st.Workers, coord: st.Coordinator, stream: "test-stream"}
	if err := h.fake.CreateStream(h.stream, shards); err != nil {
		t.Fatal(err)
	}
	return h
}

// bothModes runs test twice, as the subtests "polling" and "fanout":
// the harness (and the scenario cluster) read the retrieval mode from the
// subtest's name, so a test runs unchanged in both modes.
func bothModes(t *testing.T, test func(t *testing.T)) {
	for _, mode := range []string{"polling", "fanout"} {
		t.Run(mode, test)
	}
}

// fanOutMode reports whether t is (inside) the "fanout" subtest of
// bothModes.
func fanOutMode(t *testing.T) bool { return strings.Contains(t.Name(), "/fanout") }

func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel).With().Timestamp().Logger()
}

func (h *harness) config(worker string) Config {
	return Config{
		ApplicationName:          "test-app",
		StreamName:               h.stream,
		InitialPosition:          consumer.InitialPositionTrimHorizon,
		KinesisClient:            h.fake,
		Stores:                   leases.Stores{Leases: h.store, Workers: h.workers, Coordinator: h.coord},
		WorkerID:                 worker,
		Logger:                   testLogger(h.t),
		MinGetRecordsInterval:    5 * time.Millisecond,
		IdleTimeBetweenReads:     10 * time.Millisecond,
		FailoverTime:             time.Second,
		LeaseDiscoveryInterval:   30 * time.Millisecond,
		ShardSyncInterval:        200 * time.Millisecond,
		ParentPollInterval:       30 * time.Millisecond,
		ProcessorRetryBackoff:    5 * time.Millisecond,
		ProcessorRetryMaxBackoff: 40 * time.Millisecond,
		ThrottleBackoff:          5 * time.Millisecond,
		ThrottleMaxBackoff:       40 * time.Millisecond,
		ShutdownTimeout:          5 * time.Second,
		FanOut:                   fanOutMode(h.t),
	}
}

// start runs a scheduler and returns a function that stops it and returns
// Run's result.
func (h *harness) start(cfg Config, f consumer.ProcessorFactory) (stop func() error) {
	h.t.Helper()
	s, err := New(cfg, f)
	if err != nil {
		h.t.Fatal(err)
	}
	h.sched = s
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var result error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case result = <-done:
			case <-time.After(20 * time.Second):
				h.t.Fatal("Run did not return 20s after its context ended")
			}
		})
		return result
	}
	h.t.Cleanup(func() { _ = stop() })
	return stop
}

// put writes n records with payload "key:counter" over nKeys keys, with
// counters continuing from first.
func (h *harness) put(first, n, nKeys int) {
	h.t.Helper()
	entries := make([]kinesistest.PutEntry, n)
	for i := range entries {
		c := first + i
		k := c % nKeys
		entries[i] = kinesistest.PutEntry{PartitionKey: "key-" + strconv.Itoa(k), Data: []byte(fmt.Sprintf("key-%d:%d", k, c))}
	}
	if _, err := h.fake.PutRecords(h.stream, entries); err != nil {
		h.t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// delivery is one record handed to a processor.
type delivery struct {
	shard  string
	pos    consumer.ExtendedSequenceNumber
	data   string
	worker string
	at     time.Time
}

// journal records every delivery and lifecycle call across processors, in
// the order they happened.
type journal struct {
	mu         sync.Mutex
	deliveries []delivery
	events     []string // "shard:event"
}

func (j *journal) add(d delivery) {
	j.mu.Lock()
	j.deliveries = append(j.deliveries, d)
	j.mu.Unlock()
}

func (j *journal) event(shard, ev string) {
	j.mu.Lock()
	j.events = append(j.events, shard+":"+ev)
	j.mu.Unlock()
}

func (j *journal) count() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.deliveries)
}

func (j *journal) snapshot() ([]delivery, []string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]delivery(nil), j.deliveries...), append([]string(nil), j.events...)
}

func (j *journal) hasEvent(e string) bool {
	_, evs := j.snapshot()
	for _, x := range evs {
		if x == e {
			return true
		}
	}
	return false
}

// checkOrder asserts that every shard's deliveries are in increasing
// position and every key's counters increase, and returns how many times
// each payload was delivered.
func checkOrder(t *testing.T, ds []delivery) map[string]int {
	t.Helper()
	lastPos := map[string]consumer.ExtendedSequenceNumber{}
	lastCounter := map[string]int{}
	seen := map[string]int{}
	for _, d := range ds {
		if p, ok := lastPos[d.shard]; ok && consumer.Compare(d.pos, p) <= 0 {
			t.Errorf("shard %s: %v delivered after %v", d.shard, d.pos, p)
		}
		lastPos[d.shard] = d.pos
		seen[d.data]++
		key, cs, ok := strings.Cut(d.data, ":")
		if !ok {
			continue
		}
		c, _ := strconv.Atoi(cs)
		if prev, ok := lastCounter[key]; ok && c <= prev {
			t.Errorf("key %s: counter %d processed after %d", key, c, prev)
		}
		lastCounter[key] = c
	}
	return seen
}

// testProcessor is a configurable Processor that writes to a journal.
type testProcessor struct {
	j      *journal
	shard  string
	worker string
	// checkpoint after every batch
	checkpoint bool
	// fail returns an error (or panics) for the n-th ProcessRecords call
	fail func(call int) error
	// shardEnded decides whether the n-th ShardEnded call checkpoints
	endCheckpoint func(call int) bool
	// block, if set, is waited on inside ProcessRecords
	block   chan struct{}
	blocked chan struct{}

	calls, endCalls int
}

func (p *testProcessor) Initialize(ctx context.Context, in consumer.InitializationInput) error {
	p.j.event(p.shard, "init:"+in.Checkpoint.String())
	return nil
}

func (p *testProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	p.calls++
	if p.fail != nil {
		if err := p.fail(p.calls); err != nil {
			return err
		}
	}
	if p.block != nil {
		if p.blocked != nil {
			close(p.blocked)
			p.blocked = nil
		}
		<-p.block
		if ctx.Err() != nil {
			p.j.event(p.shard, "ctx-cancelled-in-process")
		}
	}
	for _, r := range in.Records {
		p.j.add(delivery{shard: p.shard, pos: r.Position(), data: string(r.Data), worker: p.worker, at: time.Now()})
	}
	if p.checkpoint {
		return in.Checkpointer.Checkpoint(ctx)
	}
	return nil
}

func (p *testProcessor) LeaseLost(ctx context.Context, in consumer.LeaseLostInput) {
	p.j.event(p.shard, "lease-lost")
}

func (p *testProcessor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	p.endCalls++
	p.j.event(p.shard, "shard-ended")
	if p.endCheckpoint != nil && !p.endCheckpoint(p.endCalls) {
		return nil
	}
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *testProcessor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	p.j.event(p.shard, "shutdown-requested")
	return in.Checkpointer.Checkpoint(ctx)
}

func factoryOf(j *journal, worker string, tweak func(*testProcessor)) consumer.ProcessorFactory {
	return consumer.ProcessorFactoryFunc(func(shard string) consumer.Processor {
		p := &testProcessor{j: j, shard: shard, worker: worker, checkpoint: true}
		if tweak != nil {
			tweak(p)
		}
		return p
	})
}

func nopFactory() consumer.ProcessorFactory { return factoryOf(&journal{}, "", nil) }

package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/kpl"
	"github.com/shardwise/shardwise/internal/session"
	"github.com/shardwise/shardwise/kinesistest"
	"github.com/shardwise/shardwise/leases"
)

func TestConsumeEverythingOnceThenResumeAtCheckpoints(t *testing.T) {
	bothModes(t, testConsumeEverythingOnceThenResumeAtCheckpoints)
}

func testConsumeEverythingOnceThenResumeAtCheckpoints(t *testing.T) {
	h := newHarness(t, 4)
	h.put(0, 600, 40)
	j := &journal{}
	stop := h.start(h.config("w1"), factoryOf(j, "w1", nil))
	waitFor(t, 10*time.Second, "600 records", func() bool { return j.count() >= 600 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	ds, evs := j.snapshot()
	seen := checkOrder(t, ds)
	if len(seen) != 600 || len(ds) != 600 {
		t.Fatalf("delivered %d records (%d distinct), want 600 once each", len(ds), len(seen))
	}
	// Graceful shutdown: every shard got ShutdownRequested and its lease
	// was released with the checkpoint at its last record.
	all, err := h.store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("%d leases, want 4", len(all))
	}
	lastByShard := map[string]consumer.ExtendedSequenceNumber{}
	for _, d := range ds {
		lastByShard[d.shard] = d.pos
	}
	for _, l := range all {
		if l.Owner != "" {
			t.Errorf("lease %s still owned by %q after shutdown", l.Key, l.Owner)
		}
		if l.Checkpoint != lastByShard[l.Key] {
			t.Errorf("lease %s checkpoint %v, last delivered %v", l.Key, l.Checkpoint, lastByShard[l.Key])
		}
		if !contains(evs, l.Key+":shutdown-requested") {
			t.Errorf("shard %s got no ShutdownRequested", l.Key)
		}
	}

	// Second start (a new worker id): only the new records arrive.
	h.put(600, 150, 40)
	j2 := &journal{}
	stop = h.start(h.config("w2"), factoryOf(j2, "w2", nil))
	waitFor(t, 10*time.Second, "150 new records", func() bool { return j2.count() >= 150 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ds2, _ := j2.snapshot()
	seen2 := checkOrder(t, ds2)
	if len(ds2) != 150 || len(seen2) != 150 {
		t.Fatalf("after restart delivered %d (%d distinct), want the 150 new ones once", len(ds2), len(seen2))
	}
	for data := range seen2 {
		if seen[data] > 0 {
			t.Errorf("record %q delivered again after restart", data)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func TestProcessorErrorOrPanicGetsSameBatchAgain(t *testing.T) {
	bothModes(t, testProcessorErrorOrPanicGetsSameBatchAgain)
}

func testProcessorErrorOrPanicGetsSameBatchAgain(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 50, 5)
	j := &journal{}
	var firstBatches [][]string
	f := consumer.ProcessorFactoryFunc(func(shard string) consumer.Processor {
		p := &testProcessor{j: j, shard: shard, checkpoint: true}
		return &recordingFirstBatch{testProcessor: p, firsts: &firstBatches}
	})
	stop := h.start(h.config("w1"), f)
	waitFor(t, 10*time.Second, "50 records", func() bool { return j.count() >= 50 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ds, _ := j.snapshot()
	seen := checkOrder(t, ds)
	if len(ds) != 50 || len(seen) != 50 {
		t.Fatalf("delivered %d (%d distinct), want 50 once", len(ds), len(seen))
	}
	if len(firstBatches) < 3 {
		t.Fatalf("ProcessRecords called %d times, want at least 3 (error, panic, success)", len(firstBatches))
	}
	for i := 1; i < 3; i++ {
		if strings.Join(firstBatches[i], ",") != strings.Join(firstBatches[0], ",") {
			t.Fatalf("attempt %d got a different batch than attempt 1", i+1)
		}
	}
}

// recordingFirstBatch fails its first call with an error and panics in its
// second, recording the payloads offered each time.
type recordingFirstBatch struct {
	*testProcessor
	firsts *[][]string
	n      int
}

func (p *recordingFirstBatch) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	var payloads []string
	for _, r := range in.Records {
		payloads = append(payloads, string(r.Data))
	}
	*p.firsts = append(*p.firsts, payloads)
	p.n++
	switch p.n {
	case 1:
		return errors.New("downstream unavailable")
	case 2:
		panic("processor bug")
	}
	return p.testProcessor.ProcessRecords(ctx, in)
}

func TestResumeInsideKPLAggregate(t *testing.T) { bothModes(t, testResumeInsideKPLAggregate) }

func testResumeInsideKPLAggregate(t *testing.T) {
	h := newHarness(t, 1)
	var subs []kpl.UserRecord
	for i := 0; i < 10; i++ {
		subs = append(subs, kpl.UserRecord{PartitionKey: fmt.Sprintf("agg-%d", i), Data: []byte(fmt.Sprintf("agg-%d:%d", i, i))})
	}
	if _, _, err := h.fake.PutRecord(h.stream, "agg", kpl.Aggregate(subs)); err != nil {
		t.Fatal(err)
	}
	h.put(100, 1, 1)

	// The first worker sees all 11 records and checkpoints at sub-record 4.
	j := &journal{}
	f := consumer.ProcessorFactoryFunc(func(shard string) consumer.Processor {
		return &checkpointAt{testProcessor: &testProcessor{j: j, shard: shard}, sub: 4}
	})
	stop := h.start(h.config("w1"), f)
	waitFor(t, 10*time.Second, "11 records", func() bool { return j.count() >= 11 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ds, _ := j.snapshot()
	if ds[0].pos.SubSequenceNumber != 0 || ds[9].pos.SubSequenceNumber != 9 {
		t.Fatalf("sub-sequence numbers not kept: %v .. %v", ds[0].pos, ds[9].pos)
	}
	l, err := h.store.Get(context.Background(), "shardId-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if l.Checkpoint.SubSequenceNumber != 4 {
		t.Fatalf("checkpoint %v, want sub-record 4", l.Checkpoint)
	}

	// The restart resumes at sub-record 5.
	j2 := &journal{}
	stop = h.start(h.config("w2"), factoryOf(j2, "w2", func(p *testProcessor) { p.checkpoint = false }))
	waitFor(t, 10*time.Second, "6 records", func() bool { return j2.count() >= 6 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ds2, _ := j2.snapshot()
	if len(ds2) != 6 || ds2[0].data != "agg-5:5" || ds2[4].data != "agg-9:9" || ds2[5].data != "key-0:100" {
		t.Fatalf("after restart got %v", ds2)
	}
	if ds2[0].pos.SubSequenceNumber != 5 {
		t.Fatalf("first position %v", ds2[0].pos)
	}
}

type checkpointAt struct {
	*testProcessor
	sub int64
}

func (p *checkpointAt) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	if err := p.testProcessor.ProcessRecords(ctx, in); err != nil {
		return err
	}
	for i := range in.Records {
		if in.Records[i].Aggregated && in.Records[i].SubSequenceNumber == p.sub {
			return in.Checkpointer.CheckpointRecord(ctx, &in.Records[i])
		}
	}
	return nil
}

func (p *checkpointAt) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	p.j.event(p.shard, "shutdown-requested")
	return nil // keep the checkpoint inside the aggregate
}

func TestSplitParentsBeforeChildren(t *testing.T) { bothModes(t, testSplitParentsBeforeChildren) }

func testSplitParentsBeforeChildren(t *testing.T) {
	for _, omit := range []bool{false, true} {
		t.Run(fmt.Sprintf("omitChildShards=%v", omit), func(t *testing.T) {
			// As kinesalite when omit: no ChildShards, ShardFilter ignored.
			h := newHarness(t, 1, kinesistest.Config{OmitChildShards: omit, IgnoreShardFilter: omit})
			h.put(0, 200, 20)
			j := &journal{}
			stop := h.start(h.config("w1"), factoryOf(j, "w1", nil))
			waitFor(t, 10*time.Second, "first 200", func() bool { return j.count() >= 200 })
			if err := h.fake.UpdateShardCount(h.stream, 2); err != nil {
				t.Fatal(err)
			}
			h.put(200, 200, 20)
			waitFor(t, 10*time.Second, "all 400", func() bool { return j.count() >= 400 })
			parent := "shardId-000000000000"
			// The parent is finished with its children recorded, or already
			// deleted by the leader's cleanup (which needs both).
			waitFor(t, 5*time.Second, "parent at SHARD_END or cleaned up", func() bool {
				l, err := h.store.Get(context.Background(), parent)
				return (err == nil && l.IsFinished() && len(l.ChildShardIDs) == 2) || errors.Is(err, leases.ErrNotFound)
			})
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			ds, evs := j.snapshot()
			seen := checkOrder(t, ds)
			if len(seen) != 400 || len(ds) != 400 {
				t.Fatalf("delivered %d (%d distinct), want 400 once", len(ds), len(seen))
			}
			// Every child record came after the parent's ShardEnded.
			endAt := -1
			for i, e := range evs {
				if e == parent+":shard-ended" {
					endAt = i
				}
			}
			if endAt < 0 {
				t.Fatal("parent never got ShardEnded")
			}
			for _, e := range evs[:endAt] {
				if !strings.HasPrefix(e, parent) {
					t.Fatalf("child event %q before the parent ended", e)
				}
			}
			all, _ := h.store.List(context.Background())
			for _, l := range all {
				if l.Key != parent && (len(l.ParentShardIDs) != 1 || l.ParentShardIDs[0] != parent || l.StartingHashKey == "") {
					t.Errorf("child lease %s: parents %v range %q-%q", l.Key, l.ParentShardIDs, l.StartingHashKey, l.EndingHashKey)
				}
			}
		})
	}
}

func TestMergeWaitsForBothParents(t *testing.T) { bothModes(t, testMergeWaitsForBothParents) }

func testMergeWaitsForBothParents(t *testing.T) {
	h := newHarness(t, 2)
	h.put(0, 100, 10)
	if err := h.fake.MergeShards(h.stream, "shardId-000000000000", "shardId-000000000001"); err != nil {
		t.Fatal(err)
	}
	h.put(100, 100, 10)
	j := &journal{}
	stop := h.start(h.config("w1"), factoryOf(j, "w1", nil))
	waitFor(t, 10*time.Second, "200 records", func() bool { return j.count() >= 200 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ds, evs := j.snapshot()
	if seen := checkOrder(t, ds); len(seen) != 200 {
		t.Fatalf("%d distinct of 200", len(seen))
	}
	ended := 0
	for _, e := range evs {
		if strings.HasSuffix(e, ":shard-ended") {
			ended++
		}
		if strings.HasPrefix(e, "shardId-000000000002:init") && ended < 2 {
			t.Fatalf("merged child initialized after %d of 2 parents ended: %v", ended, evs)
		}
	}
}

func TestShardEndedWithoutCheckpointIsCalledAgain(t *testing.T) {
	bothModes(t, testShardEndedWithoutCheckpointIsCalledAgain)
}

func testShardEndedWithoutCheckpointIsCalledAgain(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 20, 2)
	if err := h.fake.UpdateShardCount(h.stream, 2); err != nil {
		t.Fatal(err)
	}
	h.put(20, 20, 2)
	j := &journal{}
	stop := h.start(h.config("w1"), factoryOf(j, "w1", func(p *testProcessor) {
		p.endCheckpoint = func(call int) bool { return call >= 3 }
	}))
	waitFor(t, 10*time.Second, "40 records", func() bool { return j.count() >= 40 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	_, evs := j.snapshot()
	n := 0
	for _, e := range evs {
		if e == "shardId-000000000000:shard-ended" {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("ShardEnded called %d times, want 3 (twice without checkpoint, then with)", n)
	}
}

func TestLeaseTakenByAnotherWorkerEndsProcessor(t *testing.T) {
	bothModes(t, testLeaseTakenByAnotherWorkerEndsProcessor)
}

func testLeaseTakenByAnotherWorkerEndsProcessor(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 10, 2)
	j := &journal{}
	stop := h.start(h.config("w1"), factoryOf(j, "w1", nil))
	waitFor(t, 10*time.Second, "10 records", func() bool { return j.count() >= 10 })
	ctx := context.Background()
	// The thief is a live worker, so the leader leaves the lease with it.
	thief, err := session.StartSession(ctx, session.SessionConfig{Store: h.workers, WorkerID: "thief",
		FailoverTime: time.Second, HeartbeatInterval: time.Second / 3, FenceMargin: time.Second / 5})
	if err != nil {
		t.Fatal(err)
	}
	defer thief.Close(ctx)
	l, err := h.store.Get(ctx, "shardId-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.Take(ctx, l, "thief"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "LeaseLost", func() bool { return j.hasEvent("shardId-000000000000:lease-lost") })
	// The worker must not write to a lease it lost, not even on shutdown.
	h.put(10, 10, 2)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	after, _ := h.store.Get(ctx, "shardId-000000000000")
	if after.Owner != "thief" || after.Checkpoint != l.Checkpoint {
		t.Fatalf("lease after loss: owner %q checkpoint %v (was %v)", after.Owner, after.Checkpoint, l.Checkpoint)
	}
}

func TestExpiredIteratorAndThrottlingLoseNothing(t *testing.T) {
	h := newHarness(t, 2)
	h.put(0, 300, 30)
	h.fake.InjectError("GetRecords", "", &types.ExpiredIteratorException{Message: aws.String("injected")}, 3)
	h.fake.InjectError("GetRecords", "shardId-000000000001", &types.ProvisionedThroughputExceededException{Message: aws.String("injected")}, 4)
	cfg := h.config("w1")
	cfg.MaxRecords = 25 // many calls, so faults hit mid-stream
	j := &journal{}
	stop := h.start(cfg, factoryOf(j, "w1", nil))
	waitFor(t, 10*time.Second, "300 records", func() bool { return j.count() >= 300 })
	h.fake.InjectError("GetRecords", "", &types.ExpiredIteratorException{Message: aws.String("injected")}, 2)
	h.put(300, 100, 30)
	waitFor(t, 10*time.Second, "400 records", func() bool { return j.count() >= 400 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ds, _ := j.snapshot()
	if seen := checkOrder(t, ds); len(seen) != 400 || len(ds) != 400 {
		t.Fatalf("delivered %d (%d distinct), want 400 once", len(ds), len(seen))
	}
}

func TestGracefulShutdownFinishesBatchInHand(t *testing.T) {
	bothModes(t, testGracefulShutdownFinishesBatchInHand)
}

func testGracefulShutdownFinishesBatchInHand(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 10, 1)
	j := &journal{}
	release := make(chan struct{})
	blocked := make(chan struct{})
	stop := h.start(h.config("w1"), factoryOf(j, "w1", func(p *testProcessor) {
		p.block, p.blocked = release, blocked
	}))
	<-blocked
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	// Shutdown waits for the batch in hand.
	select {
	case err := <-stopped:
		t.Fatalf("Run returned (%v) while a batch was being processed", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	ds, evs := j.snapshot()
	if len(ds) != 10 || contains(evs, "shardId-000000000000:ctx-cancelled-in-process") || !contains(evs, "shardId-000000000000:shutdown-requested") {
		t.Fatalf("deliveries %d, events %v", len(ds), evs)
	}
	l, _ := h.store.Get(context.Background(), "shardId-000000000000")
	if l.Owner != "" || l.Checkpoint != ds[9].pos {
		t.Fatalf("after shutdown: owner %q checkpoint %v", l.Owner, l.Checkpoint)
	}
}

func TestMissingStreamIsAClearError(t *testing.T) {
	h := newHarness(t, 1)
	cfg := h.config("w1")
	cfg.StreamName = "no-such-stream"
	s, err := New(cfg, nopFactory())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), `"no-such-stream" does not exist`) || !awsapi.IsNotFound(err) {
		t.Fatalf("Run on a missing stream: %v", err)
	}
}

func TestLatestSkipsClosedShardsAndOldRecords(t *testing.T) {
	bothModes(t, testLatestSkipsClosedShardsAndOldRecords)
}

func testLatestSkipsClosedShardsAndOldRecords(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 50, 5)
	if err := h.fake.UpdateShardCount(h.stream, 2); err != nil {
		t.Fatal(err)
	}
	h.put(50, 20, 5)
	cfg := h.config("w1")
	cfg.InitialPosition = consumer.InitialPositionLatest
	j := &journal{}
	stop := h.start(cfg, factoryOf(j, "w1", nil))
	waitFor(t, 5*time.Second, "leases of the open shards", func() bool {
		all, _ := h.store.List(context.Background())
		owned := 0
		for _, l := range all {
			if l.Owner == "w1" {
				owned++
			}
		}
		return owned == 2
	})
	all, _ := h.store.List(context.Background())
	for _, l := range all {
		if l.Key == "shardId-000000000000" {
			t.Fatalf("closed shard got a lease at LATEST: %+v", l)
		}
	}
	// Give the fetchers their LATEST iterators before writing.
	waitFor(t, 5*time.Second, "iterators", func() bool {
		if fanOutMode(t) {
			return h.fake.Calls("SubscribeToShard") >= 2
		}
		return h.fake.Calls("GetRecords") >= 4
	})
	h.put(1000, 30, 5)
	waitFor(t, 5*time.Second, "30 new records", func() bool { return j.count() >= 30 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ds, _ := j.snapshot()
	for _, d := range ds {
		_, c, _ := strings.Cut(d.data, ":")
		if n, err := strconv.Atoi(c); err != nil || n < 1000 {
			t.Fatalf("old record %q delivered at LATEST", d.data)
		}
	}
	if len(ds) != 30 {
		t.Fatalf("%d records, want 30", len(ds))
	}
}

func TestMissingPermissionIsAClearError(t *testing.T) {
	h := newHarness(t, 1)
	h.fake.InjectError("DescribeStreamSummary", "", &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}, 1)
	s, err := New(h.config("w1"), nopFactory())
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "kinesis:DescribeStreamSummary") || !awsapi.IsAccessDenied(err) {
		t.Fatalf("Run without permission: %v", err)
	}
}

// stoppingProcessor blocks in ProcessRecords until the worker asks the
// shard to stop, as a processor waiting on backpressure would.
type stoppingProcessor struct {
	*testProcessor
	blocked chan struct{}
	once    sync.Once
}

func (p *stoppingProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	p.once.Do(func() { close(p.blocked) })
	<-in.Stopping
	return errors.New("gave up: shard stopping")
}

func TestStoppingLetsABlockedProcessorReturn(t *testing.T) {
	h := newHarness(t, 1)
	h.put(0, 10, 1)
	j := &journal{}
	blocked := make(chan struct{})
	cfg := h.config("w1")
	cfg.ShutdownTimeout = time.Minute // a stuck processor would hold Run this long
	stop := h.start(cfg, consumer.ProcessorFactoryFunc(func(shard string) consumer.Processor {
		return &stoppingProcessor{testProcessor: &testProcessor{j: j, shard: shard}, blocked: blocked}
	}))
	<-blocked
	done := make(chan error, 1)
	go func() { done <- stop() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return: the processor never saw Stopping")
	}
	if !j.hasEvent("shardId-000000000000:shutdown-requested") {
		t.Fatal("ShutdownRequested not called after the early return")
	}
	if n := h.sched.stats.processorErrors.Load(); n != 0 {
		t.Fatalf("an early return on stop counted as %d processor errors", n)
	}
	l, _ := h.store.Get(context.Background(), "shardId-000000000000")
	if l.Checkpoint != consumer.TrimHorizon {
		t.Fatalf("checkpoint moved to %v though nothing was handled", l.Checkpoint)
	}
}

func TestShutdownHandsOnLeasesItNeverStarted(t *testing.T) {
	h := newHarness(t, 2)
	cfg1 := h.config("w1")
	// w1 discovers its leases only every 500ms, so a lease given to it
	// just before it stops is still unstarted.
	cfg1.LeaseDiscoveryInterval = 500 * time.Millisecond
	j := &journal{}
	stop1 := h.start(cfg1, factoryOf(j, "w1", nil))
	ctx := context.Background()
	waitFor(t, 10*time.Second, "w1 running both shards", func() bool {
		return h.sched.Stats().IsLeader && len(h.sched.Stats().Leases) == 2
	})
	w1 := h.sched
	stop2 := h.start(h.config("w2"), factoryOf(j, "w2", nil))
	defer stop2()
	waitFor(t, 10*time.Second, "w2 registered", func() bool {
		ws, _ := h.workers.List(ctx)
		return len(ws) == 2
	})
	// A third shard's lease appears, owned by w1 (as a child lease of a
	// shard w1 ended would be), and w1 stops before discovering it.
	if _, err := h.store.Create(ctx, leases.Lease{Key: "extra-lease", Owner: "w1", Checkpoint: consumer.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	if err := stop1(); err != nil {
		t.Fatal(err)
	}
	if n := len(w1.Stats().Leases); n != 0 {
		t.Fatalf("w1 still runs %d leases", n)
	}
	l, err := h.store.Get(ctx, "extra-lease")
	if err != nil {
		t.Fatal(err)
	}
	if l.Owner != "w2" {
		t.Fatalf("the unstarted lease is owned by %q after w1 stopped, want it handed on to w2", l.Owner)
	}
}

package scheduler

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/kpl"
	"github.com/shardwise/shardwise/internal/seqnum"
	"github.com/shardwise/shardwise/kinesistest"
	"github.com/shardwise/shardwise/leases"
)

// The tests in this file each guard one property that a mutant of
// internal/cmd/mutants breaks; they fail when it is broken.

// timedProcessor is a testProcessor that also notes when each shard
// ended and what Initialize was given.
type timedProcessor struct {
	*testProcessor
	mu    *sync.Mutex
	ended map[string]time.Time
	init  map[string]consumer.InitializationInput
}

func (p *timedProcessor) Initialize(ctx context.Context, in consumer.InitializationInput) error {
	p.mu.Lock()
	p.init[in.ShardID] = in
	p.mu.Unlock()
	return p.testProcessor.Initialize(ctx, in)
}

func (p *timedProcessor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	err := p.testProcessor.ShardEnded(ctx, in)
	if in.Checkpointer.LastCheckpoint().IsShardEnd() {
		p.mu.Lock()
		p.ended[in.ShardID] = time.Now()
		p.mu.Unlock()
	}
	return err
}

type timedFactory struct {
	j     *journal
	mu    sync.Mutex
	ended map[string]time.Time
	init  map[string]consumer.InitializationInput
}

func newTimedFactory() *timedFactory {
	return &timedFactory{j: &journal{}, ended: map[string]time.Time{}, init: map[string]consumer.InitializationInput{}}
}

func (f *timedFactory) NewProcessor(shard string) consumer.Processor {
	return &timedProcessor{testProcessor: &testProcessor{j: f.j, shard: shard, worker: "w1", checkpoint: true},
		mu: &f.mu, ended: f.ended, init: f.init}
}

func (f *timedFactory) endedAt(shard string) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ended[shard]
}

func (f *timedFactory) initOf(shard string) (consumer.InitializationInput, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	in, ok := f.init[shard]
	return in, ok
}

// firstDelivery returns the first delivery of shard, if any.
func firstDelivery(j *journal, shard string) (delivery, bool) {
	ds, _ := j.snapshot()
	for _, d := range ds {
		if d.shard == shard {
			return d, true
		}
	}
	return delivery{}, false
}

// TestChildOfAFinishedParentStartsOnTheSameWorkerAtOnce: the worker that
// finishes a parent creates the children owned by itself and starts them
// at once, instead of leaving them to the leader's next assignment run.
// The assignment interval is long, so a leader run cannot mask a child
// left unowned.
func TestChildOfAFinishedParentStartsOnTheSameWorkerAtOnce(t *testing.T) {
	bothModes(t, testChildOfAFinishedParentStartsOnTheSameWorkerAtOnce)
}

func testChildOfAFinishedParentStartsOnTheSameWorkerAtOnce(t *testing.T) {
	const assignEvery = 30 * time.Second
	h := newHarness(t, 1)
	cfg := h.config("w1")
	cfg.FailoverTime = 10 * time.Second
	cfg.LeaseAssignmentInterval = assignEvery
	cfg.ShardSyncInterval = time.Minute // shard sync must not create the children either
	f := newTimedFactory()
	h.start(cfg, f)
	h.put(0, 20, 5)
	waitFor(t, 10*time.Second, "the parent's 20 records", func() bool { return f.j.count() >= 20 })
	parent := "shardId-000000000000"
	if err := h.fake.UpdateShardCount(h.stream, 2); err != nil {
		t.Fatal(err)
	}
	h.put(20, 20, 5)
	waitFor(t, 10*time.Second, "the parent's SHARD_END", func() bool { return !f.endedAt(parent).IsZero() })
	ended := f.endedAt(parent)
	children, err := h.store.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, l := range children {
		if slices.Contains(l.ParentShardIDs, parent) {
			kids = append(kids, l.Key)
		}
	}
	if len(kids) != 2 {
		t.Fatalf("child leases %v, want 2", kids)
	}
	// Both children hold records (20 over 5 keys): each must deliver its
	// first one well within one assignment interval of the parent's end.
	within := assignEvery / 10
	for _, k := range kids {
		waitFor(t, within, "child "+k+"'s first record on w1", func() bool { _, ok := firstDelivery(f.j, k); return ok })
		d, _ := firstDelivery(f.j, k)
		if took := d.at.Sub(ended); took > within {
			t.Fatalf("child %s started %v after its parent ended, want under %v", k, took, within)
		}
		if l, err := h.store.Get(context.Background(), k); err != nil || l.Owner != "w1" {
			t.Fatalf("child lease %s: owner %q, err %v; want w1", k, l.Owner, err)
		}
	}
}

// TestSubRecordsOutsideTheLeaseHashRangeAreDropped: after a split, a KPL
// aggregate can hold sub-records whose explicit hash keys belong to the
// sibling shard; each child delivers only the sub-records of its own
// hash range (the sibling delivers the others from its own copy, as the
// KCL does).
func TestSubRecordsOutsideTheLeaseHashRangeAreDropped(t *testing.T) {
	bothModes(t, testSubRecordsOutsideTheLeaseHashRangeAreDropped)
}

func testSubRecordsOutsideTheLeaseHashRangeAreDropped(t *testing.T) {
	h := newHarness(t, 1)
	parent := "shardId-000000000000"
	mid := new(big.Int).Lsh(big.NewInt(1), 127) // the split point: 2^127
	if err := h.fake.SplitShard(h.stream, parent, mid.String()); err != nil {
		t.Fatal(err)
	}
	low := "1000"
	high := new(big.Int).Add(mid, big.NewInt(1000)).String()
	// One aggregate routed to each child, each holding one sub-record for
	// each child's range.
	for _, agg := range []struct{ route, name string }{{low, "in-low"}, {high, "in-high"}} {
		data := kpl.Aggregate([]kpl.UserRecord{
			{PartitionKey: "a", ExplicitHashKey: low, Data: []byte(agg.name + ":low-sub")},
			{PartitionKey: "b", ExplicitHashKey: high, Data: []byte(agg.name + ":high-sub")},
		})
		if _, err := h.fake.PutRecords(h.stream, []kinesistest.PutEntry{{PartitionKey: "agg", ExplicitHashKey: agg.route, Data: data}}); err != nil {
			t.Fatal(err)
		}
	}
	f := newTimedFactory()
	h.start(h.config("w1"), f)
	waitFor(t, 10*time.Second, "the parent's SHARD_END", func() bool { return !f.endedAt(parent).IsZero() })
	waitFor(t, 10*time.Second, "two sub-records", func() bool { return f.j.count() >= 2 })
	// A child that delivers too much does it in the batch that moves its
	// checkpoint off the sentinel.
	waitFor(t, 10*time.Second, "both children caught up", func() bool {
		n := 0
		for _, l := range mustList(t, h.store) {
			if l.Key != parent && !seqnum.IsSentinel(l.Checkpoint.SequenceNumber) {
				n++
			}
		}
		return n == 2
	})
	ranges := map[string]string{}
	for _, l := range mustList(t, h.store) {
		if l.Key == parent {
			continue
		}
		if l.StartingHashKey == "0" {
			ranges[l.Key] = "low"
		} else {
			ranges[l.Key] = "high"
		}
	}
	ds, _ := f.j.snapshot()
	got := map[string]string{}
	for _, d := range ds {
		got[d.data] = ranges[d.shard]
	}
	want := map[string]string{"in-low:low-sub": "low", "in-high:high-sub": "high"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delivered (record: child range) %v, want %v", got, want)
	}
}

func mustList(t *testing.T, s leases.Store) []leases.Lease {
	t.Helper()
	all, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// TestAtTimestampSkipsEarlierRecords: a shard with no checkpoint and an
// AT_TIMESTAMP initial position starts at the first record at or after
// the timestamp; nothing written before it is delivered.
func TestAtTimestampSkipsEarlierRecords(t *testing.T) {
	bothModes(t, testAtTimestampSkipsEarlierRecords)
}

func testAtTimestampSkipsEarlierRecords(t *testing.T) {
	h := newHarness(t, 2)
	h.put(0, 40, 8)
	time.Sleep(20 * time.Millisecond) // the fake's clock counts milliseconds
	at := time.Now()
	time.Sleep(20 * time.Millisecond)
	h.put(40, 40, 8)
	cfg := h.config("w1")
	cfg.InitialPosition = consumer.InitialPositionAtTimestamp(at)
	j := &journal{}
	h.start(cfg, factoryOf(j, "w1", nil))
	waitFor(t, 10*time.Second, "the 40 records written after the timestamp", func() bool { return j.count() >= 40 })
	// An early record would have come before the later ones of its shard.
	ds, _ := j.snapshot()
	seen := checkOrder(t, ds)
	if len(ds) != 40 || len(seen) != 40 {
		t.Fatalf("delivered %d records (%d distinct), want the 40 written after the timestamp", len(ds), len(seen))
	}
	for i := range 40 {
		if k := i % 8; seen[fmt.Sprintf("key-%d:%d", k, i)] != 0 {
			t.Fatalf("record key-%d:%d, written before the timestamp, was delivered", k, i)
		}
	}
}

// TestInitializeGetsThePendingCheckpointAndItsState: a lease with a
// prepared (two-phase) checkpoint and its state hands both to the next
// processor's Initialize, with the checkpoint itself.
func TestInitializeGetsThePendingCheckpointAndItsState(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, 1)
	shard := "shardId-000000000000"
	entries := make([]kinesistest.PutEntry, 10)
	for i := range entries {
		entries[i] = kinesistest.PutEntry{PartitionKey: "k", Data: fmt.Appendf(nil, "k:%d", i)}
	}
	res, err := h.fake.PutRecords(h.stream, entries)
	if err != nil {
		t.Fatal(err)
	}
	// A previous owner checkpointed at record 2, prepared record 5 with
	// state, and released the lease.
	if _, err := h.store.Create(ctx, leases.Lease{Key: shard, Checkpoint: consumer.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	l, err := h.store.Get(ctx, shard)
	if err != nil {
		t.Fatal(err)
	}
	if l, err = h.store.Take(ctx, l, "w0"); err != nil {
		t.Fatal(err)
	}
	done := consumer.ExtendedSequenceNumber{SequenceNumber: res[2].SequenceNumber}
	pending := consumer.ExtendedSequenceNumber{SequenceNumber: res[5].SequenceNumber}
	state := []byte("offsets up to 5 flushed")
	c, err := h.store.Checkpoint(ctx, shard, "w0", l.Counter, done)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = h.store.PrepareCheckpoint(ctx, shard, "w0", c, pending, state); err != nil {
		t.Fatal(err)
	}
	l.Counter = c
	if _, err := h.store.Release(ctx, l); err != nil {
		t.Fatal(err)
	}

	f := newTimedFactory()
	h.start(h.config("w1"), f)
	waitFor(t, 10*time.Second, "Initialize", func() bool { _, ok := f.initOf(shard); return ok })
	in, _ := f.initOf(shard)
	if in.Checkpoint != done || in.PendingCheckpoint != pending || string(in.PendingCheckpointState) != string(state) {
		t.Fatalf("Initialize got checkpoint %v, pending %v, state %q; want %v, %v, %q",
			in.Checkpoint, in.PendingCheckpoint, in.PendingCheckpointState, done, pending, state)
	}
	// And processing resumes after the checkpoint, not the pending one.
	waitFor(t, 10*time.Second, "records 3 to 9", func() bool { return f.j.count() >= 7 })
	if d, _ := firstDelivery(f.j, shard); d.data != "k:3" {
		t.Fatalf("first record after the restart %q, want k:3", d.data)
	}
}

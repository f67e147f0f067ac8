package batch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shardwise/shardwise/batch"
	"github.com/shardwise/shardwise/consumer"
)

// fakeCheckpointer enforces the real Checkpointer's rules (never below the
// last checkpoint, never past the largest position delivered, SHARD_END
// only after the shard ended) and remembers every write. A rule broken is
// also recorded as a violation, so a test fails even if the processor
// swallowed the error. onWrite, if set, is called with every accepted
// position before it is recorded, for invariant checks.
type fakeCheckpointer struct {
	mu         sync.Mutex
	last       consumer.ExtendedSequenceNumber
	largest    consumer.ExtendedSequenceNumber
	shardEnded bool
	writes     []consumer.ExtendedSequenceNumber
	violations []string
	onWrite    func(pos consumer.ExtendedSequenceNumber)
}

var _ consumer.Checkpointer = (*fakeCheckpointer)(nil)

func (c *fakeCheckpointer) delivered(pos consumer.ExtendedSequenceNumber) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if consumer.Compare(pos, c.largest) > 0 {
		c.largest = pos
	}
}

func (c *fakeCheckpointer) endShard() {
	c.mu.Lock()
	c.shardEnded = true
	c.mu.Unlock()
}

func (c *fakeCheckpointer) Checkpoint(ctx context.Context) error {
	c.mu.Lock()
	pos := c.largest
	if c.shardEnded {
		pos = consumer.ShardEnd
	}
	c.mu.Unlock()
	if pos.IsZero() {
		return nil
	}
	return c.CheckpointAt(ctx, pos)
}

func (c *fakeCheckpointer) CheckpointRecord(ctx context.Context, r *consumer.Record) error {
	return c.CheckpointAt(ctx, r.Position())
}

func (c *fakeCheckpointer) CheckpointAt(ctx context.Context, pos consumer.ExtendedSequenceNumber) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	largest := c.largest
	if c.shardEnded {
		largest = consumer.ShardEnd
	}
	var reason string
	switch {
	case pos.Validate() != nil:
		reason = pos.Validate().Error()
	case pos.IsShardEnd() && !c.shardEnded:
		reason = "SHARD_END before the shard ended"
	case consumer.Compare(pos, c.last) < 0:
		reason = "below the last checkpoint " + c.last.String()
	case consumer.Compare(pos, largest) > 0:
		reason = "beyond the largest delivered " + largest.String()
	}
	if reason != "" {
		c.violations = append(c.violations, pos.String()+": "+reason)
		return &consumer.CheckpointError{Requested: pos, Reason: reason}
	}
	if c.onWrite != nil {
		c.onWrite(pos)
	}
	c.last = pos
	c.writes = append(c.writes, pos)
	return nil
}

func (c *fakeCheckpointer) PrepareCheckpoint(ctx context.Context, pos consumer.ExtendedSequenceNumber, state []byte) error {
	return nil
}

func (c *fakeCheckpointer) LastCheckpoint() consumer.ExtendedSequenceNumber {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

func (c *fakeCheckpointer) LargestDelivered() consumer.ExtendedSequenceNumber {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.largest
}

func (c *fakeCheckpointer) lastWrite() consumer.ExtendedSequenceNumber {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

func (c *fakeCheckpointer) check(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.violations {
		t.Errorf("checkpoint rule broken: %s", v)
	}
}

// rig drives one processor the way the scheduler does: Initialize, then
// ProcessRecords with the checkpointer told what was delivered, then one
// terminal call. Records get increasing sequence numbers.
type rig struct {
	t    *testing.T
	ctx  context.Context
	proc consumer.Processor
	cp   *fakeCheckpointer
	next int
}

const testShard = "shardId-000000000007"

// batchHandler and responseHandler build handlers for unit tests, which
// look at checkpoints as soon as records finish (CheckpointInterval
// negative unless cfg sets it); the default checkpoint interval has a test
// of its own.
func batchHandler(h batch.Handler, cfg batch.Config) (consumer.ProcessorFactory, error) {
	return batch.New(h, immediateCheckpoints(cfg))
}

func responseHandler(h batch.ResponseHandler, cfg batch.Config) (consumer.ProcessorFactory, error) {
	return batch.NewWithResponse(h, immediateCheckpoints(cfg))
}

func immediateCheckpoints(cfg batch.Config) batch.Config {
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = -1
	}
	return cfg
}

// newRig returns a function taking what a handler constructor returns, so
// that newRig(t)(batch.New(...)) reads in one line.
func newRig(t *testing.T) func(consumer.ProcessorFactory, error) *rig {
	return func(f consumer.ProcessorFactory, err error) *rig {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return startRig(t, f)
	}
}

func startRig(t *testing.T, f consumer.ProcessorFactory) *rig {
	t.Helper()
	r := &rig{t: t, ctx: context.Background(), proc: f.NewProcessor(testShard), cp: &fakeCheckpointer{}}
	if err := r.proc.Initialize(r.ctx, consumer.InitializationInput{ShardID: testShard, Checkpoint: consumer.TrimHorizon}); err != nil {
		t.Fatal(err)
	}
	// A test that stops early still ends the processor's goroutines (a
	// second terminal call is harmless).
	t.Cleanup(func() { r.proc.LeaseLost(r.ctx, consumer.LeaseLostInput{ShardID: testShard}) })
	return r
}

// seq is the sequence number of the i-th record a rig makes.
func seq(i int) string { return "4959" + fmt.Sprintf("%040d", 1000+i) }

func pos(i int) consumer.ExtendedSequenceNumber {
	return consumer.ExtendedSequenceNumber{SequenceNumber: seq(i)}
}

// index recovers a rig record's number from its position.
func index(p consumer.ExtendedSequenceNumber) int {
	n, err := strconv.Atoi(p.SequenceNumber[4:])
	if err != nil {
		panic(err)
	}
	return n - 1000
}

// make returns n records with keys key(i) and payload "i", arrived at
// arrival.
func (r *rig) make(n int, key func(i int) string, arrival time.Time) []consumer.Record {
	out := make([]consumer.Record, n)
	for j := range out {
		i := r.next + j
		out[j] = consumer.Record{
			SequenceNumber:              seq(i),
			PartitionKey:                key(i),
			Data:                        []byte(strconv.Itoa(i)),
			ApproximateArrivalTimestamp: arrival,
		}
	}
	r.next += n
	return out
}

// process delivers records as the scheduler would.
func (r *rig) process(recs []consumer.Record, millisBehind int64) error {
	r.cp.delivered(recs[len(recs)-1].Position())
	return r.proc.ProcessRecords(r.ctx, consumer.ProcessRecordsInput{
		ShardID: testShard, Records: recs, MillisBehindLatest: millisBehind, FetchedAt: time.Now(), Checkpointer: r.cp,
	})
}

// processLikeScheduler offers records until ProcessRecords takes them,
// waiting between attempts as the scheduler's retry backoff does.
func (r *rig) processLikeScheduler(recs []consumer.Record) {
	r.t.Helper()
	for {
		err := r.process(recs, 0)
		if err == nil {
			return
		}
		if !errors.Is(err, batch.ErrStalled) {
			r.t.Fatalf("ProcessRecords: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *rig) mustProcess(recs []consumer.Record) {
	r.t.Helper()
	if err := r.process(recs, 0); err != nil {
		r.t.Fatalf("ProcessRecords: %v", err)
	}
}

func (r *rig) shutdown() error {
	return r.proc.ShutdownRequested(r.ctx, consumer.ShutdownRequestedInput{ShardID: testShard, Checkpointer: r.cp})
}

func (r *rig) shardEnded() error {
	r.cp.endShard()
	return r.proc.ShardEnded(r.ctx, consumer.ShardEndedInput{ShardID: testShard, Checkpointer: r.cp})
}

func oneKey(int) string { return "k" }

func keyMod(n int) func(int) string {
	return func(i int) string { return "key-" + strconv.Itoa(i%n) }
}

// call is one handler invocation as a test saw it.
type call struct {
	at      time.Time
	records []int // rig record numbers
	keys    []string
	window  *batch.Window
	failed  bool
}

// calls records handler invocations.
type calls struct {
	mu      sync.Mutex
	list    []call
	changed chan struct{} // closed and replaced on every add
}

// notify wakes waiters; called with the owner's lock held.
func notify(ch *chan struct{}) {
	if *ch != nil {
		close(*ch)
	}
	*ch = make(chan struct{})
}

// waitOn blocks until cond (evaluated under mu) holds; changed is closed
// whenever the state cond reads changes. In a synctest bubble, a wait that
// can never end is reported as a deadlock.
func waitOn(mu *sync.Mutex, changed *chan struct{}, cond func() bool) {
	waitOnUntil(nil, mu, changed, cond)
}

// waitOnUntil is waitOn that gives up (returning false) when stop closes.
func waitOnUntil(stop <-chan struct{}, mu *sync.Mutex, changed *chan struct{}, cond func() bool) bool {
	for {
		mu.Lock()
		if cond() {
			mu.Unlock()
			return true
		}
		if *changed == nil {
			*changed = make(chan struct{})
		}
		ch := *changed
		mu.Unlock()
		select {
		case <-ch:
		case <-stop:
			return false
		}
	}
}

// waitCalls blocks until at least n calls were made.
func (c *calls) waitCalls(n int) {
	waitOn(&c.mu, &c.changed, func() bool { return len(c.list) >= n })
}

// waitHandled blocks until n records were handled by successful calls.
func (c *calls) waitHandled(n int) {
	waitOn(&c.mu, &c.changed, func() bool {
		h := 0
		for _, cl := range c.list {
			if !cl.failed {
				h += len(cl.records)
			}
		}
		return h >= n
	})
}

func (c *calls) add(b batch.Batch, failed bool) {
	cl := call{at: time.Now(), window: b.Window, failed: failed}
	for _, r := range b.Records {
		cl.records = append(cl.records, index(r.Position()))
		cl.keys = append(cl.keys, r.PartitionKey)
	}
	if b.Window != nil {
		w := *b.Window
		w.State = slices.Clone(w.State)
		cl.window = &w
	}
	c.mu.Lock()
	c.list = append(c.list, cl)
	notify(&c.changed)
	c.mu.Unlock()
}

func (c *calls) snapshot() []call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.list)
}

func (c *calls) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.list)
}

// handled lists the records of successful calls, in call order.
func (c *calls) handled() []int {
	var out []int
	for _, cl := range c.snapshot() {
		if !cl.failed {
			out = append(out, cl.records...)
		}
	}
	return out
}

// failures collects what an OnFailure destination received.
type failures struct {
	mu      sync.Mutex
	list    []batch.FailedRecords
	changed chan struct{}
}

func (f *failures) dest(ctx context.Context, fr batch.FailedRecords) error {
	f.mu.Lock()
	f.list = append(f.list, fr)
	notify(&f.changed)
	f.mu.Unlock()
	return nil
}

// wait blocks until the destination got n batches.
func (f *failures) wait(n int) {
	waitOn(&f.mu, &f.changed, func() bool { return len(f.list) >= n })
}

func (f *failures) snapshot() []batch.FailedRecords {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.list)
}

func (f *failures) records() []int {
	var out []int
	for _, fr := range f.snapshot() {
		for _, r := range fr.Records {
			out = append(out, index(r.Position()))
		}
	}
	return out
}

func seqRange(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

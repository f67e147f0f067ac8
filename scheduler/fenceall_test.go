package scheduler

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/session"
	"github.com/shardwise/shardwise/leases"
)

// cutHeartbeats fails every heartbeat while cut is on.
type cutHeartbeats struct {
	leases.WorkerStore
	cut atomic.Bool
}

func (s *cutHeartbeats) Heartbeat(ctx context.Context, r leases.WorkerRecord) (leases.WorkerRecord, error) {
	if s.cut.Load() {
		return leases.WorkerRecord{}, errors.New("fenceall test: DynamoDB unreachable")
	}
	return s.WorkerStore.Heartbeat(ctx, r)
}

// midBatchProcessor stays inside its first ProcessRecords call until its
// context ends, as a processor busy with a long batch that honours its
// context does.
type midBatchProcessor struct {
	in    chan<- struct{} // closed once the batch started
	once  *sync.Once
	ended chan<- error // the context's cause when the batch ended
}

func (p *midBatchProcessor) Initialize(context.Context, consumer.InitializationInput) error {
	return nil
}

func (p *midBatchProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	p.once.Do(func() { close(p.in) })
	<-ctx.Done()
	select {
	case p.ended <- context.Cause(ctx):
	default:
	}
	return ctx.Err()
}

func (p *midBatchProcessor) LeaseLost(context.Context, consumer.LeaseLostInput) {}

func (p *midBatchProcessor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *midBatchProcessor) ShutdownRequested(context.Context, consumer.ShutdownRequestedInput) error {
	return nil
}

// TestFencingStopsAProcessorMidBatch: a worker that cannot heartbeat past
// its fencing deadline (FailoverTime - FenceMargin after its last
// successful heartbeat was sent) cancels the context of a processor that
// is inside a batch. The check before each batch (Fence) cannot stop it:
// the batch has already started, and without the fence-time cancellation
// (fenceAll) it runs on while the leader gives its shard to another
// worker.
func TestFencingStopsAProcessorMidBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, 1)
		h.put(0, 10, 2)
		cfg := h.config("w1")
		hb := &cutHeartbeats{WorkerStore: h.workers}
		cfg.Stores.Workers = hb
		started := make(chan struct{})
		ended := make(chan error, 1)
		var once sync.Once
		h.start(cfg, consumer.ProcessorFactoryFunc(func(string) consumer.Processor {
			return &midBatchProcessor{in: started, once: &once, ended: ended}
		}))
		select {
		case <-started:
		case <-time.After(10 * cfg.FailoverTime):
			t.Fatal("the processor never got a batch")
		}
		// Let the session heartbeat once more inside the batch, then cut
		// it off: the last heartbeat that succeeded was sent at most one
		// interval before the cut.
		hbInterval := cfg.FailoverTime / 2 // the scheduler's default
		fenceMargin := cfg.FailoverTime / 5
		time.Sleep(hbInterval)
		hb.cut.Store(true)
		cut := time.Now()
		// The fencing deadline is at most FailoverTime - FenceMargin after
		// the last successful heartbeat, so at most that after the cut.
		limit := cfg.FailoverTime - fenceMargin
		select {
		case cause := <-ended:
			took := time.Since(cut)
			t.Logf("the mid-batch processor's context ended %v after the heartbeats were cut (cause: %v)", took, cause)
			if took > limit {
				t.Errorf("the processor was stopped %v after the cut, want at most %v (FailoverTime - FenceMargin)", took, limit)
			}
			if !errors.Is(cause, session.ErrFenced) {
				t.Errorf("the processor's context ended with %v, want session.ErrFenced", cause)
			}
		case <-time.After(3 * cfg.FailoverTime):
			t.Fatalf("%v after its heartbeats were cut, the fenced worker's processor is still inside its batch: fencing did not cancel it", 3*cfg.FailoverTime)
		}
		hb.cut.Store(false)
	})
}

// gatedProcessor blocks its first batch until released (ignoring its
// context, as a processor busy in a call that does not take one), counts
// its batches, and records which end call it got.
type gatedProcessor struct {
	first    chan struct{} // closed when the first batch starts
	release  chan struct{}
	batches  atomic.Int32
	lost     atomic.Bool
	shutdown atomic.Bool
}

func (p *gatedProcessor) Initialize(context.Context, consumer.InitializationInput) error { return nil }

func (p *gatedProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	if p.batches.Add(1) == 1 {
		close(p.first)
		<-p.release
	}
	return nil
}

func (p *gatedProcessor) LeaseLost(context.Context, consumer.LeaseLostInput) { p.lost.Store(true) }

func (p *gatedProcessor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *gatedProcessor) ShutdownRequested(context.Context, consumer.ShutdownRequestedInput) error {
	p.shutdown.Store(true)
	return nil
}

// TestNoBatchPastTheFencingDeadline: a worker past its fencing deadline
// hands out no further batch even before its session's fence callback has
// stopped its consumers (as when a paused process resumes past the
// deadline and a shard consumer runs before the session's timer does).
// The callback (fenceAll) is held back here by holding the scheduler's
// lock; the check before each batch is then the only guard, and the
// processor gets LeaseLost, not ShutdownRequested.
func TestNoBatchPastTheFencingDeadline(t *testing.T) {
	// Real time: a goroutine waiting for a mutex is not durably blocked,
	// so a synctest bubble would not advance its clock while the lock is
	// held.
	h := newHarness(t, 1)
	h.put(0, 10, 2)
	cfg := h.config("w1")
	cfg.MaxRecords = 2
	hb := &cutHeartbeats{WorkerStore: h.workers}
	cfg.Stores.Workers = hb
	p := &gatedProcessor{first: make(chan struct{}), release: make(chan struct{})}
	stop := h.start(cfg, consumer.ProcessorFactoryFunc(func(string) consumer.Processor { return p }))
	select {
	case <-p.first:
	case <-time.After(10 * cfg.FailoverTime):
		t.Fatal("the processor never got a batch")
	}
	waitFor(t, 10*time.Second, "batches fetched behind the one in hand", func() bool {
		ls := h.sched.Stats().Leases
		return len(ls) == 1 && ls[0].PendingRecords >= 2
	})
	h.sched.mu.Lock()
	hb.cut.Store(true)
	deadline := time.Now().Add(3 * cfg.FailoverTime)
	for h.sched.fence() == nil {
		if time.Now().After(deadline) {
			h.sched.mu.Unlock()
			t.Fatal("the worker is not past its fencing deadline three failover times after its heartbeats were cut")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The first batch ends past the deadline; fenceAll is still held.
	close(p.release)
	// Nothing to await: the batch that must not come would come at once.
	time.Sleep(300 * time.Millisecond)
	n := p.batches.Load()
	h.sched.mu.Unlock()
	if n != 1 {
		t.Errorf("%d batches handed out; after the first one ended past the fencing deadline none may be", n)
	}
	hb.cut.Store(false)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !p.lost.Load() || p.shutdown.Load() {
		t.Errorf("end calls: LeaseLost %v, ShutdownRequested %v; a fenced worker's processor gets LeaseLost only", p.lost.Load(), p.shutdown.Load())
	}
}

package scheduler

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shardwise/shardwise/consumer"
)

// causeRecorder blocks in ShutdownRequested until its context ends when
// stall is set, and records the context's cause either way.
type causeRecorder struct {
	*testProcessor
	stall   bool
	started chan<- struct{}
	mu      *sync.Mutex
	causes  *[]error
}

func (p *causeRecorder) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	select {
	case p.started <- struct{}{}:
	default:
	}
	return nil
}

func (p *causeRecorder) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	if p.stall {
		<-ctx.Done()
	} else {
		_ = in.Checkpointer.Checkpoint(ctx)
		// The lease context ends when shutdown is over; wait for it so
		// its cause can be read.
		go func() {
			<-ctx.Done()
			p.record(context.Cause(ctx))
		}()
		return nil
	}
	p.record(context.Cause(ctx))
	return ctx.Err()
}

func (p *causeRecorder) record(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	*p.causes = append(*p.causes, err)
}

func runUntilShutdown(t *testing.T, stall bool) (causes func() []error, runErr error) {
	h := newHarness(t, 2)
	h.put(0, 4, 2)
	var mu sync.Mutex
	var got []error
	started := make(chan struct{}, 1)
	cfg := h.config("w1")
	cfg.ShutdownTimeout = 300 * time.Millisecond
	stop := h.start(cfg, consumer.ProcessorFactoryFunc(func(shard string) consumer.Processor {
		return &causeRecorder{testProcessor: &testProcessor{j: &journal{}, shard: shard}, stall: stall, started: started, mu: &mu, causes: &got}
	}))
	<-started
	waitFor(t, 10*time.Second, "both shards running", func() bool { return len(h.sched.Stats().Leases) == 2 })
	runErr = stop()
	return func() []error {
		mu.Lock()
		defer mu.Unlock()
		return append([]error(nil), got...)
	}, runErr
}

func TestShutdownCauseIsErrShutdown(t *testing.T) {
	causes, err := runUntilShutdown(t, false)
	if err != nil {
		t.Fatalf("Run = %v, want nil after a graceful shutdown", err)
	}
	waitFor(t, 5*time.Second, "both lease contexts ended", func() bool { return len(causes()) == 2 })
	for _, c := range causes() {
		if !errors.Is(c, consumer.ErrShutdown) || errors.Is(c, consumer.ErrShutdownTimeout) {
			t.Errorf("lease context cause = %v, want consumer.ErrShutdown alone", c)
		}
	}
}

func TestShutdownTimeoutIsReportedByRun(t *testing.T) {
	causes, err := runUntilShutdown(t, true)
	if !errors.Is(err, consumer.ErrShutdownTimeout) {
		t.Fatalf("Run = %v, want an error wrapping consumer.ErrShutdownTimeout", err)
	}
	cs := causes()
	if len(cs) != 2 {
		t.Fatalf("%d processors saw their context end, want 2", len(cs))
	}
	for _, c := range cs {
		if !errors.Is(c, consumer.ErrShutdown) || !errors.Is(c, consumer.ErrShutdownTimeout) {
			t.Errorf("cancelled processor's cause = %v, want ErrShutdown and ErrShutdownTimeout", c)
		}
	}
}

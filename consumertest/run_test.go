package consumertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardwise/shardwise/checkpoint"
	"github.com/shardwise/shardwise/consumer"
)

// scripted is a Processor that records its calls and does what the test
// scripts for each ProcessRecords call.
type scripted struct {
	calls []string
	// process runs for ProcessRecords call n (from 0); nil checkpoints.
	process  func(n int, ctx context.Context, in consumer.ProcessRecordsInput) error
	n        int
	inputs   []consumer.ProcessRecordsInput
	init     consumer.InitializationInput
	initErrs int // Initialize fails this many times
	// shardEnded, if set, replaces ShardEnded's checkpoint.
	shardEnded   func(ctx context.Context, in consumer.ShardEndedInput) error
	leaseLostCtx context.Context
	lastCtx      context.Context
	kept         consumer.Checkpointer
}

func (p *scripted) Initialize(ctx context.Context, in consumer.InitializationInput) error {
	p.calls = append(p.calls, "init")
	p.init = in
	if p.initErrs > 0 {
		p.initErrs--
		return errors.New("init failed")
	}
	return nil
}

func (p *scripted) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	p.calls = append(p.calls, "process:"+in.Records[0].SequenceNumber)
	p.inputs = append(p.inputs, in)
	p.kept, p.lastCtx = in.Checkpointer, ctx
	n := p.n
	p.n++
	if p.process != nil {
		return p.process(n, ctx, in)
	}
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *scripted) LeaseLost(ctx context.Context, _ consumer.LeaseLostInput) {
	p.calls = append(p.calls, "lease-lost")
	p.leaseLostCtx = ctx
}

func (p *scripted) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	p.calls = append(p.calls, "shard-ended")
	if p.shardEnded != nil {
		return p.shardEnded(ctx, in)
	}
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *scripted) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	p.calls = append(p.calls, "shutdown")
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *scripted) factory() consumer.ProcessorFactory {
	return consumer.ProcessorFactoryFunc(func(string) consumer.Processor { return p })
}

func recs(seqs ...string) []consumer.Record {
	out := make([]consumer.Record, len(seqs))
	for i, s := range seqs {
		out[i] = consumer.Record{SequenceNumber: s, Data: []byte("d" + s)}
	}
	return out
}

func sq(s string) consumer.ExtendedSequenceNumber {
	return consumer.ExtendedSequenceNumber{SequenceNumber: s}
}

func positions(ss ...string) []consumer.ExtendedSequenceNumber {
	out := make([]consumer.ExtendedSequenceNumber, len(ss))
	for i, s := range ss {
		if s == "SHARD_END" {
			out[i] = consumer.ShardEnd
		} else {
			out[i] = sq(s)
		}
	}
	return out
}

func wantCalls(t *testing.T, p *scripted, want ...string) {
	t.Helper()
	if !slices.Equal(p.calls, want) {
		t.Fatalf("calls %v, want %v", p.calls, want)
	}
}

func TestRunOrderAndInputs(t *testing.T) {
	cp, err := checkpoint.NewFake(checkpoint.FakeConfig{Checkpoint: sq("5"), PendingCheckpoint: sq("7"), PendingCheckpointState: []byte("st")})
	if err != nil {
		t.Fatal(err)
	}
	fetched := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := &scripted{}
	res, err := Run(context.Background(), p.factory(), Config{
		ShardID:      "shardId-000000000007",
		Checkpointer: cp,
		Batches: []Batch{
			{Records: recs("10", "11"), MillisBehindLatest: 1500, FetchedAt: fetched},
			{Records: recs("12")},
		},
		End: EndShardEnded,
	})
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, p, "init", "process:10", "process:12", "shard-ended")
	if p.init.ShardID != "shardId-000000000007" || p.init.Checkpoint != sq("5") || p.init.PendingCheckpoint != sq("7") || string(p.init.PendingCheckpointState) != "st" {
		t.Fatalf("Initialize input %+v", p.init)
	}
	in := p.inputs[0]
	if in.ShardID != "shardId-000000000007" || len(in.Records) != 2 || in.MillisBehindLatest != 1500 || !in.FetchedAt.Equal(fetched) ||
		in.Checkpointer != cp || in.Stopping == nil {
		t.Fatalf("ProcessRecords input %+v", in)
	}
	select {
	case <-in.Stopping:
		t.Fatal("Stopping closed without a stop")
	default:
	}
	if p.inputs[1].FetchedAt.IsZero() {
		t.Fatal("FetchedAt not defaulted")
	}
	if !slices.Equal(res.Checkpoints, positions("11", "12", "SHARD_END")) || res.LastCheckpoint != consumer.ShardEnd ||
		res.Processed != 2 || len(res.Errors) != 0 || !res.PendingCheckpoint.IsZero() {
		t.Fatalf("result %+v", res)
	}
	// After Run, the lease is over: the context ended as on shutdown and
	// the checkpointer refuses calls.
	if !errors.Is(context.Cause(p.lastCtx), consumer.ErrShutdown) {
		t.Fatalf("context cause after Run: %v", context.Cause(p.lastCtx))
	}
	if err := p.kept.Checkpoint(context.Background()); !errors.Is(err, consumer.ErrShutdown) {
		t.Fatalf("checkpoint after Run: %v", err)
	}
}

func TestRunRetriesFailedBatch(t *testing.T) {
	p := &scripted{process: func(n int, ctx context.Context, in consumer.ProcessRecordsInput) error {
		switch n {
		case 0:
			return errors.New("downstream busy")
		case 1:
			panic("boom")
		}
		return in.Checkpointer.Checkpoint(ctx)
	}}
	res, err := Run(context.Background(), p.factory(), Config{Batches: []Batch{{Records: recs("1", "2")}}})
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, p, "init", "process:1", "process:1", "process:1", "shutdown")
	if len(res.Errors) != 2 || !strings.Contains(res.Errors[1].Error(), "panicked: boom") {
		t.Fatalf("errors %v", res.Errors)
	}
	// The same input every time.
	if &p.inputs[0].Records[0] != &p.inputs[2].Records[0] {
		t.Fatal("a retry got other records")
	}
	if !slices.Equal(res.Checkpoints, positions("2")) || res.Processed != 1 {
		t.Fatalf("result %+v", res)
	}
}

func TestRunGivesUpAndRewinds(t *testing.T) {
	bad := errors.New("poison")
	p := &scripted{process: func(n int, ctx context.Context, in consumer.ProcessRecordsInput) error {
		if n == 0 {
			return in.Checkpointer.Checkpoint(ctx)
		}
		return bad
	}}
	res, err := Run(context.Background(), p.factory(), Config{
		Batches:     []Batch{{Records: recs("1")}, {Records: recs("2")}, {Records: recs("3")}},
		MaxAttempts: 2,
	})
	if !errors.Is(err, bad) {
		t.Fatalf("Run: %v, want the processor's error", err)
	}
	// Batch 2 is abandoned, batch 3 never delivered, and Checkpoint() in
	// ShutdownRequested does not cover batch 2.
	wantCalls(t, p, "init", "process:1", "process:2", "process:2", "shutdown")
	if !slices.Equal(res.Checkpoints, positions("1")) || res.Processed != 1 || len(res.Errors) != 2 {
		t.Fatalf("result %+v", res)
	}
}

func TestRunInitializeRetried(t *testing.T) {
	p := &scripted{initErrs: 2}
	res, err := Run(context.Background(), p.factory(), Config{Batches: []Batch{{Records: recs("1")}}})
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, p, "init", "init", "init", "process:1", "shutdown")
	if len(res.Errors) != 2 {
		t.Fatalf("errors %v", res.Errors)
	}
	p = &scripted{initErrs: 5}
	if _, err := Run(context.Background(), p.factory(), Config{Batches: []Batch{{Records: recs("1")}}}); err == nil {
		t.Fatal("Initialize failing every time: Run returned nil")
	}
	wantCalls(t, p, "init", "init", "init", "shutdown")
}

func TestRunStopDuringBatch(t *testing.T) {
	var sawStopping bool
	p := &scripted{process: func(n int, ctx context.Context, in consumer.ProcessRecordsInput) error {
		if n == 0 {
			return in.Checkpointer.Checkpoint(ctx)
		}
		select {
		case <-in.Stopping:
			sawStopping = true
			return errors.New("giving up: stopping")
		default:
			return nil
		}
	}}
	res, err := Run(context.Background(), p.factory(), Config{
		Batches: []Batch{{Records: recs("1")}, {Records: recs("2"), Stop: true}, {Records: recs("3")}},
		End:     EndShardEnded,
	})
	if err != nil {
		t.Fatalf("Run: %v (giving up while stopping is not a failure)", err)
	}
	if !sawStopping {
		t.Fatal("Stopping not closed for the stopping batch")
	}
	// Not retried, no later batch, no ShardEnded, and the abandoned batch
	// is not checkpointed by ShutdownRequested.
	wantCalls(t, p, "init", "process:1", "process:2", "shutdown")
	if !slices.Equal(res.Checkpoints, positions("1")) || res.Processed != 1 {
		t.Fatalf("result %+v", res)
	}
}

func TestRunShardEndNotCheckpointed(t *testing.T) {
	p := &scripted{shardEnded: func(context.Context, consumer.ShardEndedInput) error { return nil }}
	res, err := Run(context.Background(), p.factory(), Config{Batches: []Batch{{Records: recs("1")}}, End: EndShardEnded})
	if !errors.Is(err, ErrShardEndNotCheckpointed) {
		t.Fatalf("Run: %v", err)
	}
	wantCalls(t, p, "init", "process:1", "shard-ended", "shard-ended", "shard-ended")
	if res.LastCheckpoint != sq("1") {
		t.Fatalf("last checkpoint %v", res.LastCheckpoint)
	}
	// SHARD_END only after the shard ended: a processor that tries it in
	// ProcessRecords is refused.
	p = &scripted{process: func(_ int, ctx context.Context, in consumer.ProcessRecordsInput) error {
		return in.Checkpointer.CheckpointAt(ctx, consumer.ShardEnd)
	}}
	res, err = Run(context.Background(), p.factory(), Config{Batches: []Batch{{Records: recs("1")}}, MaxAttempts: 1})
	if !errors.Is(err, consumer.ErrInvalidCheckpoint) || len(res.Checkpoints) != 0 {
		t.Fatalf("Run: %v, checkpoints %v", err, res.Checkpoints)
	}
}

func TestRunLeaseLost(t *testing.T) {
	var afterLoss error
	p := &scripted{}
	res, err := Run(context.Background(), consumer.ProcessorFactoryFunc(func(string) consumer.Processor {
		return &leaseLostProbe{scripted: p, checkpointAfterLoss: &afterLoss}
	}), Config{Batches: []Batch{{Records: recs("1")}}, End: EndLeaseLost})
	if err != nil {
		t.Fatal(err)
	}
	wantCalls(t, p, "init", "process:1", "lease-lost")
	if !errors.Is(context.Cause(p.leaseLostCtx), consumer.ErrLeaseLost) {
		t.Fatalf("LeaseLost context cause %v", context.Cause(p.leaseLostCtx))
	}
	if !errors.Is(afterLoss, consumer.ErrLeaseLost) {
		t.Fatalf("checkpoint after the loss: %v", afterLoss)
	}
	if !slices.Equal(res.Checkpoints, positions("1")) {
		t.Fatalf("checkpoints %v", res.Checkpoints)
	}
}

// leaseLostProbe checkpoints from LeaseLost, which must fail.
type leaseLostProbe struct {
	*scripted
	checkpointAfterLoss *error
}

func (p *leaseLostProbe) LeaseLost(ctx context.Context, in consumer.LeaseLostInput) {
	p.scripted.LeaseLost(ctx, in)
	*p.checkpointAfterLoss = p.kept.CheckpointAt(context.Background(), sq("1"))
}

// A checkpoint write that finds the lease lost ends the lease as in the
// scheduler: no more batches, LeaseLost instead of ShutdownRequested.
func TestRunLeaseLostOnCheckpoint(t *testing.T) {
	cp, err := checkpoint.NewFake(checkpoint.FakeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p := &scripted{process: func(n int, ctx context.Context, in consumer.ProcessRecordsInput) error {
		if n == 1 {
			cp.InjectError(fmt.Errorf("taken by w2: %w", consumer.ErrLeaseLost), 1)
		}
		return in.Checkpointer.Checkpoint(ctx)
	}}
	res, err := Run(context.Background(), p.factory(), Config{
		Checkpointer: cp,
		Batches:      []Batch{{Records: recs("1")}, {Records: recs("2")}, {Records: recs("3")}},
	})
	if !errors.Is(err, consumer.ErrLeaseLost) {
		t.Fatalf("Run: %v", err)
	}
	wantCalls(t, p, "init", "process:1", "process:2", "lease-lost")
	if !slices.Equal(res.Checkpoints, positions("1")) {
		t.Fatalf("checkpoints %v", res.Checkpoints)
	}
}

func TestRunValidates(t *testing.T) {
	p := &scripted{}
	cp, _ := checkpoint.NewFake(checkpoint.FakeConfig{Checkpoint: sq("10")})
	tests := []struct {
		cfg   Config
		field string
	}{
		{Config{End: Ending(7)}, "End"},
		{Config{MaxAttempts: -1}, "MaxAttempts"},
		{Config{Batches: []Batch{{}}}, "Batches[0].Records"},
		{Config{Batches: []Batch{{Records: recs("2", "1")}}}, "Batches[0].Records[1]"},
		{Config{Batches: []Batch{{Records: recs("1")}, {Records: recs("1")}}}, "Batches[1].Records[0]"},
		{Config{Batches: []Batch{{Records: recs("x")}}}, "Batches[0].Records[0]"},
		{Config{Batches: []Batch{{Records: recs("10")}}, Checkpointer: cp}, "Batches[0].Records[0]"},
	}
	for _, tc := range tests {
		_, err := Run(context.Background(), p.factory(), tc.cfg)
		var ce *consumer.ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("Run(%+v) = %v, want a ConfigError for %s", tc.cfg, err, tc.field)
		}
	}
	if len(p.calls) != 0 {
		t.Fatalf("an invalid config reached the processor: %v", p.calls)
	}
	if _, err := Run(context.Background(), nil, Config{}); !errors.Is(err, consumer.ErrInvalidConfig) {
		t.Fatalf("nil factory: %v", err)
	}
	nilFactory := consumer.ProcessorFactoryFunc(func(string) consumer.Processor { return nil })
	if _, err := Run(context.Background(), nilFactory, Config{}); err == nil {
		t.Fatal("nil processor: Run returned nil")
	}
}

func TestRunContextEnded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &scripted{process: func(n int, c context.Context, in consumer.ProcessRecordsInput) error {
		cancel()
		return nil
	}}
	res, err := Run(ctx, p.factory(), Config{Batches: []Batch{{Records: recs("1")}, {Records: recs("2")}}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	wantCalls(t, p, "init", "process:1", "shutdown")
	if res.Processed != 1 {
		t.Fatalf("processed %d", res.Processed)
	}
}

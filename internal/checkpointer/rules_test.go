package checkpointer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/shardwise/shardwise/checkpoint"
	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

// The scheduler's checkpointer and checkpoint.Fake must enforce the same
// rules: a test that passes against the fake means the processor would
// pass against the real one. These tests run one script against both.

// subject is what both checkpointers offer the code that drives them.
type subject interface {
	consumer.Checkpointer
	Delivered(consumer.ExtendedSequenceNumber)
	Rewind(consumer.ExtendedSequenceNumber)
	ShardEnded()
	Close()
}

// impl makes a checkpointer for a lease at checkpoint start, and reports
// what it wrote: the checkpoints in order, and the pending checkpoint.
type impl struct {
	name string
	make func(t *testing.T, start consumer.ExtendedSequenceNumber) (subject, func() ([]consumer.ExtendedSequenceNumber, consumer.ExtendedSequenceNumber, []byte))
}

// recordingStore records the checkpoints written through it.
type recordingStore struct {
	leases.Store
	mu     sync.Mutex
	writes []consumer.ExtendedSequenceNumber
}

func (s *recordingStore) Checkpoint(ctx context.Context, key, owner string, counter int64, pos consumer.ExtendedSequenceNumber) (int64, error) {
	n, err := s.Store.Checkpoint(ctx, key, owner, counter, pos)
	if err == nil {
		s.mu.Lock()
		s.writes = append(s.writes, pos)
		s.mu.Unlock()
	}
	return n, err
}

var impls = []impl{
	{"real", func(t *testing.T, start consumer.ExtendedSequenceNumber) (subject, func() ([]consumer.ExtendedSequenceNumber, consumer.ExtendedSequenceNumber, []byte)) {
		t.Helper()
		ctx := context.Background()
		st := &recordingStore{Store: leases.NewMemoryStores().Leases}
		if _, err := st.Create(ctx, leases.Lease{Key: "shard-1", Checkpoint: start}); err != nil {
			t.Fatal(err)
		}
		l, err := st.Get(ctx, "shard-1")
		if err != nil {
			t.Fatal(err)
		}
		if l, err = st.Take(ctx, l, "w1"); err != nil {
			t.Fatal(err)
		}
		cp, err := New(Config{Store: st, LeaseKey: l.Key, Owner: "w1", Counter: l.Counter, Last: l.Checkpoint})
		if err != nil {
			t.Fatal(err)
		}
		return cp, func() ([]consumer.ExtendedSequenceNumber, consumer.ExtendedSequenceNumber, []byte) {
			l, err := st.Get(ctx, "shard-1")
			if err != nil {
				t.Fatal(err)
			}
			st.mu.Lock()
			defer st.mu.Unlock()
			return slices.Clone(st.writes), l.PendingCheckpoint, l.PendingCheckpointState
		}
	}},
	{"fake", func(t *testing.T, start consumer.ExtendedSequenceNumber) (subject, func() ([]consumer.ExtendedSequenceNumber, consumer.ExtendedSequenceNumber, []byte)) {
		t.Helper()
		f, err := checkpoint.NewFake(checkpoint.FakeConfig{Checkpoint: start})
		if err != nil {
			t.Fatal(err)
		}
		return f, func() ([]consumer.ExtendedSequenceNumber, consumer.ExtendedSequenceNumber, []byte) {
			pos, state := f.Pending()
			return f.Checkpoints(), pos, state
		}
	}},
}

type op int

const (
	opDeliver op = iota
	opRewind
	opEnd
	opClose
	opCheckpoint // Checkpoint()
	opAt         // CheckpointAt(pos)
	opRecord     // CheckpointRecord of a record at pos
	opPrepare    // PrepareCheckpoint(pos, "state")
	numOps
)

type step struct {
	op   op
	pos  consumer.ExtendedSequenceNumber
	want error // nil, consumer.ErrInvalidCheckpoint or consumer.ErrShutdown
}

func (s step) run(ctx context.Context, cp subject) error {
	switch s.op {
	case opDeliver:
		cp.Delivered(s.pos)
	case opRewind:
		cp.Rewind(s.pos)
	case opEnd:
		cp.ShardEnded()
	case opClose:
		cp.Close()
	case opCheckpoint:
		return cp.Checkpoint(ctx)
	case opAt:
		return cp.CheckpointAt(ctx, s.pos)
	case opRecord:
		r := consumer.Record{SequenceNumber: s.pos.SequenceNumber, SubSequenceNumber: s.pos.SubSequenceNumber}
		return cp.CheckpointRecord(ctx, &r)
	case opPrepare:
		return cp.PrepareCheckpoint(ctx, s.pos, []byte("state"))
	}
	return nil
}

func (s step) String() string { return fmt.Sprintf("op%d(%s)", s.op, s.pos) }

// kind names the class of an error, which both must agree on.
func kind(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, consumer.ErrInvalidCheckpoint):
		return "invalid"
	case errors.Is(err, consumer.ErrShutdown):
		return "shutdown"
	case errors.Is(err, consumer.ErrLeaseLost):
		return "lease-lost"
	}
	return "other: " + err.Error()
}

func sq(s string, sub int64) consumer.ExtendedSequenceNumber {
	return consumer.ExtendedSequenceNumber{SequenceNumber: s, SubSequenceNumber: sub}
}

var (
	invalid  = consumer.ErrInvalidCheckpoint
	shutdown = consumer.ErrShutdown
)

func TestRulesTable(t *testing.T) {
	tests := []struct {
		name        string
		start       consumer.ExtendedSequenceNumber
		steps       []step
		wantWrites  []consumer.ExtendedSequenceNumber
		wantPending consumer.ExtendedSequenceNumber
	}{
		{name: "nothing delivered", start: consumer.TrimHorizon, steps: []step{
			{op: opCheckpoint}, {op: opAt, pos: sq("1", 0), want: invalid},
		}},
		{name: "beyond delivered, numeric order", start: consumer.TrimHorizon, steps: []step{
			{op: opDeliver, pos: sq("1000", 0)},
			{op: opAt, pos: sq("1001", 0), want: invalid},
			{op: opAt, pos: sq("1000", 1), want: invalid},
			{op: opAt, pos: sq("999", 0)},
			{op: opCheckpoint},
		}, wantWrites: []consumer.ExtendedSequenceNumber{sq("999", 0), sq("1000", 0)}},
		{name: "below last, equal to last", start: sq("500", 3), steps: []step{
			{op: opDeliver, pos: sq("900", 0)},
			{op: opAt, pos: sq("500", 2), want: invalid},
			{op: opRecord, pos: sq("499", 0), want: invalid},
			{op: opAt, pos: sq("500", 3)}, // no-op
			{op: opRecord, pos: sq("700", 0)},
		}, wantWrites: []consumer.ExtendedSequenceNumber{sq("700", 0)}},
		{name: "malformed and starting sentinels", start: consumer.TrimHorizon, steps: []step{
			{op: opDeliver, pos: sq("9", 0)},
			{op: opAt, pos: consumer.ExtendedSequenceNumber{}, want: invalid},
			{op: opAt, pos: sq("12a", 0), want: invalid},
			{op: opAt, pos: sq("5", -1), want: invalid},
			{op: opAt, pos: consumer.TrimHorizon, want: invalid},
			{op: opAt, pos: consumer.Latest, want: invalid},
			{op: opAt, pos: consumer.AtTimestamp, want: invalid},
			{op: opPrepare, pos: consumer.Latest, want: invalid},
		}},
		{name: "shard end", start: consumer.TrimHorizon, steps: []step{
			{op: opDeliver, pos: sq("10", 0)},
			{op: opAt, pos: consumer.ShardEnd, want: invalid},
			{op: opEnd},
			{op: opAt, pos: sq("10", 0)},
			{op: opCheckpoint},
			{op: opAt, pos: consumer.ShardEnd}, // no-op
			{op: opAt, pos: sq("10", 0), want: invalid},
		}, wantWrites: []consumer.ExtendedSequenceNumber{sq("10", 0), consumer.ShardEnd}},
		{name: "two-phase", start: consumer.TrimHorizon, steps: []step{
			{op: opDeliver, pos: sq("50", 0)},
			{op: opPrepare, pos: sq("51", 0), want: invalid},
			{op: opPrepare, pos: sq("40", 0)},
			{op: opAt, pos: sq("30", 0)}, // any checkpoint clears the pending one
			{op: opPrepare, pos: sq("20", 0), want: invalid},
			{op: opPrepare, pos: sq("45", 0)},
		}, wantWrites: []consumer.ExtendedSequenceNumber{sq("30", 0)}, wantPending: sq("45", 0)},
		{name: "rewind keeps checkpoints off unhandled records", start: consumer.TrimHorizon, steps: []step{
			{op: opDeliver, pos: sq("10", 0)},
			{op: opCheckpoint},
			{op: opDeliver, pos: sq("20", 0)},
			{op: opRewind, pos: sq("10", 0)},
			{op: opCheckpoint},
			{op: opAt, pos: sq("15", 0), want: invalid},
		}, wantWrites: []consumer.ExtendedSequenceNumber{sq("10", 0)}},
		{name: "closed", start: consumer.TrimHorizon, steps: []step{
			{op: opDeliver, pos: sq("10", 0)},
			{op: opClose},
			{op: opCheckpoint, want: shutdown},
			{op: opAt, pos: sq("5", 0), want: shutdown},
			{op: opPrepare, pos: sq("5", 0), want: shutdown},
		}},
	}
	for _, im := range impls {
		for _, tc := range tests {
			t.Run(im.name+"/"+tc.name, func(t *testing.T) {
				ctx := context.Background()
				cp, written := im.make(t, tc.start)
				for i, s := range tc.steps {
					if got, want := kind(s.run(ctx, cp)), kind(s.want); got != want {
						t.Errorf("step %d %v: %s, want %s", i, s, got, want)
					}
				}
				writes, pending, state := written()
				if !slices.Equal(writes, tc.wantWrites) {
					t.Errorf("wrote %v, want %v", writes, tc.wantWrites)
				}
				if pending != tc.wantPending {
					t.Errorf("pending %v, want %v", pending, tc.wantPending)
				}
				if !tc.wantPending.IsZero() && string(state) != "state" {
					t.Errorf("pending state %q", state)
				}
			})
		}
	}
}

// TestRulesAgreeOnRandomScripts runs the same random scripts against both
// checkpointers and requires the same outcome from every call and the same
// writes.
func TestRulesAgreeOnRandomScripts(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	pos := func() consumer.ExtendedSequenceNumber {
		switch rng.IntN(12) {
		case 0:
			return consumer.ShardEnd
		case 1:
			return consumer.TrimHorizon
		}
		return sq(strconv.Itoa(1+rng.IntN(30)), int64(rng.IntN(3)))
	}
	for script := range 300 {
		steps := make([]step, 5+rng.IntN(25))
		for i := range steps {
			o := op(rng.IntN(int(numOps)))
			if o == opClose && rng.IntN(4) != 0 {
				o = opAt // closing ends the interesting part; do it rarely
			}
			steps[i] = step{op: o, pos: pos()}
		}
		real, realWritten := impls[0].make(t, consumer.TrimHorizon)
		fake, fakeWritten := impls[1].make(t, consumer.TrimHorizon)
		for i, s := range steps {
			r, f := kind(s.run(ctx, real)), kind(s.run(ctx, fake))
			if r != f {
				t.Fatalf("script %d step %d %v: real %s, fake %s (script %v)", script, i, s, r, f, steps)
			}
			if a, b := real.LastCheckpoint(), fake.LastCheckpoint(); a != b {
				t.Fatalf("script %d step %d: LastCheckpoint real %v, fake %v", script, i, a, b)
			}
			if a, b := real.LargestDelivered(), fake.LargestDelivered(); a != b {
				t.Fatalf("script %d step %d: LargestDelivered real %v, fake %v", script, i, a, b)
			}
		}
		rw, rp, rs := realWritten()
		fw, fp, fs := fakeWritten()
		if !slices.Equal(rw, fw) || rp != fp || string(rs) != string(fs) {
			t.Fatalf("script %d: real wrote %v pending %v %q; fake wrote %v pending %v %q", script, rw, rp, rs, fw, fp, fs)
		}
	}
}

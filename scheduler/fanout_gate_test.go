package scheduler

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/rs/zerolog"
	"golang.org/x/sync/semaphore"

	"github.com/shardwise/shardwise/consumer"
)

// freeBytes is how much of s's byte budget is free, found by probing
// (there must be no waiter: TryAcquire fails while one waits).
func freeBytes(s *Scheduler) int64 {
	lo, hi := int64(0), s.cfg.MaxTotalPendingBytes
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if s.bytesSem.TryAcquire(mid) {
			s.bytesSem.Release(mid)
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

// The gate of a subscription holds, in the worker's byte budget, what
// reading and decoding a message takes until the message is decoded, then
// what its event keeps (its records' data) until the event's batch is
// processed: the subscriber settles the batch at its records' bytes. An
// event without records gives back all of it, and so does the end of the
// subscription for the messages no event took.
func TestFanOutGateSettlesTheBudget(t *testing.T) {
	const budget = 1 << 20
	s := &Scheduler{cfg: Config{MaxTotalPendingBytes: budget}, bytesSem: semaphore.NewWeighted(budget)}
	check := func(step string, wantHeld int64) {
		t.Helper()
		if held := budget - freeBytes(s); held != wantHeld {
			t.Fatalf("%s: %d bytes of the budget held, want %d", step, held, wantHeld)
		}
	}
	ctx := context.Background()
	pp := &prepaid{s: s, ctx: ctx}
	if err := pp.Admit(300_000); err != nil {
		t.Fatal(err)
	}
	check("a message admitted", 300_000)
	pp.Decoded(1_000)
	check("decoded into an event of 1,000 bytes of records", 1_000)
	if err := pp.Admit(200_000); err != nil {
		t.Fatal(err)
	}
	pp.Decoded(5_000)
	check("a second event decoded", 6_000)
	// A message larger than the whole budget waits for all of it.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := (&prepaid{s: s, ctx: cctx}).Admit(2 * budget); err == nil {
		t.Fatal("a message larger than the budget was admitted while the budget was in use")
	}
	check("a refused admission", 6_000)

	// The subscriber takes the events in order; each batch holds its
	// records' bytes.
	p := &subscriber{s: s, q: newQueue(1000, budget), log: zerolog.Nop(), fetched: new(atomic.Int64), behind: new(atomic.Int64),
		lag: &lagTracker{checkpoint: func() consumer.ExtendedSequenceNumber { return consumer.TrimHorizon }}}
	ev := func(cont string, sizes ...int) *types.SubscribeToShardEvent {
		e := &types.SubscribeToShardEvent{ContinuationSequenceNumber: aws.String(cont), MillisBehindLatest: aws.Int64(0)}
		for i, n := range sizes {
			e.Records = append(e.Records, types.Record{Data: make([]byte, n), PartitionKey: aws.String("k"),
				SequenceNumber: aws.String(cont + string(rune('0'+i)))})
		}
		return e
	}
	if _, err := p.handle(ctx, ev("1", 400, 600), pp); err != nil {
		t.Fatal(err)
	}
	check("the first event queued", 6_000)
	// The second event's records were filtered to fewer bytes than its
	// gate kept (here: the records hold 3,000 of the 5,000 bytes).
	if _, err := p.handle(ctx, ev("2", 3_000), pp); err != nil {
		t.Fatal(err)
	}
	check("the second event queued at its records' bytes", 4_000)
	b1, _ := p.q.pop(ctx)
	b2, _ := p.q.pop(ctx)
	if b1.held != 1_000 || b2.held != 3_000 {
		t.Fatalf("batches hold %d and %d bytes, want 1000 and 3000", b1.held, b2.held)
	}
	s.releaseBytes(b1.held + b2.held)

	// An event without records gives back what its message kept; the
	// end of the subscription gives back what no event took.
	if err := pp.Admit(10_000); err != nil {
		t.Fatal(err)
	}
	pp.Decoded(0)
	if _, err := p.handle(ctx, ev("3"), pp); err != nil {
		t.Fatal(err)
	}
	if err := pp.Admit(10_000); err != nil {
		t.Fatal(err)
	}
	check("a message read ahead", 10_000)
	pp.close()
	check("the subscription closed", 0)
	if err := pp.Admit(10); err == nil {
		t.Fatal("a closed subscription's gate admitted a message")
	}
	check("a gate through after the close", 0)
}

package scheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/shardwise/shardwise/consumer"
)

func seqPos(n int) consumer.ExtendedSequenceNumber {
	return consumer.ExtendedSequenceNumber{SequenceNumber: fmt.Sprintf("49%054d", n)}
}

// lagBatch is a batch of records first..last (one a second from t0).
func lagBatch(t0 time.Time, first, last int) *batch {
	b := &batch{fetchedAt: t0.Add(time.Hour)}
	for i := first; i <= last; i++ {
		p := seqPos(i)
		b.records = append(b.records, consumer.Record{SequenceNumber: p.SequenceNumber, ApproximateArrivalTimestamp: t0.Add(time.Duration(i) * time.Second)})
	}
	return b
}

func TestOldestUncheckpointedAge(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	now := t0.Add(100 * time.Second)
	cp := consumer.TrimHorizon
	tr := &lagTracker{checkpoint: func() consumer.ExtendedSequenceNumber { return cp }}
	if got := tr.oldestUncheckpointedAge(now); got != 0 {
		t.Fatalf("nothing fetched: %v", got)
	}
	tr.fetched(lagBatch(t0, 10, 19))
	tr.fetched(lagBatch(t0, 20, 29))
	tr.fetched(&batch{}) // an empty response changes nothing
	if got := tr.oldestUncheckpointedAge(now); got != 90*time.Second {
		t.Errorf("nothing checkpointed: %v, want 90s (record 10)", got)
	}
	cp = seqPos(15) // inside the first batch: the batch's first record counts
	if got := tr.oldestUncheckpointedAge(now); got != 90*time.Second {
		t.Errorf("checkpoint inside the first batch: %v, want 90s", got)
	}
	cp = seqPos(19)
	if got := tr.oldestUncheckpointedAge(now); got != 80*time.Second {
		t.Errorf("first batch checkpointed: %v, want 80s (record 20)", got)
	}
	cp = seqPos(29)
	if got := tr.oldestUncheckpointedAge(now); got != 0 {
		t.Errorf("all checkpointed: %v, want 0", got)
	}
	// Arrival times ahead of this host's clock count as 0, not negative.
	tr.fetched(lagBatch(t0, 200, 201))
	if got := tr.oldestUncheckpointedAge(now); got != 0 {
		t.Errorf("arrival in the future: %v, want 0", got)
	}
	cp = consumer.ShardEnd
	if got := tr.oldestUncheckpointedAge(now); got != 0 || len(tr.marks) != 0 {
		t.Errorf("SHARD_END: %v with %d marks", got, len(tr.marks))
	}
}

func TestOldestUncheckpointedAgeBoundedMarks(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	cp := consumer.TrimHorizon
	tr := &lagTracker{checkpoint: func() consumer.ExtendedSequenceNumber { return cp }}
	for i := range 3 * maxMarks {
		tr.fetched(lagBatch(t0, 2*i+1, 2*i+2))
	}
	if len(tr.marks) > maxMarks {
		t.Fatalf("%d marks, want at most %d", len(tr.marks), maxMarks)
	}
	now := t0.Add(10_000 * time.Second)
	if got := tr.oldestUncheckpointedAge(now); got != now.Sub(t0.Add(time.Second)) {
		t.Errorf("merged marks lost the oldest record: %v", got)
	}
	// Merging can only overstate: after a checkpoint the age is at least
	// that of the first record after it.
	cp = seqPos(1000)
	if got, min := tr.oldestUncheckpointedAge(now), now.Sub(t0.Add(1001*time.Second)); got < min {
		t.Errorf("after checkpoint 1000: %v, below the true %v", got, min)
	}
	cp = seqPos(6 * maxMarks)
	if got := tr.oldestUncheckpointedAge(now); got != 0 {
		t.Errorf("all checkpointed: %v", got)
	}
}

func TestBatchHeld(t *testing.T) {
	var tr lagTracker
	t0 := time.Unix(0, 0)
	if d, n := tr.heldFor(t0); d != 0 || n != 0 {
		t.Fatal("held before any batch")
	}
	tr.busy(t0, 7)
	if d, n := tr.heldFor(t0.Add(time.Minute)); d != time.Minute || n != 7 {
		t.Errorf("held %v, %d records", d, n)
	}
	tr.idle()
	if d, _ := tr.heldFor(t0.Add(time.Hour)); d != 0 {
		t.Error("held after idle")
	}
}

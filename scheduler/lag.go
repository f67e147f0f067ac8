package scheduler

import (
	"sync"
	"time"

	"github.com/shardwise/shardwise/consumer"
)

// lagTracker measures, for one shard, how old the records are that this
// worker fetched and has not checkpointed yet, and how long the processor
// has held the batch in hand. The fetcher adds a mark per batch; the
// processor goroutine marks each batch handed to ProcessRecords; Stats and
// the heartbeat read it.
type lagTracker struct {
	checkpoint func() consumer.ExtendedSequenceNumber // the lease's last checkpoint

	mu sync.Mutex // guards the fields below
	// marks are the fetched batches with records after the last
	// checkpoint, oldest first: each batch's last position and the
	// arrival time of its first record.
	marks []fetchMark
	// busySince is when the batch in hand was first offered to
	// ProcessRecords (zero while none is); busyRecords is its size.
	busySince   time.Time
	busyRecords int
}

type fetchMark struct {
	last    consumer.ExtendedSequenceNumber
	arrival time.Time
}

// maxMarks bounds the marks of a processor that does not checkpoint: past
// it, neighbouring marks are merged (keeping the older arrival), which can
// only overstate the age, by at most the span of the merged batches.
const maxMarks = 256

// fetched records a batch of records the fetcher is about to queue.
func (t *lagTracker) fetched(b *batch) {
	if len(b.records) == 0 {
		return
	}
	arrival := b.records[0].ApproximateArrivalTimestamp
	if arrival.IsZero() {
		arrival = b.fetchedAt // the service gave none: count from the fetch
	}
	cp := t.checkpoint()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.trim(cp)
	if len(t.marks) >= maxMarks {
		merged := t.marks[:0]
		for i := 0; i < len(t.marks); i += 2 {
			m := t.marks[i]
			if i+1 < len(t.marks) {
				m.last = t.marks[i+1].last
			}
			merged = append(merged, m)
		}
		clear(t.marks[len(merged):])
		t.marks = merged
	}
	t.marks = append(t.marks, fetchMark{last: b.records[len(b.records)-1].Position(), arrival: arrival})
}

// trim drops the marks of batches checkpointed in full. Called with t.mu
// held.
func (t *lagTracker) trim(cp consumer.ExtendedSequenceNumber) {
	n := 0
	for n < len(t.marks) && consumer.Compare(t.marks[n].last, cp) <= 0 {
		n++
	}
	if n > 0 {
		clear(t.marks[:n])
		t.marks = t.marks[n:]
	}
}

// oldestUncheckpointedAge is now minus the arrival time of the first
// record of the oldest fetched batch that holds records after the last
// checkpoint; 0 when everything fetched is checkpointed.
func (t *lagTracker) oldestUncheckpointedAge(now time.Time) time.Duration {
	cp := t.checkpoint()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.trim(cp)
	if len(t.marks) == 0 {
		return 0
	}
	return max(now.Sub(t.marks[0].arrival), 0)
}

// busy marks a batch of n records handed to ProcessRecords; idle marks it
// handled (or given up).
func (t *lagTracker) busy(now time.Time, n int) {
	t.mu.Lock()
	t.busySince, t.busyRecords = now, n
	t.mu.Unlock()
}

func (t *lagTracker) idle() {
	t.mu.Lock()
	t.busySince, t.busyRecords = time.Time{}, 0
	t.mu.Unlock()
}

// heldFor reports how long the batch in hand has been with the processor
// and its size; 0 when none is.
func (t *lagTracker) heldFor(now time.Time) (time.Duration, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.busySince.IsZero() {
		return 0, 0
	}
	return now.Sub(t.busySince), t.busyRecords
}

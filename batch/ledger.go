package batch

import (
	"time"

	"github.com/shardwise/shardwise/consumer"
)

// entryState is where a record taken by the batch handler's processor
// stands.
type entryState uint8

const (
	// entryPending: buffered in a lane, in a handler call, or being
	// retried or given up.
	entryPending entryState = iota
	// entryHeld: handled inside a tumbling window that has not had its
	// final call yet.
	entryHeld
	// entryFinished: handled, filtered out, or given up and accepted by
	// the OnFailure destination. Only finished records are checkpointed.
	entryFinished
)

// entry is one record taken by the processor.
type entry struct {
	rec      consumer.Record
	size     int64     // payload bytes held (0 for a filtered record)
	lane     int       // -1 for a filtered record
	accepted time.Time // when ProcessRecords took it (start of BatchWindow)
	window   int64     // tumbling window start, Unix nanoseconds
	state    entryState
}

// ledger lists every record the processor took, in sequence order, until
// it joins the finished prefix; the checkpoint may move up to the prefix's
// last record and no further. This is what keeps checkpoints honest when
// lanes finish out of order: a record finished by a fast lane is
// checkpointed only once every record before it, in every lane, has
// finished too.
//
// It also is the processor's bound: its length and bytes are what
// MaxPendingRecords and MaxPendingBytes limit.
//
// Guarded by processor.mu.
type ledger struct {
	entries []*entry // entries[head:] are not yet in the finished prefix
	head    int
	bytes   int64 // payload bytes of entries[head:]
	// prefix is the position of the last record of the finished prefix,
	// or the zero value while nothing has finished.
	prefix consumer.ExtendedSequenceNumber
}

func (l *ledger) len() int { return len(l.entries) - l.head }

func (l *ledger) add(e *entry) {
	e.state = entryPending
	l.entries = append(l.entries, e)
	l.bytes += e.size
}

// front is the oldest record not in the finished prefix, or nil.
func (l *ledger) front() *entry {
	if l.head == len(l.entries) {
		return nil
	}
	return l.entries[l.head]
}

// finish marks e finished and reports whether the finished prefix grew.
func (l *ledger) finish(e *entry) bool {
	e.state = entryFinished
	grew := false
	for l.head < len(l.entries) && l.entries[l.head].state == entryFinished {
		x := l.entries[l.head]
		l.prefix = x.rec.Position()
		l.bytes -= x.size
		l.entries[l.head] = nil
		l.head++
		grew = true
	}
	// Compact once the dead front is at least half the slice, so the
	// slice does not grow forever and copying stays amortized O(1).
	if l.head > 64 && 2*l.head >= len(l.entries) {
		n := copy(l.entries, l.entries[l.head:])
		clear(l.entries[n:])
		l.entries = l.entries[:n]
		l.head = 0
	}
	return grew
}

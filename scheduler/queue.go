package scheduler

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/consumer"
)

// batch is what the fetcher hands to the processor goroutine: the records
// of one GetRecords response, or the end-of-shard marker.
type batch struct {
	records      []consumer.Record
	bytes        int64 // payload bytes held by records
	held         int64 // share of the worker-wide byte budget held (bytes, capped at the budget)
	millisBehind int64
	fetchedAt    time.Time
	// shardEnd marks the last item of a closed shard; childShards come
	// from the response that ended it (empty where the service omits them).
	shardEnd    bool
	childShards []types.ChildShard
}

var errQueueClosed = errors.New("shardwise: queue closed")

// queue is the bounded prefetch queue of one shard, bounded by records and
// by bytes. Push blocks while the queue is full; a batch is always admitted
// into an empty queue, so a batch larger than the bound still makes
// progress (and the bound is exceeded by at most one batch).
type queue struct {
	maxRecords int64
	maxBytes   int64

	mu      sync.Mutex    // guards the fields below
	items   []*batch      // FIFO
	records int64         // records in items
	bytes   int64         // bytes in items
	closed  bool          // no more pushes; pops drain what is left
	changed chan struct{} // closed and replaced on every change, to wake waiters
}

func newQueue(maxRecords int, maxBytes int64) *queue {
	return &queue{maxRecords: int64(maxRecords), maxBytes: maxBytes, changed: make(chan struct{})}
}

// signal wakes every waiter. Called with q.mu held.
func (q *queue) signal() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// push appends b, waiting for room until ctx ends.
func (q *queue) push(ctx context.Context, b *batch) error {
	n := int64(len(b.records))
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return errQueueClosed
		}
		if len(q.items) == 0 || (q.records+n <= q.maxRecords && q.bytes+b.bytes <= q.maxBytes) {
			q.items = append(q.items, b)
			q.records += n
			q.bytes += b.bytes
			q.signal()
			q.mu.Unlock()
			return nil
		}
		wait := q.changed
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-wait:
		}
	}
}

// pop removes the oldest batch, waiting until one arrives, the queue is
// closed and empty (errQueueClosed), or ctx ends.
func (q *queue) pop(ctx context.Context) (*batch, error) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			b := q.items[0]
			q.items[0] = nil
			q.items = q.items[1:]
			q.records -= int64(len(b.records))
			q.bytes -= b.bytes
			q.signal()
			q.mu.Unlock()
			return b, nil
		}
		if q.closed {
			q.mu.Unlock()
			return nil, errQueueClosed
		}
		wait := q.changed
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-wait:
		}
	}
}

// close stops further pushes and wakes every waiter.
func (q *queue) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		q.signal()
	}
	q.mu.Unlock()
}

// size reports the records and bytes queued.
func (q *queue) size() (records, bytes int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.records, q.bytes
}

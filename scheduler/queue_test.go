package scheduler

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shardwise/shardwise/consumer"
)

func batchOf(n int, bytesEach int64) *batch {
	b := &batch{records: make([]consumer.Record, n)}
	b.bytes = int64(n) * bytesEach
	return b
}

func TestQueueBoundsRecordsAndBytes(t *testing.T) {
	q := newQueue(10, 1000)
	ctx := context.Background()
	if err := q.push(ctx, batchOf(6, 100)); err != nil {
		t.Fatal(err)
	}
	// 6+6 records > 10: the second push must wait until the first is popped.
	pushed := make(chan error, 1)
	go func() { pushed <- q.push(ctx, batchOf(6, 10)) }()
	select {
	case err := <-pushed:
		t.Fatalf("push into a full queue returned early: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if _, err := q.pop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-pushed; err != nil {
		t.Fatal(err)
	}
	if r, b := q.size(); r != 6 || b != 60 {
		t.Fatalf("size = %d records %d bytes, want 6, 60", r, b)
	}
	// Bytes bound: 60 + 950 > 1000 must wait too.
	ctx2, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if err := q.push(ctx2, batchOf(1, 950)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("push over the byte bound: err = %v, want deadline exceeded", err)
	}
}

func TestQueueAdmitsOversizedBatchWhenEmpty(t *testing.T) {
	q := newQueue(10, 1000)
	if err := q.push(context.Background(), batchOf(50, 1000)); err != nil {
		t.Fatalf("oversized batch into an empty queue: %v", err)
	}
	if r, _ := q.size(); r != 50 {
		t.Fatalf("records = %d", r)
	}
}

func TestQueueCloseDrainsThenReportsClosed(t *testing.T) {
	q := newQueue(100, 1<<20)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := q.push(ctx, batchOf(i+1, 1)); err != nil {
			t.Fatal(err)
		}
	}
	q.close()
	if err := q.push(ctx, batchOf(1, 1)); !errors.Is(err, errQueueClosed) {
		t.Fatalf("push after close: %v", err)
	}
	for i := 0; i < 3; i++ {
		b, err := q.pop(ctx)
		if err != nil || len(b.records) != i+1 {
			t.Fatalf("pop %d: %v, %v", i, b, err)
		}
	}
	if _, err := q.pop(ctx); !errors.Is(err, errQueueClosed) {
		t.Fatalf("pop of a closed empty queue: %v", err)
	}
}

func TestQueueNeverExceedsBoundUnderConcurrency(t *testing.T) {
	const maxRecords, maxBytes = 100, 10_000
	q := newQueue(maxRecords, maxBytes)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer q.close()
		for i := 0; i < 2000; i++ {
			if err := q.push(ctx, batchOf(1+i%40, 100)); err != nil {
				t.Errorf("push: %v", err)
				return
			}
			if r, b := q.size(); r > maxRecords+40 || b > maxBytes+4000 {
				t.Errorf("queue holds %d records, %d bytes: over bound plus one batch", r, b)
				return
			}
		}
	}()
	got := 0
	for {
		b, err := q.pop(ctx)
		if errors.Is(err, errQueueClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got += len(b.records)
	}
	wg.Wait()
	want := 0
	for i := 0; i < 2000; i++ {
		want += 1 + i%40
	}
	if got != want {
		t.Fatalf("popped %d records, pushed %d", got, want)
	}
}

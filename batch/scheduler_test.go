package batch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/batch"
	"github.com/shardwise/shardwise/consumer"
)

// tracker is what a handler run through the scheduler saw: how often each
// record (by payload counter) was handled, per-key order, and what the
// OnFailure destination accepted.
type tracker struct {
	mu         sync.Mutex
	changed    chan struct{}
	handled    map[int]int
	lastByKey  map[string]int
	failed     map[int]int
	violations []string
}

func newTracker() *tracker {
	return &tracker{handled: map[int]int{}, lastByKey: map[string]int{}, failed: map[int]int{}}
}

func (tr *tracker) handle(recs []consumer.Record) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, r := range recs {
		k, c := parsePayload(r.Data)
		if prev, ok := tr.lastByKey[k]; ok && prev >= c {
			tr.violations = append(tr.violations, fmt.Sprintf("key %s: %d handled after %d", k, c, prev))
		}
		tr.lastByKey[k] = c
		tr.handled[c]++
	}
	notify(&tr.changed)
}

func (tr *tracker) dest(ctx context.Context, fr batch.FailedRecords) error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, r := range fr.Records {
		_, c := parsePayload(r.Data)
		tr.failed[c]++
	}
	notify(&tr.changed)
	return nil
}

// waitAll blocks until every counter below n was handled or given up.
func (tr *tracker) waitAll(n int) { tr.waitAllUntil(nil, n) }

// waitAllUntil is waitAll that gives up (returning false) when stop closes.
func (tr *tracker) waitAllUntil(stop <-chan struct{}, n int) bool {
	return waitOnUntil(stop, &tr.mu, &tr.changed, func() bool {
		seen := 0
		for c := range n {
			if tr.handled[c] > 0 || tr.failed[c] > 0 {
				seen++
			}
		}
		return seen == n
	})
}

// check asserts per-key order, and that every record below n was handled
// exactly once unless poison(c), in which case it went to the destination
// exactly once and was never handled.
func (tr *tracker) check(t *testing.T, n int, poison func(int) bool) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, v := range tr.violations {
		t.Error(v)
	}
	for c := range n {
		if poison(c) {
			if tr.failed[c] != 1 || tr.handled[c] != 0 {
				t.Errorf("poison record %d: handled %d times, given up %d times; want given up once", c, tr.handled[c], tr.failed[c])
			}
		} else if tr.handled[c] != 1 || tr.failed[c] != 0 {
			t.Errorf("record %d: handled %d times, given up %d times; want handled once", c, tr.handled[c], tr.failed[c])
		}
	}
}

func TestHandlerThroughSchedulerPoisonRecordsParallel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const total = 3000
		poison := func(c int) bool { return c%300 == 7 }
		s, err := newFakeStream(2)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.put(0, total, 50); err != nil {
			t.Fatal(err)
		}
		tr := newTracker()
		h := func(ctx context.Context, b batch.Batch) error {
			_, first := parsePayload(b.Records[0].Data)
			time.Sleep(time.Duration(first%7) * time.Millisecond)
			for _, r := range b.Records {
				if _, c := parsePayload(r.Data); poison(c) {
					return errors.New("poison")
				}
			}
			tr.handle(b.Records)
			return nil
		}
		f, err := batch.New(h, batch.Config{ParallelizationFactor: 10, BatchSize: 50, BisectOnError: true, MaxRetryAttempts: new(1), OnFailure: tr.dest, RetryBackoff: 10 * time.Millisecond, RetryMaxBackoff: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		stop, err := s.run(s.config("w1", zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)), f)
		if err != nil {
			t.Fatal(err)
		}
		tr.waitAll(total)
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		tr.check(t, total, poison)
		// Graceful shutdown checkpointed each shard's last record.
		cps, err := s.checkpoints()
		if err != nil {
			t.Fatal(err)
		}
		for shard, last := range s.last {
			if cps[shard] != last {
				t.Errorf("shard %s checkpoint %v, want its last record %v", shard, cps[shard], last)
			}
		}
	})
}

func TestHandlerThroughSchedulerShardEndKeepsKeysInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := newFakeStream(1)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.put(0, 500, 20); err != nil {
			t.Fatal(err)
		}
		tr := newTracker()
		h := func(ctx context.Context, b batch.Batch) error {
			tr.handle(b.Records)
			return nil
		}
		// A long batch window: the parent's last records sit in buffers
		// when the shard ends, and must be handled before SHARD_END.
		f, err := batch.New(h, batch.Config{ParallelizationFactor: 4, BatchSize: 1000, BatchWindow: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		// The parent is closed before the consumer starts: it reads the
		// parent's records and its end in quick succession, so ShardEnded
		// comes while they wait in the buffers.
		parent := "shardId-000000000000"
		if err := s.fake.SplitShard(s.stream, parent, "170141183460469231731687303715884105728"); err != nil {
			t.Fatal(err)
		}
		if err := s.put(500, 500, 20); err != nil {
			t.Fatal(err)
		}
		stop, err := s.run(s.config("w1", zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)), f)
		if err != nil {
			t.Fatal(err)
		}
		tr.waitAll(1000)
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		tr.check(t, 1000, func(int) bool { return false })
		cps, err := s.checkpoints()
		if err != nil {
			t.Fatal(err)
		}
		// The parent's lease is at SHARD_END (or already cleaned up
		// after its children started).
		if cp, ok := cps[parent]; ok && !cp.IsShardEnd() {
			t.Fatalf("parent checkpoint %v, want SHARD_END", cp)
		}
		var children []string
		for k := range cps {
			if k != parent {
				children = append(children, k)
			}
		}
		slices.Sort(children)
		for _, k := range children {
			if cps[k] != s.last[k] {
				t.Errorf("child %s checkpoint %v, want %v", k, cps[k], s.last[k])
			}
		}
		if len(children) != 2 {
			t.Fatalf("children %v", children)
		}
	})
}

package batch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/batch"
	"github.com/shardwise/shardwise/consumer"
)

func TestConfigValidation(t *testing.T) {
	h := func(context.Context, batch.Batch) error { return nil }
	cases := []struct {
		field string
		cfg   batch.Config
	}{
		{"BatchSize", batch.Config{BatchSize: -1}},
		{"BatchSize", batch.Config{BatchSize: 10001}},
		{"BatchWindow", batch.Config{BatchWindow: -time.Second}},
		{"BatchWindow", batch.Config{BatchWindow: 301 * time.Second}},
		{"ParallelizationFactor", batch.Config{ParallelizationFactor: -1}},
		{"ParallelizationFactor", batch.Config{ParallelizationFactor: 11}},
		{"MaxRetryAttempts", batch.Config{MaxRetryAttempts: new(-2)}},
		{"MaxRetryAttempts", batch.Config{MaxRetryAttempts: new(10001)}},
		{"MaxRecordAge", batch.Config{MaxRecordAge: -time.Second}},
		{"MaxRecordAge", batch.Config{MaxRecordAge: 8 * 24 * time.Hour}},
		{"TumblingWindow", batch.Config{TumblingWindow: 16 * time.Minute}},
		{"TumblingWindow", batch.Config{TumblingWindow: -time.Minute}},
		{"TumblingWindow", batch.Config{TumblingWindow: time.Microsecond}},
		{"MaxWindowStateSize", batch.Config{MaxWindowStateSize: -1}},
		{"MaxPendingRecords", batch.Config{MaxPendingRecords: -1}},
		{"MaxPendingBytes", batch.Config{MaxPendingBytes: -1}},
		{"RetryBackoff", batch.Config{RetryBackoff: -time.Second}},
		{"RetryMaxBackoff", batch.Config{RetryBackoff: time.Second, RetryMaxBackoff: time.Millisecond}},
	}
	for _, c := range cases {
		for name, err := range map[string]error{"Validate": c.cfg.Validate(), "New": second(batch.New(h, c.cfg))} {
			var ce *consumer.ConfigError
			if !errors.As(err, &ce) || ce.Field != c.field || !errors.Is(err, consumer.ErrInvalidConfig) {
				t.Errorf("%s with %+v: got %v, want a *consumer.ConfigError naming %s", name, c.cfg, err, c.field)
			}
		}
	}
	var ce *consumer.ConfigError
	if _, err := batch.New(nil, batch.Config{}); !errors.As(err, &ce) || ce.Field != "handler" {
		t.Errorf("nil handler: got %v, want a *consumer.ConfigError naming handler", err)
	}
	if _, err := batch.NewWithResponse(nil, batch.Config{}); !errors.As(err, &ce) || ce.Field != "handler" {
		t.Errorf("nil response handler: got %v, want a *consumer.ConfigError naming handler", err)
	}
	// The zero value is valid (Lambda's defaults), so are the limits
	// themselves, Lambda's -1 for "no limit", a negative checkpoint
	// interval, and a RetryBackoff above the default RetryMaxBackoff.
	for _, cfg := range []batch.Config{
		{},
		{BatchSize: 10000, BatchWindow: 300 * time.Second, ParallelizationFactor: 10, MaxRetryAttempts: new(-1),
			MaxRecordAge: -1, TumblingWindow: 15 * time.Minute},
		{BatchSize: 1, MaxRetryAttempts: new(0), MaxRecordAge: 7 * 24 * time.Hour, TumblingWindow: time.Millisecond},
		{MaxRetryAttempts: new(10000), CheckpointInterval: -1, RetryBackoff: time.Minute},
	} {
		if err := cfg.Validate(); err != nil {
			t.Errorf("Validate(%+v): %v", cfg, err)
		}
		if _, err := batch.New(h, cfg); err != nil {
			t.Errorf("New with %+v: %v", cfg, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// The zero Config hands over batches of at most 100 records (Lambda's
// default BatchSize) on one lane.
func TestHandlerZeroConfigIsLambdasDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &calls{}
		h := func(ctx context.Context, b batch.Batch) error { c.add(b, false); return nil }
		r := newRig(t)(batchHandler(h, batch.Config{}))
		r.mustProcess(r.make(250, keyMod(7), time.Now()))
		c.waitHandled(250)
		var sizes []int
		for _, cl := range c.snapshot() {
			sizes = append(sizes, len(cl.records))
		}
		if !slices.Equal(sizes, []int{100, 100, 50}) {
			t.Errorf("batch sizes %v, want [100 100 50]", sizes)
		}
		if !slices.Equal(c.handled(), seqRange(0, 250)) {
			t.Errorf("handled %v, want 0..249 in order on one lane", c.handled())
		}
		_ = r.shutdown()
		r.cp.check(t)
	})
}

// poisonHandler fails every batch that holds record poison.
func poisonHandler(c *calls, poison int) batch.Handler {
	return func(ctx context.Context, b batch.Batch) error {
		for _, r := range b.Records {
			if index(r.Position()) == poison {
				c.add(b, true)
				return errors.New("poison record")
			}
		}
		c.add(b, false)
		return nil
	}
}

func TestHandlerBisectIsolatesPoisonRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, f := &calls{}, &failures{}
		r := newRig(t)(batchHandler(poisonHandler(c, 11), batch.Config{BisectOnError: true, MaxRetryAttempts: new(2), OnFailure: f.dest}))
		r.mustProcess(r.make(16, keyMod(3), time.Now()))
		f.wait(1)
		synctest.Wait()

		if got := f.records(); !slices.Equal(got, []int{11}) {
			t.Fatalf("destination got records %v, want only the poison record 11", got)
		}
		fr := f.snapshot()[0]
		if fr.Condition != batch.ConditionRetryAttemptsExhausted || fr.ShardID != testShard ||
			fr.StartSequenceNumber != pos(11) || fr.EndSequenceNumber != pos(11) || fr.Err == nil {
			t.Errorf("failure record %+v", fr)
		}
		// 16 -> 8 -> 4 -> 2 -> 1: five calls held the poison record, and
		// the splits used up no retry: the record alone was then retried
		// twice.
		if fr.InvokeCount != 7 || fr.RetryAttempts != 2 {
			t.Errorf("InvokeCount %d RetryAttempts %d, want 7 and 2", fr.InvokeCount, fr.RetryAttempts)
		}
		poisonCalls := 0
		for _, cl := range c.snapshot() {
			if slices.Contains(cl.records, 11) {
				poisonCalls++
			}
		}
		if poisonCalls != 7 {
			t.Errorf("%d calls held the poison record, want 7", poisonCalls)
		}
		handled := c.handled()
		slices.Sort(handled)
		want := slices.DeleteFunc(seqRange(0, 16), func(i int) bool { return i == 11 })
		if !slices.Equal(handled, want) {
			t.Fatalf("handled %v, want every record but 11 exactly once", handled)
		}
		if got := r.cp.lastWrite(); got != pos(15) {
			t.Fatalf("checkpoint %v, want the last record %v", got, pos(15))
		}
		if err := r.shutdown(); err != nil {
			t.Fatal(err)
		}
		r.cp.check(t)
	})
}

func TestHandlerWithoutBisectTheWholeBatchFails(t *testing.T) {
	// The control for the bisection test: without BisectOnError the
	// poison record takes its whole batch to the destination.
	synctest.Test(t, func(t *testing.T) {
		c, f := &calls{}, &failures{}
		r := newRig(t)(batchHandler(poisonHandler(c, 11), batch.Config{MaxRetryAttempts: new(0), OnFailure: f.dest}))
		r.mustProcess(r.make(16, keyMod(3), time.Now()))
		synctest.Wait()
		if got := f.records(); !slices.Equal(got, seqRange(0, 16)) {
			t.Fatalf("destination got %v, want the whole batch", got)
		}
		if len(c.handled()) != 0 {
			t.Fatalf("handled %v", c.handled())
		}
		_ = r.shutdown()
	})
}

func TestHandlerRetriesCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, f := &calls{}, &failures{}
		r := newRig(t)(batchHandler(poisonHandler(c, 0), batch.Config{MaxRetryAttempts: new(3), OnFailure: f.dest, RetryBackoff: time.Second, RetryMaxBackoff: time.Minute}))
		start := time.Now()
		r.mustProcess(r.make(4, oneKey, time.Now()))
		f.wait(1)
		cs := c.snapshot()
		// One call, then three retries, with a growing backoff between.
		if len(cs) != 4 {
			t.Fatalf("%d handler calls, want 1 + 3 retries", len(cs))
		}
		for i := 1; i < len(cs); i++ {
			if !slices.Equal(cs[i].records, []int{0, 1, 2, 3}) {
				t.Errorf("retry %d got records %v, want the same batch", i, cs[i].records)
			}
			gap, prev := cs[i].at.Sub(cs[i-1].at), time.Duration(0)
			if i > 1 {
				prev = cs[i-1].at.Sub(cs[i-2].at)
			}
			if gap < time.Second/2 || (i > 1 && gap < prev/2) {
				t.Errorf("retry %d after %v (previous gap %v)", i, gap, prev)
			}
		}
		frs := f.snapshot()
		if len(frs) != 1 || frs[0].RetryAttempts != 3 || frs[0].InvokeCount != 4 || frs[0].Condition != batch.ConditionRetryAttemptsExhausted {
			t.Fatalf("destination got %+v, want one batch after 3 retries and 4 calls", frs)
		}
		if !slices.Equal(f.records(), []int{0, 1, 2, 3}) {
			t.Fatalf("destination records %v", f.records())
		}
		if time.Since(start) < 3*time.Second/2 {
			t.Errorf("gave up after %v: the backoff was not waited", time.Since(start))
		}
		_ = r.shutdown()
	})
}

func TestHandlerRetriesUntilSuccessByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, f := &calls{}, &failures{}
		var n atomic.Int32
		h := func(ctx context.Context, b batch.Batch) error {
			if n.Add(1) <= 25 {
				c.add(b, true)
				return errors.New("downstream down")
			}
			c.add(b, false)
			return nil
		}
		r := newRig(t)(batchHandler(h, batch.Config{OnFailure: f.dest}))
		r.mustProcess(r.make(5, oneKey, time.Now()))
		c.waitHandled(5)
		synctest.Wait()
		if c.count() != 26 || len(f.snapshot()) != 0 || !slices.Equal(c.handled(), seqRange(0, 5)) {
			t.Fatalf("%d calls, destination %v, handled %v: want 25 failures then success, nothing given up", c.count(), f.records(), c.handled())
		}
		if r.cp.lastWrite() != pos(4) {
			t.Fatalf("checkpoint %v", r.cp.lastWrite())
		}
		_ = r.shutdown()
	})
}

func TestHandlerRecordAgeExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, f := &calls{}, &failures{}
		r := newRig(t)(batchHandler(poisonHandler(c, 3), batch.Config{MaxRecordAge: time.Minute, OnFailure: f.dest, RetryBackoff: time.Second, RetryMaxBackoff: 10 * time.Second}))
		// Records 0-1 arrived two minutes ago: never handed to the handler.
		old := r.make(2, oneKey, time.Now().Add(-2*time.Minute))
		r.mustProcess(old)
		f.wait(1)
		if got := f.snapshot(); len(got) != 1 || got[0].Condition != batch.ConditionRecordAgeExceeded ||
			!slices.Equal(f.records(), []int{0, 1}) || got[0].InvokeCount != 0 {
			t.Fatalf("expired records: destination got %+v", got)
		}
		if c.count() != 0 {
			t.Fatalf("the handler saw expired records: %v", c.snapshot())
		}

		// Records 2-4 arrive now; 3 keeps failing and is retried (no retry
		// limit) until it is older than a minute.
		start := time.Now()
		r.mustProcess(r.make(3, oneKey, time.Now()))
		f.wait(2)
		synctest.Wait()
		frs := f.snapshot()
		if len(frs) != 2 || frs[1].Condition != batch.ConditionRecordAgeExceeded || !slices.Equal(f.records(), []int{0, 1, 2, 3, 4}) {
			t.Fatalf("destination got %+v", frs)
		}
		if waited := time.Since(start); waited < time.Minute || waited > time.Minute+10*time.Second {
			t.Errorf("gave up after %v, want just over the one-minute age", waited)
		}
		if frs[1].InvokeCount < 6 || frs[1].Err == nil {
			t.Errorf("InvokeCount %d err %v: want many failed calls before expiry", frs[1].InvokeCount, frs[1].Err)
		}
		if r.cp.lastWrite() != pos(4) {
			t.Fatalf("checkpoint %v", r.cp.lastWrite())
		}
		_ = r.shutdown()
		r.cp.check(t)
	})
}

func TestHandlerPartialBatchResponseResumesAtLowestFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &calls{}
		var n atomic.Int32
		release := make(chan struct{})
		h := func(ctx context.Context, b batch.Batch) (batch.Response, error) {
			c.add(b, false)
			if n.Add(1) == 1 {
				// Records 6 and 3 failed (in any order); 4, 5, 7.. succeeded.
				return batch.Response{BatchItemFailures: []consumer.ExtendedSequenceNumber{pos(6), pos(3)}}, nil
			}
			<-release
			return batch.Response{}, nil
		}
		r := newRig(t)(responseHandler(h, batch.Config{RetryBackoff: time.Second, RetryMaxBackoff: time.Second}))
		r.mustProcess(r.make(10, oneKey, time.Now()))
		c.waitCalls(2)
		synctest.Wait()
		// The retry is blocked in the handler: the checkpoint covers
		// exactly the records before the lowest failure.
		if got := r.cp.lastWrite(); got != pos(2) {
			t.Fatalf("checkpoint %v during the retry, want %v (the record before the lowest failure)", got, pos(2))
		}
		close(release)
		synctest.Wait()
		cs := c.snapshot()
		if len(cs) != 2 || !slices.Equal(cs[0].records, seqRange(0, 10)) || !slices.Equal(cs[1].records, seqRange(3, 10)) {
			t.Fatalf("calls %+v, want the batch, then records 3..9 again", cs)
		}
		if r.cp.lastWrite() != pos(9) {
			t.Fatalf("checkpoint %v", r.cp.lastWrite())
		}
		_ = r.shutdown()
		r.cp.check(t)
	})
}

func TestHandlerPartialBatchResponseExhaustedGivesUpResumeRecordOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, f := &calls{}, &failures{}
		h := func(ctx context.Context, b batch.Batch) (batch.Response, error) {
			c.add(b, false)
			for _, r := range b.Records {
				if index(r.Position()) == 5 {
					return batch.Response{BatchItemFailures: []consumer.ExtendedSequenceNumber{r.Position()}}, nil
				}
			}
			return batch.Response{}, nil
		}
		r := newRig(t)(responseHandler(h, batch.Config{MaxRetryAttempts: new(1), OnFailure: f.dest}))
		r.mustProcess(r.make(8, oneKey, time.Now()))
		f.wait(1)
		synctest.Wait()
		if got := f.records(); !slices.Equal(got, []int{5}) {
			t.Fatalf("destination got %v, want only record 5", got)
		}
		if fr := f.snapshot()[0]; fr.RetryAttempts != 1 || fr.InvokeCount != 2 {
			t.Errorf("RetryAttempts %d InvokeCount %d", fr.RetryAttempts, fr.InvokeCount)
		}
		// Calls: 0-7 (5 fails), 5-7 (5 fails again: given up), then 6-7,
		// which the handler may not have handled, again.
		cs := c.snapshot()
		if len(cs) != 3 || !slices.Equal(cs[1].records, []int{5, 6, 7}) || !slices.Equal(cs[2].records, []int{6, 7}) {
			t.Fatalf("calls %+v", cs)
		}
		if r.cp.lastWrite() != pos(7) {
			t.Fatalf("checkpoint %v", r.cp.lastWrite())
		}
		_ = r.shutdown()
	})
}

func TestHandlerUnknownFailureIdentifierFailsTheBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, f := &calls{}, &failures{}
		h := func(ctx context.Context, b batch.Batch) (batch.Response, error) {
			c.add(b, false)
			return batch.Response{BatchItemFailures: []consumer.ExtendedSequenceNumber{pos(999)}}, nil
		}
		r := newRig(t)(responseHandler(h, batch.Config{MaxRetryAttempts: new(0), OnFailure: f.dest}))
		r.mustProcess(r.make(3, oneKey, time.Now()))
		synctest.Wait()
		if !slices.Equal(f.records(), []int{0, 1, 2}) {
			t.Fatalf("destination got %v, want the whole batch", f.records())
		}
		_ = r.shutdown()
	})
}

func TestHandlerBatchWindowFiresWithoutNewInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &calls{}
		h := func(ctx context.Context, b batch.Batch) error { c.add(b, false); return nil }
		r := newRig(t)(batchHandler(h, batch.Config{BatchSize: 10, BatchWindow: 5 * time.Second}))
		start := time.Now()
		r.mustProcess(r.make(3, oneKey, time.Now())) // returns at once: buffered
		time.Sleep(time.Second)
		r.mustProcess(r.make(2, oneKey, time.Now()))
		time.Sleep(4*time.Second - time.Millisecond)
		synctest.Wait()
		if n := c.count(); n != 0 {
			t.Fatalf("%d calls before the window passed", n)
		}
		// No ProcessRecords call comes; the window passes.
		time.Sleep(time.Millisecond)
		synctest.Wait()
		cs := c.snapshot()
		if len(cs) != 1 || !slices.Equal(cs[0].records, seqRange(0, 5)) || cs[0].at.Sub(start) != 5*time.Second {
			t.Fatalf("calls %+v, want records 0-4 handed over 5s after the first arrived", cs)
		}
		if r.cp.lastWrite() != pos(4) {
			t.Fatalf("checkpoint %v", r.cp.lastWrite())
		}
		// A full batch does not wait for the window.
		r.mustProcess(r.make(10, oneKey, time.Now()))
		synctest.Wait()
		if cs := c.snapshot(); len(cs) != 2 || !slices.Equal(cs[1].records, seqRange(5, 15)) || cs[1].at != cs[0].at {
			t.Fatalf("a full batch waited: %+v", cs)
		}
		_ = r.shutdown()
	})
}

func TestHandlerBatchSizeSplitsLargeDeliveries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &calls{}
		h := func(ctx context.Context, b batch.Batch) error { c.add(b, false); return nil }
		r := newRig(t)(batchHandler(h, batch.Config{BatchSize: 4}))
		r.mustProcess(r.make(10, oneKey, time.Now()))
		synctest.Wait()
		var sizes []int
		for _, cl := range c.snapshot() {
			sizes = append(sizes, len(cl.records))
		}
		if !slices.Equal(sizes, []int{4, 4, 2}) || !slices.Equal(c.handled(), seqRange(0, 10)) {
			t.Fatalf("batch sizes %v, handled %v", sizes, c.handled())
		}
		_ = r.shutdown()
	})
}

func TestHandlerFilter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &calls{}
		h := func(ctx context.Context, b batch.Batch) error { c.add(b, false); return nil }
		r := newRig(t)(batchHandler(h, batch.Config{Filter: func(rec *consumer.Record) bool {
			n, _ := strconv.Atoi(string(rec.Data))
			return n%2 == 0
		}}))
		r.mustProcess(r.make(9, oneKey, time.Now()))
		synctest.Wait()
		if got := c.handled(); !slices.Equal(got, []int{0, 2, 4, 6, 8}) {
			t.Fatalf("handled %v, want the even records", got)
		}
		// A delivery of filtered records only still moves the checkpoint:
		// they count as handled.
		r.mustProcess(r.make(1, oneKey, time.Now()))
		synctest.Wait()
		if got := r.cp.lastWrite(); got != pos(9) {
			t.Fatalf("checkpoint %v, want %v (filtered records count as handled)", got, pos(9))
		}
		_ = r.shutdown()
		r.cp.check(t)
	})
}

func TestHandlerCheckpointNeverAheadOfUnfinishedRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &calls{}
		block := make(chan struct{})
		var blockedKey string
		h := func(ctx context.Context, b batch.Batch) error {
			if b.Records[0].PartitionKey == blockedKey {
				<-block
			}
			c.add(b, false)
			return nil
		}
		r := newRig(t)(batchHandler(h, batch.Config{ParallelizationFactor: 4}))
		recs := r.make(40, keyMod(8), time.Now())
		blockedKey = recs[0].PartitionKey // the lane of record 0 is stuck
		r.mustProcess(recs)
		synctest.Wait()
		// Every other lane finished its records, some far beyond record 0;
		// the checkpoint must not have moved at all.
		if len(c.handled()) == 0 {
			t.Fatal("no lane made progress")
		}
		if w := r.cp.lastWrite(); !w.IsZero() {
			t.Fatalf("checkpoint %v while record 0 is unfinished", w)
		}
		close(block)
		synctest.Wait()
		if w := r.cp.lastWrite(); w != pos(39) {
			t.Fatalf("checkpoint %v after everything finished, want %v", w, pos(39))
		}
		_ = r.shutdown()
		r.cp.check(t)
	})
}

// TestHandlerParallelPerKeyOrderProperty is a property test: for random
// keys, random handler latencies and random failures (retried, bisected or
// partially reported), with ParallelizationFactor 10, every key's records
// are handled in sequence order, every record is handled, calls really run
// in parallel, and no checkpoint ever covers a record not yet handled.
func TestHandlerParallelPerKeyOrderProperty(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { checkPerKeyOrder(t, seed) })
		})
	}
}

func checkPerKeyOrder(t *testing.T, seed uint64) {
	rng := newRand(seed)
	hrng := newRand(seed + 1000) // used by handlers, under mu
	nKeys := 1 + rng.intn(60)
	total := 1500
	latency := make([]time.Duration, total) // per first record of a batch
	failAt := make(map[int]bool)
	for i := range latency {
		latency[i] = time.Duration(rng.intn(20)) * time.Millisecond
		if rng.intn(40) == 0 {
			failAt[i] = true // fails on its first call
		}
	}
	var (
		mu          sync.Mutex
		finished    = make(map[int]bool)
		lastByKey   = make(map[string]int)
		violations  []string
		inFlight    int
		maxInFlight int
		tried       = make(map[int]bool)
	)
	h := func(ctx context.Context, b batch.Batch) (batch.Response, error) {
		mu.Lock()
		inFlight++
		maxInFlight = max(maxInFlight, inFlight)
		mu.Unlock()
		time.Sleep(latency[index(b.Records[0].Position())])
		mu.Lock()
		defer mu.Unlock()
		inFlight--
		var failed []consumer.ExtendedSequenceNumber
		for _, r := range b.Records {
			i := index(r.Position())
			if failAt[i] && !tried[i] {
				tried[i] = true
				failed = append(failed, r.Position())
			}
		}
		if len(failed) > 0 && hrng.intn(2) == 0 {
			return batch.Response{}, errors.New("whole batch failed")
		}
		first := len(b.Records)
		if len(failed) > 0 {
			first = slices.IndexFunc(b.Records, func(r consumer.Record) bool { return r.Position() == failed[0] })
		}
		// Records before the first failure are handled, in order.
		for _, r := range b.Records[:first] {
			i := index(r.Position())
			if prev, ok := lastByKey[r.PartitionKey]; ok && prev >= i {
				violations = append(violations, fmt.Sprintf("key %s: record %d handled after %d", r.PartitionKey, i, prev))
			}
			lastByKey[r.PartitionKey] = i
			finished[i] = true
		}
		return batch.Response{BatchItemFailures: failed}, nil
	}
	f, err := responseHandler(h, batch.Config{ParallelizationFactor: 10, BatchSize: 1 + rng.intn(50), BisectOnError: rng.intn(2) == 0, RetryBackoff: time.Millisecond, RetryMaxBackoff: 10 * time.Millisecond})
	r := newRig(t)(f, err)
	r.cp.onWrite = func(p consumer.ExtendedSequenceNumber) {
		mu.Lock()
		defer mu.Unlock()
		last := total - 1 // SHARD_END covers everything
		if !p.IsShardEnd() {
			last = index(p)
		}
		for i := 0; i <= last; i++ {
			if !finished[i] {
				violations = append(violations, fmt.Sprintf("checkpoint %v written before record %d was handled", p, i))
				return
			}
		}
	}
	keys := func(i int) string { return fmt.Sprintf("k%d", (i*7919+int(seed))%nKeys) }
	for sent := 0; sent < total; {
		n := min(1+rng.intn(300), total-sent)
		r.processLikeScheduler(r.make(n, keys, time.Now()))
		sent += n
	}
	if err := r.shardEnded(); err != nil {
		t.Fatalf("ShardEnded: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, v := range violations {
		t.Error(v)
	}
	if len(finished) != total {
		t.Errorf("%d of %d records handled", len(finished), total)
	}
	if nKeys >= 10 && maxInFlight < 2 {
		t.Errorf("at most %d calls in flight with %d keys: no parallelism", maxInFlight, nKeys)
	}
	if maxInFlight > 10 {
		t.Errorf("%d calls in flight, above ParallelizationFactor 10", maxInFlight)
	}
	if got := r.cp.lastWrite(); !got.IsShardEnd() {
		t.Errorf("final checkpoint %v, want SHARD_END", got)
	}
	r.cp.check(t)
}

func TestHandlerOnFailureErrorStopsProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &calls{}
		var (
			mu       sync.Mutex
			changed  chan struct{}
			refuse   = true
			accepted []int
			refusals int
		)
		dest := func(ctx context.Context, fr batch.FailedRecords) error {
			mu.Lock()
			defer mu.Unlock()
			defer notify(&changed)
			if refuse {
				refusals++
				return errors.New("queue unavailable")
			}
			for _, r := range fr.Records {
				accepted = append(accepted, index(r.Position()))
			}
			return nil
		}
		r := newRig(t)(batchHandler(poisonHandler(c, 2), batch.Config{BatchSize: 1, MaxRetryAttempts: new(0), OnFailure: dest, MaxPendingRecords: 5, RetryBackoff: time.Second, RetryMaxBackoff: 4 * time.Second}))
		r.mustProcess(r.make(5, oneKey, time.Now()))
		waitOn(&mu, &changed, func() bool { return refusals >= 3 })
		// The pending bound is full (records 0-1 finished, 2 is with the
		// failing destination, 3-4 wait behind it): the next delivery
		// reports the stall instead of blocking forever.
		more := r.make(10, oneKey, time.Now())
		err := r.process(more, 0)
		if !errors.Is(err, batch.ErrStalled) || err == nil || !containsText(err.Error(), "queue unavailable") {
			t.Fatalf("ProcessRecords: %v, want ErrStalled naming the destination's error", err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		mu.Lock()
		n := refusals
		mu.Unlock()
		if n < 5 {
			t.Fatalf("destination tried %d times in a minute", n)
		}
		if got := c.handled(); !slices.Equal(got, []int{0, 1}) {
			t.Fatalf("handled %v while record 2 is stuck, want only 0 and 1", got)
		}
		if w := r.cp.lastWrite(); w != pos(1) {
			t.Fatalf("checkpoint %v while record 2 is not accepted by the destination, want %v", w, pos(1))
		}
		// The destination recovers: nothing was skipped.
		mu.Lock()
		refuse = false
		mu.Unlock()
		waitOn(&mu, &changed, func() bool { return len(accepted) > 0 })
		if err := r.process(more, 0); err != nil { // the scheduler offers the same batch again
			t.Fatalf("ProcessRecords after recovery: %v", err)
		}
		synctest.Wait()
		mu.Lock()
		got := slices.Clone(accepted)
		mu.Unlock()
		if !slices.Equal(got, []int{2}) {
			t.Fatalf("destination accepted %v, want [2]", got)
		}
		handled := c.handled()
		if !slices.Equal(handled, slices.DeleteFunc(seqRange(0, 15), func(i int) bool { return i == 2 })) {
			t.Fatalf("handled %v, want every record but 2, once, in order", handled)
		}
		if w := r.cp.lastWrite(); w != pos(14) {
			t.Fatalf("checkpoint %v", w)
		}
		_ = r.shutdown()
		r.cp.check(t)
	})
}

func containsText(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestHandlerBackpressureBlocksProcessRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c := &calls{}
		h := func(ctx context.Context, b batch.Batch) error {
			<-release
			c.add(b, false)
			return nil
		}
		r := newRig(t)(batchHandler(h, batch.Config{BatchSize: 5, MaxPendingRecords: 10}))
		var returned atomic.Bool
		done := make(chan error, 1)
		go func() {
			done <- r.process(r.make(25, oneKey, time.Now()), 0)
			returned.Store(true)
		}()
		synctest.Wait()
		if returned.Load() {
			t.Fatal("ProcessRecords returned with 25 records taken and a bound of 10")
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if !slices.Equal(c.handled(), seqRange(0, 25)) {
			t.Fatalf("handled %v", c.handled())
		}
		_ = r.shutdown()
	})
}

func TestHandlerRedeliveredRecordsAreNotTakenTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &calls{}
		h := func(ctx context.Context, b batch.Batch) error { c.add(b, false); return nil }
		r := newRig(t)(batchHandler(h, batch.Config{}))
		recs := r.make(6, oneKey, time.Now())
		r.mustProcess(recs)
		r.mustProcess(recs) // as after ProcessRecords returned an error
		synctest.Wait()
		if !slices.Equal(c.handled(), seqRange(0, 6)) {
			t.Fatalf("handled %v", c.handled())
		}
		_ = r.shutdown()
	})
}

func TestHandlerShutdownFinishesInFlightAndCheckpointsPrefix(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &calls{}
		release := make(chan struct{})
		started := make(chan struct{}, 1)
		h := func(ctx context.Context, b batch.Batch) error {
			select {
			case started <- struct{}{}:
			default:
			}
			<-release
			c.add(b, false)
			return nil
		}
		r := newRig(t)(batchHandler(h, batch.Config{BatchSize: 5}))
		r.mustProcess(r.make(20, oneKey, time.Now()))
		<-started // records 0-4 are in the handler; 5-19 are buffered
		done := make(chan error, 1)
		go func() { done <- r.shutdown() }()
		synctest.Wait()
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := c.handled(); !slices.Equal(got, seqRange(0, 5)) {
			t.Fatalf("handled %v, want the in-flight batch only", got)
		}
		if w := r.cp.lastWrite(); w != pos(4) {
			t.Fatalf("checkpoint %v, want the in-flight batch's last record", w)
		}
		n := c.count()
		time.Sleep(time.Hour)
		synctest.Wait()
		if c.count() != n {
			t.Fatal("the handler was called after ShutdownRequested returned")
		}
		r.cp.check(t)
	})
}

func TestHandlerLeaseLostCancelsAndDoesNotCheckpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var cause atomic.Value
		started := make(chan struct{})
		h := func(ctx context.Context, b batch.Batch) error {
			close(started)
			<-ctx.Done()
			cause.Store(context.Cause(ctx))
			return ctx.Err()
		}
		r := newRig(t)(batchHandler(h, batch.Config{}))
		r.mustProcess(r.make(3, oneKey, time.Now()))
		<-started
		r.proc.LeaseLost(r.ctx, consumer.LeaseLostInput{ShardID: testShard})
		if err, _ := cause.Load().(error); !errors.Is(err, consumer.ErrLeaseLost) {
			t.Fatalf("handler context cause %v, want ErrLeaseLost", err)
		}
		if w := r.cp.lastWrite(); !w.IsZero() {
			t.Fatalf("checkpoint %v after the lease was lost", w)
		}
	})
}

func TestHandlerShardEndDrainsThenCheckpointsShardEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &calls{}
		h := func(ctx context.Context, b batch.Batch) error { c.add(b, false); return nil }
		r := newRig(t)(batchHandler(h, batch.Config{BatchSize: 100, BatchWindow: time.Minute, ParallelizationFactor: 3}))
		r.mustProcess(r.make(30, keyMod(5), time.Now()))
		synctest.Wait()
		if c.count() != 0 {
			t.Fatal("batch handed over before its window")
		}
		start := time.Now()
		if err := r.shardEnded(); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 0 {
			t.Errorf("ShardEnded waited %v for the batch window", time.Since(start))
		}
		got := c.handled()
		slices.Sort(got)
		if !slices.Equal(got, seqRange(0, 30)) {
			t.Fatalf("handled %v", got)
		}
		if w := r.cp.lastWrite(); !w.IsShardEnd() {
			t.Fatalf("checkpoint %v, want SHARD_END", w)
		}
		r.cp.check(t)
	})
}

func TestHandlerPanicIsAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &failures{}
		h := func(ctx context.Context, b batch.Batch) error { panic("bug") }
		r := newRig(t)(batchHandler(h, batch.Config{MaxRetryAttempts: new(0), OnFailure: f.dest}))
		r.mustProcess(r.make(2, oneKey, time.Now()))
		synctest.Wait()
		frs := f.snapshot()
		if len(frs) != 1 || frs[0].Err == nil || !containsText(frs[0].Err.Error(), "panicked: bug") {
			t.Fatalf("destination got %+v", frs)
		}
		_ = r.shutdown()
	})
}

// rand is a small deterministic generator (splitmix64), so a failing seed
// reproduces.
type rand struct{ s uint64 }

func newRand(seed uint64) *rand { return &rand{s: seed} }

func (r *rand) intn(n int) int {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return int(z % uint64(n))
}

func TestHandlerPartialBatchResponseStopAtFirstFailureLosesNothing(t *testing.T) {
	// The pattern AWS recommends for ordered processing: handle records
	// in order, and at the first failure report it and stop. When its
	// retries run out, only that record is given up; the ones after it,
	// which the handler never handled, are not.
	synctest.Test(t, func(t *testing.T) {
		f := &failures{}
		var mu sync.Mutex
		var done []int
		h := func(ctx context.Context, b batch.Batch) (batch.Response, error) {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range b.Records {
				if index(r.Position()) == 5 {
					return batch.Response{BatchItemFailures: []consumer.ExtendedSequenceNumber{r.Position()}}, nil
				}
				done = append(done, index(r.Position()))
			}
			return batch.Response{}, nil
		}
		r := newRig(t)(responseHandler(h, batch.Config{MaxRetryAttempts: new(1), OnFailure: f.dest}))
		r.mustProcess(r.make(8, oneKey, time.Now()))
		f.wait(1)
		synctest.Wait()
		mu.Lock()
		got := slices.Clone(done)
		mu.Unlock()
		if !slices.Equal(got, []int{0, 1, 2, 3, 4, 6, 7}) || !slices.Equal(f.records(), []int{5}) {
			t.Fatalf("handled %v, given up %v; want all but 5 handled and 5 given up", got, f.records())
		}
		if w := r.cp.lastWrite(); w != pos(7) {
			t.Fatalf("checkpoint %v", w)
		}
		_ = r.shutdown()
		r.cp.check(t)
	})
}

func TestHandlerCheckpointInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := func(ctx context.Context, b batch.Batch) error { return nil }
		r := newRig(t)(batch.New(h, batch.Config{})) // the default: 5 s
		writes := func() []consumer.ExtendedSequenceNumber {
			r.cp.mu.Lock()
			defer r.cp.mu.Unlock()
			return slices.Clone(r.cp.writes)
		}
		start := time.Now()
		r.mustProcess(r.make(3, oneKey, time.Now()))
		synctest.Wait()
		if w := writes(); !slices.Equal(w, []consumer.ExtendedSequenceNumber{pos(2)}) {
			t.Fatalf("writes %v, want the first finished records checkpointed at once", w)
		}
		time.Sleep(time.Second)
		r.mustProcess(r.make(3, oneKey, time.Now()))
		time.Sleep(4*time.Second - time.Millisecond)
		synctest.Wait()
		if w := writes(); len(w) != 1 {
			t.Fatalf("writes %v within the interval", w)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if w := writes(); !slices.Equal(w, []consumer.ExtendedSequenceNumber{pos(2), pos(5)}) || time.Since(start) != 5*time.Second {
			t.Fatalf("writes %v at %v, want the second one 5s after the first", w, time.Since(start))
		}
		// Shutdown does not wait for the interval.
		r.mustProcess(r.make(3, oneKey, time.Now()))
		synctest.Wait()
		if err := r.shutdown(); err != nil {
			t.Fatal(err)
		}
		if w := writes(); w[len(w)-1] != pos(8) || time.Since(start) != 5*time.Second {
			t.Fatalf("writes %v at %v, want the last record checkpointed at shutdown", w, time.Since(start))
		}
		r.cp.check(t)
	})
}

package batch_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/batch"
	"github.com/shardwise/shardwise/consumer"
)

// countingWindowHandler keeps the number of records seen in the window as
// its state, and checks that every record belongs to the call's window.
func countingWindowHandler(t *testing.T, c *calls) batch.ResponseHandler {
	return func(ctx context.Context, b batch.Batch) (batch.Response, error) {
		c.add(b, false)
		w := b.Window
		if w == nil {
			t.Error("call without a window")
			return batch.Response{}, nil
		}
		for _, r := range b.Records {
			if at := r.ApproximateArrivalTimestamp; at.Before(w.Start) || !at.Before(w.End) {
				t.Errorf("record %d arrived at %v, outside its call's window [%v, %v)", index(r.Position()), at, w.Start, w.End)
			}
		}
		n := 0
		if len(w.State) > 0 {
			n, _ = strconv.Atoi(string(w.State))
		}
		return batch.Response{State: []byte(strconv.Itoa(n + len(b.Records)))}, nil
	}
}

func TestHandlerTumblingWindowBoundariesStateAndFinalFlag(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &calls{}
		r := newRig(t)(responseHandler(countingWindowHandler(t, c), batch.Config{TumblingWindow: time.Minute}))
		t0 := time.Now() // the bubble's clock starts on a minute boundary
		if t0.Truncate(time.Minute) != t0 {
			t.Fatalf("clock starts at %v", t0)
		}
		const lagging = 5000 // MillisBehindLatest: the shard is behind

		time.Sleep(10 * time.Second)
		if err := r.process(r.make(3, oneKey, t0.Add(5*time.Second)), lagging); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Second)
		if err := r.process(r.make(2, oneKey, t0.Add(25*time.Second)), lagging); err != nil {
			t.Fatal(err)
		}
		// Past the first window's end, but the shard is behind: more
		// records of the window may still come, so it does not end yet,
		// and its records, although handled, are not checkpointed.
		time.Sleep(35 * time.Second)
		synctest.Wait()
		cs := c.snapshot()
		if len(cs) != 2 || string(cs[1].window.State) != "3" || cs[0].window.State != nil {
			t.Fatalf("calls %+v, want two calls of the first window, the second with state 3", cs)
		}
		if w := r.cp.lastWrite(); !w.IsZero() {
			t.Fatalf("checkpoint %v inside an open window", w)
		}

		// A record of the next window ends the first: its final call has
		// the state and no records, then the new window starts afresh.
		time.Sleep(5 * time.Second) // t0+70s
		if err := r.process(r.make(2, oneKey, t0.Add(62*time.Second)), lagging); err != nil {
			t.Fatal(err)
		}
		c.waitCalls(4)
		synctest.Wait()
		cs = c.snapshot()
		final, next := cs[2], cs[3]
		if !final.window.IsFinalInvokeForWindow || final.window.IsWindowTerminatedEarly || len(final.records) != 0 ||
			string(final.window.State) != "5" || !final.window.Start.Equal(t0) || !final.window.End.Equal(t0.Add(time.Minute)) {
			t.Fatalf("final call %+v %+v", final, *final.window)
		}
		if next.window.IsFinalInvokeForWindow || next.window.State != nil || !next.window.Start.Equal(t0.Add(time.Minute)) ||
			!slices.Equal(next.records, []int{5, 6}) {
			t.Fatalf("first call of the second window %+v %+v", next, *next.window)
		}
		if w := r.cp.lastWrite(); w != pos(4) {
			t.Fatalf("checkpoint %v, want the first window's last record %v", w, pos(4))
		}

		// Caught up: the second window ends by the clock, with no new
		// input, exactly at its end.
		time.Sleep(10 * time.Second) // t0+80s
		if err := r.process(r.make(1, oneKey, t0.Add(75*time.Second)), 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(40*time.Second - time.Millisecond)
		synctest.Wait()
		if n := c.count(); n != 5 {
			t.Fatalf("%d calls before the second window's end, want 5", n)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		cs = c.snapshot()
		if len(cs) != 6 {
			t.Fatalf("%d calls, want the second window's final call", len(cs))
		}
		if f := cs[5]; !f.window.IsFinalInvokeForWindow || string(f.window.State) != "3" || !f.at.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("second final call %+v %+v", f, *f.window)
		}
		if w := r.cp.lastWrite(); w != pos(7) {
			t.Fatalf("checkpoint %v, want %v", w, pos(7))
		}
		_ = r.shutdown()
		r.cp.check(t)
	})
}

func TestHandlerTumblingWindowStateLimitTerminatesEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &calls{}
		// The state is the records' payloads, comma-separated.
		h := func(ctx context.Context, b batch.Batch) (batch.Response, error) {
			c.add(b, false)
			state := slices.Clone(b.Window.State)
			for _, r := range b.Records {
				state = append(state, r.Data...)
				state = append(state, ',')
			}
			return batch.Response{State: state}, nil
		}
		r := newRig(t)(responseHandler(h, batch.Config{TumblingWindow: time.Minute, MaxWindowStateSize: 8, BatchSize: 2}))
		r.mustProcess(r.make(6, oneKey, time.Now()))
		synctest.Wait()
		cs := c.snapshot()
		// Calls: [0 1] -> "0,1," (4 bytes); [2 3] -> "0,1,2,3," (8);
		// [4 5] -> 12 bytes > 8: the handler gets that state back in an
		// early final call, and the window goes on with empty state.
		if len(cs) != 4 {
			t.Fatalf("%d calls: %+v", len(cs), cs)
		}
		early := cs[3].window
		if !early.IsFinalInvokeForWindow || !early.IsWindowTerminatedEarly || string(early.State) != "0,1,2,3,4,5," || len(cs[3].records) != 0 {
			t.Fatalf("early final call %+v", *early)
		}
		// Everything the early final call covered is finished.
		if w := r.cp.lastWrite(); w != pos(5) {
			t.Fatalf("checkpoint %v after the early final call, want %v", w, pos(5))
		}
		r.mustProcess(r.make(1, oneKey, time.Now()))
		c.waitCalls(5)
		if w := c.snapshot()[4].window; w.State != nil || w.IsFinalInvokeForWindow || !w.Start.Equal(early.Start) {
			t.Fatalf("call after early termination %+v, want the same window with empty state", *w)
		}
		_ = r.shutdown()
	})
}

func TestHandlerTumblingWindowFullLedgerTerminatesEarly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &calls{}
		r := newRig(t)(responseHandler(countingWindowHandler(t, c), batch.Config{TumblingWindow: time.Minute, MaxPendingRecords: 4}))
		// Twelve records of one window while the shard lags: the window
		// would hold them all, but only four fit. Without early
		// termination this ProcessRecords would never return.
		if err := r.process(r.make(12, oneKey, time.Now()), 5000); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		var early, handled int
		for _, cl := range c.snapshot() {
			if cl.window.IsWindowTerminatedEarly {
				early++
			}
			handled += len(cl.records)
		}
		if early < 2 || handled != 12 {
			t.Fatalf("%d early final calls, %d records handled: %+v", early, handled, c.snapshot())
		}
		if w := r.cp.lastWrite(); consumer.Compare(w, pos(7)) < 0 {
			t.Fatalf("checkpoint %v", w)
		}
		_ = r.shutdown()
		r.cp.check(t)
	})
}

func TestHandlerTumblingWindowPerLaneAndShardEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &calls{}
		r := newRig(t)(responseHandler(countingWindowHandler(t, c), batch.Config{TumblingWindow: time.Minute, ParallelizationFactor: 4}))
		r.mustProcess(r.make(40, keyMod(8), time.Now()))
		synctest.Wait()
		if err := r.shardEnded(); err != nil {
			t.Fatal(err)
		}
		// Every lane that got records ends its window at shard end; the
		// final states add up to every record.
		total, finals := 0, 0
		for _, cl := range c.snapshot() {
			if cl.window.IsFinalInvokeForWindow {
				finals++
				n, _ := strconv.Atoi(string(cl.window.State))
				total += n
			}
		}
		if total != 40 || finals < 2 || finals > 4 {
			t.Fatalf("%d final calls adding up to %d records, want 2-4 lanes adding up to 40", finals, total)
		}
		if w := r.cp.lastWrite(); !w.IsShardEnd() {
			t.Fatalf("checkpoint %v", w)
		}
	})
}

func TestHandlerTumblingWindowShutdownLeavesWindowUncheckpointed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &calls{}
		r := newRig(t)(responseHandler(countingWindowHandler(t, c), batch.Config{TumblingWindow: time.Minute}))
		if err := r.process(r.make(5, oneKey, time.Now()), 5000); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if err := r.shutdown(); err != nil {
			t.Fatal(err)
		}
		// The window never had its final call: its records must be
		// delivered again to the next owner, which rebuilds the state.
		if w := r.cp.lastWrite(); !w.IsZero() {
			t.Fatalf("checkpoint %v inside an unfinished window", w)
		}
		for _, cl := range c.snapshot() {
			if cl.window.IsFinalInvokeForWindow {
				t.Fatalf("final call at shutdown: %+v", cl)
			}
		}
	})
}

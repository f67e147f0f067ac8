package session

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

// flakyWorkers fails every call while down is set.
type flakyWorkers struct {
	leases.WorkerStore
	down  atomic.Bool
	calls atomic.Int64
}

func (f *flakyWorkers) Heartbeat(ctx context.Context, r leases.WorkerRecord) (leases.WorkerRecord, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return leases.WorkerRecord{}, errors.New("DynamoDB unreachable")
	}
	return f.WorkerStore.Heartbeat(ctx, r)
}

func TestSessionFencesBeforeFailoverAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const failover = 10 * time.Second
		store := &flakyWorkers{WorkerStore: leases.NewMemoryStores().Workers}
		var mu sync.Mutex
		var fencedAt, aliveAt time.Time
		var fencedCalls int
		s, err := StartSession(context.Background(), SessionConfig{
			Store: store, WorkerID: "w1", FailoverTime: failover, HeartbeatInterval: failover / 2, FenceMargin: failover / 5,
			OnFenced: func() { mu.Lock(); fencedCalls++; fencedAt = time.Now(); mu.Unlock() },
			OnAlive:  func() { mu.Lock(); aliveAt = time.Now(); mu.Unlock() },
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		// Healthy for a while: heartbeats every 5s, never fenced.
		time.Sleep(30 * time.Second)
		if s.Fence() != nil || s.Heartbeats() < 6 {
			t.Fatalf("healthy session: fence %v, heartbeats %d", s.Fence(), s.Heartbeats())
		}
		// Cut off: the last successful heartbeat was sent at most one
		// interval before the cut, so the session must fence within
		// FailoverTime - margin (8s) of the cut, and not before 8s minus
		// one interval.
		cut := time.Now()
		store.down.Store(true)
		time.Sleep(failover)
		mu.Lock()
		fa, fc := fencedAt, fencedCalls
		mu.Unlock()
		if fc != 1 || s.Fence() == nil || !errors.Is(s.Fence(), consumer.ErrLeaseLost) {
			t.Fatalf("after %v cut off: OnFenced calls %d, Fence %v", failover, fc, s.Fence())
		}
		if d := fa.Sub(cut); d > failover-failover/5 || d < failover-failover/5-failover/2 {
			t.Fatalf("fenced %v after the cut, want between 3s and 8s", d)
		}
		// While fenced it keeps retrying at a bounded pace (no busy loop:
		// in a synctest bubble a spinning goroutine would stall the clock).
		before := store.calls.Load()
		time.Sleep(10 * time.Second)
		if n := store.calls.Load() - before; n < 2 || n > 20 {
			t.Fatalf("%d heartbeat attempts in 10s while fenced", n)
		}
		// Reconnected: alive again at the next retry.
		store.down.Store(false)
		time.Sleep(failover / 2)
		mu.Lock()
		aa := aliveAt
		mu.Unlock()
		if s.Fence() != nil || aa.IsZero() {
			t.Fatalf("after reconnecting: fence %v, OnAlive at %v", s.Fence(), aa)
		}
	})
}

func TestSessionReplacedByAnotherIncarnationFences(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := leases.NewMemoryStores().Workers
		var fenced atomic.Int32
		s, err := StartSession(context.Background(), SessionConfig{Store: store, WorkerID: "w1", FailoverTime: 10 * time.Second,
			HeartbeatInterval: 10 * time.Second / 3, FenceMargin: 2 * time.Second,
			OnFenced: func() { fenced.Add(1) }})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		first := s.ID()
		// Another process registers the same worker id.
		if _, err := store.Register(context.Background(), leases.WorkerRecord{ID: "w1", SessionID: "other"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		if fenced.Load() != 1 || s.ID() == first {
			t.Fatalf("fenced %d times, session id %q (first %q)", fenced.Load(), s.ID(), first)
		}
	})
}

// stallingWorkers makes chosen heartbeat calls take a long time before
// they succeed, as a DynamoDB call stuck in a retry loop, or a process
// paused with the request in hand, would.
type stallingWorkers struct {
	leases.WorkerStore
	stall  atomic.Int64 // nanoseconds the next Heartbeat takes
	onSent func()       // called as each Heartbeat call starts
}

func (w *stallingWorkers) Heartbeat(ctx context.Context, r leases.WorkerRecord) (leases.WorkerRecord, error) {
	w.onSent()
	if d := time.Duration(w.stall.Swap(0)); d > 0 {
		time.Sleep(d)
	}
	return w.WorkerStore.Heartbeat(ctx, r)
}

// lateSuccess runs a session whose heartbeat is delayed past the fencing
// deadline, either inside the call (slowStore) or before it (the process
// is paused while it builds the heartbeat, the Load hook standing for the
// pause), and which then succeeds: the record is still there and nobody
// else wrote it. It returns the order of the session's callbacks and
// heartbeat calls, in the order they happened.
func lateSuccess(t *testing.T, slowStore bool) (events []string) {
	const failover = 10 * time.Second
	var mu sync.Mutex
	record := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
	store := &stallingWorkers{WorkerStore: leases.NewMemoryStores().Workers, onSent: func() { record("sent") }}
	var pause atomic.Int64
	s, err := StartSession(context.Background(), SessionConfig{
		Store: store, WorkerID: "w1", FailoverTime: failover, HeartbeatInterval: failover / 2, FenceMargin: failover / 5,
		Load: func(*leases.WorkerRecord) {
			if d := time.Duration(pause.Swap(0)); d > 0 {
				time.Sleep(d) // the process is stopped here
			}
		},
		OnFenced: func() { record("fenced") },
		OnAlive:  func() { record("alive") },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	time.Sleep(failover / 4) // between heartbeats
	// The next heartbeat is due at 5s and the fencing deadline is at 8s
	// (the last send was at 0s). Paused: the process stops for 1.5
	// failover times just before it sends, and the call then succeeds at
	// once. Slow: the call is sent at 5s and succeeds at 11s, past the
	// deadline but within the call's own timeout.
	if slowStore {
		store.stall.Store(int64(failover * 6 / 10))
	} else {
		pause.Store(int64(failover * 3 / 2))
	}
	time.Sleep(failover * 7 / 10)
	// 9.5s: past the deadline with the heartbeat still held.
	if s.Fence() == nil {
		t.Error("Fence reports alive past the fencing deadline")
	}
	time.Sleep(failover * 13 / 10)
	synctest.Wait()
	mu.Lock()
	defer mu.Unlock()
	return append([]string(nil), events...)
}

// TestLateHeartbeatFencesBeforeRejoining is the "late heartbeat cancels
// self-fencing" bug: a heartbeat that succeeds after the deadline must not
// quietly resume the worker; it fences first (processors stop, leases are
// treated as lost) and only then rejoins. A worker that wakes up past its
// deadline fences before it even sends the heartbeat, so its processors
// stop without waiting for a DynamoDB round trip.
func TestLateHeartbeatFencesBeforeRejoining(t *testing.T) {
	for _, tc := range []struct {
		name      string
		slowStore bool
		want      []string
	}{
		{"paused before the call", false, []string{"fenced", "sent", "alive"}},
		{"call outlasts the deadline", true, []string{"sent", "fenced", "alive"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				events := lateSuccess(t, tc.slowStore)
				i := slices.Index(events, "alive")
				if i < 0 || !slices.Equal(events[:i+1], tc.want) {
					t.Fatalf("events %v, want them to start %v", events, tc.want)
				}
				// Alive again, it stays alive: the next heartbeats keep
				// to the cadence counted from each send.
				if slices.Contains(events[i:], "fenced") {
					t.Fatalf("events %v: fenced again after rejoining", events)
				}
			})
		})
	}
}

// TestStalledHeartbeatFencesAtTheDeadline: a heartbeat call that hangs (a
// partition, a hung connection) must not hold back fencing until the call
// times out; the worker fences at its deadline while the call is still in
// flight.
func TestStalledHeartbeatFencesAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const failover = 10 * time.Second
		var mu sync.Mutex
		var fencedAt time.Time
		store := &stallingWorkers{WorkerStore: leases.NewMemoryStores().Workers, onSent: func() {}}
		start := time.Now()
		s, err := StartSession(context.Background(), SessionConfig{
			Store: store, WorkerID: "w1", FailoverTime: failover, HeartbeatInterval: failover / 2, FenceMargin: failover / 5,
			OnFenced: func() { mu.Lock(); fencedAt = time.Now(); mu.Unlock() },
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		// The heartbeat sent at 5s hangs for 30s (it ignores its context,
		// as a call stuck below the SDK would); the deadline is at 8s.
		store.stall.Store(int64(3 * failover))
		time.Sleep(failover)
		synctest.Wait()
		mu.Lock()
		fa := fencedAt
		mu.Unlock()
		if fa.IsZero() {
			t.Fatalf("not fenced %v after the last successful heartbeat, with one stalled in flight", failover)
		}
		if d := fa.Sub(start); d != failover-failover/5 {
			t.Fatalf("fenced %v after the last successful heartbeat, want at the deadline (%v)", d, failover-failover/5)
		}
		time.Sleep(3 * failover) // let the stalled call return
	})
}

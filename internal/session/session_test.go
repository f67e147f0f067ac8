package session

import (
	"context"
	"errors"
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

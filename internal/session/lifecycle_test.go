package session

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/leases"
)

// The tests below hold the session's lifecycle calls and its retry pace
// (each killed a survivor of make mutants-auto).

// TestBriefOutageRetriesBeforeTheDeadline: a heartbeat that fails is
// retried at a quarter of the interval, so an outage shorter than the
// fence margin's worth of retries ends without fencing.
func TestBriefOutageRetriesBeforeTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const failover = 10 * time.Second
		store := &flakyWorkers{WorkerStore: leases.NewMemoryStores().Workers}
		var fenced atomic.Int32
		s, err := StartSession(context.Background(), SessionConfig{
			Store: store, WorkerID: "w1", FailoverTime: failover, HeartbeatInterval: failover / 2, FenceMargin: failover / 5,
			OnFenced: func() { fenced.Add(1) },
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		// The heartbeat at 5s fails; DynamoDB is back at 6s, two seconds
		// before the fencing deadline (8s); a retry 1.25s after the
		// failure lands in time.
		time.Sleep(failover/2 - time.Second)
		store.down.Store(true)
		time.Sleep(2 * time.Second)
		store.down.Store(false)
		time.Sleep(failover)
		if n := fenced.Load(); n != 0 {
			t.Fatalf("a one-second outage fenced the worker %d times: the retry came after the fencing deadline", n)
		}
	})
}

// TestSetDrainingWritesAtOnce: SetDraining writes a heartbeat marked
// draining before it returns.
func TestSetDrainingWritesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := leases.NewMemoryStores().Workers
		s, err := StartSession(context.Background(), SessionConfig{
			Store: store, WorkerID: "w1", FailoverTime: 10 * time.Second, HeartbeatInterval: 5 * time.Second, FenceMargin: 2 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		before := s.Heartbeats()
		if err := s.SetDraining(context.Background()); err != nil {
			t.Fatal(err)
		}
		r, err := store.Get(context.Background(), "w1")
		if err != nil {
			t.Fatal(err)
		}
		if !r.Draining || r.Heartbeat <= before {
			t.Fatalf("after SetDraining the record has draining=%v heartbeat %d (was %d), want a new heartbeat marked draining", r.Draining, r.Heartbeat, before)
		}
	})
}

// TestAbandonStopsHeartbeatingAndKeepsTheRecord: Abandon returns, no
// heartbeat follows, and the record stays (the leader finds the worker
// dead after the failover time).
func TestAbandonStopsHeartbeatingAndKeepsTheRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := leases.NewMemoryStores().Workers
		s, err := StartSession(context.Background(), SessionConfig{
			Store: store, WorkerID: "w1", FailoverTime: 10 * time.Second, HeartbeatInterval: 5 * time.Second, FenceMargin: 2 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Abandon()
		r1, err := store.Get(context.Background(), "w1")
		if err != nil {
			t.Fatalf("the record is gone after Abandon: %v", err)
		}
		time.Sleep(30 * time.Second)
		r2, err := store.Get(context.Background(), "w1")
		if err != nil {
			t.Fatal(err)
		}
		if r2.Heartbeat != r1.Heartbeat {
			t.Fatalf("heartbeats went on after Abandon: %d -> %d", r1.Heartbeat, r2.Heartbeat)
		}
	})
}

// TestReregisterCarriesTheLoad: the record a replaced session registers
// anew carries the load figures at once (the leader plans with them).
func TestReregisterCarriesTheLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fences, alive atomic.Int32
		store := leases.NewMemoryStores().Workers
		s, err := StartSession(context.Background(), SessionConfig{
			Store: store, WorkerID: "w1", FailoverTime: 10 * time.Second, HeartbeatInterval: 5 * time.Second, FenceMargin: 2 * time.Second,
			Load:     func(r *leases.WorkerRecord) { r.LeaseThroughput = map[string]float64{"shard-1": 7} },
			OnFenced: func() { fences.Add(1) },
			OnAlive:  func() { alive.Add(1) },
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		first := s.ID()
		if _, err := store.Register(context.Background(), leases.WorkerRecord{ID: "w1", SessionID: "other"}); err != nil {
			t.Fatal(err)
		}
		// The next heartbeat (at 5s) is refused and the session registers
		// anew; look before the heartbeat after that.
		time.Sleep(6 * time.Second)
		if s.ID() == first {
			t.Fatal("the session did not re-register")
		}
		r, err := store.Get(context.Background(), "w1")
		if err != nil {
			t.Fatal(err)
		}
		if r.SessionID != s.ID() || r.LeaseThroughput["shard-1"] != 7 {
			t.Fatalf("re-registered record %+v carries no load figures", r)
		}
		// The new session heartbeats on: over two failover times it does
		// not fence again (the refusal fenced it once), and its record's
		// counter moves.
		time.Sleep(20 * time.Second)
		if n, a := fences.Load(), alive.Load(); n != 1 || a != 1 {
			t.Fatalf("fenced %d times and alive again %d times; want once each (the refused heartbeat, the re-registration)", n, a)
		}
		if r2, err := store.Get(context.Background(), "w1"); err != nil || r2.SessionID != s.ID() || r2.Heartbeat <= r.Heartbeat {
			t.Fatalf("record after two failover times %+v (%v), was %+v: the new session stopped heartbeating", r2, err, r)
		}
	})
}

// TestRetryDelayHasAFloor: failed heartbeats are retried at a quarter of
// the interval but never more often than every 50ms, however short the
// interval. A survivor of make mutants-auto.
func TestRetryDelayHasAFloor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &flakyWorkers{WorkerStore: leases.NewMemoryStores().Workers}
		s, err := StartSession(context.Background(), SessionConfig{
			Store: store, WorkerID: "w1", FailoverTime: time.Second, HeartbeatInterval: 100 * time.Millisecond, FenceMargin: 200 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		store.down.Store(true)
		time.Sleep(time.Second)
		before := store.calls.Load()
		time.Sleep(time.Second)
		n := store.calls.Load() - before
		store.down.Store(false)
		if n > 21 {
			t.Fatalf("%d heartbeat attempts in one second of outage, want at most 20 (one per 50ms)", n)
		}
		if n < 15 {
			t.Fatalf("%d heartbeat attempts in one second of outage, want about 20 (one per 50ms)", n)
		}
	})
}

// failingReregister refuses registrations once armed.
type failingReregister struct {
	leases.WorkerStore
	armed atomic.Bool
}

func (s *failingReregister) Register(ctx context.Context, r leases.WorkerRecord) (leases.WorkerRecord, error) {
	if s.armed.Load() {
		return leases.WorkerRecord{}, errors.New("session test: injected registration failure")
	}
	return s.WorkerStore.Register(ctx, r)
}

// A session whose heartbeat was refused and whose re-registration fails
// stays fenced and is not reported alive.
func TestFailedReregistrationStaysFenced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := leases.NewMemoryStores().Workers
		store := &failingReregister{WorkerStore: mem}
		var alive atomic.Int32
		s, err := StartSession(context.Background(), SessionConfig{
			Store: store, WorkerID: "w1", FailoverTime: 10 * time.Second, HeartbeatInterval: 5 * time.Second, FenceMargin: 2 * time.Second,
			OnAlive: func() { alive.Add(1) },
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		store.armed.Store(true)
		if _, err := mem.Register(context.Background(), leases.WorkerRecord{ID: "w1", SessionID: "other"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(6 * time.Second)
		if err := s.Fence(); err == nil || alive.Load() != 0 {
			t.Fatalf("after a refused heartbeat and a failed re-registration: Fence %v, OnAlive %d times; want fenced and never alive", err, alive.Load())
		}
		store.armed.Store(false)
	})
}

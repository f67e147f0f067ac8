package session

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

// failingRegister refuses every registration.
type failingRegister struct{ leases.WorkerStore }

var errRegister = errors.New("session test: injected registration failure")

func (failingRegister) Register(context.Context, leases.WorkerRecord) (leases.WorkerRecord, error) {
	return leases.WorkerRecord{}, errRegister
}

// StartSession refuses an invalid config and a failed registration (no
// session, nothing registered), registers the load figures with the
// record itself, and LastHeartbeat starts at the registration's send time
// and moves with each heartbeat.
func TestStartSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := leases.NewMemoryStores().Workers
		cfg := SessionConfig{Store: store, WorkerID: "w1", FailoverTime: 10 * time.Second, HeartbeatInterval: 5 * time.Second, FenceMargin: 2 * time.Second,
			Load: func(r *leases.WorkerRecord) { r.LeaseThroughput = map[string]float64{"shard-1": 7} }}

		bad := cfg
		bad.FenceMargin = 0
		var ce *consumer.ConfigError
		if s, err := StartSession(ctx, bad); s != nil || !errors.As(err, &ce) {
			t.Fatalf("invalid config: %v, %v; want no session and a ConfigError", s, err)
		}
		failing := cfg
		failing.Store = failingRegister{store}
		if s, err := StartSession(ctx, failing); s != nil || !errors.Is(err, errRegister) {
			t.Fatalf("failed registration: %v, %v; want no session and the error", s, err)
		}
		if rs, _ := store.List(ctx); len(rs) != 0 {
			t.Fatalf("records after the refused starts: %+v", rs)
		}

		started := time.Now()
		s, err := StartSession(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(ctx)
		r, err := store.Get(ctx, "w1")
		if err != nil {
			t.Fatal(err)
		}
		if r.LeaseThroughput["shard-1"] != 7 {
			t.Errorf("registered record %+v has no load figures", r)
		}
		if got := s.LastHeartbeat(); !got.Equal(started) {
			t.Errorf("LastHeartbeat right after the start: %v, want the registration's send time %v", got, started)
		}
		time.Sleep(cfg.HeartbeatInterval + time.Second)
		if got := s.LastHeartbeat(); !got.Equal(started.Add(cfg.HeartbeatInterval)) {
			t.Errorf("LastHeartbeat after one interval: %v after the start, want %v", got.Sub(started), cfg.HeartbeatInterval)
		}
	})
}

// A closed session still answers (the scheduler may check its fence and
// last heartbeat after closing it) and its record is gone.
func TestClosedSessionAnswers(t *testing.T) {
	ctx := context.Background()
	store := leases.NewMemoryStores().Workers
	s, err := StartSession(ctx, SessionConfig{Store: store, WorkerID: "w1", FailoverTime: 10 * time.Second, HeartbeatInterval: 5 * time.Second, FenceMargin: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	answered := make(chan struct{})
	go func() {
		_ = s.Fence()
		_ = s.LastHeartbeat()
		close(answered)
	}()
	select {
	case <-answered:
	case <-time.After(10 * time.Second):
		t.Fatal("a closed session's Fence and LastHeartbeat did not return")
	}
	if _, err := store.Get(ctx, "w1"); !errors.Is(err, leases.ErrNotFound) {
		t.Errorf("the worker record after Close: %v, want it deleted", err)
	}
}

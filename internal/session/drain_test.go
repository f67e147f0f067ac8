package session

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/leases"
)

// slowWorkers makes every heartbeat take a while, as a remote table does.
type slowWorkers struct {
	leases.WorkerStore
	delay time.Duration
}

func (s *slowWorkers) Heartbeat(ctx context.Context, r leases.WorkerRecord) (leases.WorkerRecord, error) {
	time.Sleep(s.delay)
	return s.WorkerStore.Heartbeat(ctx, r)
}

// TestSetDrainingDuringAHeartbeatDoesNotFence: SetDraining (shutdown)
// writes a heartbeat while the loop's may be in flight. Each is a
// compare-and-set on the counter the last one wrote, so unserialized, one
// would be refused and the worker fence itself and not hand its leases on.
func TestSetDrainingDuringAHeartbeatDoesNotFence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const failover = 10 * time.Second
		fenced := 0
		s, err := StartSession(context.Background(), SessionConfig{
			Store: &slowWorkers{WorkerStore: leases.NewMemoryStores().Workers, delay: time.Second}, WorkerID: "w1",
			FailoverTime: failover, HeartbeatInterval: failover / 2, FenceMargin: failover / 5,
			OnFenced: func() { fenced++ },
		})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close(context.Background())
		// The loop's heartbeat is sent at 5s and lands at 6s: drain in
		// the middle of it.
		time.Sleep(failover/2 + 500*time.Millisecond)
		if err := s.SetDraining(context.Background()); err != nil {
			t.Fatalf("SetDraining during a heartbeat: %v", err)
		}
		synctest.Wait()
		if fenced != 0 || s.Fence() != nil {
			t.Fatalf("draining during a heartbeat fenced the worker (%d times)", fenced)
		}
	})
}

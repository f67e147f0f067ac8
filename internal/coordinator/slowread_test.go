package coordinator

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/session"
	"github.com/shardwise/shardwise/leases"
)

// stallingWorkers is the worker table behind a link that holds the next
// List request for a while before it reaches the table (a slow DynamoDB
// call, or the leader's process paused with the request unsent).
type stallingWorkers struct {
	leases.WorkerStore
	stall atomic.Int64 // the next List waits this long first; 0: no wait
}

func (s *stallingWorkers) List(ctx context.Context) ([]leases.WorkerRecord, error) {
	if d := time.Duration(s.stall.Swap(0)); d > 0 {
		time.Sleep(d)
	}
	return s.WorkerStore.List(ctx)
}

// TestSlowWorkerReadDoesNotAgeHeartbeats: the leader stamps what a read of
// the worker table returned with the time the answer arrived. A
// heartbeat sent while the read was held up is in its answer; stamped
// with the time the read began, it would look a read's duration older,
// and the leader would move the worker's leases before the worker's own
// fencing deadline: two owners. Found by the chaos suite, where a
// candidate paused between stamping and reading took over leadership and
// moved a live worker's leases.
func TestSlowWorkerReadDoesNotAgeHeartbeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			failover = 10 * time.Second
			margin   = failover / 5
			scan     = failover / 10
		)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st := leases.NewMemoryStores()
		view := &stallingWorkers{WorkerStore: st.Workers}
		leader, err := session.StartSession(ctx, session.SessionConfig{
			Store: st.Workers, WorkerID: "leader", FailoverTime: failover, HeartbeatInterval: failover / 2, FenceMargin: margin,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer leader.Close(context.Background())
		// Worker w heartbeats by hand, so the test knows when each
		// heartbeat was sent. It holds one lease and runs it.
		w, err := st.Workers.Register(ctx, leases.WorkerRecord{ID: "w", SessionID: "s1", LeaseThroughput: map[string]float64{"shard-w": 1}})
		if err != nil {
			t.Fatal(err)
		}
		beat := func() time.Time {
			sent := time.Now()
			if w, err = st.Workers.Heartbeat(ctx, w); err != nil {
				t.Fatal(err)
			}
			return sent
		}
		if _, err := st.Leases.Create(ctx, leases.Lease{Key: "shard-w", Owner: "w", Checkpoint: consumer.TrimHorizon}); err != nil {
			t.Fatal(err)
		}
		c, err := NewCoordinator(CoordinatorConfig{
			WorkerID: "leader", Session: leader,
			Leases: st.Leases, Workers: view, Coordinator: st.Coordinator,
			FailoverTime: failover, ScanInterval: scan, AssignmentInterval: failover / 2,
			HandoffTimeout: failover, BalanceEvery: 3,
		})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); c.Run(ctx) }()
		defer func() { cancel(); <-done }()

		// A while of normal life: w heartbeats, the leader sees it.
		for range 4 {
			time.Sleep(failover / 4)
			beat()
		}
		if st := c.Stats(); !st.IsLeader || st.Workers != 2 {
			t.Fatalf("leader %v sees %d live workers, want 2", st.IsLeader, st.Workers)
		}
		// The leader's next read of the worker table is held up for 6 s;
		// w heartbeats 5 s in (the held read will return that heartbeat)
		// and then falls silent. w fences itself at that heartbeat's send
		// time + failover - margin; the leader may move its lease only
		// after the failover time from when it saw the heartbeat.
		view.stall.Store(int64(6 * time.Second))
		time.Sleep(5 * time.Second)
		last := beat()
		fences := last.Add(failover - margin)
		for time.Now().Before(fences) {
			l, err := st.Leases.Get(ctx, "shard-w")
			if err != nil {
				t.Fatal(err)
			}
			if l.Owner != "w" {
				t.Fatalf("%v after w's last heartbeat (it fences only at %v) the leader moved its lease to %q",
					time.Since(last), failover-margin, l.Owner)
			}
			time.Sleep(scan / 2)
		}
		// And w, silent, does lose it in the end.
		for i := 0; ; i++ {
			l, err := st.Leases.Get(ctx, "shard-w")
			if err != nil {
				t.Fatal(err)
			}
			if l.Owner != "w" {
				break
			}
			if i > 100 {
				t.Fatalf("%v after w's last heartbeat its lease has not moved", time.Since(last))
			}
			time.Sleep(scan)
		}
	})
}

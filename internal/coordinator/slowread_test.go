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

// stallingLeaderItem holds the next GetLeader for a while.
type stallingLeaderItem struct {
	leases.CoordinatorStore
	stall atomic.Int64
}

func (s *stallingLeaderItem) GetLeader(ctx context.Context) (leases.LeaderRecord, error) {
	if d := time.Duration(s.stall.Swap(0)); d > 0 {
		time.Sleep(d)
	}
	return s.CoordinatorStore.GetLeader(ctx)
}

// TestSlowElectionReadDoesNotAgeTheLeader: a candidate stamps its reading
// of the leader's heartbeat when the reading arrived. Stamped before a
// slow read of the leader item (or a pause of the candidate: the chaos
// suite's case), a heartbeat the leader sent meanwhile looks older, the
// candidate takes over early and, with that evidence, moves the old
// leader's leases before the old leader fenced itself.
func TestSlowElectionReadDoesNotAgeTheLeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			failover = 10 * time.Second
			margin   = failover / 5
			scan     = failover / 10
		)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st := leases.NewMemoryStores()
		item := &stallingLeaderItem{CoordinatorStore: st.Coordinator}
		// The leader L heartbeats by hand and holds one lease.
		l, err := st.Workers.Register(ctx, leases.WorkerRecord{ID: "L", SessionID: "sL", LeaseThroughput: map[string]float64{"shard-L": 1}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Coordinator.ClaimLeader(ctx, 0, "L", "sL"); err != nil {
			t.Fatal(err)
		}
		beat := func() time.Time {
			sent := time.Now()
			if l, err = st.Workers.Heartbeat(ctx, l); err != nil {
				t.Fatal(err)
			}
			return sent
		}
		if _, err := st.Leases.Create(ctx, leases.Lease{Key: "shard-L", Owner: "L", Checkpoint: consumer.TrimHorizon}); err != nil {
			t.Fatal(err)
		}
		cand, err := session.StartSession(ctx, session.SessionConfig{
			Store: st.Workers, WorkerID: "c", FailoverTime: failover, HeartbeatInterval: failover / 2, FenceMargin: margin,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer cand.Close(context.Background())
		c, err := NewCoordinator(CoordinatorConfig{
			WorkerID: "c", Session: cand,
			Leases: st.Leases, Workers: st.Workers, Coordinator: item,
			FailoverTime: failover, ScanInterval: scan, AssignmentInterval: failover / 2,
			HandoffTimeout: failover, BalanceEvery: 3,
		})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); c.Run(ctx) }()
		defer func() { cancel(); <-done }()

		for range 4 {
			time.Sleep(failover / 4)
			beat()
		}
		if c.IsLeader() {
			t.Fatal("the candidate took over from a heartbeating leader")
		}
		// The candidate's next read of the leader item is held up for
		// 6 s; L heartbeats 5 s in, then falls silent. L fences at that
		// heartbeat + failover - margin: its lease must stay until then.
		item.stall.Store(int64(6 * time.Second))
		time.Sleep(5 * time.Second)
		last := beat()
		for time.Now().Before(last.Add(failover - margin)) {
			got, err := st.Leases.Get(ctx, "shard-L")
			if err != nil {
				t.Fatal(err)
			}
			if got.Owner != "L" {
				t.Fatalf("%v after L's last heartbeat (it fences only at %v) its lease moved to %q (candidate leader: %v)",
					time.Since(last), failover-margin, got.Owner, c.IsLeader())
			}
			time.Sleep(scan / 2)
		}
		// Silent for good, L loses leadership and its lease.
		for i := 0; ; i++ {
			got, err := st.Leases.Get(ctx, "shard-L")
			if err != nil {
				t.Fatal(err)
			}
			if got.Owner != "L" && c.IsLeader() {
				break
			}
			if i > 200 {
				t.Fatalf("%v after L's last heartbeat: lease owner %q, candidate leader %v", time.Since(last), got.Owner, c.IsLeader())
			}
			time.Sleep(scan)
		}
	})
}

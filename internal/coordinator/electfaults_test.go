package coordinator

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

var errInjected = errors.New("coordinator test: injected store failure")

// faultyLeaderItem fails the leader item's calls on demand. A claim can
// fail before its write or after it (the response lost).
type faultyLeaderItem struct {
	leases.CoordinatorStore
	failGet       atomic.Bool
	failClaim     atomic.Bool // the write does not happen
	loseClaimResp atomic.Bool // the write happens, the caller sees an error
	claims        atomic.Int32
}

func (s *faultyLeaderItem) GetLeader(ctx context.Context) (leases.LeaderRecord, error) {
	if s.failGet.Load() {
		return leases.LeaderRecord{}, errInjected
	}
	return s.CoordinatorStore.GetLeader(ctx)
}

func (s *faultyLeaderItem) ClaimLeader(ctx context.Context, prevEpoch int64, leader, session string) (leases.LeaderRecord, error) {
	s.claims.Add(1)
	if s.failClaim.Load() {
		return leases.LeaderRecord{}, errInjected
	}
	rec, err := s.CoordinatorStore.ClaimLeader(ctx, prevEpoch, leader, session)
	if err == nil && s.loseClaimResp.Load() {
		return leases.LeaderRecord{}, errInjected
	}
	return rec, err
}

// faultyWorkers fails worker-table reads on demand and counts Get calls.
type faultyWorkers struct {
	leases.WorkerStore
	failGet  atomic.Bool
	failList atomic.Bool
	gets     atomic.Int32
}

func (s *faultyWorkers) Get(ctx context.Context, id string) (leases.WorkerRecord, error) {
	s.gets.Add(1)
	if s.failGet.Load() {
		return leases.WorkerRecord{}, errInjected
	}
	return s.WorkerStore.Get(ctx, id)
}

func (s *faultyWorkers) List(ctx context.Context) ([]leases.WorkerRecord, error) {
	if s.failList.Load() {
		return nil, errInjected
	}
	return s.WorkerStore.List(ctx)
}

// electFleet is a memory fleet behind the faulty stores.
type electFleet struct {
	t       *testing.T
	ctx     context.Context
	st      leases.Stores
	item    *faultyLeaderItem
	workers *faultyWorkers
	recs    map[string]leases.WorkerRecord
}

const electFailover = 10 * time.Second

func newElectFleet(t *testing.T) *electFleet {
	st := leases.NewMemoryStores()
	return &electFleet{t: t, ctx: context.Background(), st: st,
		item: &faultyLeaderItem{CoordinatorStore: st.Coordinator}, workers: &faultyWorkers{WorkerStore: st.Workers},
		recs: map[string]leases.WorkerRecord{}}
}

func (f *electFleet) register(id string) {
	f.registerRecord(leases.WorkerRecord{ID: id, LeaseThroughput: map[string]float64{}})
}

func (f *electFleet) beat(ids ...string) {
	f.t.Helper()
	for _, id := range ids {
		r, err := f.st.Workers.Heartbeat(f.ctx, f.recs[id])
		if err != nil {
			f.t.Fatal(err)
		}
		f.recs[id] = r
	}
}

func (f *electFleet) coordinator(id string) *Coordinator { return f.coordinatorWith(id, nil) }

// coordinatorWith is worker id's coordinator on the fleet's (faulty)
// stores, its config changed by edit (nil: none).
func (f *electFleet) coordinatorWith(id string, edit func(*CoordinatorConfig)) *Coordinator {
	f.t.Helper()
	cfg := CoordinatorConfig{
		WorkerID: id, Session: fixedSession{id + "-s"},
		Leases: f.st.Leases, Workers: f.workers, Coordinator: f.item,
		FailoverTime: electFailover, ScanInterval: time.Second, AssignmentInterval: electFailover / 2,
		HandoffTimeout: electFailover, BalanceEvery: 1,
	}
	if edit != nil {
		edit(&cfg)
	}
	c, err := NewCoordinator(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// registerRecord registers a worker record as given (its session id
// defaults to id + "-s").
func (f *electFleet) registerRecord(w leases.WorkerRecord) {
	f.t.Helper()
	if w.SessionID == "" {
		w.SessionID = w.ID + "-s"
	}
	r, err := f.st.Workers.Register(f.ctx, w)
	if err != nil {
		f.t.Fatal(err)
	}
	f.recs[w.ID] = r
}

// owners maps each lease to its owner, a pending hand-off shown as
// "from->to".
func (f *electFleet) owners() map[string]string {
	f.t.Helper()
	all, err := f.st.Leases.List(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range all {
		m[l.Key] = l.Owner
		if l.HandoffPending() {
			m[l.Key] = l.CheckpointOwner + "->" + l.Owner
		}
	}
	return m
}

func (f *electFleet) leader() leases.LeaderRecord {
	f.t.Helper()
	r, err := f.st.Coordinator.GetLeader(f.ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// lease creates a lease owned by owner ("" for none).
func (f *electFleet) lease(key, owner string) {
	f.t.Helper()
	if _, err := f.st.Leases.Create(f.ctx, leases.Lease{Key: key, Checkpoint: consumer.TrimHorizon}); err != nil {
		f.t.Fatal(err)
	}
	if owner == "" {
		return
	}
	l, err := f.st.Leases.Get(f.ctx, key)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.st.Leases.Take(f.ctx, l, owner); err != nil {
		f.t.Fatal(err)
	}
}

func (f *electFleet) owner(key string) string {
	f.t.Helper()
	l, err := f.st.Leases.Get(f.ctx, key)
	if err != nil {
		f.t.Fatal(err)
	}
	return l.Owner
}

func TestNewCoordinatorRejectsInvalidConfig(t *testing.T) {
	st := leases.NewMemoryStores()
	valid := CoordinatorConfig{
		WorkerID: "w1", Session: fixedSession{"s"}, Leases: st.Leases, Workers: st.Workers, Coordinator: st.Coordinator,
		FailoverTime: time.Second, ScanInterval: time.Second, AssignmentInterval: time.Second, HandoffTimeout: time.Second, BalanceEvery: 1,
	}
	if _, err := NewCoordinator(valid); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for field, edit := range map[string]func(*CoordinatorConfig){
		"WorkerID":              func(c *CoordinatorConfig) { c.WorkerID = "" },
		"Session":               func(c *CoordinatorConfig) { c.Session = nil },
		"Coordinator":           func(c *CoordinatorConfig) { c.Coordinator = nil },
		"FailoverTime":          func(c *CoordinatorConfig) { c.FailoverTime = 0 },
		"HandoffTimeout":        func(c *CoordinatorConfig) { c.HandoffTimeout = -time.Second },
		"BalanceEvery":          func(c *CoordinatorConfig) { c.BalanceEvery = 0 },
		"Plan.ThresholdPercent": func(c *CoordinatorConfig) { c.Plan.ThresholdPercent = -1 },
	} {
		cfg := valid
		edit(&cfg)
		c, err := NewCoordinator(cfg)
		var ce *consumer.ConfigError
		if c != nil || !errors.As(err, &ce) || ce.Field != field {
			t.Errorf("%s: NewCoordinator = %v, %v; want nil and a ConfigError on %s", field, c, err, field)
		}
	}
}

// Wake makes Run assign at once, not at its next scan.
func TestWakeRunsAnAssignmentAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newElectFleet(t)
		f.register("w1")
		c := f.coordinator("w1")
		ctx, cancel := context.WithCancel(f.ctx)
		done := make(chan struct{})
		go func() { c.Run(ctx); close(done) }()
		synctest.Wait()
		runs := c.Stats().AssignmentRuns
		if !c.IsLeader() || runs != 1 {
			t.Fatalf("after the first scan: leader %v, %d runs; want leading after one run", c.IsLeader(), runs)
		}
		started := time.Now()
		c.Wake()
		synctest.Wait()
		if got := c.Stats().AssignmentRuns; got != runs+1 || time.Since(started) != 0 {
			t.Errorf("Wake: %d runs after %v, want %d at once", got, time.Since(started), runs+1)
		}
		cancel()
		<-done
	})
}

// A worker that does not lead leaves the leader item alone on Release
// (it has read the leader's item; releasing it would end another
// worker's leadership).
func TestReleaseByANonLeaderLeavesTheItem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newElectFleet(t)
		f.register("w1")
		f.register("w2")
		c1, c2 := f.coordinator("w1"), f.coordinator("w2")
		c1.tick(f.ctx, false)
		c2.tick(f.ctx, false)
		if !c1.IsLeader() || c2.IsLeader() {
			t.Fatalf("leaders: w1 %v w2 %v, want w1 only", c1.IsLeader(), c2.IsLeader())
		}
		before := f.leader()
		c2.Release(f.ctx)
		if after := f.leader(); after != before {
			t.Errorf("w2 (not leading) released: item %+v -> %+v", before, after)
		}
	})
}

// A non-leader's scan assigns nothing, even with leases to assign.
func TestNonLeaderDoesNotAssign(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newElectFleet(t)
		f.register("w1")
		f.register("w2")
		f.lease("shard-0", "")
		if _, err := f.st.Coordinator.ClaimLeader(f.ctx, 0, "w1", "w1-s"); err != nil {
			t.Fatal(err)
		}
		c2 := f.coordinator("w2")
		for range 3 {
			f.beat("w1", "w2")
			c2.tick(f.ctx, true)
			time.Sleep(time.Second)
		}
		if o := f.owner("shard-0"); c2.IsLeader() || o != "" || c2.Stats().AssignmentRuns != 0 {
			t.Errorf("w2 (not leading): leader %v, %d runs, shard-0 owned by %q; want no run and no owner", c2.IsLeader(), c2.Stats().AssignmentRuns, o)
		}
	})
}

// While the leader item cannot be read, nobody claims it (a free item
// included) and a leader does not assign: the read decides both.
func TestElectionReadFailureClaimsAndAssignsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newElectFleet(t)
		f.register("w1")
		f.lease("shard-0", "")
		c := f.coordinator("w1")
		f.item.failGet.Store(true)
		c.tick(f.ctx, true)
		if n := f.item.claims.Load(); n != 0 || c.IsLeader() {
			t.Fatalf("with the item unreadable: %d claims, leader %v; want none", n, c.IsLeader())
		}
		f.item.failGet.Store(false)
		c.tick(f.ctx, false)
		if !c.IsLeader() || c.Stats().AssignmentRuns != 1 {
			t.Fatalf("item readable again: leader %v, %d runs; want leading after one run", c.IsLeader(), c.Stats().AssignmentRuns)
		}
		// Leading, the item unreadable again: no run, even forced, and
		// the new lease stays unassigned.
		f.lease("shard-1", "")
		f.item.failGet.Store(true)
		time.Sleep(electFailover)
		f.beat("w1")
		c.tick(f.ctx, true)
		if runs := c.Stats().AssignmentRuns; runs != 1 || f.owner("shard-1") != "" {
			t.Errorf("leader with the item unreadable: %d runs, shard-1 owner %q; want no run", runs, f.owner("shard-1"))
		}
	})
}

// A free item is claimed from what the item says alone: no worker-table
// read (DynamoDB refuses a read by an empty key).
func TestFreeItemClaimedWithoutReadingWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newElectFleet(t)
		f.register("w1")
		c := f.coordinator("w1")
		c.tick(f.ctx, false)
		if !c.IsLeader() || f.workers.gets.Load() != 0 {
			t.Errorf("free item: leader %v after %d worker reads; want leading after none", c.IsLeader(), f.workers.gets.Load())
		}
	})
}

// A claim whose write did not happen leaves the worker a follower; one
// whose write happened but whose response was lost makes it leader at the
// next read, keeping what it observed of the dead leader, whose leases
// then move in the first run (not a failover time later).
func TestClaimFailures(t *testing.T) {
	for _, lost := range []bool{false, true} {
		t.Run(fmt.Sprintf("response-lost=%v", lost), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newElectFleet(t)
				f.register("w1")
				f.register("w2")
				f.lease("shard-0", "w1")
				if _, err := f.st.Coordinator.ClaimLeader(f.ctx, 0, "w1", "w1-s"); err != nil {
					t.Fatal(err)
				}
				c2 := f.coordinator("w2")
				// w1's heartbeat stops now; w2 watches it for the failover
				// time, its claims failing.
				if lost {
					f.item.loseClaimResp.Store(true)
				} else {
					f.item.failClaim.Store(true)
				}
				start := time.Now()
				for f.item.claims.Load() == 0 {
					if time.Since(start) > 2*electFailover {
						t.Fatal("w2 never claimed from the dead leader")
					}
					f.beat("w2")
					c2.tick(f.ctx, false)
					time.Sleep(time.Second)
				}
				if c2.IsLeader() {
					t.Fatal("w2 leads after a claim that returned an error")
				}
				f.item.failClaim.Store(false)
				f.item.loseClaimResp.Store(false)
				if !lost {
					if r := f.leader(); r.Leader != "w1" {
						t.Fatalf("the failed claim wrote the item: %+v", r)
					}
					return
				}
				f.beat("w2")
				c2.tick(f.ctx, false)
				if !c2.IsLeader() {
					t.Fatalf("the item names w2 (%+v) but w2 does not lead", f.leader())
				}
				if o := f.owner("shard-0"); o != "w2" {
					t.Errorf("the dead leader's lease is owned by %q after w2's first run; want w2 (w2 saw w1 silent for the failover time already)", o)
				}
			})
		})
	}
}

// A new leader that claimed from a dead leader keeps what it observed of
// it: the dead leader's leases move in its first run.
func TestNewLeaderMovesTheDeadLeadersLeasesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newElectFleet(t)
		f.register("w1")
		f.register("w2")
		f.lease("shard-0", "w1")
		if _, err := f.st.Coordinator.ClaimLeader(f.ctx, 0, "w1", "w1-s"); err != nil {
			t.Fatal(err)
		}
		c2 := f.coordinator("w2")
		start := time.Now()
		for !c2.IsLeader() {
			if time.Since(start) > 2*electFailover {
				t.Fatal("w2 never claimed from the dead leader")
			}
			f.beat("w2")
			c2.tick(f.ctx, false)
			time.Sleep(time.Second)
		}
		if o := f.owner("shard-0"); o != "w2" {
			t.Errorf("the dead leader's lease is owned by %q after w2's first run; want w2", o)
		}
	})
}

// Failed worker-table reads neither reset a watcher's count of the
// leader's silence nor the leader's sightings of the other workers: a
// dead leader is replaced, and a dead worker's leases move, about a
// failover time after the heartbeat stopped, reads failing every other
// scan.
func TestWorkerReadFailuresDoNotDelayFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newElectFleet(t)
		f.register("w1")
		f.register("w2")
		f.register("w3")
		f.lease("shard-0", "w3")
		if _, err := f.st.Coordinator.ClaimLeader(f.ctx, 0, "w1", "w1-s"); err != nil {
			t.Fatal(err)
		}
		c2 := f.coordinator("w2")
		scan := 0
		beating := []string{"w2", "w3"}
		scanUntil := func(what string, done func() bool) {
			start := time.Now()
			for !done() {
				if time.Since(start) > 2*electFailover {
					t.Fatalf("no %s %v after the heartbeat stopped", what, time.Since(start))
				}
				scan++
				f.workers.failGet.Store(scan%2 == 0)
				f.workers.failList.Store(scan%2 == 0)
				c2.tick(f.ctx, false)
				time.Sleep(time.Second)
				f.beat(beating...)
			}
			f.workers.failGet.Store(false)
			f.workers.failList.Store(false)
			took := time.Since(start)
			t.Logf("%s %v after the heartbeat stopped (failover %v)", what, took, electFailover)
			if took > electFailover+2*time.Second {
				t.Errorf("%s took %v, want about the failover time %v: failed reads restarted the count", what, took, electFailover)
			}
		}
		// w1, the leader, stops heartbeating now.
		scanUntil("new leader", c2.IsLeader)
		// Then w3, holding shard-0, stops too.
		beating = []string{"w2"}
		scanUntil("dead worker's lease moved", func() bool { return f.owner("shard-0") == "w2" })
	})
}

// A hand-off the leader saw completed is forgotten: a later hand-off of
// the same lease gets its own HandoffTimeout, counted from when the
// leader first sees it.
func TestHandoffTimerStartsAgainForANewHandoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newElectFleet(t)
		for _, id := range []string{"w1", "w2", "w3"} {
			f.register(id)
		}
		f.lease("shard-0", "w1")
		c := f.coordinator("w3")
		handoff := func(to string) {
			l, err := f.st.Leases.Get(f.ctx, "shard-0")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.st.Leases.StartHandoff(f.ctx, l, to); err != nil {
				t.Fatal(err)
			}
		}
		scan := func() {
			f.beat("w1", "w2", "w3")
			c.tick(f.ctx, false)
			time.Sleep(time.Second)
		}
		scan()
		handoff("w2")
		for range int(electFailover/time.Second) * 3 / 4 {
			scan() // an assignment run sees it pending
		}
		if l, err := f.st.Leases.Get(f.ctx, "shard-0"); err != nil || !l.HandoffPending() {
			t.Fatalf("the first hand-off is not pending before w1 completes it: %+v %v", l, err)
		}
		if _, err := f.st.Leases.CompleteHandoff(f.ctx, "shard-0", "w1"); err != nil {
			t.Fatal(err)
		}
		for range 2 * int(electFailover/time.Second) {
			scan()
		}
		// w2 now hands it to w1; the leader must give w2 the whole timeout.
		handoff("w1")
		began := time.Now()
		for time.Since(began) < electFailover-2*time.Second {
			scan()
			l, err := f.st.Leases.Get(f.ctx, "shard-0")
			if err != nil {
				t.Fatal(err)
			}
			if !l.HandoffPending() {
				t.Fatalf("the second hand-off was forced %v after it started; the timeout is %v", time.Since(began), electFailover)
			}
		}
	})
}

// A pending hand-off from or to a draining worker is left to it: the
// leader does not force it at the timeout while the worker is alive.
func TestLeaderDoesNotForceADrainingWorkersHandoff(t *testing.T) {
	for _, drainer := range []string{"w1", "w2"} {
		t.Run("draining="+drainer, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newElectFleet(t)
				for _, id := range []string{"w1", "w2", "w3"} {
					f.register(id)
				}
				r := f.recs[drainer]
				r.Draining = true
				f.recs[drainer] = r
				f.lease("shard-0", "w1")
				l, err := f.st.Leases.Get(f.ctx, "shard-0")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.st.Leases.StartHandoff(f.ctx, l, "w2"); err != nil {
					t.Fatal(err)
				}
				c := f.coordinator("w3")
				for range 2 * int(electFailover/time.Second) {
					f.beat("w1", "w2", "w3")
					c.tick(f.ctx, false)
					time.Sleep(time.Second)
				}
				l, err = f.st.Leases.Get(f.ctx, "shard-0")
				if err != nil {
					t.Fatal(err)
				}
				if !l.HandoffPending() {
					t.Errorf("the leader forced the hand-off w1->w2 with %s draining: %+v", drainer, l)
				}
			})
		})
	}
}

// A leader that restarted as a new session and claimed the item again
// within the failover time is alive: a watcher that counted its old
// session's silence starts counting again (the new session's heartbeat
// counter may equal the value last seen of the old one).
func TestWatcherCountsANewLeaderSessionAfresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newElectFleet(t)
		f.register("w1")
		f.register("w2")
		first, err := f.st.Coordinator.ClaimLeader(f.ctx, 0, "w1", "w1-s")
		if err != nil {
			t.Fatal(err)
		}
		c2 := f.coordinator("w2")
		c2.tick(f.ctx, false) // sees w1's heartbeat 1, session w1-s
		time.Sleep(electFailover - time.Second)
		// w1 crashed and restarts: a new session registers (heartbeat 1
		// again) and claims the item it led under its old session.
		if _, err := f.st.Workers.Register(f.ctx, leases.WorkerRecord{ID: "w1", SessionID: "w1-new"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.Coordinator.ClaimLeader(f.ctx, first.Epoch, "w1", "w1-new"); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			time.Sleep(time.Second)
			f.beat("w2")
			c2.tick(f.ctx, false)
			if c2.IsLeader() || f.leader().SessionID != "w1-new" {
				t.Fatalf("w2 claimed from w1's new session (the old one silent for the failover time): item %+v", f.leader())
			}
		}
	})
}

// failingCompletes refuses CompleteHandoff with a transient error while
// fail is set.
type failingCompletes struct {
	leases.Store
	fail  atomic.Bool
	tries atomic.Int32
}

func (s *failingCompletes) CompleteHandoff(ctx context.Context, key, from string) (leases.Lease, error) {
	s.tries.Add(1)
	if s.fail.Load() {
		return leases.Lease{}, errInjected
	}
	return s.Store.CompleteHandoff(ctx, key, from)
}

// A forced hand-off whose write failed is forced again at the next run,
// not a HandoffTimeout later.
func TestForcedHandoffRetriedAfterAFailedWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newElectFleet(t)
		for _, id := range []string{"w1", "w2", "w3"} {
			f.register(id)
		}
		f.lease("shard-0", "w1")
		l, err := f.st.Leases.Get(f.ctx, "shard-0")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.st.Leases.StartHandoff(f.ctx, l, "w2"); err != nil {
			t.Fatal(err)
		}
		store := &failingCompletes{Store: f.st.Leases}
		store.fail.Store(true)
		c := f.coordinatorWith("w3", func(c *CoordinatorConfig) { c.Leases = store })
		start := time.Now()
		for store.tries.Load() == 0 {
			if time.Since(start) > 2*electFailover {
				t.Fatal("the leader never forced the hand-off")
			}
			f.beat("w1", "w2", "w3")
			c.tick(f.ctx, false)
			time.Sleep(time.Second)
		}
		failed := time.Now()
		store.fail.Store(false)
		for {
			l, err := f.st.Leases.Get(f.ctx, "shard-0")
			if err != nil {
				t.Fatal(err)
			}
			if !l.HandoffPending() {
				break
			}
			if time.Since(failed) > 3*time.Second {
				t.Fatalf("the hand-off is still pending %v after the forcing write failed; want it forced again at the next scans", time.Since(failed))
			}
			f.beat("w1", "w2", "w3")
			c.tick(f.ctx, false)
			time.Sleep(time.Second)
		}
	})
}

// removeCounter fails Remove while fail is set.
type removeCounter struct {
	leases.WorkerStore
	fail atomic.Bool
}

func (s *removeCounter) Remove(ctx context.Context, r leases.WorkerRecord) error {
	if s.fail.Load() {
		return errInjected
	}
	return s.WorkerStore.Remove(ctx, r)
}

// The record of a worker dead for two failover times is removed once it
// owns no unfinished lease (a finished one does not keep it), and a
// removal that failed is tried again at the next run.
func TestDeadWorkerRecordsRemoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newElectFleet(t)
		for _, id := range []string{"w1", "w2"} {
			f.register(id)
		}
		if _, err := f.st.Leases.Create(f.ctx, leases.Lease{Key: "done", Owner: "w2", Checkpoint: consumer.ShardEnd}); err != nil {
			t.Fatal(err)
		}
		workers := &removeCounter{WorkerStore: f.st.Workers}
		workers.fail.Store(true)
		c := f.coordinatorWith("w1", func(c *CoordinatorConfig) { c.Workers = workers })
		gone := func() bool {
			_, err := f.st.Workers.Get(f.ctx, "w2")
			return errors.Is(err, leases.ErrNotFound)
		}
		// w2 is dead from the start; its removal fails until 2.5 failover
		// times have passed, then succeeds.
		start := time.Now()
		for !gone() {
			if time.Since(start) > 4*electFailover {
				t.Fatal("the dead worker's record was never removed")
			}
			if time.Since(start) >= 5*electFailover/2 {
				workers.fail.Store(false)
			}
			f.beat("w1")
			c.tick(f.ctx, false)
			time.Sleep(time.Second)
		}
		took := time.Since(start)
		t.Logf("dead worker's record removed %v after its last heartbeat (removal failing until %v)", took, 5*electFailover/2)
		if took > 5*electFailover/2+electFailover/2+time.Second {
			t.Errorf("removed after %v; want at the first run once removal works (runs are an AssignmentInterval apart)", took)
		}
	})
}

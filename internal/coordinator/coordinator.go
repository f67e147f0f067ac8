package coordinator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/balancer"
	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/kclschema"
	"github.com/shardwise/shardwise/internal/lograte"
	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/internal/mscope"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/metrics"
)

// SessionView is what the coordinator needs of this worker's session.
type SessionView interface {
	ID() string
	// Fence returns an error while the worker may not act (it could not
	// prove it is alive in time).
	Fence() error
}

// CoordinatorConfig configures the election and the leader's loop. It
// takes final values: the scheduler computes every default
// (scheduler.Config), and NewCoordinator only checks them. Every field is
// required unless it says otherwise.
type CoordinatorConfig struct {
	// WorkerID is this worker's id.
	WorkerID string
	// Session is this worker's session.
	Session SessionView
	// Leases, Workers and Coordinator are the three tables.
	Leases      leases.Store
	Workers     leases.WorkerStore
	Coordinator leases.CoordinatorStore
	// FailoverTime: a worker (or leader) whose heartbeat has not changed
	// for this long, on this process's clock, is dead.
	FailoverTime time.Duration
	// ScanInterval is how often the election is checked and, on the
	// leader, the worker table read.
	ScanInterval time.Duration
	// AssignmentInterval is how often the leader reads the lease table and
	// plans, when nothing else prompts it.
	AssignmentInterval time.Duration
	// HandoffTimeout bounds a graceful hand-off: after it, the leader
	// completes the transfer itself.
	HandoffTimeout time.Duration
	// BalanceEvery makes every Nth assignment run balance load variance.
	BalanceEvery int
	// Plan tunes the planner (its zero fields mean the planner's
	// defaults).
	Plan balancer.PlanConfig
	// Logger receives the election's and the leader's logs. Optional.
	Logger zerolog.Logger
	// Metrics receives the leader's metrics; its dimensions (e.g.
	// WorkerIdentifier) are extended with Operation. Optional.
	Metrics *mscope.Scope
	// OnAssign is called after moves were written (for metrics and to wake
	// local discovery). Optional.
	OnAssign func(moves []balancer.Move, applied int)
	// Accept, when set, says which leases the leader may plan for: a lease
	// it rejects (another stream's, or a key this application cannot read)
	// is never assigned, moved or deleted. Optional (every lease).
	Accept func(key string) bool
}

// Coordinator runs leader election on every worker and, on the leader,
// assigns leases. Two leaders at once are harmless: every move is a
// compare-and-set on the lease as the leader read it.
type Coordinator struct {
	cfg  CoordinatorConfig
	log  zerolog.Logger
	warn *lograte.Limiter // repeated warnings (a failing table)

	leader atomic.Bool

	// Owned by the Run goroutine:
	rec        leases.LeaderRecord // last leader item read or written
	watch      sighting            // non-leaders: the leader's worker record as first seen
	watching   bool
	obs        *observer // leader: every worker
	lastAssign time.Time
	runs       int
	handoffs   map[string]time.Time  // lease key -> when the leader first saw its hand-off pending
	assigned   map[string]assignment // lease key -> this leader's direct assignment, until its owner runs it (unstarted.go)
	lostClaim  *leases.LeaderRecord  // the item our last claim failed over (its response may be lost), nil if none
	lastAlive  map[string]bool       // leader: the workers alive at the previous scan
	movesLeft  bool                  // leader: the last run planned moves it could not write; run again at the next scan
	wake       chan struct{}

	mu    sync.Mutex // guards stats
	stats CoordinatorStats

	// legacySettled (Run goroutine): no leader item of an earlier
	// Shardwise version is left under the Java KCL's key (legacy.go).
	legacySettled bool
}

// CoordinatorStats are the leader's running figures.
type CoordinatorStats struct {
	IsLeader         bool
	Workers          int // alive workers seen by the leader
	TotalLeases      int
	ExpiredLeases    int // leases of dead workers found in the last run
	Reassignments    int64
	AssignmentRuns   int64
	LastAssignmentAt time.Time
}

// NewCoordinator validates cfg.
func NewCoordinator(cfg CoordinatorConfig) (*Coordinator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Coordinator{
		cfg:      cfg,
		log:      cfg.Logger,
		warn:     lograte.New(lograte.Interval),
		obs:      newObserver(cfg.FailoverTime),
		handoffs: map[string]time.Time{},
		assigned: map[string]assignment{},
		wake:     make(chan struct{}, 1),
	}, nil
}

func (c CoordinatorConfig) validate() error {
	bad := func(field, format string, args ...any) error {
		return &consumer.ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"WorkerID", c.WorkerID != ""},
		{"Session", c.Session != nil},
		{"Leases", c.Leases != nil},
		{"Workers", c.Workers != nil},
		{"Coordinator", c.Coordinator != nil},
	} {
		if !f.ok {
			return bad(f.name, "is required")
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"FailoverTime", c.FailoverTime},
		{"ScanInterval", c.ScanInterval},
		{"AssignmentInterval", c.AssignmentInterval},
		{"HandoffTimeout", c.HandoffTimeout},
	} {
		if d.v <= 0 {
			return bad(d.name, "%v is not positive", d.v)
		}
	}
	if c.BalanceEvery < 1 {
		return bad("BalanceEvery", "%d is below 1", c.BalanceEvery)
	}
	var pe *consumer.ConfigError
	if err := c.Plan.Validate(); errors.As(err, &pe) {
		return bad("Plan."+pe.Field, "%s", pe.Reason)
	}
	return nil
}

// IsLeader reports whether this worker led at its last check.
func (c *Coordinator) IsLeader() bool { return c.leader.Load() }

// Stats returns the leader's figures.
func (c *Coordinator) Stats() CoordinatorStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.IsLeader = c.IsLeader()
	return s
}

// Wake asks the leader to run an assignment at once.
func (c *Coordinator) Wake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run checks the election every ScanInterval and, while leading, assigns
// leases, until ctx ends.
func (c *Coordinator) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.ScanInterval)
	defer t.Stop()
	for {
		c.tick(ctx, false)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.wake:
			c.tick(ctx, true)
		}
	}
}

// Release gives up leadership (on graceful shutdown), so another worker
// claims it at its next scan instead of after a failover time.
func (c *Coordinator) Release(ctx context.Context) {
	if !c.leader.Swap(false) {
		return
	}
	if err := c.cfg.Coordinator.ReleaseLeader(ctx, c.rec); err != nil && !errors.Is(err, leases.ErrConditionFailed) {
		c.log.Warn().Err(err).Msg("releasing leadership failed; another worker takes over after the failover time")
		return
	}
	c.log.Info().Msg("leadership released")
}

func (c *Coordinator) tick(ctx context.Context, force bool) {
	if ctx.Err() != nil {
		return
	}
	err := c.elect(ctx)
	c.cfg.Metrics.With(metrics.Dimension{Name: metricnames.DimensionOperation, Value: metricnames.OperationLeaderDecider}).
		Success(metricnames.MetricIsLeader, c.IsLeader(), metrics.LevelDetailed)
	if err != nil {
		if ctx.Err() == nil {
			c.warn.Warn(&c.log, "elect").Err(err).Msg("leader election check failed")
		}
		return
	}
	if !c.IsLeader() {
		return
	}
	if err := c.lead(ctx, force); err != nil && ctx.Err() == nil {
		c.warn.Warn(&c.log, "assign").Err(err).Msg("lease assignment failed; will retry")
	}
}

// elect reads the leader item and claims it when it is free, held by an
// earlier incarnation of this worker, or held by a leader whose heartbeat
// has not changed for the failover time.
func (c *Coordinator) elect(ctx context.Context) error {
	if c.cfg.Session.Fence() != nil {
		// A fenced worker may not lead: it cannot prove it is alive, and
		// others will take over once its heartbeat has stood still.
		if c.leader.Swap(false) {
			c.log.Warn().Msg("stepping down as leader: worker session fenced")
		}
		return nil
	}
	rec, err := c.cfg.Coordinator.GetLeader(ctx)
	if err != nil {
		return err
	}
	c.rec = rec
	lostClaim := c.lostClaim
	c.lostClaim = nil
	mySession := c.cfg.Session.ID()
	switch {
	case rec.Leader == c.cfg.WorkerID && rec.SessionID == mySession:
		if lostClaim != nil && !c.leader.Load() {
			// Our last claim failed, yet the item names this session:
			// the write happened and only its response was lost. Take
			// over as a successful claim does, keeping the evidence
			// about the previous leader (without it, the dead leader's
			// leases wait another failover time).
			c.becomeLeader(rec, *lostClaim, "claimed (response lost)")
			return nil
		}
		c.setLeader(true)
		return nil
	case rec.Leader == "" || rec.Leader == c.cfg.WorkerID:
		// Free, or held by an earlier incarnation of this worker id.
		return c.claim(ctx, rec, "leadership free")
	}
	c.setLeader(false)
	// Watch the leader's worker record: its heartbeat is the leader's
	// liveness, so leadership costs no writes of its own.
	w, err := c.cfg.Workers.Get(ctx, rec.Leader)
	now := time.Now() // when the reading arrived (see lead)
	if errors.Is(err, leases.ErrNotFound) || (err == nil && w.SessionID != rec.SessionID) {
		// The leader deregistered (it shut down) or restarted as a new
		// session that does not lead: nobody is leading.
		return c.claim(ctx, rec, "leader gone")
	}
	if err != nil {
		return err
	}
	if !c.watching || !c.watch.sameBeat(w) {
		c.watch, c.watching = sighting{rec: w, since: now}, true
		return nil
	}
	if now.Sub(c.watch.since) >= c.cfg.FailoverTime {
		return c.claim(ctx, rec, "leader heartbeat stopped")
	}
	return nil
}

func (c *Coordinator) claim(ctx context.Context, prev leases.LeaderRecord, why string) error {
	rec, err := c.cfg.Coordinator.ClaimLeader(ctx, prev.Epoch, c.cfg.WorkerID, c.cfg.Session.ID())
	if errors.Is(err, leases.ErrConditionFailed) {
		return nil // someone else claimed first
	}
	if err != nil {
		// The conditional write may still have happened: elect's next
		// read tells.
		c.lostClaim = &prev
		return err
	}
	c.becomeLeader(rec, prev, why)
	return nil
}

// becomeLeader starts a leadership won by a claim over prev.
func (c *Coordinator) becomeLeader(rec, prev leases.LeaderRecord, why string) {
	c.rec = rec
	c.log.Info().Str("reason", why).Str("previous_leader", prev.Leader).Int64("epoch", rec.Epoch).Msg("became leader")
	// What this worker already observed of the previous leader is
	// evidence the new leader keeps: the dead leader's leases can move
	// without waiting another failover time.
	c.obs = newObserver(c.cfg.FailoverTime)
	if c.watching && c.watch.rec.ID == prev.Leader {
		c.obs.seen[c.watch.rec.ID] = c.watch
	}
	c.watching = false
	c.handoffs = map[string]time.Time{}
	c.assigned = map[string]assignment{}
	c.lastAssign = time.Time{}
	c.lastAlive, c.movesLeft = nil, false
	c.setLeader(true)
}

func (c *Coordinator) setLeader(v bool) {
	if c.leader.Swap(v) != v && !v {
		c.log.Info().Msg("no longer leader")
	}
}

// lead reads the worker table and, when workers died or appeared, when a
// run is due or forced, reads the leases, plans and writes the moves.
func (c *Coordinator) lead(ctx context.Context, force bool) error {
	ws, err := c.cfg.Workers.List(ctx)
	if err != nil {
		return err
	}
	// The readings are stamped when they arrived, never earlier: a
	// heartbeat in them may have been sent at any moment before that, so
	// a stamp taken before a slow read (or before a pause of this
	// process) would age it by the read's duration, and a live worker
	// that has not fenced would be declared dead.
	now := time.Now()
	// Compare with the previous scan's alive set, not with the sightings
	// judged at this scan's now: a worker whose failover time ran out
	// between two scans is dead at both ends of one now, so only the
	// previous scan still counts it alive, and its death must force a run
	// (not wait up to an AssignmentInterval for the periodic one).
	before := c.lastAlive
	c.obs.observeAll(now, ws)
	after := c.aliveSet(now)
	changed := len(before) != len(after)
	for id := range after {
		changed = changed || !before[id]
	}
	if !force && !changed && now.Sub(c.lastAssign) < c.cfg.AssignmentInterval && len(c.handoffs) == 0 && !c.movesLeft {
		c.lastAlive = after
		return nil
	}
	if err := c.assign(ctx, now); err != nil {
		return err // the change still forces the next scan's run
	}
	c.lastAlive = after
	return nil
}

func (c *Coordinator) aliveSet(now time.Time) map[string]bool {
	out := map[string]bool{}
	for id := range c.obs.seen {
		if c.obs.alive(now, id) {
			out[id] = true
		}
	}
	return out
}

// assign runs one assignment in four steps: read a snapshot of the leases
// and of the live workers (snapshot), complete the hand-offs that timed
// out (expireHandoffs, compare-and-set writes), plan on what is left (a
// pure function of the snapshot), write the moves (applyMoves,
// compare-and-set writes), then tidy the tables and report
// (housekeeping).
func (c *Coordinator) assign(ctx context.Context, now time.Time) error {
	snap, err := c.snapshot(ctx, now)
	if err != nil {
		return err
	}
	c.lastAssign = now
	c.runs++
	c.expireHandoffs(ctx, now, snap)
	infos, expired := c.planInput(now, snap)
	c.forgetAssigned(snap)
	cfg := c.cfg.Plan
	cfg.BalanceVariance = c.runs%c.cfg.BalanceEvery == 0
	moves := balancer.Plan(infos, snap.alive, cfg)
	applied := c.applyMoves(ctx, snap.byKey, moves)
	// A move that lost its compare-and-set (a checkpoint bumped the
	// counter each time it was retried) is planned again at the next
	// scan, not an AssignmentInterval later: under traffic a joining
	// worker would otherwise wait a whole interval for its share.
	c.movesLeft = applied < len(moves)
	c.housekeeping(ctx, now, snap, moves, applied, expired)
	c.removeLegacyLeader(ctx)
	return nil
}

// snapshot is what one assignment run reads: every lease, and what the
// live workers' last heartbeats said.
type snapshot struct {
	all   []leases.Lease
	byKey map[string]leases.Lease
	// alive are the live workers that take leases (draining ones left
	// out), as the planner sees them.
	alive    []balancer.WorkerLoad
	draining map[string]bool
	// throughput is each lease's recent KB/s, from its owner's heartbeat.
	throughput map[string]float64
	// running holds, per live worker, the leases its last heartbeat said
	// it runs (LeaseThroughput lists every lease with a consumer, even at
	// 0 KB/s).
	running map[string]map[string]float64
}

// snapshot reads the lease table and takes the live workers' figures from
// the observer. It writes nothing.
func (c *Coordinator) snapshot(ctx context.Context, now time.Time) (snapshot, error) {
	all, err := c.cfg.Leases.List(ctx)
	if err != nil {
		return snapshot{}, err
	}
	if c.cfg.Accept != nil {
		all = slices.DeleteFunc(all, func(l leases.Lease) bool { return !c.cfg.Accept(l.Key) })
	}
	snap := snapshot{
		all:        all,
		byKey:      make(map[string]leases.Lease, len(all)),
		draining:   map[string]bool{},
		throughput: map[string]float64{},
		running:    map[string]map[string]float64{},
	}
	for _, l := range all {
		snap.byKey[l.Key] = l
	}
	for id, s := range c.obs.seen {
		if !c.obs.alive(now, id) {
			continue
		}
		snap.running[id] = s.rec.LeaseThroughput
		for k, v := range s.rec.LeaseThroughput {
			snap.throughput[k] = v
		}
		if s.rec.Draining {
			snap.draining[id] = true
			continue
		}
		maxCPU := 0.0
		if opr := s.rec.OperatingRange[kclschema.MetricCPU]; len(opr) > 0 {
			maxCPU = opr[0]
		}
		cpu := kclschema.LatestCPU(s.rec.Stats)
		if now.Sub(s.since) > c.cfg.FailoverTime*3/4 {
			// Stale: a heartbeat was missed (they come every FailoverTime/2
			// by default), so the figure predates the last moves.
			cpu = -1
		}
		snap.alive = append(snap.alive, balancer.WorkerLoad{ID: id, CPU: cpu, MaxCPU: maxCPU})
	}
	return snap, nil
}

// expireHandoffs completes the pending hand-offs that timed out or whose
// old owner died, and forgets hand-offs no longer pending. A lease it
// completes stays in this run's plan as the snapshot read it, hand-off
// pending: the planner pins it (never moves it) and counts it on its new
// owner, who holds it now. Leases of draining workers are left alone: a
// draining worker hands its leases on itself.
func (c *Coordinator) expireHandoffs(ctx context.Context, now time.Time, snap snapshot) {
	pending := map[string]bool{}
	for _, l := range snap.all {
		if snap.draining[l.Owner] || snap.draining[l.CheckpointOwner] || !l.HandoffPending() {
			continue
		}
		pending[l.Key] = true
		c.expireHandoff(ctx, now, l)
	}
	for k := range c.handoffs {
		if !pending[k] {
			delete(c.handoffs, k)
		}
	}
}

// planInput turns the snapshot into the planner's leases, leaving out the
// leases of draining workers, and counts the leases of dead workers. It
// writes nothing.
func (c *Coordinator) planInput(now time.Time, snap snapshot) (infos []balancer.LeaseInfo, expired int) {
	infos = make([]balancer.LeaseInfo, 0, len(snap.all))
	for _, l := range snap.all {
		if snap.draining[l.Owner] || snap.draining[l.CheckpointOwner] {
			continue
		}
		if l.Owner != "" && !l.IsFinished() && !c.obs.alive(now, l.Owner) {
			expired++
		}
		// A lease a live owner does not run yet (assigned since its last
		// heartbeat) is not moved: a graceful hand-off needs the owner's
		// consumer to finish it, and a consumer that never starts would
		// leave it to the hand-off timeout.
		_, started := snap.running[l.Owner][l.Key]
		notStarted := l.Owner != "" && snap.running[l.Owner] != nil && !started
		if l.Owner != "" && c.obs.alive(now, l.Owner) && snap.running[l.Owner] == nil {
			notStarted = true // the owner runs nothing yet
		}
		// Unless the leader knows better: a lease it assigned itself and
		// the owner has not written since is moved directly (nothing runs
		// it), one the owner has written since runs (unstarted.go).
		if st := c.startStateOf(l); st != startUnknown {
			notStarted = false
		}
		infos = append(infos, balancer.LeaseInfo{
			Key:            l.Key,
			Owner:          l.Owner,
			ThroughputKBps: snap.throughput[l.Key],
			HandoffPending: l.HandoffPending() || notStarted,
			Finished:       l.IsFinished(),
		})
	}
	return infos, expired
}

// applyMoves writes the moves, each a compare-and-set on the lease as the
// snapshot read it, and returns how many succeeded. A move that lost its
// condition is skipped: the lease changed, and the next run plans again.
func (c *Coordinator) applyMoves(ctx context.Context, byKey map[string]leases.Lease, moves []balancer.Move) (applied int) {
	for _, m := range moves {
		if m.Graceful && c.startStateOf(byKey[m.Key]) == startNot {
			m.Graceful = false // nothing runs it: a direct take (unstarted.go)
		}
		if err := c.apply(ctx, byKey[m.Key], m); err != nil {
			if !errors.Is(err, leases.ErrConditionFailed) && !errors.Is(err, leases.ErrNotFound) && ctx.Err() == nil {
				c.warn.Warn(&c.log, "move").Err(err).Str("lease", m.Key).Msg("lease move failed")
			}
			continue
		}
		applied++
		// The leader's one line per move; the workers log the lease's
		// acquisition and loss or hand-off on their side.
		c.log.Info().Str("lease", m.Key).Str("event", "moved").Str("from", m.From).Str("to", m.To).Str("reason", string(m.Reason)).Bool("graceful", m.Graceful).Msg("lease moved")
	}
	return applied
}

// housekeeping ends a run: it deletes the leases and worker records
// nothing needs any more, publishes the run's metrics and stats, and tells
// OnAssign.
func (c *Coordinator) housekeeping(ctx context.Context, now time.Time, snap snapshot, moves []balancer.Move, applied, expired int) {
	c.removeFinishedLeases(ctx, snap.byKey)
	c.removeDeadWorkers(ctx, now, snap.all)
	if m := c.cfg.Metrics; m != nil {
		m = m.With(metrics.Dimension{Name: metricnames.DimensionOperation, Value: metricnames.OperationLeaseAssignmentManager})
		m.Value(metricnames.MetricTotalLeases, float64(len(snap.all)), metrics.UnitCount, metrics.LevelSummary)
		m.Value(metricnames.MetricNumWorkers, float64(len(snap.alive)), metrics.UnitCount, metrics.LevelSummary)
		m.Value(metricnames.MetricExpiredLeases, float64(expired), metrics.UnitCount, metrics.LevelSummary)
		m.Count(metricnames.MetricNumOfLeasesReassignment, int64(applied), metrics.LevelSummary)
	}
	c.mu.Lock()
	c.stats.Workers = len(snap.alive)
	c.stats.TotalLeases = len(snap.all)
	c.stats.ExpiredLeases = expired
	c.stats.Reassignments += int64(applied)
	c.stats.AssignmentRuns++
	c.stats.LastAssignmentAt = now
	c.mu.Unlock()
	if c.cfg.OnAssign != nil && len(moves) > 0 {
		c.cfg.OnAssign(moves, applied)
	}
}

// apply writes one move as a compare-and-set on the lease as read: a
// graceful hand-off when the owner is alive, a direct take otherwise.
func (c *Coordinator) apply(ctx context.Context, l leases.Lease, m balancer.Move) error {
	if l.Key == "" || l.Owner != m.From {
		return fmt.Errorf("shardwise: move of %s from %q does not match the lease read: %w", m.Key, m.From, leases.ErrConditionFailed)
	}
	if m.Graceful {
		return c.startHandoff(ctx, l, m.To)
	}
	taken, err := c.cfg.Leases.Take(ctx, l, m.To)
	if err == nil {
		c.noteAssigned(taken)
	}
	return err
}

// expireHandoff completes a hand-off the old owner did not finish in time
// (or cannot, being dead).
func (c *Coordinator) expireHandoff(ctx context.Context, now time.Time, l leases.Lease) {
	first, ok := c.handoffs[l.Key]
	if !ok {
		c.handoffs[l.Key] = now
		first = now
	}
	oldAlive := c.obs.alive(now, l.CheckpointOwner)
	if oldAlive && now.Sub(first) < c.cfg.HandoffTimeout {
		return
	}
	if _, err := c.cfg.Leases.CompleteHandoff(ctx, l.Key, l.CheckpointOwner); err != nil {
		if !errors.Is(err, leases.ErrConditionFailed) && ctx.Err() == nil {
			c.warn.Warn(&c.log, "force-handoff").Err(err).Str("lease", l.Key).Msg("forcing the hand-off failed")
		}
		return
	}
	delete(c.handoffs, l.Key)
	reason := "timeout"
	if !oldAlive {
		reason = "old owner dead"
	}
	c.log.Warn().Str("lease", l.Key).Str("event", "handoff-forced").Str("old_owner", l.CheckpointOwner).Str("new_owner", l.Owner).Str("reason", reason).Msg("hand-off forced")
}

// removeFinishedLeases deletes the leases of shards processed to SHARD_END
// by the Java KCL's rule, so a Java fleet rolled back to finds the table
// as it would have left it: once every child has a lease whose checkpoint
// is past its start (neither TRIM_HORIZON nor AT_TIMESTAMP) and the
// lease's own parents are gone. Deleting earlier (say once every child is
// owned) is harmless to Shardwise, but a Java worker would then re-create
// the parent and read it again. Nothing needs the parent after that (a
// child waits only for parent leases that exist, and shard sync never
// recreates a lease for a closed shard with a leased descendant), and the
// lease table stays the size of the live shard graph.
func (c *Coordinator) removeFinishedLeases(ctx context.Context, byKey map[string]leases.Lease) {
	for key, l := range byKey {
		if !l.IsFinished() || len(l.ChildShardIDs) == 0 || !parentMayGo(key, l, byKey) {
			continue
		}
		if err := c.cfg.Leases.Delete(ctx, key, l.Counter); err != nil {
			if !errors.Is(err, leases.ErrConditionFailed) && ctx.Err() == nil {
				c.warn.Warn(&c.log, "delete-finished").Err(err).Str("lease", key).Msg("deleting a finished lease failed")
			}
			continue
		}
		c.log.Info().Str("lease", key).Str("event", "deleted").Str("reason", "finished and every child checkpointed past its start").Strs("children", l.ChildShardIDs).Msg("deleted a finished lease")
	}
}

// removeDeadWorkers deletes the records of workers that have been dead for
// two failover times and own no lease any more, so the worker table stays
// the size of the fleet.
func (c *Coordinator) removeDeadWorkers(ctx context.Context, now time.Time, all []leases.Lease) {
	owners := map[string]bool{}
	for _, l := range all {
		if !l.IsFinished() {
			owners[l.Owner] = true
		}
	}
	for _, r := range c.obs.dead(now) {
		s := c.obs.seen[r.ID]
		if owners[r.ID] || now.Sub(s.since) < 2*c.cfg.FailoverTime || r.ID == c.cfg.WorkerID {
			continue
		}
		if err := c.cfg.Workers.Remove(ctx, s.rec); err == nil {
			delete(c.obs.seen, r.ID)
			c.log.Info().Str("dead_worker", r.ID).Msg("removed the record of a dead worker")
		}
	}
}

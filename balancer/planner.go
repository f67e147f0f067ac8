package balancer

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/shardwise/shardwise/consumer"
)

// WorkerLoad is one live worker as the planner sees it.
type WorkerLoad struct {
	// ID is the worker id, as written in leaseOwner. Workers with an empty
	// ID are ignored (empty means "unowned" in the lease table).
	ID string
	// CPU is the worker's utilization in percent (0-100), or -1 when
	// unknown (no figure yet, or the capture failed). NaN, ±Inf and any
	// negative value also mean unknown. When two or more workers report
	// exactly the same figure and no other, the figures are a shared
	// reading (one host) and count as unknown.
	CPU float64
	// MaxCPU is the utilization the worker should not exceed (KCL's
	// operating range, "opr"). Zero, negative, NaN or +Inf mean 100. Only
	// used when load is measured as CPU.
	MaxCPU float64
}

// LeaseInfo is one lease as the planner sees it.
type LeaseInfo struct {
	// Key is the lease key. Keys are expected to be unique; if one repeats,
	// the first occurrence in the input is used and the rest are ignored.
	Key string
	// Owner is the worker named in leaseOwner, "" when unowned. An owner
	// that is not among the live workers is dead.
	Owner string
	// ThroughputKBps is the lease's recent throughput, 0 (or negative, NaN)
	// when unknown.
	ThroughputKBps float64
	// HandoffPending is set while a graceful hand-off is under way
	// (checkpointOwner present). The planner never moves such a lease, not
	// even when Owner is dead: the leader loop's hand-off timeout clears
	// checkpointOwner first, after which the lease is an ordinary orphan.
	HandoffPending bool
	// Finished is set once the shard was processed to SHARD_END. Finished
	// leases are never assigned and do not count towards any worker.
	Finished bool
}

// PlanConfig tunes the planner. The zero value is usable: every zero field
// means its default.
type PlanConfig struct {
	// MaxLeasesForWorker caps the number of (unfinished) leases a worker is
	// given; 0 means unlimited. A worker already above the cap sheds the
	// excess to workers with room on every run; when no worker has room the
	// lease stays where it is, because a shard processed by an over-full
	// worker beats a shard processed by nobody. Default: 0.
	MaxLeasesForWorker int
	// ThresholdPercent is how far above the fleet average a worker's load
	// must be, relative to that average, before it sheds leases: with 10 a
	// worker sheds when its load exceeds 1.1 × average (KCL's
	// reBalanceThresholdPercentage semantics). Relative rather than
	// percentage points because the same rule must also work when load is
	// measured in KB/s. In CPU mode a worker must in addition be at least
	// one percentage point above the average, so an idle fleet does not
	// shuffle leases over sampling noise. Default: 10.
	ThresholdPercent float64
	// DampeningPercent is the share of a worker's excess load (over the
	// average, or over its MaxCPU) that one run moves away. Below 100 the
	// fleet approaches balance geometrically instead of overshooting,
	// which matters because load figures lag the moves. Validate refuses
	// values outside [0, 100]; Plan treats values above 100 as 100.
	// Default: 60.
	DampeningPercent float64
	// BalanceVariance turns on load balancing for this run. The leader sets
	// it every Nth run (KCL: every 3rd) so that CPU figures have caught up
	// with the previous run's moves before they are acted on again. Lease
	// counts are balanced on every run regardless (in count mode), since
	// they are exact the moment a move is written. Default: false.
	BalanceVariance bool
}

const (
	// defaultThresholdPercent is KCL's reBalanceThresholdPercentage.
	defaultThresholdPercent = 10
	// defaultDampeningPercent is KCL's dampeningPercentage.
	defaultDampeningPercent = 60
	// defaultMaxCPU is the operating limit of a worker that names none.
	defaultMaxCPU = 100
)

// Validate reports every configuration value that is out of range, each as
// a *consumer.ConfigError naming the PlanConfig field (joined with
// errors.Join when several are; errors.As finds the first). Plan itself
// never fails: it falls back to defaults for such values.
func (c PlanConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &consumer.ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if c.MaxLeasesForWorker < 0 {
		bad("MaxLeasesForWorker", "%d is negative (0 means unlimited)", c.MaxLeasesForWorker)
	}
	if math.IsNaN(c.ThresholdPercent) || c.ThresholdPercent < 0 || math.IsInf(c.ThresholdPercent, 0) {
		bad("ThresholdPercent", "%v must be a finite value >= 0 (0 means %d)", c.ThresholdPercent, defaultThresholdPercent)
	}
	if math.IsNaN(c.DampeningPercent) || c.DampeningPercent < 0 || c.DampeningPercent > 100 {
		bad("DampeningPercent", "%v must be in [0, 100] (0 means %d)", c.DampeningPercent, defaultDampeningPercent)
	}
	return errors.Join(errs...)
}

func (c PlanConfig) normalized() PlanConfig {
	if c.MaxLeasesForWorker < 0 {
		c.MaxLeasesForWorker = 0
	}
	if !(c.ThresholdPercent > 0) || math.IsInf(c.ThresholdPercent, 0) {
		c.ThresholdPercent = defaultThresholdPercent
	}
	if !(c.DampeningPercent > 0) {
		c.DampeningPercent = defaultDampeningPercent
	}
	if c.DampeningPercent > 100 {
		c.DampeningPercent = 100
	}
	return c
}

// Reason says why the planner moves a lease.
type Reason string

const (
	// ReasonUnassigned: the lease had no owner.
	ReasonUnassigned Reason = "unassigned"
	// ReasonOwnerDead: the lease's owner is not among the live workers.
	ReasonOwnerDead Reason = "owner-dead"
	// ReasonRebalanceLoad: the owner's load is above the fleet average by
	// more than the threshold, or above its MaxCPU (BalanceVariance runs).
	ReasonRebalanceLoad Reason = "rebalance-load"
	// ReasonRebalanceCount: without load figures, the owner holds at least
	// two leases more than another worker.
	ReasonRebalanceCount Reason = "rebalance-count"
	// ReasonOverMax: the owner holds more than MaxLeasesForWorker.
	ReasonOverMax Reason = "over-max"
)

// Move is one change of ownership the leader should write.
type Move struct {
	// Key is the lease's key.
	Key string
	// From is the lease's leaseOwner exactly as given to Plan: "" for an
	// unowned lease, the dead worker's id for an orphaned one. The leader
	// conditions its compare-and-set on it, so it must be the observed
	// value rather than "" for a dead owner.
	From string
	// To is a live worker; never empty, never equal to From.
	To string
	// Graceful is true when From is alive: the move is a hand-off
	// (leaseOwner = To, checkpointOwner = From). False for unowned leases
	// and leases of dead workers, which are taken over directly.
	Graceful bool
	// Reason says why the planner moves the lease.
	Reason Reason
}

// String describes the move for logs and test failures.
func (m Move) String() string {
	g := ""
	if m.Graceful {
		g = " graceful"
	}
	return fmt.Sprintf("%s: %q -> %q (%s%s)", m.Key, m.From, m.To, m.Reason, g)
}

// Plan decides which leases change owner. It is a pure function of its
// arguments: it does not modify them, and the same input (in any order)
// gives the same moves in the same order. Each lease appears in at most one
// move.
//
// The run has four steps, in this order because each is more urgent than
// the next (the moves come out in that order too, so a leader interrupted
// half-way through applying them has done the urgent ones):
//
//  1. Orphans — unowned leases and leases of dead workers — go to the live
//     workers with most headroom, while any has room under
//     MaxLeasesForWorker; the rest stay unassigned.
//  2. A worker holding more than MaxLeasesForWorker hands the excess to
//     workers with room.
//  3. A worker that held nothing when the run began (it joined,
//     restarted, or its leases ended) is given its share at once, on
//     every run and undampened, from the workers holding most: its share
//     of the throughput in throughput mode, of the leases in CPU mode
//     (count mode does the same in step 4).
//  4. Balancing. In count mode (no worker has a CPU figure and no lease a
//     throughput), on every run, leases move one at a time from the
//     worker holding most to the one holding fewest until the spread is at
//     most one; this is the minimum number of moves that reaches that
//     spread. In load mode, only when cfg.BalanceVariance is set, workers
//     whose load is above the fleet average by more than ThresholdPercent
//     (or above their MaxCPU) shed DampeningPercent of their excess to
//     workers below the average.
//
// No worker both gives a lease away and receives one in the same run, and a
// lease sitting on a live worker under its cap is only moved by steps 3
// and 4.
//
// Load mode. A worker's load is its CPU figure when at least one live
// worker reports CPU (CPU mode), or else the sum of its leases' throughput
// (throughput mode). Below a load floor the planner is in count mode
// whatever the figures: a fleet averaging under 10% CPU (unless a worker
// is above its MaxCPU), or under 100 KB/s of throughput per worker. There
// loads cost nothing worth a hand-off pause and a relative threshold is
// inside the sampling noise, so quiet streams see no load moves. Leases with unknown throughput weigh the mean of the
// known ones. In CPU mode the planner projects the effect of each move with
// the worker's CPU per KB/s (its CPU over the throughput it holds), falling
// back to the fleet's CPU per KB/s for a worker that holds nothing; a
// worker with no CPU figure in a mixed fleet is estimated at the fleet's
// CPU per KB/s times what it holds. If no worker with a CPU figure holds
// any lease, CPU says nothing about what a lease costs, and throughput mode
// is used.
//
// Convergence. A load move happens only if the receiver is projected to
// end strictly below the donor's current load, so every move lowers the
// larger of the two loads it touches, and the fleet's loads, sorted in
// decreasing order, go down lexicographically: repeated runs cannot cycle.
// That holds for the real loads too as long as the projection does not
// underestimate what a lease costs a receiver. CPU over throughput does not
// (a host's baseline only inflates it), except for a worker that holds
// nothing, which is assumed to cost the fleet's average per KB/s; load
// balancing therefore never takes a worker's last lease, so that guess is
// made at most once per worker. Where CPU follows throughput the fleet
// settles in a few runs, dampening shrinking the excess geometrically (3
// runs from 90/30/30 to 50/50/50). A donor whose CPU is mostly baseline
// cannot be told apart in one snapshot: it gives a dampened step per run
// for as long as it stays above the line, so the runs needed grow with its
// leases. The fuzz test holds every fleet to a fixed point within
// 10 + (number of leases) runs.
//
// Cost: O(L log L + W log W + M log W) for L leases, W workers and M moves.
func Plan(leases []LeaseInfo, alive []WorkerLoad, cfg PlanConfig) []Move {
	p := newPlanner(leases, alive, cfg.normalized())
	if p == nil {
		return nil
	}
	p.assignOrphans()
	p.shedOverMax()
	p.fillNewWorkers()
	switch {
	case p.mode == modeCount:
		p.balanceCounts()
	case p.cfg.BalanceVariance:
		p.balanceLoad()
	}
	return p.moves
}

type planMode int

const (
	// modeCount: no load figures at all; balance lease counts.
	modeCount planMode = iota
	// modeThroughput: load is the sum of held throughput (KB/s).
	modeThroughput
	// modeCPU: load is CPU percent, projected through throughput.
	modeCPU
)

type leaseState uint8

const (
	stOrphan   leaseState = iota // unowned or owner dead: to assign
	stHeld                       // on a live worker, free to move
	stPinned                     // hand-off pending: never moved
	stFinished                   // SHARD_END: ignored
)

type pLease struct {
	src   int32 // index in Plan's leases argument (Key, Owner)
	owner int32 // index of the live owner in planner.workers, -1 if none
	units float64
	state leaseState
	moved bool
}

type pWorker struct {
	id      string
	cpu     float64 // < 0: unknown
	maxLoad float64 // +Inf outside CPU mode
	load    float64 // projected load after the moves so far
	k       float64 // load per unit of throughput
	count   int     // unfinished leases held, pinned ones included
	units   float64 // throughput held (unknown leases weigh the mean), pinned ones included
	fresh   bool    // held no unfinished lease when the run began (joined, restarted, or its leases ended)
	ck      float64 // CPU per unit for the load-floor guard; 0 without a CPU figure
	movable []int32 // indices of stHeld leases not moved yet, in key order until sorted
	sorted  bool    // movable is in sortMovable's order
	gained  bool    // received a lease in this run
	lost    bool    // gave a lease away gracefully in this run
	pos     [2]int  // index in the heap using each slot, -1 when in none
}

type planner struct {
	in      []LeaseInfo
	cfg     PlanConfig
	mode    planMode
	max     int // MaxLeasesForWorker, 0 = unlimited
	leases  []pLease
	orphans []int32
	workers []*pWorker
	moves   []Move
	// The load-floor guard (keepsFloorSide): in a fleet with CPU figures,
	// the projected sum and count of the measured workers' CPU, and which
	// side of cpuLoadFloor the run began on.
	guard      bool
	cpuSum     float64
	cpuN       int
	belowFloor bool
}

// kClamp bounds a worker's CPU per KB/s to within this factor of the
// fleet's. A worker whose CPU is mostly baseline and which holds a trickle
// of throughput would otherwise look enormously expensive per KB/s, and
// one reporting 0% while holding leases would look free and absorb every
// orphan. Hosts in one fleet differ by less than this (a 2-core and a
// 16-core instance by about 8x).
const kClamp = 10

// cpuNoiseFloor is the least excess, in CPU percentage points, that makes a
// worker shed load. At a fleet average of a few percent a relative
// threshold alone reacts to sampling noise, and each move costs a hand-off
// pause.
const cpuNoiseFloor = 1.0

// cpuLoadFloor is the fleet's mean CPU, in percent, below which the
// planner balances lease counts only. Below 10% no worker is near its
// limit, so moving a lease buys nothing while it costs a hand-off pause;
// and there a relative threshold is a band of a point or two, inside the
// sampling noise, which is how the Java KCL moves leases back and forth on
// quiet streams (its issue 1814). A worker above its MaxCPU keeps load
// balancing on whatever the mean.
const cpuLoadFloor = 10.0

// throughputLoadFloor is the mean throughput per worker, in KB/s, below
// which the planner balances lease counts only: a tenth of one shard's
// write limit (1 MB/s). That much costs a worker a rounding error of one
// core (the throughput bench decodes hundreds of MB/s per core), and a
// quiet shard's figure jumps with every batch it happens to read, so
// balancing on it would move leases over noise.
const throughputLoadFloor = 100.0

// newPlanner builds the planner's view of one run, in four passes: the
// live workers (liveWorkers), the leases in key order (keyOrder), each
// lease's state and what each worker holds (classifyLeases), then each
// worker's units and movable leases (collectHoldings) and finally the load
// mode with each worker's load (setLoads). It returns nil when no worker is
// alive.
func newPlanner(in []LeaseInfo, alive []WorkerLoad, cfg PlanConfig) *planner {
	ws := liveWorkers(alive)
	if len(ws) == 0 {
		return nil
	}
	p := &planner{in: in, cfg: cfg, max: cfg.MaxLeasesForWorker, workers: ws}
	c := p.classifyLeases(keyOrder(in))
	units := p.collectHoldings(c)
	p.setLoads(units, c.knownSum)
	for _, w := range ws {
		w.fresh = w.count == 0
	}
	return p
}

// liveWorkers turns the live workers into planner workers sorted by id,
// dropping empty ids and repeats (the first occurrence of an id wins), with
// unknown CPU figures as -1 and a missing MaxCPU as defaultMaxCPU.
func liveWorkers(alive []WorkerLoad) []*pWorker {
	ws := make([]*pWorker, 0, len(alive))
	for i := range alive {
		a := &alive[i]
		if a.ID == "" {
			continue
		}
		cpu := a.CPU
		if !(cpu >= 0) || math.IsInf(cpu, 0) {
			cpu = -1
		}
		maxCPU := a.MaxCPU
		if !(maxCPU > 0) || math.IsInf(maxCPU, 1) {
			maxCPU = defaultMaxCPU
		}
		ws = append(ws, &pWorker{id: a.ID, cpu: cpu, maxLoad: maxCPU, pos: [2]int{-1, -1}})
	}
	// Stable sort then drop repeats, so the first occurrence of an id wins
	// and everything after depends only on ids, not on input order.
	slices.SortStableFunc(ws, func(a, b *pWorker) int { return strings.Compare(a.id, b.id) })
	ws = slices.CompactFunc(ws, func(a, b *pWorker) bool { return a.id == b.id })
	if identicalCPU(ws) {
		for _, w := range ws {
			w.cpu = -1
		}
	}
	return ws
}

// identicalCPU reports whether two or more workers report CPU and every
// figure is the same: a reading shared by the fleet (the host's, on one
// host without cgroup limits, or a LoadSampler reading something common)
// says nothing about which worker is busier, and taken as CPU it makes
// any fleet look balanced. Such figures are treated as unknown.
// Independent measurements are never exactly equal, so a real CPU
// signal is not lost this way.
func identicalCPU(ws []*pWorker) bool {
	n := 0
	var first float64
	for _, w := range ws {
		if w.cpu < 0 {
			continue
		}
		if n > 0 && w.cpu != first {
			return false
		}
		first = w.cpu
		n++
	}
	return n >= 2
}

// keyOrder returns the indices of in sorted by lease key, repeated keys in
// input order.
func keyOrder(in []LeaseInfo) []int32 {
	order := make([]int32, len(in))
	for i := range order {
		order[i] = int32(i)
	}
	// The leader usually lists leases in key order already; checking is
	// cheaper than sorting 10,000 strings again.
	if !slices.IsSortedFunc(in, func(a, b LeaseInfo) int { return strings.Compare(a.Key, b.Key) }) {
		// Ties (repeated keys) by position, so the first occurrence wins;
		// a total order lets the faster unstable sort be deterministic.
		slices.SortFunc(order, func(a, b int32) int {
			if c := strings.Compare(in[a].Key, in[b].Key); c != 0 {
				return c
			}
			return int(a - b)
		})
	}
	return order
}

// classified is what classifyLeases counts for the passes after it.
type classified struct {
	knownSum  float64 // sum of the known throughputs
	knownN    int     // leases with a known throughput
	nMovable  int     // stHeld leases
	nOrphans  int     // stOrphan leases
	movableOf []int   // stHeld leases per worker
}

// classifyLeases is the first pass over the leases, in key order, keeping
// the first of repeated keys: each lease's state, what each worker holds,
// and the known throughputs whose mean stands in for unknown ones.
func (p *planner) classifyLeases(order []int32) classified {
	in, ws := p.in, p.workers
	byID := make(map[string]int32, len(ws))
	for i, w := range ws {
		byID[w.id] = int32(i)
	}
	c := classified{movableOf: make([]int, len(ws))}
	p.leases = make([]pLease, 0, len(in))
	for n, idx := range order {
		l := &in[idx]
		if n > 0 && l.Key == in[order[n-1]].Key {
			continue
		}
		pl := pLease{src: idx, owner: -1}
		if l.Owner != "" {
			if i, ok := byID[l.Owner]; ok {
				pl.owner = i
			}
		}
		switch {
		case l.Finished:
			pl.state = stFinished
		case l.HandoffPending:
			pl.state = stPinned
		case pl.owner >= 0:
			pl.state = stHeld
			c.nMovable++
			c.movableOf[pl.owner]++
		default:
			pl.state = stOrphan
			c.nOrphans++
		}
		if pl.state != stFinished {
			if pl.owner >= 0 {
				ws[pl.owner].count++
			}
			if tp := l.ThroughputKBps; tp > 0 && !math.IsInf(tp, 0) {
				pl.units = tp
				c.knownSum += tp
				c.knownN++
			}
		}
		p.leases = append(p.leases, pl)
	}
	return c
}

// collectHoldings is the second pass: it fills in unknown throughput,
// lists the orphans and each worker's movable leases (carved out of one
// allocation), and returns the units each worker holds.
func (p *planner) collectHoldings(c classified) []float64 {
	ws := p.workers
	unknownUnits := 1.0
	if c.knownN > 0 {
		unknownUnits = c.knownSum / float64(c.knownN)
	}
	backing := make([]int32, 0, c.nMovable)
	for i, w := range ws {
		n := c.movableOf[i]
		w.movable, backing = backing[:0:n], backing[n:n]
	}
	p.orphans = make([]int32, 0, c.nOrphans)
	units := make([]float64, len(ws))
	for i := range p.leases {
		l := &p.leases[i]
		if l.state == stFinished {
			continue
		}
		if l.units == 0 {
			l.units = unknownUnits
		}
		switch {
		case l.state == stOrphan:
			p.orphans = append(p.orphans, int32(i))
		case l.owner >= 0: // held, or pinned on a live worker
			w := ws[l.owner]
			units[l.owner] += l.units
			if l.state == stHeld {
				w.movable = append(w.movable, int32(i))
			}
		}
	}
	return units
}

// setLoads picks the load mode and sets each worker's load and
// load-per-unit from the units it holds. knownSum is the sum of the known
// lease throughputs (0 when no lease has a figure).
func (p *planner) setLoads(units []float64, knownSum float64) {
	var cpuSum, cpuUnits, cpuAll float64
	cpuN := 0
	anyCPU, overOpr := false, false
	for i, w := range p.workers {
		w.units = units[i]
		if w.cpu >= 0 {
			anyCPU = true
			cpuAll += w.cpu
			cpuN++
			overOpr = overOpr || w.cpu > w.maxLoad
			if units[i] > 0 {
				cpuSum += w.cpu
				cpuUnits += units[i]
			}
		}
	}
	var kFleet float64
	if cpuUnits > 0 {
		kFleet = cpuSum / cpuUnits
	}
	switch {
	case anyCPU && kFleet > 0:
		p.mode = modeCPU
	case anyCPU || knownSum > 0:
		p.mode = modeThroughput
	default:
		p.mode = modeCount
	}
	// Below the load floor only lease counts matter (see cpuLoadFloor and
	// throughputLoadFloor).
	switch {
	case p.mode == modeCPU && cpuAll/float64(cpuN) < cpuLoadFloor && !overOpr:
		p.mode = modeCount
	case p.mode == modeThroughput && knownSum/float64(len(p.workers)) < throughputLoadFloor:
		p.mode = modeCount
	}
	if anyCPU && kFleet > 0 && !overOpr {
		p.guard, p.cpuSum, p.cpuN = true, cpuAll, cpuN
		p.belowFloor = cpuAll/float64(cpuN) < cpuLoadFloor
		for i, w := range p.workers {
			if w.cpu >= 0 {
				w.ck = kFleet
				if units[i] > 0 {
					w.ck = min(max(w.cpu/units[i], kFleet/kClamp), kFleet*kClamp)
				}
			}
		}
	}
	for i, w := range p.workers {
		switch {
		case p.mode != modeCPU:
			w.k, w.load, w.maxLoad = 1, units[i], math.Inf(1)
		case w.cpu < 0:
			// Mixed fleet: no figure for this one, so assume it costs what
			// the measured part of the fleet costs per KB/s.
			w.k, w.load = kFleet, kFleet*units[i]
		case units[i] > 0:
			w.k, w.load = min(max(w.cpu/units[i], kFleet/kClamp), kFleet*kClamp), w.cpu
		default:
			w.k, w.load = kFleet, w.cpu
		}
	}
}

// sortMovable orders a donor's movable leases for load mode, largest first
// (ties in key order): balancing walks them in this order, and over-max
// shedding pops the smallest off the end. It is done only for workers that
// actually give, which in a settled fleet is none.
func (p *planner) sortMovable(w *pWorker) {
	if p.mode == modeCount || w.sorted {
		return
	}
	w.sorted = true
	slices.SortFunc(w.movable, func(a, b int32) int {
		if c := -cmpFloat(p.leases[a].units, p.leases[b].units); c != 0 {
			return c
		}
		return int(a - b)
	})
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (p *planner) hasRoom(w *pWorker) bool { return p.max == 0 || w.count < p.max }

// keepsFloorSide reports whether moving lease li from one worker to
// another keeps the fleet's projected mean CPU on the side of the load
// floor the run began on. Balancing moves that would cross it are not
// made: the next run would balance the other way (counts below the floor,
// CPU above it) and undo them, for as long as the fleet sits at the floor
// (workers that cost more per lease than others move the mean as leases
// move). Without CPU figures the mean cannot move and every move keeps
// its side.
func (p *planner) keepsFloorSide(li int32, from, to *pWorker) bool {
	if !p.guard {
		return true
	}
	u := p.leases[li].units
	sum := p.cpuSum - from.ck*u + to.ck*u
	return (sum/float64(p.cpuN) < cpuLoadFloor) == p.belowFloor
}

// move records a move of lease li to w and updates the projection.
func (p *planner) move(li int32, from, to *pWorker, reason Reason) {
	l := &p.leases[li]
	l.moved = true
	if from != nil {
		p.cpuSum -= from.ck * l.units
	}
	p.cpuSum += to.ck * l.units
	if from != nil {
		from.count--
		from.load -= from.k * l.units
		from.lost = true
	}
	if from != nil {
		from.units -= l.units
	}
	to.count++
	to.units += l.units
	to.load += to.k * l.units
	to.gained = true
	src := &p.in[l.src]
	p.moves = append(p.moves, Move{Key: src.Key, From: src.Owner, To: to.id, Graceful: from != nil, Reason: reason})
}

// byFewest orders receivers in count mode.
func byFewest(a, b *pWorker) bool {
	if a.count != b.count {
		return a.count < b.count
	}
	return a.id < b.id
}

// byHeadroom orders receivers in load mode: most room under MaxCPU first
// (lowest load outside CPU mode, where maxLoad is +Inf for all), then fewest
// leases, then id.
func byHeadroom(a, b *pWorker) bool {
	ha, hb := a.maxLoad-a.load, b.maxLoad-b.load
	if math.IsInf(a.maxLoad, 1) && math.IsInf(b.maxLoad, 1) {
		ha, hb = -a.load, -b.load
	}
	if ha != hb {
		return ha > hb
	}
	return byFewest(a, b)
}

func (p *planner) receiverOrder() func(a, b *pWorker) bool {
	if p.mode == modeCount {
		return byFewest
	}
	return byHeadroom
}

func (p *planner) assignOrphans() {
	if len(p.orphans) == 0 {
		return
	}
	if p.mode != modeCount {
		// Largest first, so the big ones land where there is most room
		// and the small ones even out what is left.
		slices.SortStableFunc(p.orphans, func(a, b int32) int {
			return -cmpFloat(p.leases[a].units, p.leases[b].units)
		})
	}
	h := newWorkerHeap(slotReceiver, len(p.workers), p.receiverOrder())
	for _, w := range p.workers {
		if p.hasRoom(w) {
			h.push(w)
		}
	}
	for _, li := range p.orphans {
		if h.len() == 0 {
			break // capacity exhausted: the rest stay unassigned
		}
		to := h.top()
		reason := ReasonUnassigned
		if p.in[p.leases[li].src].Owner != "" {
			reason = ReasonOwnerDead
		}
		p.move(li, nil, to, reason)
		h.settle(to, p.hasRoom(to))
	}
}

func (p *planner) shedOverMax() {
	if p.max == 0 {
		return
	}
	var donors []*pWorker
	for _, w := range p.workers {
		if w.count > p.max && len(w.movable) > 0 {
			donors = append(donors, w)
		}
	}
	if len(donors) == 0 {
		return
	}
	slices.SortStableFunc(donors, func(a, b *pWorker) int { return b.count - a.count })
	h := newWorkerHeap(slotReceiver, len(p.workers), p.receiverOrder())
	for _, w := range p.workers {
		if p.hasRoom(w) {
			h.push(w)
		}
	}
	for _, d := range donors {
		p.sortMovable(d)
		for d.count > p.max && len(d.movable) > 0 && h.len() > 0 {
			// The end of movable is the largest key in count mode and the
			// smallest lease in load mode: shedding for a count limit
			// should disturb the fleet's load as little as it can.
			li := d.movable[len(d.movable)-1]
			d.movable = d.movable[:len(d.movable)-1]
			to := h.top()
			p.move(li, d, to, ReasonOverMax)
			h.settle(to, p.hasRoom(to))
		}
	}
}

// fillNewWorkers gives each fresh worker (one that held no lease when the
// run began: it joined, restarted or saw its leases end) its share of the
// fleet at once, on every run and undampened, taking leases from the
// workers holding most. In throughput mode the share is of the throughput
// (leases of unknown throughput weigh the mean); in CPU mode it is of the
// leases, because a fresh worker's CPU is its baseline and its cost per
// KB/s unknown, so only counts are comparable (CPU balancing, dampened,
// corrects the rest once it reports figures over what it holds). Not
// dampened: the share moves with the leases, so the projection is as good
// as the figures, and a worker is fresh only once (load balancing never
// takes a worker's last lease). In count mode balanceCounts does the same
// by count on every run.
//
// A lease moves when it brings the fresh worker nearer its share than it
// was (it ends below the share plus half the lease), and only if the fresh
// worker then holds strictly less than the donor held: every move lowers
// the larger of the two holdings it touches, as in load balancing.
func (p *planner) fillNewWorkers() {
	if p.mode == modeCount {
		return
	}
	size := func(li int32) float64 { return p.leases[li].units }
	held := func(w *pWorker) float64 { return w.units }
	if p.mode == modeCPU {
		size = func(int32) float64 { return 1 }
		held = func(w *pWorker) float64 { return float64(w.count) }
	}
	var fresh []*pWorker
	var total float64
	for _, w := range p.workers {
		total += held(w)
		if w.fresh && !w.lost {
			fresh = append(fresh, w)
		}
	}
	if len(fresh) == 0 {
		return
	}
	share := total / float64(len(p.workers))
	eps := share * 1e-9 // float sums of equal leases must not fall short of the share
	donors := newWorkerHeap(slotDonor, len(p.workers), func(a, b *pWorker) bool {
		if ha, hb := held(a), held(b); ha != hb {
			return ha > hb
		}
		return a.id < b.id
	})
	canGive := func(w *pWorker) bool { return !w.fresh && !w.gained && w.count >= 2 && len(w.movable) > 0 }
	for _, w := range p.workers {
		if canGive(w) {
			donors.push(w)
		}
	}
	for _, r := range fresh {
		for held(r) < share-eps && p.hasRoom(r) && donors.len() > 0 {
			d := donors.top()
			p.sortMovable(d)
			pick := -1
			for i, li := range d.movable {
				u := size(li)
				if held(r)+u/2 < share-eps && held(r)+u < held(d)-eps {
					pick = i
					break
				}
			}
			if pick < 0 {
				break
			}
			li := d.movable[pick]
			d.movable = slices.Delete(d.movable, pick, pick+1)
			p.move(li, d, r, ReasonRebalanceLoad)
			donors.settle(d, canGive(d))
		}
	}
}

// balanceCounts moves single leases from the worker holding most to the one
// holding fewest while they differ by two or more. A worker that gave a
// lease only gives again while it is the fullest, and one that received
// only receives again while it is the emptiest, so no worker is on both
// sides and each move is necessary: the count of moves is the minimum for a
// spread of at most one.
func (p *planner) balanceCounts() {
	donors := newWorkerHeap(slotDonor, len(p.workers), func(a, b *pWorker) bool {
		if a.count != b.count {
			return a.count > b.count
		}
		return a.id < b.id
	})
	recv := newWorkerHeap(slotReceiver, len(p.workers), byFewest)
	for _, w := range p.workers {
		if len(w.movable) > 0 && !w.gained {
			donors.push(w)
		}
		if p.hasRoom(w) && !w.lost {
			recv.push(w)
		}
	}
	for donors.len() > 0 && recv.len() > 0 {
		d, r := donors.top(), recv.top()
		// d is the fullest worker that can give and r the emptiest that
		// can take; if they are within one, so is every other pair. (When
		// d == r the difference is 0.)
		if d.count-r.count < 2 {
			return
		}
		li := d.movable[len(d.movable)-1]
		if !r.fresh && !p.keepsFloorSide(li, d, r) {
			return // a fresh worker gets its share whatever the floor
		}
		d.movable = d.movable[:len(d.movable)-1]
		p.move(li, d, r, ReasonRebalanceCount)
		donors.settle(d, len(d.movable) > 0)
		recv.settle(r, p.hasRoom(r))
		recv.remove(d)   // gave: never receives in this run
		donors.remove(r) // received: never gives in this run
	}
}

// balanceLoad sheds load from workers above the threshold line (or above
// their MaxCPU) to workers below the fleet average.
func (p *planner) balanceLoad() {
	var total float64
	for _, w := range p.workers {
		total += w.load
	}
	avg := total / float64(len(p.workers))
	upper := avg * (1 + p.cfg.ThresholdPercent/100)
	if p.mode == modeCPU {
		upper = max(upper, avg+cpuNoiseFloor)
	}
	overOpr := func(w *pWorker) bool { return p.mode == modeCPU && w.load > w.maxLoad }

	var donors []*pWorker
	for _, w := range p.workers {
		if !w.gained && len(w.movable) > 0 && (w.load > upper || overOpr(w)) {
			donors = append(donors, w)
		}
	}
	if len(donors) == 0 {
		return
	}
	slices.SortStableFunc(donors, func(a, b *pWorker) int { return -cmpFloat(a.load, b.load) })
	recv := newWorkerHeap(slotReceiver, len(p.workers), byHeadroom)
	for _, w := range p.workers {
		if !w.lost && w.load < avg && p.hasRoom(w) && !(w.load > upper || overOpr(w)) {
			recv.push(w)
		}
	}
	damp := p.cfg.DampeningPercent / 100
	for _, d := range donors {
		if recv.len() == 0 {
			return
		}
		p.sortMovable(d)
		excess := d.load - avg
		if p.mode == modeCPU {
			excess = max(excess, d.load-d.maxLoad)
		}
		budget := excess * damp
		moved := false
		// Largest leases that still fit the budget first: that covers the
		// excess with the fewest moves.
		for _, li := range d.movable {
			if recv.len() == 0 {
				break
			}
			if c := d.k * p.leases[li].units; c <= budget && p.tryLoadMove(li, d, recv, avg, upper) {
				budget -= c
				moved = true
			}
		}
		// Nothing fits the dampened budget: move the smallest lease anyway
		// if that still lowers the pair's maximum, otherwise a worker whose
		// leases are all big would stay overloaded for ever.
		if !moved && len(d.movable) > 0 && recv.len() > 0 {
			p.tryLoadMove(d.movable[len(d.movable)-1], d, recv, avg, upper)
		}
		d.movable = slices.DeleteFunc(d.movable, func(li int32) bool { return p.leases[li].moved })
	}
}

// tryLoadMove moves lease li from d to the receiver with most headroom if
// that receiver ends strictly below the donor's current load, and either at
// or below the threshold line (it will not be a donor next run) or at or
// below where the donor ends (the move at worst evens the pair out: a donor
// whose leases are all big may still give one, but two workers never swap
// roles). It must also stay within its own MaxCPU.
//
// Strictly below the donor's load is what rules out cycles: every move
// lowers the larger of the two loads it touches, so the fleet's loads,
// sorted in decreasing order, go down lexicographically with every move.
func (p *planner) tryLoadMove(li int32, d *pWorker, recv *workerHeap, avg, upper float64) bool {
	if d.count <= 1 {
		// Never a worker's last lease: its CPU per KB/s is known only
		// while it holds something. Emptied, it would be judged next
		// time by the fleet's average cost, which is the one estimate
		// that can be too optimistic (a slow host) and so the one way
		// runs could move a lease there and back for ever.
		return false
	}
	r := recv.top()
	u := p.leases[li].units
	after := r.load + r.k*u
	if after >= d.load || after > r.maxLoad || (after > upper && after > d.load-d.k*u) || !p.keepsFloorSide(li, d, r) {
		return false
	}
	p.move(li, d, r, ReasonRebalanceLoad)
	recv.settle(r, r.load < avg && p.hasRoom(r))
	return true
}

// Heap slots: a worker can sit in one heap per slot at the same time (count
// balancing keeps every worker in both a donor and a receiver heap).
const (
	slotDonor    = 0
	slotReceiver = 1
)

// workerHeap is a binary heap of workers with removal and re-positioning
// (container/heap would cost an interface call per comparison).
type workerHeap struct {
	slot int
	ws   []*pWorker
	less func(a, b *pWorker) bool
}

func newWorkerHeap(slot, capacity int, less func(a, b *pWorker) bool) *workerHeap {
	return &workerHeap{slot: slot, ws: make([]*pWorker, 0, capacity), less: less}
}

func (h *workerHeap) len() int      { return len(h.ws) }
func (h *workerHeap) top() *pWorker { return h.ws[0] }

// contains also guards against a position left over from an earlier heap
// that used the same slot.
func (h *workerHeap) contains(w *pWorker) bool {
	i := w.pos[h.slot]
	return i >= 0 && i < len(h.ws) && h.ws[i] == w
}

func (h *workerHeap) push(w *pWorker) {
	w.pos[h.slot] = len(h.ws)
	h.ws = append(h.ws, w)
	h.up(len(h.ws) - 1)
}

// remove takes w out of the heap; a no-op when w is not in it.
func (h *workerHeap) remove(w *pWorker) {
	if !h.contains(w) {
		return
	}
	i := w.pos[h.slot]
	last := len(h.ws) - 1
	if i != last {
		h.swap(i, last)
	}
	h.ws = h.ws[:last]
	w.pos[h.slot] = -1
	if i != last && !h.down(i) {
		h.up(i)
	}
}

// settle re-positions w after its key changed, or removes it when it no
// longer qualifies.
func (h *workerHeap) settle(w *pWorker, keep bool) {
	if !h.contains(w) {
		return
	}
	if !keep {
		h.remove(w)
		return
	}
	if i := w.pos[h.slot]; !h.down(i) {
		h.up(i)
	}
}

func (h *workerHeap) swap(i, j int) {
	h.ws[i], h.ws[j] = h.ws[j], h.ws[i]
	h.ws[i].pos[h.slot] = i
	h.ws[j].pos[h.slot] = j
}

func (h *workerHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(h.ws[i], h.ws[parent]) {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

func (h *workerHeap) down(i int) bool {
	start := i
	n := len(h.ws)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && h.less(h.ws[r], h.ws[l]) {
			c = r
		}
		if !h.less(h.ws[c], h.ws[i]) {
			break
		}
		h.swap(i, c)
		i = c
	}
	return i > start
}

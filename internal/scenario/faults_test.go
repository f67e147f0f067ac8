package scenario_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	dtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/scenario"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/scheduler"
)

// faultKind is what a DynamoDB call does while a fault is on.
type faultKind int

const (
	noFault       faultKind = iota
	throttled               // ProvisionedThroughputExceededException, nothing written
	serverErr               // 500 InternalServerError, nothing written
	timedOut                // hangs until its context ends or timeoutBound, nothing written
	lostReply               // written on the server, the caller sees a reset while reading
	connReset               // reset before the request was sent, nothing written
	expiredIter             // Kinesis: ExpiredIteratorException
	limitExceeded           // Kinesis: LimitExceededException
)

func (k faultKind) String() string {
	return [...]string{"none", "throttling", "5xx", "timeout", "lost response", "connection reset", "ExpiredIterator", "LimitExceeded"}[k]
}

// timeoutBound is how long a timed-out call hangs when its context has no
// earlier deadline: longer than the fencing window.
const timeoutBound = failover

// recoveryBound is how soon after a fault ends every record must be
// processed and every lease owned by a running worker.
const recoveryBound = 3 * failover

// faultErr is the error a faulted call returns, shaped as the SDK shapes
// it (an OperationError around the service or transport error).
func faultErr(kind faultKind, op string) error {
	if svc, name, ok := strings.Cut(op, "."); ok && svc == "Kinesis" {
		return kinesisFaultErr(kind, name)
	}
	var err error
	switch kind {
	case throttled:
		err = &dtypes.ProvisionedThroughputExceededException{Message: aws.String("scenario test: throughput exceeded")}
	case serverErr:
		err = &smithy.GenericAPIError{Code: "InternalServerError", Message: "scenario test: internal server error", Fault: smithy.FaultServer}
	case timedOut:
		err = context.DeadlineExceeded
	case lostReply:
		err = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	case connReset:
		err = &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.ECONNRESET)}
	}
	return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: op, Err: err}
}

// injector decides which store calls fail: while on, every call of one
// of its methods (named "Leases.Checkpoint", "Workers.Heartbeat",
// "Coord.ClaimLeader", ...) by one of its workers ("" = any) fails as its
// kind says. It counts the calls it faulted.
type injector struct {
	on      atomic.Bool
	kind    faultKind
	methods map[string]bool
	worker  string
	hits    atomic.Int64
	// byMethod counts the faulted calls of each method.
	byMethod sync.Map // method -> *atomic.Int64
	// limit, when positive, is how many calls it faults before it lets
	// every call through again.
	limit int64
	// observe, when set, sees every Leases.Checkpoint call and its
	// outcome (after the fault, if any).
	observe func(worker, key string, counter int64, pos consumer.ExtendedSequenceNumber, n int64, err error)
}

// hit reports whether this call is faulted, and counts it.
func (in *injector) hit(worker, method string) bool {
	if in == nil || !in.on.Load() || !in.methods[method] || (in.worker != "" && in.worker != worker) {
		return false
	}
	for {
		h := in.hits.Load()
		if in.limit > 0 && h >= in.limit {
			return false
		}
		if in.hits.CompareAndSwap(h, h+1) {
			n, _ := in.byMethod.LoadOrStore(method, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			return true
		}
	}
}

// call runs real (the call on the store below) or fails it.
func (in *injector) call(ctx context.Context, worker, method string, real func(context.Context) error) error {
	if !in.hit(worker, method) {
		return real(ctx)
	}
	switch in.kind {
	case timedOut:
		if err := sleep(ctx, timeoutBound); err != nil {
			return faultErr(timedOut, method)
		}
		return faultErr(timedOut, method)
	case lostReply:
		if err := real(ctx); err != nil {
			return err
		}
		return faultErr(lostReply, method)
	}
	return faultErr(in.kind, method)
}

type faultLeases struct {
	leases.Store
	id string
	in *injector
}

func (s *faultLeases) Create(ctx context.Context, l leases.Lease) (ok bool, err error) {
	err = s.in.call(ctx, s.id, "Leases.Create", func(ctx context.Context) (e error) { ok, e = s.Store.Create(ctx, l); return e })
	return ok, err
}
func (s *faultLeases) List(ctx context.Context) (out []leases.Lease, err error) {
	err = s.in.call(ctx, s.id, "Leases.List", func(ctx context.Context) (e error) { out, e = s.Store.List(ctx); return e })
	if err != nil {
		return nil, err
	}
	return out, nil
}
func (s *faultLeases) Take(ctx context.Context, l leases.Lease, to string) (out leases.Lease, err error) {
	err = s.in.call(ctx, s.id, "Leases.Take", func(ctx context.Context) (e error) { out, e = s.Store.Take(ctx, l, to); return e })
	if err != nil {
		return leases.Lease{}, err
	}
	return out, nil
}
func (s *faultLeases) StartHandoff(ctx context.Context, l leases.Lease, to string) (out leases.Lease, err error) {
	err = s.in.call(ctx, s.id, "Leases.StartHandoff", func(ctx context.Context) (e error) { out, e = s.Store.StartHandoff(ctx, l, to); return e })
	if err != nil {
		return leases.Lease{}, err
	}
	return out, nil
}
func (s *faultLeases) CompleteHandoff(ctx context.Context, key, old string) (out leases.Lease, err error) {
	err = s.in.call(ctx, s.id, "Leases.CompleteHandoff", func(ctx context.Context) (e error) { out, e = s.Store.CompleteHandoff(ctx, key, old); return e })
	if err != nil {
		return leases.Lease{}, err
	}
	return out, nil
}
func (s *faultLeases) Checkpoint(ctx context.Context, key, owner string, counter int64, pos consumer.ExtendedSequenceNumber) (n int64, err error) {
	err = s.in.call(ctx, s.id, "Leases.Checkpoint", func(ctx context.Context) (e error) {
		n, e = s.Store.Checkpoint(ctx, key, owner, counter, pos)
		return e
	})
	if s.in != nil && s.in.observe != nil {
		s.in.observe(s.id, key, counter, pos, n, err)
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}
func (s *faultLeases) PrepareCheckpoint(ctx context.Context, key, owner string, counter int64, pos consumer.ExtendedSequenceNumber, state []byte) (n int64, err error) {
	err = s.in.call(ctx, s.id, "Leases.PrepareCheckpoint", func(ctx context.Context) (e error) {
		n, e = s.Store.PrepareCheckpoint(ctx, key, owner, counter, pos, state)
		return e
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

type faultWorkers struct {
	leases.WorkerStore
	id string
	in *injector
}

func (s *faultWorkers) Heartbeat(ctx context.Context, r leases.WorkerRecord) (out leases.WorkerRecord, err error) {
	err = s.in.call(ctx, s.id, "Workers.Heartbeat", func(ctx context.Context) (e error) { out, e = s.WorkerStore.Heartbeat(ctx, r); return e })
	if err != nil {
		return leases.WorkerRecord{}, err
	}
	return out, nil
}

type faultCoord struct {
	leases.CoordinatorStore
	id string
	in *injector
}

func (s *faultCoord) GetLeader(ctx context.Context) (out leases.LeaderRecord, err error) {
	err = s.in.call(ctx, s.id, "Coord.GetLeader", func(ctx context.Context) (e error) { out, e = s.CoordinatorStore.GetLeader(ctx); return e })
	if err != nil {
		return leases.LeaderRecord{}, err
	}
	return out, nil
}
func (s *faultCoord) ClaimLeader(ctx context.Context, prev int64, leader, session string) (out leases.LeaderRecord, err error) {
	err = s.in.call(ctx, s.id, "Coord.ClaimLeader", func(ctx context.Context) (e error) {
		out, e = s.CoordinatorStore.ClaimLeader(ctx, prev, leader, session)
		return e
	})
	if err != nil {
		return leases.LeaderRecord{}, err
	}
	return out, nil
}

// faultCluster is a latencyCluster whose workers' store calls pass through
// one injector, above the latency (so a lost response has taken the
// round trip).
type faultCluster struct {
	*latencyCluster
	in *injector
}

func newFaultCluster(t *testing.T, shards int, in *injector) *faultCluster {
	t.Helper()
	lc := &latencyCluster{links: map[string]*link{}}
	var seed uint64
	c, err := scenario.New(scenario.Options{
		Shards:       shards,
		FailoverTime: failover,
		BatchDelay:   batchTime,
		Logger:       zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel),
		Tweak: func(cfg *scheduler.Config) {
			lc.mu.Lock()
			defer lc.mu.Unlock()
			seed++
			l := newLink(seed, 3*time.Millisecond, 12*time.Millisecond, 2*failover)
			lc.links[cfg.WorkerID] = l
			l.wrap(cfg)
			cfg.KinesisClient = &faultKinesis{k: cfg.KinesisClient, id: cfg.WorkerID, in: in}
			// Sync shards often enough for a fault window to meet it.
			cfg.ShardSyncInterval = 5 * time.Second
			// A processor whose checkpoints fail is offered its batch
			// again every 100ms at most: it keeps processing through a
			// fault, as a busy worker does, so only self-fencing stops it
			// before its shards move.
			cfg.ProcessorRetryMaxBackoff = 100 * time.Millisecond
			cfg.Stores = leases.Stores{
				Leases:      &faultLeases{Store: cfg.Stores.Leases, id: cfg.WorkerID, in: in},
				Workers:     &faultWorkers{WorkerStore: cfg.Stores.Workers, id: cfg.WorkerID, in: in},
				Coordinator: &faultCoord{CoordinatorStore: cfg.Stores.Coordinator, id: cfg.WorkerID, in: in},
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	lc.Cluster = c
	t.Cleanup(c.StopAll)
	return &faultCluster{latencyCluster: lc, in: in}
}

// faultCase is one row of the matrix.
type faultCase struct {
	name string
	// DynamoDB: the fault and the store methods it hits; target "leader"
	// or "victim" (a worker not leading) picks one worker when the fault
	// starts, "" hits every worker.
	kind    faultKind
	methods []string
	target  string
	// Kinesis: applied on the fake at the start of the window (nil for
	// none); the window's end clears it.
	kinesis func(c *scenario.Cluster)
	window  time.Duration
	// moves makes the leader move leases during the window (a worker
	// joins), so that hand-offs and takes run under the fault.
	moves bool
	// crashLeader crashes the leader as the fault starts, so that the
	// others elect a new one (and take its leases) under the fault.
	crashLeader bool
	// kop is the Kinesis call the fault hits, to count the hits.
	kop string
	// stallBound, when set, bounds the longest stall of a shard.
	stallBound time.Duration
	// reshard splits every open shard as the fault starts, so that
	// shard ends (SetChildShards, the children's leases, the leader's
	// deletion of finished parents) run under the fault.
	reshard bool
	// stopOne shuts the target worker down gracefully as the fault
	// starts, so that its hand-on and release run under the fault.
	stopOne bool
	// limit, when positive, makes the fault a burst of that many calls.
	limit int64
	// phaseName names the phase the fault hits (the store calls when
	// empty).
	phaseName string
}

func (fc faultCase) phase() string {
	if fc.phaseName != "" {
		return fc.phaseName
	}
	switch fc.kop {
	case "GetRecords":
		return "polling"
	case "ListShards":
		return "shard sync"
	}
	return phaseOf(fc.methods)
}

// calls names the calls the fault hits.
func (fc faultCase) calls() string {
	if fc.kop != "" {
		return "Kinesis." + fc.kop
	}
	return strings.Join(fc.methods, "+")
}

type matrixRow struct {
	fault, phase, target   string
	calls                  string // the calls faulted, each with its hits
	hits                   int64
	produced, distinct     int
	dups                   int
	maxStall, recoveredIn  time.Duration
	overlaps, back, orders int
}

var (
	matrixMu   sync.Mutex
	matrixRows []matrixRow
)

// runFaultCase runs three workers on six shards with a producer, applies
// the fault for its window, clears it, and checks that nothing was lost,
// no checkpoint went back, no shard ran on two workers at once, and the
// cluster recovered: every record processed and every lease owned by a
// running worker within a bounded time after the fault ends.
func runFaultCase(t *testing.T, fc faultCase) {
	in := &injector{kind: fc.kind, methods: map[string]bool{}, limit: fc.limit}
	for _, m := range fc.methods {
		in.methods[m] = true
	}
	c := newFaultCluster(t, 6, in)
	stop := produce(t, c.Cluster)
	ids := []string{"w1", "w2", "w3"}
	if fc.moves {
		ids = ids[:2]
	}
	live := map[string]*scenario.Worker{}
	for _, id := range ids {
		w, err := c.Start(id)
		if err != nil {
			t.Fatal(err)
		}
		live[id] = w
	}
	waitFor(t, 6*failover, "every worker holding leases and a leader", func() bool {
		counts := c.Counts()
		if c.Leader() == "" || counts[""] > 0 {
			return false
		}
		for _, id := range ids {
			if counts[id] == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(failover / 2)
	switch fc.target {
	case "leader":
		in.worker = c.Leader()
	case "victim":
		in.worker = "w1"
		if c.Leader() == "w1" {
			in.worker = "w2"
		}
	}
	start := time.Now()
	if fc.kinesis != nil {
		fc.kinesis(c.Cluster)
	}
	kBefore := 0
	if fc.kop != "" {
		kBefore = c.Fake.Calls(fc.kop)
	}
	in.on.Store(true)
	if fc.reshard {
		if err := c.SplitAllOpen(); err != nil {
			t.Fatal(err)
		}
	}
	if fc.stopOne {
		_ = c.Stop(live[in.worker]) // its hand-on may fail: the point
		delete(live, in.worker)
	}
	if fc.crashLeader {
		leader := c.Leader()
		_ = c.Crash(live[leader]) // a crash's error is the point
		delete(live, leader)
	}
	if fc.moves {
		w, err := c.Start("w3")
		if err != nil {
			t.Fatal(err)
		}
		live["w3"] = w
	}
	time.Sleep(max(fc.window-time.Since(start), 0))
	in.on.Store(false)
	c.Fake.ClearFaults()
	if fc.kop != "" {
		in.hits.Store(int64(c.Fake.Calls(fc.kop) - kBefore))
	}
	end := time.Now()
	time.Sleep(failover / 5)
	stop()
	waitFor(t, 10*failover, "every record processed and every lease owned by a running worker after the fault", func() bool {
		if int64(c.Journal.Distinct()) < c.Produced() {
			return false
		}
		for _, o := range c.Owners() {
			if live[o] == nil {
				return false
			}
		}
		return c.Leader() != "" && live[c.Leader()] != nil
	})
	recovered := time.Since(end)
	// A processor whose checkpoints failed may be in its longest retry
	// backoff (10s by default) when the fault ends; beyond that, a
	// failover time covers a lease move.
	if recovered > recoveryBound {
		t.Errorf("recovered %v after the fault ended, want at most %v", recovered, recoveryBound)
	}

	ivs := func() []scenario.Interval { _, ivs := c.Journal.Snapshot(); return ivs }()
	if v := handoverViolations(ivs, c.Journal.Events()); len(v) > 0 {
		t.Errorf("%d times a shard ran on two workers at once; the first: %v", len(v), v[:min(len(v), 5)])
	}
	r := c.Check()
	if !r.OK() {
		t.Errorf("invariants broken: %s", r)
	}
	if stall := maxStall(ivs, start); fc.stallBound > 0 && stall > fc.stallBound {
		t.Errorf("a shard stalled for %v, want at most %v", stall, fc.stallBound)
	}
	if in.hits.Load() == 0 {
		t.Errorf("the fault never hit a call: the case tests nothing")
	}
	fault := fc.kind.String()
	if fc.kinesis != nil {
		fault = fc.name
	}
	target := fc.target
	if target == "" {
		target = "all"
	}
	row := matrixRow{
		fault: fault, phase: fc.phase(), calls: in.hitsByMethod(fc.calls()), target: target, hits: in.hits.Load(),
		produced: r.Produced, distinct: r.Distinct, dups: r.Duplicates,
		maxStall: maxStall(ivs, start), recoveredIn: recovered,
		overlaps: len(r.Overlaps), back: len(r.CheckpointsBack), orders: len(r.OrderViolations),
	}
	matrixMu.Lock()
	matrixRows = append(matrixRows, row)
	matrixMu.Unlock()
}

// maxStall is the longest gap between two consecutive ProcessRecords
// calls on one shard (whichever workers made them) where the later call
// started at or after since. The producer writes to every shard all the
// time, so a gap is a stall, not an idle shard.
func maxStall(ivs []scenario.Interval, since time.Time) time.Duration {
	byShard := map[string][]scenario.Interval{}
	for _, iv := range ivs {
		byShard[iv.Shard] = append(byShard[iv.Shard], iv)
	}
	var out time.Duration
	for _, list := range byShard {
		sort.Slice(list, func(i, j int) bool { return list[i].Start.Before(list[j].Start) })
		for i := 1; i < len(list); i++ {
			if !list[i].Start.Before(since) {
				out = max(out, list[i].Start.Sub(list[i-1].End))
			}
		}
	}
	return out
}

func kinesisFault(op string, err error) func(c *scenario.Cluster) {
	return func(c *scenario.Cluster) { c.Fake.InjectError(op, "", err, -1) }
}

var (
	heartbeat   = []string{"Workers.Heartbeat"}
	checkpoints = []string{"Leases.Checkpoint", "Leases.PrepareCheckpoint"}
	handoffs    = []string{"Leases.StartHandoff", "Leases.CompleteHandoff", "Leases.Take"}
	election    = []string{"Coord.ClaimLeader"}
	shardSync   = []string{"Leases.List", "Leases.Create"}
)

func faultMatrix() []faultCase {
	var out []faultCase
	long := 2 * failover // past the fencing window and the failover time
	for _, k := range []faultKind{throttled, serverErr, timedOut, lostReply, connReset} {
		out = append(out,
			faultCase{name: k.String() + " on heartbeat", kind: k, methods: heartbeat, target: "victim", window: long},
			faultCase{name: k.String() + " on checkpoint", kind: k, methods: checkpoints, window: long},
		)
	}
	// One worker's heartbeats and checkpoints both fail: its processors
	// are offered the same batch again and again, so only self-fencing
	// stops them before the leader gives their shards away.
	for _, k := range []faultKind{throttled, serverErr, connReset} {
		out = append(out, faultCase{name: k.String() + " on heartbeat and checkpoint", kind: k, methods: append(slices.Clone(heartbeat), checkpoints...), target: "victim", window: long})
	}
	out = append(out,
		faultCase{name: "lost response on hand-off", kind: lostReply, methods: handoffs, window: long, moves: true},
		faultCase{name: "throttling on hand-off", kind: throttled, methods: handoffs, window: long, moves: true},
		// The claim's write happens: the claimer learns it leads from its
		// next read of the item and must still use what it saw of the
		// dead leader, so its leases move about one failover time after
		// the crash, not two.
		faultCase{name: "lost response on leader claim", kind: lostReply, methods: election, window: long, crashLeader: true, stallBound: failover + failover/2},
		faultCase{name: "5xx on leader claim", kind: serverErr, methods: election, window: long, crashLeader: true},
		faultCase{name: "throttling on shard sync", kind: throttled, methods: shardSync, target: "leader", window: long},
		faultCase{name: "expired iterator", kinesis: kinesisFault("GetRecords", &ktypes.ExpiredIteratorException{Message: aws.String("scenario test: iterator expired")}), kop: "GetRecords", window: failover / 2},
		faultCase{name: "throughput storm", kinesis: kinesisFault("GetRecords", &ktypes.ProvisionedThroughputExceededException{Message: aws.String("scenario test: slow down")}), kop: "GetRecords", window: long},
		faultCase{name: "LimitExceeded on ListShards", kinesis: kinesisFault("ListShards", &ktypes.LimitExceededException{Message: aws.String("scenario test: limit")}), kop: "ListShards", window: long},
		faultCase{name: "5xx on GetRecords", kinesis: kinesisFault("GetRecords", &smithy.GenericAPIError{Code: "InternalFailure", Message: "scenario test: internal failure", Fault: smithy.FaultServer}), kop: "GetRecords", window: long},
	)
	return append(out, boundaryFaults()...)
}

// TestFaultMatrix runs each fault at the AWS boundary against the phase
// it hits and checks the cluster's invariants and its recovery; with -v it
// logs the matrix.
func TestFaultMatrix(t *testing.T) {
	matrixMu.Lock()
	matrixRows = nil
	matrixMu.Unlock()
	for _, fc := range faultMatrix() {
		t.Run(fc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { runFaultCase(t, fc) })
		})
	}
	matrixMu.Lock()
	defer matrixMu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "\n| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", "fault", "phase", "calls faulted", "target", "hits", "produced", "lost", "dups", "max stall", "recovered", "overlaps/back/order")
	b.WriteString("|---|---|---|---|--:|--:|--:|--:|--:|--:|---|\n")
	for _, r := range matrixRows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %d | %d | %d | %v | %v | %d/%d/%d |\n", r.fault, r.phase, r.calls, r.target, r.hits, r.produced, r.produced-r.distinct, r.dups,
			r.maxStall.Round(time.Millisecond), r.recoveredIn.Round(time.Millisecond), r.overlaps, r.back, r.orders)
	}
	t.Log(b.String())
}

// checkpointCall is one Leases.Checkpoint call as the worker saw it (n is
// the counter the store returned, even when the caller got an error).
type checkpointCall struct {
	worker, key string
	counter, n  int64
	pos         consumer.ExtendedSequenceNumber
	err         error
	at          time.Time
}

// TestLostCheckpointResponseNextStepIsSafe is the classic case: a
// checkpoint's conditional write succeeds on the server (the lease's
// counter moves on), but the response is lost, so the worker still holds
// the old counter. Its next checkpoint on that lease must either succeed
// with a counter it refreshed or report the lease lost; it must never
// move the checkpoint back, and no record may be lost.
func TestLostCheckpointResponseNextStepIsSafe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var calls []checkpointCall
		in := &injector{kind: lostReply, methods: map[string]bool{"Leases.Checkpoint": true}, limit: 1}
		in.observe = func(worker, key string, counter int64, pos consumer.ExtendedSequenceNumber, n int64, err error) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, checkpointCall{worker: worker, key: key, counter: counter, n: n, pos: pos, err: err, at: time.Now()})
		}
		c := newFaultCluster(t, 4, in)
		stop := produce(t, c.Cluster)
		for _, id := range []string{"w1", "w2"} {
			if _, err := c.Start(id); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, 6*failover, "both workers holding leases", func() bool {
			counts := c.Counts()
			return c.Leader() != "" && counts[""] == 0 && counts["w1"] > 0 && counts["w2"] > 0
		})
		time.Sleep(failover / 2)
		in.worker = "w1"
		in.on.Store(true)
		// The hit is counted when the write is done; the worker sees the
		// error (and observe records it) only after the call's latency.
		waitFor(t, failover, "a checkpoint response lost", func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, cl := range calls {
				if cl.worker == "w1" && cl.err != nil {
					return true
				}
			}
			return false
		})
		if n := in.hits.Load(); n != 1 {
			t.Fatalf("%d checkpoint responses lost, want 1", n)
		}

		// The lost call: written on the server, an error to the worker.
		mu.Lock()
		var lost checkpointCall
		at := -1
		for i, cl := range calls {
			if cl.worker == "w1" && cl.err != nil {
				lost, at = cl, i
				break
			}
		}
		mu.Unlock()
		if at < 0 {
			t.Fatal("no failed checkpoint call observed")
		}
		if lost.n != lost.counter+1 {
			t.Fatalf("lost call: store returned counter %d, want %d (the write must have happened)", lost.n, lost.counter+1)
		}
		stored, err := c.Leases.Get(context.Background(), lost.key)
		if err != nil {
			t.Fatal(err)
		}
		if consumer.Compare(stored.Checkpoint, lost.pos) < 0 {
			t.Fatalf("lease %s checkpoint %v is behind the lost write's %v", lost.key, stored.Checkpoint, lost.pos)
		}

		// The worker's next checkpoint call on the lease.
		var next checkpointCall
		waitFor(t, 2*failover, "w1's next checkpoint on "+lost.key, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, cl := range calls[at+1:] {
				if cl.worker == "w1" && cl.key == lost.key {
					next = cl
					return true
				}
			}
			return false
		})
		t.Logf("lost: %s counter %d -> %d at %v; next: counter %d pos %v err %v", lost.key, lost.counter, lost.n, lost.pos, next.counter, next.pos, next.err)
		switch {
		case next.err == nil:
			if next.counter <= lost.counter {
				t.Errorf("next checkpoint succeeded at the stale counter %d (the lost write made it %d)", next.counter, lost.n)
			}
			if consumer.Compare(next.pos, lost.pos) < 0 {
				t.Errorf("next checkpoint %v is behind the lost write's %v", next.pos, lost.pos)
			}
		case errors.Is(next.err, consumer.ErrLeaseLost):
			// Safe: the worker learns it cannot write, and stops.
		default:
			t.Errorf("next checkpoint failed with %v, want success or consumer.ErrLeaseLost", next.err)
		}

		time.Sleep(failover / 2)
		stop()
		waitFor(t, 6*failover, "every record processed and every lease owned", func() bool {
			if int64(c.Journal.Distinct()) < c.Produced() {
				return false
			}
			for _, o := range c.Owners() {
				if o != "w1" && o != "w2" {
					return false
				}
			}
			return true
		})
		after, err := c.Leases.Get(context.Background(), lost.key)
		if err != nil {
			t.Fatal(err)
		}
		if consumer.Compare(after.Checkpoint, lost.pos) < 0 {
			t.Errorf("lease %s checkpoint %v went behind the lost write's %v", lost.key, after.Checkpoint, lost.pos)
		}
		_, ivs := c.Journal.Snapshot()
		if v := handoverViolations(ivs, c.Journal.Events()); len(v) > 0 {
			t.Errorf("%d times a shard ran on two workers at once; the first: %v", len(v), v[:min(len(v), 5)])
		}
		r := c.Check()
		t.Log(r.String())
		if !r.OK() {
			t.Errorf("invariants broken: %s", r)
		}
	})
}

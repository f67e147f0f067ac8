package scenario

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/crashtest"
	"github.com/shardwise/shardwise/internal/hashkey"
	"github.com/shardwise/shardwise/kinesistest"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/scheduler"
)

// Options configure a Cluster.
type Options struct {
	Shards       int
	FailoverTime time.Duration
	// BatchDelay is how long the processor takes per batch (0 = instant).
	BatchDelay time.Duration
	Logger     zerolog.Logger
	// FanOut runs every worker with enhanced fan-out (SubscribeToShard)
	// instead of polling.
	FanOut bool
	// Tweak adjusts every worker's scheduler config.
	Tweak func(*scheduler.Config)
}

// Cluster is a stream on the Kinesis fake, shared in-memory stores, and the
// workers consuming it.
type Cluster struct {
	opts     Options
	Fake     *kinesistest.Fake
	Leases   leases.Store
	Workers  leases.WorkerStore
	Coord    leases.CoordinatorStore
	Stream   string
	Journal  *Journal
	cpLog    *checkpointLog
	produced atomic.Int64

	mu      sync.Mutex
	running map[string]*Worker
}

// New creates the stream and the stores.
func New(opts Options) (*Cluster, error) {
	if opts.Shards <= 0 {
		opts.Shards = 4
	}
	if opts.FailoverTime <= 0 {
		opts.FailoverTime = 10 * time.Second
	}
	fake, err := kinesistest.New(kinesistest.Config{GetRecordsPerSecond: -1, GetShardIteratorPerSecond: -1})
	if err != nil {
		return nil, err
	}
	st := leases.NewMemoryStores()
	c := &Cluster{
		opts:    opts,
		Fake:    fake,
		Leases:  st.Leases,
		Workers: st.Workers,
		Coord:   st.Coordinator,
		Stream:  "scenario-stream",
		Journal: newJournal(),
		cpLog:   &checkpointLog{byKey: map[string][]consumer.ExtendedSequenceNumber{}},
		running: map[string]*Worker{},
	}
	if err := c.Fake.CreateStream(c.Stream, opts.Shards); err != nil {
		return nil, err
	}
	return c, nil
}

// Worker is one running scheduler.
type Worker struct {
	ID    string
	Sched *scheduler.Scheduler
	part  *partition
	// CPU is the load figure this worker reports (percent, -1 unknown).
	cpu    atomic.Uint64
	cancel context.CancelCauseFunc
	done   chan error
}

// SetCPU sets the CPU figure the worker reports with its heartbeats.
func (w *Worker) SetCPU(pct float64) { w.cpu.Store(math.Float64bits(pct)) }

// Partition cuts the worker off from the stores (on) or reconnects it.
func (w *Worker) Partition(on bool) { w.part.on.Store(on) }

// Start starts a worker with the given id.
func (c *Cluster) Start(id string) (*Worker, error) {
	w := &Worker{ID: id, part: &partition{}, done: make(chan error, 1)}
	w.SetCPU(-1)
	cfg := scheduler.Config{
		ApplicationName: "scenario-app",
		StreamName:      c.Stream,
		InitialPosition: consumer.InitialPositionTrimHorizon,
		KinesisClient:   c.Fake,
		Stores:          leases.Stores{Leases: &leaseStore{Store: c.Leases, p: w.part, log: c.cpLog}, Workers: &workerStore{WorkerStore: c.Workers, p: w.part}, Coordinator: &coordStore{CoordinatorStore: c.Coord, p: w.part}},
		WorkerID:        id,
		Logger:          c.opts.Logger,
		FailoverTime:    c.opts.FailoverTime,
		// Scenario records are small and the fake is local: poll briskly.
		MinGetRecordsInterval: 20 * time.Millisecond,
		IdleTimeBetweenReads:  50 * time.Millisecond,
		ProcessorRetryBackoff: 10 * time.Millisecond,
		ThrottleBackoff:       10 * time.Millisecond,
		LoadSampler:           func() float64 { return math.Float64frombits(w.cpu.Load()) },
		FanOut:                c.opts.FanOut,
	}
	if c.opts.Tweak != nil {
		c.opts.Tweak(&cfg)
	}
	s, err := scheduler.New(cfg, consumer.ProcessorFactoryFunc(func(shard string) consumer.Processor {
		return &processor{c: c, worker: id, shard: shard}
	}))
	if err != nil {
		return nil, err
	}
	w.Sched = s
	ctx, cancel := context.WithCancelCause(context.Background())
	w.cancel = cancel
	go func() { w.done <- s.Run(ctx) }()
	c.mu.Lock()
	c.running[id] = w
	c.mu.Unlock()
	return w, nil
}

// Stop shuts the worker down gracefully and waits for it.
func (c *Cluster) Stop(w *Worker) error { return c.end(w, context.Canceled) }

// Crash stops the worker the way a killed process stops.
func (c *Cluster) Crash(w *Worker) error { return c.end(w, crashtest.ErrCrash) }

func (c *Cluster) end(w *Worker, cause error) error {
	w.cancel(cause)
	err := <-w.done
	c.mu.Lock()
	delete(c.running, w.ID)
	c.mu.Unlock()
	return err
}

// StopAll stops every running worker gracefully.
func (c *Cluster) StopAll() {
	c.mu.Lock()
	ws := make([]*Worker, 0, len(c.running))
	for _, w := range c.running {
		ws = append(ws, w)
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Stop(w)
		}()
	}
	wg.Wait()
}

// Produce writes n records over nKeys keys, payload "key-K:counter".
func (c *Cluster) Produce(n, nKeys int) error {
	first := int(c.produced.Load())
	entries := make([]kinesistest.PutEntry, n)
	for i := range entries {
		ctr := first + i
		k := ctr % nKeys
		entries[i] = kinesistest.PutEntry{PartitionKey: "key-" + strconv.Itoa(k), Data: []byte(fmt.Sprintf("key-%d:%d", k, ctr))}
	}
	if _, err := c.Fake.PutRecords(c.Stream, entries); err != nil {
		return err
	}
	c.produced.Add(int64(n))
	return nil
}

// Produced is the number of records written so far.
func (c *Cluster) Produced() int64 { return c.produced.Load() }

// ProduceEvery writes batch records every interval until ctx ends.
func (c *Cluster) ProduceEvery(ctx context.Context, interval time.Duration, batch, nKeys int) <-chan error {
	done := make(chan error, 1)
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				done <- nil
				return
			case <-t.C:
				if err := c.Produce(batch, nKeys); err != nil {
					done <- err
					return
				}
			}
		}
	}()
	return done
}

// WaitFor polls cond every 10ms until it holds (true) or timeout passes.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// Owners maps each unfinished lease to its owner.
func (c *Cluster) Owners() map[string]string {
	all, _ := c.Leases.List(context.Background())
	out := map[string]string{}
	for _, l := range all {
		if !l.IsFinished() {
			out[l.Key] = l.Owner
		}
	}
	return out
}

// Counts returns how many unfinished leases each worker owns.
func (c *Cluster) Counts() map[string]int {
	out := map[string]int{}
	for _, o := range c.Owners() {
		out[o]++
	}
	return out
}

// Leader returns the id named in the leader item.
func (c *Cluster) Leader() string {
	r, _ := c.Coord.GetLeader(context.Background())
	return r.Leader
}

// DynamoWrites counts the writes made to the three tables so far.
func (c *Cluster) DynamoWrites() int64 {
	// The memory stores count their writes (see leases.NewMemoryStores).
	type leaseWrites interface{ TotalWrites() int }
	type writes interface{ Writes() int64 }
	return int64(c.Leases.(leaseWrites).TotalWrites()) + c.Workers.(writes).Writes() + c.Coord.(writes).Writes()
}

// processor journals every delivery and checkpoints after every batch.
type processor struct {
	c      *Cluster
	worker string
	shard  string
}

func (p *processor) Initialize(context.Context, consumer.InitializationInput) error {
	p.c.Journal.event(p.worker, p.shard, "init")
	return nil
}

func (p *processor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	start := time.Now()
	if d := p.c.opts.BatchDelay; d > 0 {
		time.Sleep(d)
	}
	p.c.Journal.add(p.worker, p.shard, start, time.Now(), in.Records)
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *processor) LeaseLost(context.Context, consumer.LeaseLostInput) {}

func (p *processor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	if err := in.Checkpointer.Checkpoint(ctx); err != nil {
		return err
	}
	p.c.Journal.event(p.worker, p.shard, "end")
	return nil
}

func (p *processor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

// Delivery is one record handed to a processor.
type Delivery struct {
	Worker, Shard string
	Pos           consumer.ExtendedSequenceNumber
	Data          string
	At            time.Time
}

// Interval is one ProcessRecords call.
type Interval struct {
	Worker, Shard string
	Start, End    time.Time
}

// Event is a lifecycle call: "init" (Initialize) or "end" (ShardEnded
// after its SHARD_END checkpoint succeeded).
type Event struct {
	Worker, Shard, Kind string
	At                  time.Time
}

// Journal records every delivery in the order processors reported them.
type Journal struct {
	mu         sync.Mutex
	deliveries []Delivery
	intervals  []Interval
	events     []Event
}

func (j *Journal) event(worker, shard, kind string) {
	j.mu.Lock()
	j.events = append(j.events, Event{Worker: worker, Shard: shard, Kind: kind, At: time.Now()})
	j.mu.Unlock()
}

// Events copies the lifecycle events.
func (j *Journal) Events() []Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Event(nil), j.events...)
}

func newJournal() *Journal { return &Journal{} }

func (j *Journal) add(worker, shard string, start, end time.Time, recs []consumer.Record) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range recs {
		j.deliveries = append(j.deliveries, Delivery{Worker: worker, Shard: shard, Pos: recs[i].Position(), Data: string(recs[i].Data), At: end})
	}
	j.intervals = append(j.intervals, Interval{Worker: worker, Shard: shard, Start: start, End: end})
}

// Snapshot copies the journal.
func (j *Journal) Snapshot() ([]Delivery, []Interval) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Delivery(nil), j.deliveries...), append([]Interval(nil), j.intervals...)
}

// Distinct counts distinct payloads delivered.
func (j *Journal) Distinct() int {
	ds, _ := j.Snapshot()
	seen := map[string]bool{}
	for _, d := range ds {
		seen[d.Data] = true
	}
	return len(seen)
}

// Report is the outcome of the invariant checks.
type Report struct {
	Produced, Distinct, Deliveries int
	Lost                           int
	Duplicates                     int // deliveries beyond the first of a record
	OrderViolations                []string
	Overlaps                       []string
	CheckpointsBack                []string
}

// OK reports whether every invariant held (duplicates are allowed).
func (r Report) OK() bool {
	return r.Lost == 0 && len(r.OrderViolations) == 0 && len(r.Overlaps) == 0 && len(r.CheckpointsBack) == 0
}

func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "produced=%d distinct=%d deliveries=%d lost=%d duplicates=%d order_violations=%d overlaps=%d checkpoints_back=%d",
		r.Produced, r.Distinct, r.Deliveries, r.Lost, r.Duplicates, len(r.OrderViolations), len(r.Overlaps), len(r.CheckpointsBack))
	for _, list := range [][]string{r.OrderViolations, r.Overlaps, r.CheckpointsBack} {
		for i, v := range list {
			if i == 5 {
				fmt.Fprintf(&b, "\n  ... %d more", len(list)-5)
				break
			}
			b.WriteString("\n  " + v)
		}
	}
	return b.String()
}

// Check verifies the invariants over everything journaled:
//   - every produced record was delivered (Lost);
//   - per partition key, records delivered for the first time come in
//     increasing counter order (a repeat after a failover is allowed, a step
//     back to an older unseen record is not);
//   - within a shard, first deliveries follow sequence order;
//   - no two workers' ProcessRecords calls on one shard overlap in time;
//   - no lease's checkpoint ever went backwards.
func (c *Cluster) Check() Report {
	ds, ivs := c.Journal.Snapshot()
	r := Report{Produced: int(c.produced.Load()), Deliveries: len(ds)}
	seen := map[string]bool{}
	lastKey := map[string]int{}
	lastPos := map[string]consumer.ExtendedSequenceNumber{}
	for _, d := range ds {
		if seen[d.Data] {
			r.Duplicates++
			continue
		}
		seen[d.Data] = true
		key, cs, _ := strings.Cut(d.Data, ":")
		n, _ := strconv.Atoi(cs)
		if prev, ok := lastKey[key]; ok && n < prev {
			r.OrderViolations = append(r.OrderViolations, fmt.Sprintf("key %s: %d first processed after %d", key, n, prev))
		}
		lastKey[key] = n
		if p, ok := lastPos[d.Shard]; ok && consumer.Compare(d.Pos, p) < 0 {
			r.OrderViolations = append(r.OrderViolations, fmt.Sprintf("shard %s: %v first processed after %v", d.Shard, d.Pos, p))
		}
		lastPos[d.Shard] = d.Pos
	}
	r.Distinct = len(seen)
	r.Lost = r.Produced - r.Distinct
	if r.Lost < 0 {
		r.Lost = 0
	}
	byShard := map[string][]Interval{}
	for _, iv := range ivs {
		byShard[iv.Shard] = append(byShard[iv.Shard], iv)
	}
	for shard, list := range byShard {
		sort.Slice(list, func(i, j int) bool { return list[i].Start.Before(list[j].Start) })
		for i := 1; i < len(list); i++ {
			prev, cur := list[i-1], list[i]
			if cur.Worker != prev.Worker && cur.Start.Before(prev.End) {
				r.Overlaps = append(r.Overlaps, fmt.Sprintf("shard %s: %s started %v before %s finished", shard, cur.Worker, prev.End.Sub(cur.Start), prev.Worker))
			}
		}
	}
	c.cpLog.mu.Lock()
	r.CheckpointsBack = append(r.CheckpointsBack, c.cpLog.backErr...)
	c.cpLog.mu.Unlock()
	return r
}

// FirstProcessedAfter returns, for each shard, when a worker other than
// exclude first processed it at or after t (zero if never).
func (c *Cluster) FirstProcessedAfter(t time.Time, exclude string) map[string]time.Time {
	_, ivs := c.Journal.Snapshot()
	out := map[string]time.Time{}
	for _, iv := range ivs {
		if iv.Worker == exclude || iv.Start.Before(t) {
			continue
		}
		if cur, ok := out[iv.Shard]; !ok || iv.Start.Before(cur) {
			out[iv.Shard] = iv.Start
		}
	}
	return out
}

// Pauses returns, for every change of the worker processing a shard, the
// time between the old worker's last call ending and the new worker's first
// call starting.
func (c *Cluster) Pauses(since time.Time) []time.Duration {
	_, ivs := c.Journal.Snapshot()
	byShard := map[string][]Interval{}
	for _, iv := range ivs {
		byShard[iv.Shard] = append(byShard[iv.Shard], iv)
	}
	var out []time.Duration
	for _, list := range byShard {
		sort.Slice(list, func(i, j int) bool { return list[i].Start.Before(list[j].Start) })
		for i := 1; i < len(list); i++ {
			if list[i].Worker != list[i-1].Worker && !list[i].Start.Before(since) {
				out = append(out, list[i].Start.Sub(list[i-1].End))
			}
		}
	}
	return out
}

// ChildStart is how long after its last parent ended a child shard was
// initialized, and whether it started on the worker that ended that
// parent.
type ChildStart struct {
	Child      string
	Delay      time.Duration
	SameWorker bool
}

// ChildStarts pairs every child's first Initialize with the latest
// ShardEnded of its parents (from the shard graph of the stream).
func (c *Cluster) ChildStarts() ([]ChildStart, error) {
	shards, err := c.Shards()
	if err != nil {
		return nil, err
	}
	ends := map[string]Event{}
	inits := map[string]Event{}
	for _, e := range c.Journal.Events() {
		switch e.Kind {
		case "end":
			if _, ok := ends[e.Shard]; !ok {
				ends[e.Shard] = e
			}
		case "init":
			if _, ok := inits[e.Shard]; !ok {
				inits[e.Shard] = e
			}
		}
	}
	var out []ChildStart
	for id, parents := range shards {
		init, ok := inits[id]
		if !ok || len(parents) == 0 {
			continue
		}
		var last Event
		for _, p := range parents {
			if e, ok := ends[p]; ok && e.At.After(last.At) {
				last = e
			}
		}
		if last.At.IsZero() {
			continue
		}
		out = append(out, ChildStart{Child: id, Delay: init.At.Sub(last.At), SameWorker: init.Worker == last.Worker})
	}
	return out, nil
}

// Shards maps every shard of the stream to its parents.
func (c *Cluster) Shards() (map[string][]string, error) {
	out := map[string][]string{}
	var token *string
	for {
		in := &kinesis.ListShardsInput{StreamName: aws.String(c.Stream)}
		if token != nil {
			in = &kinesis.ListShardsInput{NextToken: token}
		}
		page, err := c.Fake.ListShards(context.Background(), in)
		if err != nil {
			return nil, err
		}
		for _, sh := range page.Shards {
			var ps []string
			for _, p := range []*string{sh.ParentShardId, sh.AdjacentParentShardId} {
				if aws.ToString(p) != "" {
					ps = append(ps, aws.ToString(p))
				}
			}
			out[aws.ToString(sh.ShardId)] = ps
		}
		if page.NextToken == nil {
			return out, nil
		}
		token = page.NextToken
	}
}

// OpenShards counts the shards that are still open.
func (c *Cluster) OpenShards() (int, error) {
	out, err := c.Fake.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(c.Stream),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
	if err != nil {
		return 0, err
	}
	n := len(out.Shards)
	for out.NextToken != nil {
		if out, err = c.Fake.ListShards(context.Background(), &kinesis.ListShardsInput{NextToken: out.NextToken}); err != nil {
			return 0, err
		}
		n += len(out.Shards)
	}
	return n, nil
}

// LeaseCount is the number of leases in the table, finished ones included.
func (c *Cluster) LeaseCount() int {
	all, _ := c.Leases.List(context.Background())
	return len(all)
}

// AdjacentOpenPairs returns up to n disjoint pairs of open shards whose
// hash ranges touch (candidates for MergeShards).
func (c *Cluster) AdjacentOpenPairs(n int) ([][2]string, error) {
	return c.adjacentOpenPairs(n, nil)
}

// AdjacentOpenPairsOnDifferentWorkers is AdjacentOpenPairs restricted to
// pairs whose leases are held by two different workers, so the merged
// child waits for a parent on another worker.
func (c *Cluster) AdjacentOpenPairsOnDifferentWorkers(n int) ([][2]string, error) {
	owners := c.Owners()
	return c.adjacentOpenPairs(n, func(a, b string) bool { return owners[a] != "" && owners[b] != "" && owners[a] != owners[b] })
}

func (c *Cluster) adjacentOpenPairs(n int, ok func(a, b string) bool) ([][2]string, error) {
	out, err := c.Fake.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(c.Stream),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
	if err != nil {
		return nil, err
	}
	type rng struct {
		id         string
		start, end hashkey.Key
	}
	var open []rng
	for _, sh := range out.Shards {
		r, err := hashkey.ParseRange(aws.ToString(sh.HashKeyRange.StartingHashKey), aws.ToString(sh.HashKeyRange.EndingHashKey))
		if err != nil {
			return nil, err
		}
		open = append(open, rng{aws.ToString(sh.ShardId), r.Start, r.End})
	}
	sort.Slice(open, func(i, j int) bool { return hashkey.Compare(open[i].start, open[j].start) < 0 })
	var pairs [][2]string
	for i := 0; i+1 < len(open) && len(pairs) < n; i++ {
		next, adj := open[i].end.Add1()
		if adj && next == open[i+1].start && (ok == nil || ok(open[i].id, open[i+1].id)) {
			pairs = append(pairs, [2]string{open[i].id, open[i+1].id})
			i++
		}
	}
	return pairs, nil
}

// SplitAllOpen splits every open shard at the middle of its hash range.
func (c *Cluster) SplitAllOpen() error {
	out, err := c.Fake.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(c.Stream),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
	if err != nil {
		return err
	}
	shards := out.Shards
	for out.NextToken != nil {
		if out, err = c.Fake.ListShards(context.Background(), &kinesis.ListShardsInput{NextToken: out.NextToken}); err != nil {
			return err
		}
		shards = append(shards, out.Shards...)
	}
	for _, sh := range shards {
		r, err := hashkey.ParseRange(aws.ToString(sh.HashKeyRange.StartingHashKey), aws.ToString(sh.HashKeyRange.EndingHashKey))
		if err != nil {
			return err
		}
		halves := hashkey.Split(r, 2)
		if len(halves) != 2 {
			continue
		}
		if err := c.Fake.SplitShard(c.Stream, aws.ToString(sh.ShardId), halves[1].Start.String()); err != nil {
			return err
		}
	}
	return nil
}

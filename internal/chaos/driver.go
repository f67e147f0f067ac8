//go:build linux

package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/internal/ddbstore"
	"github.com/shardwise/shardwise/internal/emulator"
)

// Run carries out a schedule against the emulators in opts.Env and
// verifies what the workers processed. The error reports a run that could
// not be carried out (an emulator call failed, a worker would not start);
// a run that was carried out returns its Report, whatever it found.
//
// Every worker is a process group of its own, killed with SIGKILL when Run
// returns, on every path, and by the kernel if the process running Run
// dies first (Pdeathsig).
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	d := &driver{
		opts:  opts,
		kc:    emulator.KinesisClient(opts.Env.Kinesis),
		rng:   rand.New(rand.NewPCG(uint64(opts.Seed), 0x5eed)),
		t0:    Now(),
		procs: map[string]*proc{},
	}
	defer d.killAll()
	return d.run(ctx)
}

// proc is one worker process.
type proc struct {
	name    string // worker#incarnation
	worker  string
	inc     int
	journal string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	err     error         // its exit status, once done
	tail    *tailer
	events  []Event // read from the journal so far
}

type driver struct {
	opts Options
	kc   *kinesis.Client
	rng  *rand.Rand
	t0   int64

	app, stream string

	mu     sync.Mutex
	procs  map[string]*proc // by name, every process ever started
	order  []string         // names in start order
	live   map[string]*proc // by worker id, the current incarnation (nil entry: none running)
	nextID int              // workers started so far (w1, w2, ...)
	faults []Fault

	table   []TableRow
	lastRow map[string]TableRow

	producer *producer
}

func (d *driver) logf(format string, args ...any) {
	if d.opts.Log != nil {
		fmt.Fprintf(d.opts.Log, "chaos: %6.1fs "+format+"\n", append([]any{float64(Now()-d.t0) / 1e9}, args...)...)
	}
}

func (d *driver) run(ctx context.Context) (*Report, error) {
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	d.app, d.stream = "chaos-app-"+suffix, "chaos-"+suffix
	d.live = map[string]*proc{}
	d.lastRow = map[string]TableRow{}
	if err := emulator.CreateStream(ctx, d.kc, d.stream, d.opts.Shards); err != nil {
		return nil, err
	}
	d.logf("stream %s with %d shards; %d workers, FailoverTime %v, %d keys at %d records/s; journals in %s",
		d.stream, d.opts.Shards, d.opts.Workers, d.opts.FailoverTime, d.opts.Keys, d.opts.Rate, d.opts.Dir)
	for range d.opts.Workers {
		if _, err := d.startWorker(""); err != nil {
			return nil, err
		}
	}

	// The producer and the table reader run until the schedule and the
	// drain are over.
	bgCtx, stopBG := context.WithCancel(ctx)
	var bg sync.WaitGroup
	defer func() { stopBG(); bg.Wait() }()
	d.producer = newProducer(d.kc, d.stream, d.opts.Keys, d.opts.Rate)
	prodStop := make(chan struct{})
	prodDone := make(chan struct{})
	var stopOnce sync.Once
	stopProducer := func() {
		stopOnce.Do(func() { close(prodStop) })
		<-prodDone
	}
	defer stopProducer()
	bg.Go(func() {
		defer close(prodDone)
		d.producer.run(bgCtx, prodStop)
	})
	store, err := ddbstore.NewDynamoStore(ddbstore.DynamoConfig{
		Client: emulator.DynamoDBClient(d.opts.Env.DynamoDB), TableName: d.app,
		BillingMode: types.BillingModePayPerRequest, TableWaitTimeout: 30 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	bg.Go(func() { d.pollTable(bgCtx, store) })

	if !d.awaitSteady(ctx) {
		d.logf("not every shard processing after %v; going on", d.opts.SettleTimeout)
	}
	scheduleEnd := time.Now().Add(d.opts.Timeout - d.opts.DrainTimeout - time.Minute)
	for i, step := range d.opts.Schedule {
		if time.Now().After(scheduleEnd) {
			d.logf("time budget spent: %d of %d steps carried out", i, len(d.opts.Schedule))
			break
		}
		if err := d.apply(ctx, i+1, step); err != nil {
			return nil, fmt.Errorf("step %d (%s): %w", i+1, step.Kind, err)
		}
		if !d.awaitSteady(ctx) {
			d.logf("not every shard processing %v after step %d; going on", d.opts.SettleTimeout, i+1)
		}
	}

	// Drain: no more records, then wait until every acknowledged record
	// was processed (or the drain timeout).
	stopProducer()
	produced, putErrs := d.producer.snapshot()
	d.logf("producer stopped: %d records acknowledged, %d failed puts or entries (sent again)", len(produced), putErrs)
	if missing := d.awaitDrained(ctx, produced); missing > 0 {
		d.logf("drain: %d acknowledged records still unprocessed after %v", missing, d.opts.DrainTimeout)
	}

	// Stop every worker gracefully, then read everything.
	d.stopAll()
	stopBG()
	bg.Wait()
	d.readTable(context.WithoutCancel(ctx), store)
	d.refresh()
	shards, err := d.listShards(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	in := Input{Produced: produced, Faults: d.faults, Table: d.table, FencingWindow: d.opts.FailoverTime / 5}
	for _, s := range shards {
		sh := Shard{ID: aws.ToString(s.ShardId)}
		for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if p != nil {
				sh.Parents = append(sh.Parents, *p)
			}
		}
		in.Shards = append(in.Shards, sh)
	}
	d.mu.Lock()
	for _, name := range d.order {
		p := d.procs[name]
		in.Processes = append(in.Processes, Process{Name: p.name, Worker: p.worker, Inc: p.inc, Events: p.events})
	}
	d.mu.Unlock()
	return Verify(in), nil
}

// startWorker starts a worker process: a new incarnation of worker, or
// with worker "" a new worker id.
func (d *driver) startWorker(worker string) (*proc, error) {
	d.mu.Lock()
	if worker == "" {
		d.nextID++
		worker = fmt.Sprintf("w%d", d.nextID)
	}
	inc := 1
	for _, p := range d.procs {
		if p.worker == worker {
			inc = max(inc, p.inc+1)
		}
	}
	d.mu.Unlock()
	name := fmt.Sprintf("%s#%d", worker, inc)
	base := filepath.Join(d.opts.Dir, fmt.Sprintf("%s-%d", worker, inc))
	logFile, err := os.Create(base + ".log")
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(d.opts.WorkerBin,
		"-app", d.app, "-stream", d.stream, "-id", worker, "-incarnation", strconv.Itoa(inc),
		"-journal", base+".journal", "-failover", d.opts.FailoverTime.String(), "-log", d.opts.WorkerLogLevel)
	cmd.Env = append(os.Environ(),
		emulator.EnvKinesis+"="+d.opts.Env.Kinesis,
		emulator.EnvDynamoDB+"="+d.opts.Env.DynamoDB,
	)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A process group of its own, so a signal reaches the worker and
	// anything it started; SIGKILL from the kernel if this process dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting worker %s: %w", name, err)
	}
	p := &proc{name: name, worker: worker, inc: inc, journal: base + ".journal", cmd: cmd, done: make(chan struct{}), tail: &tailer{path: base + ".journal"}}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	d.mu.Lock()
	d.procs[name] = p
	d.order = append(d.order, name)
	d.live[worker] = p
	d.mu.Unlock()
	d.logf("started %s (pid %d)", name, cmd.Process.Pid)
	return p, nil
}

func signalGroup(p *proc, sig syscall.Signal) error {
	err := syscall.Kill(-p.cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

func exited(p *proc) bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// awaitExit waits for p to exit, for at most grace; then kills it.
func awaitExit(p *proc, grace time.Duration) (killed bool) {
	select {
	case <-p.done:
		return false
	case <-time.After(grace):
		_ = signalGroup(p, syscall.SIGKILL)
		<-p.done
		return true
	}
}

// killAll kills every worker process still running (a stopped one too)
// and waits for them.
func (d *driver) killAll() {
	d.mu.Lock()
	var ps []*proc
	for _, p := range d.procs {
		ps = append(ps, p)
	}
	d.mu.Unlock()
	for _, p := range ps {
		if !exited(p) {
			_ = signalGroup(p, syscall.SIGKILL)
		}
	}
	for _, p := range ps {
		<-p.done
	}
}

// stopAll asks every live worker to shut down (SIGTERM) and waits, then
// kills what is left.
func (d *driver) stopAll() {
	d.mu.Lock()
	var ps []*proc
	for _, p := range d.live {
		if p != nil && !exited(p) {
			ps = append(ps, p)
		}
	}
	d.mu.Unlock()
	for _, p := range ps {
		_ = signalGroup(p, syscall.SIGTERM)
	}
	for _, p := range ps {
		if awaitExit(p, 20*time.Second) {
			d.logf("%s did not exit within 20s of SIGTERM; killed", p.name)
		}
	}
	d.logf("workers stopped")
}

// refresh reads what the journals gained since the last call.
func (d *driver) refresh() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.procs {
		evs, err := p.tail.read()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			d.logf("reading %s: %v", p.journal, err)
		}
		p.events = append(p.events, evs...)
	}
}

// openSequences lists, per live process, the shards its processors hold
// (initialized, not ended) as its journal says.
func (d *driver) openSequences() map[string][]string {
	d.refresh()
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string][]string{}
	for w, p := range d.live {
		if p == nil || exited(p) {
			continue
		}
		open := map[int]string{}
		for _, ev := range p.events {
			switch ev.Kind {
			case 'I':
				open[ev.N] = ev.Shard
			case 'E':
				delete(open, ev.N)
			}
		}
		for _, s := range open {
			out[w] = append(out[w], s)
		}
	}
	return out
}

// awaitSteady waits until every open shard has processed a record since
// the call (and at least one failover time has passed, so the fleet has
// had time to rebalance), for at most SettleTimeout.
func (d *driver) awaitSteady(ctx context.Context) bool {
	from := Now()
	sleep(ctx, d.opts.FailoverTime)
	deadline := time.Now().Add(d.opts.SettleTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		shards, err := d.listShards(ctx)
		if err == nil {
			d.refresh()
			recent := map[string]bool{}
			since := from
			d.mu.Lock()
			for _, p := range d.procs {
				for i := len(p.events) - 1; i >= 0 && p.events[i].T > since; i-- {
					if p.events[i].Kind == 'R' {
						recent[p.events[i].Shard] = true
					}
				}
			}
			d.mu.Unlock()
			steady := true
			for _, s := range shards {
				if s.SequenceNumberRange.EndingSequenceNumber == nil && !recent[aws.ToString(s.ShardId)] {
					steady = false
				}
			}
			if steady {
				return true
			}
		}
		sleep(ctx, 250*time.Millisecond)
	}
	return false
}

// awaitDrained waits until every acknowledged record is in a journal, for
// at most DrainTimeout, and returns how many are not.
func (d *driver) awaitDrained(ctx context.Context, produced []Produced) int {
	type kc struct {
		key string
		c   int64
	}
	seen := map[kc]bool{}
	missing := len(produced)
	deadline := time.Now().Add(d.opts.DrainTimeout)
	for ctx.Err() == nil {
		d.refresh()
		d.mu.Lock()
		for _, p := range d.procs {
			for _, ev := range p.events {
				if ev.Kind == 'R' {
					seen[kc{ev.Key, ev.Counter}] = true
				}
			}
		}
		d.mu.Unlock()
		missing = 0
		for _, p := range produced {
			if !seen[kc{p.Key, p.Counter}] {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		sleep(ctx, 250*time.Millisecond)
	}
	d.logf("drained: %d of %d acknowledged records processed", len(produced)-missing, len(produced))
	return missing
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// pollTable reads the lease table every 300 ms and keeps every change of
// a lease's checkpoint or owner.
func (d *driver) pollTable(ctx context.Context, store *ddbstore.DynamoStore) {
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for {
		d.readTable(ctx, store)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *driver) readTable(ctx context.Context, store *ddbstore.DynamoStore) {
	callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	t := Now()
	ls, err := store.List(callCtx)
	if err != nil {
		return // the workers create the table; before that, and on a failed read, there is nothing to see
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, l := range ls {
		row := TableRow{T: t, Key: l.Key, Checkpoint: l.Checkpoint.SequenceNumber, Owner: l.Owner}
		if last, ok := d.lastRow[l.Key]; ok && last.Checkpoint == row.Checkpoint && last.Owner == row.Owner {
			continue
		}
		d.lastRow[l.Key] = row
		d.table = append(d.table, row)
	}
}

func (d *driver) listShards(ctx context.Context) ([]ktypes.Shard, error) {
	var out []ktypes.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(d.stream)}
	for {
		page, err := d.kc.ListShards(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("ListShards: %w", err)
		}
		out = append(out, page.Shards...)
		if page.NextToken == nil {
			return out, nil
		}
		in = &kinesis.ListShardsInput{NextToken: page.NextToken}
	}
}

// pickTarget chooses a live worker that holds at least one shard (with
// most, the one holding the most shards) at random (seeded); "" if none
// does.
func (d *driver) pickTarget(most bool) (string, int) {
	open := d.openSequences()
	least := 1
	if most {
		for _, shards := range open {
			least = max(least, len(shards))
		}
	}
	var ids []string
	for w, shards := range open {
		if len(shards) >= least {
			ids = append(ids, w)
		}
	}
	if len(ids) == 0 {
		return "", 0
	}
	sort.Strings(ids)
	w := ids[d.rng.IntN(len(ids))]
	return w, len(open[w])
}

func (d *driver) record(f Fault) {
	d.mu.Lock()
	d.faults = append(d.faults, f)
	d.mu.Unlock()
}

// apply carries out one step.
func (d *driver) apply(ctx context.Context, n int, step Step) error {
	f := Fault{N: n, Kind: step.Kind}
	switch step.Kind {
	case KindKill, KindStop, KindTermRestart:
		// A pause hits the worker holding the most shards: each is a
		// chance for a worker that failed to fence to process on.
		w, held := d.pickTarget(step.Kind == KindStop)
		if w == "" {
			d.logf("step %d %s: no worker holds a shard; skipped", n, step.Kind)
			return nil
		}
		d.mu.Lock()
		p := d.live[w]
		d.mu.Unlock()
		f.Target = p.name
		switch step.Kind {
		case KindKill:
			f.At = Now()
			if err := signalGroup(p, syscall.SIGKILL); err != nil {
				return err
			}
			<-p.done
			d.record(f)
			d.logf("step %d: SIGKILL %s (holding %d shards); restart in %v", n, p.name, held, step.Hold)
			sleep(ctx, step.Hold)
			if _, err := d.startWorker(w); err != nil {
				return err
			}
		case KindStop:
			f.At = Now()
			if err := signalGroup(p, syscall.SIGSTOP); err != nil {
				return err
			}
			d.logf("step %d: SIGSTOP %s (holding %d shards) for %v", n, p.name, held, step.Hold)
			sleep(ctx, step.Hold)
			f.Until = Now()
			if err := signalGroup(p, syscall.SIGCONT); err != nil {
				return err
			}
			d.record(f)
			d.logf("step %d: SIGCONT %s", n, p.name)
		case KindTermRestart:
			f.At = Now()
			if err := signalGroup(p, syscall.SIGTERM); err != nil {
				return err
			}
			d.record(f)
			if awaitExit(p, 20*time.Second) {
				d.logf("step %d: %s did not exit within 20s of SIGTERM; killed", n, p.name)
			}
			d.logf("step %d: SIGTERM %s (holding %d shards): exited after %.1fs (%v); restarting", n, p.name, held, float64(Now()-f.At)/1e9, p.err)
			if _, err := d.startWorker(w); err != nil {
				return err
			}
		}
	case KindJoin:
		f.At = Now()
		p, err := d.startWorker("")
		if err != nil {
			return err
		}
		f.Target = p.name
		d.record(f)
		// The planner gives a joiner leases once the fleet is measured
		// unbalanced: wait (bounded) for its first record.
		if took, ok := d.awaitFirstRecord(ctx, p, d.opts.SettleTimeout); ok {
			d.logf("step %d: %s joined; its first record after %.1fs", n, p.name, took.Seconds())
		} else {
			d.logf("step %d: %s joined; no shard within %v", n, p.name, d.opts.SettleTimeout)
		}
	case KindSplit, KindMerge:
		shards, err := d.listShards(ctx)
		if err != nil {
			return err
		}
		var open []ktypes.Shard
		for _, s := range shards {
			if s.SequenceNumberRange.EndingSequenceNumber == nil {
				open = append(open, s)
			}
		}
		f.At = Now()
		if step.Kind == KindSplit {
			s, mid, ok := widest(open)
			if !ok {
				d.logf("step %d split: no shard to split; skipped", n)
				return nil
			}
			f.Shards = []string{aws.ToString(s.ShardId)}
			if _, err := d.kc.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(d.stream), ShardToSplit: s.ShardId, NewStartingHashKey: aws.String(mid)}); err != nil {
				return fmt.Errorf("SplitShard: %w", err)
			}
		} else {
			a, b, ok := adjacent(open, d.rng)
			if !ok {
				d.logf("step %d merge: no adjacent open shards; skipped", n)
				return nil
			}
			f.Shards = []string{aws.ToString(a.ShardId), aws.ToString(b.ShardId)}
			if _, err := d.kc.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String(d.stream), ShardToMerge: a.ShardId, AdjacentShardToMerge: b.ShardId}); err != nil {
				return fmt.Errorf("MergeShards: %w", err)
			}
		}
		d.record(f)
		d.logf("step %d: %s %v", n, step.Kind, f.Shards)
		if err := d.awaitActive(ctx); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown step kind %q", step.Kind)
	}
	return nil
}

// awaitFirstRecord waits for p's first processed record, for at most
// limit.
func (d *driver) awaitFirstRecord(ctx context.Context, p *proc, limit time.Duration) (time.Duration, bool) {
	began := Now()
	deadline := time.Now().Add(limit)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		d.refresh()
		d.mu.Lock()
		for _, ev := range p.events {
			if ev.Kind == 'R' {
				d.mu.Unlock()
				return time.Duration(ev.T - began), true
			}
		}
		d.mu.Unlock()
		sleep(ctx, 100*time.Millisecond)
	}
	return 0, false
}

func (d *driver) awaitActive(ctx context.Context) error {
	for i := 0; i < 200; i++ {
		out, err := d.kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(d.stream)})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == ktypes.StreamStatusActive {
			return nil
		}
		sleep(ctx, 100*time.Millisecond)
	}
	return errors.New("stream not ACTIVE 20s after a reshard")
}

// widest is the open shard with the widest hash range and the middle of
// that range.
func widest(open []ktypes.Shard) (ktypes.Shard, string, bool) {
	var best ktypes.Shard
	var bestWidth *big.Int
	var mid string
	for _, s := range open {
		lo, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
		hi, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
		if lo == nil || hi == nil {
			continue
		}
		w := new(big.Int).Sub(hi, lo)
		if w.Sign() > 0 && (bestWidth == nil || w.Cmp(bestWidth) > 0) {
			best, bestWidth = s, w
			m := new(big.Int).Add(lo, new(big.Int).Rsh(w, 1))
			mid = m.Add(m, big.NewInt(1)).String()
		}
	}
	return best, mid, bestWidth != nil
}

// adjacent picks two open shards whose hash ranges touch, at random.
func adjacent(open []ktypes.Shard, rng *rand.Rand) (ktypes.Shard, ktypes.Shard, bool) {
	type rng128 struct {
		s      ktypes.Shard
		lo, hi *big.Int
	}
	var rs []rng128
	for _, s := range open {
		lo, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.StartingHashKey), 10)
		hi, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
		if lo != nil && hi != nil {
			rs = append(rs, rng128{s, lo, hi})
		}
	}
	slices.SortFunc(rs, func(a, b rng128) int { return a.lo.Cmp(b.lo) })
	var pairs [][2]ktypes.Shard
	for i := 1; i < len(rs); i++ {
		if new(big.Int).Add(rs[i-1].hi, big.NewInt(1)).Cmp(rs[i].lo) == 0 {
			pairs = append(pairs, [2]ktypes.Shard{rs[i-1].s, rs[i].s})
		}
	}
	if len(pairs) == 0 {
		return ktypes.Shard{}, ktypes.Shard{}, false
	}
	p := pairs[rng.IntN(len(pairs))]
	return p[0], p[1], true
}

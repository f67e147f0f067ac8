package batch

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/backoff"
)

// processor is the consumer.Processor that New's factory makes for one
// shard.
//
// Goroutines and who owns them. The scheduler calls the Processor methods
// one at a time on its processor goroutine (P). The processor starts, in
// Initialize (or the first ProcessRecords), one goroutine per lane (L, see
// lane.go), which call the handler and the OnFailure destination,
// and one checkpoint goroutine (C), which writes checkpoints; plus a tiny
// goroutine that closes lanesDone once every lane returned. The terminal
// method (ShutdownRequested, ShardEnded or LeaseLost, the last call P
// makes) stops them and waits for all of them before it returns, so no
// goroutine outlives the processor and nothing touches the Checkpointer
// after the scheduler closed it.
//
// Hand-offs. P takes records in ProcessRecords: it appends them to the
// ledger (every record, in order) and to the buffer of the lane their
// partition key hashes to, under mu, and wakes the lane. A lane takes
// batches out of its buffer, calls the handler, and marks records
// finished in the ledger under mu; when the finished prefix grows it wakes
// C, which writes a checkpoint at the prefix's last record (at most once
// per CheckpointInterval). Because the ledger, not a lane, decides
// what is checkpointed, a checkpoint never covers a record that some lane
// has not finished, however the lanes interleave; and because C is the
// only goroutine that checkpoints while the lanes run, and the terminal
// method writes its final checkpoint only after C stopped, checkpoints are
// written in increasing order (the Checkpointer refuses to go backwards).
//
// Backpressure. ProcessRecords returns once every record it was given is
// in the ledger. The ledger is bounded (MaxPendingRecords,
// MaxPendingBytes): when it is full, ProcessRecords waits for the finished
// prefix to grow, so P stops taking batches from the scheduler's bounded
// prefetch queue, which stops the fetcher. While it waits, lanes hand over batches that are not full
// (nothing more can arrive to fill them) and a tumbling window that holds
// the oldest unfinished record ends early, so a full ledger always drains.
// If a lane keeps failing meanwhile, ProcessRecords returns an error
// wrapping ErrStalled instead of waiting forever, which makes the failure
// visible in the scheduler's log and lets graceful shutdown proceed; the
// scheduler offers the same records again and those already taken are
// skipped.
type processor struct {
	cfg       *Config // filled in by withDefaults; read-only
	handler   ResponseHandler
	shardID   string
	streamARN string // from Initialize, before any lane starts
	log       zerolog.Logger

	// Owned by P.
	started      bool
	lastAccepted consumer.ExtendedSequenceNumber // last record put in the ledger

	// Set by start on P before the goroutines that read them exist;
	// read-only afterwards.
	ctx       context.Context // handler, destination and checkpoint calls
	cancel    context.CancelCauseFunc
	stopCh    chan struct{} // closed when lanes and C must stop taking work
	stopOnce  sync.Once
	lanes     []*lane
	lanesDone chan struct{} // closed when every lane goroutine returned
	cpWake    chan struct{} // capacity 1: the finished prefix grew
	cpDone    chan struct{} // closed when C returned

	mu       sync.Mutex // guards the fields below and every lane's buf
	led      ledger
	cp       consumer.Checkpointer // the latest one given; nil before the first ProcessRecords
	caughtUp bool                  // the last ProcessRecords had MillisBehindLatest 0
	draining bool                  // ShardEnded: hand everything over, close every window
	pressure bool                  // ProcessRecords is waiting for room in the ledger
	changed  chan struct{}         // closed and replaced when the prefix grows or a lane's failure changes
	failing  map[int]*laneFailure  // lane -> the failure it is retrying, while it is
}

// laneFailure is a lane's current run of failures.
type laneFailure struct {
	err    error
	streak int // failures in a row
}

// stallAfter is how many failures in a row make a lane stalled, so that a
// ProcessRecords waiting for room reports it (ErrStalled) instead of
// waiting. A failure or two is ordinary retrying and only logged; three in
// a row (with backoff between them) is worth the scheduler's attention,
// and is when an operator wants graceful shutdown not to wait for it.
const stallAfter = 3

var _ consumer.Processor = (*processor)(nil)

func newProcessor(cfg *Config, h ResponseHandler, shardID string) *processor {
	return &processor{
		cfg:     cfg,
		handler: h,
		shardID: shardID,
		log:     cfg.Logger.With().Str("shard", shardID).Logger(),
		changed: make(chan struct{}),
		failing: make(map[int]*laneFailure),
	}
}

// start starts the lanes and the checkpoint goroutine, once. ctx is the
// lease's context (the contract says every method's ctx ends when the
// lease ends), so handler calls end when the lease is lost.
func (p *processor) start(ctx context.Context) {
	if p.started {
		return
	}
	p.started = true
	p.ctx, p.cancel = context.WithCancelCause(ctx)
	p.stopCh = make(chan struct{})
	p.lanesDone = make(chan struct{})
	p.cpWake = make(chan struct{}, 1)
	p.cpDone = make(chan struct{})
	p.lanes = make([]*lane, p.cfg.ParallelizationFactor)
	var wg sync.WaitGroup
	for i := range p.lanes {
		l := &lane{p: p, id: i, wake: make(chan struct{}, 1)}
		p.lanes[i] = l
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.run()
		}()
	}
	go func() {
		wg.Wait()
		close(p.lanesDone)
	}()
	go p.checkpointLoop()
}

// Initialize implements Processor.
func (p *processor) Initialize(ctx context.Context, in consumer.InitializationInput) error {
	p.streamARN = in.StreamARN
	p.start(ctx)
	return nil
}

// ProcessRecords implements Processor: it puts the records in the ledger
// and their lanes' buffers, waiting for room when the ledger is full.
func (p *processor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	p.start(ctx)
	select {
	case <-p.stopCh:
		return consumer.ErrShutdown
	default:
	}
	recs := in.Records
	// After ProcessRecords returned an error the scheduler offers the same
	// records again: skip the ones already taken.
	if !p.lastAccepted.IsZero() {
		i := 0
		for i < len(recs) && consumer.Compare(recs[i].Position(), p.lastAccepted) <= 0 {
			i++
		}
		recs = recs[i:]
	}
	p.mu.Lock()
	p.cp = in.Checkpointer
	wasCaughtUp := p.caughtUp
	p.caughtUp = in.MillisBehindLatest == 0
	p.mu.Unlock()
	if p.caughtUp && !wasCaughtUp && p.cfg.TumblingWindow > 0 {
		// Windows waiting for the shard to catch up may end by the clock now.
		p.wakeAll()
	}
	if len(recs) == 0 {
		return nil
	}
	es := p.prepare(recs)
	woken := make([]bool, len(p.lanes))
	for len(es) > 0 {
		p.mu.Lock()
		n, grew := p.admitLocked(es, time.Now(), woken)
		if n > 0 {
			p.pressure = false
			p.mu.Unlock()
			p.lastAccepted = es[n-1].rec.Position()
			es = es[n:]
			for i, w := range woken {
				if w {
					p.lanes[i].poke()
					woken[i] = false
				}
			}
			if grew {
				p.kickCheckpoint()
			}
			continue
		}
		// The ledger is full.
		if err := p.failureLocked(); err != nil {
			p.mu.Unlock()
			return err
		}
		first := !p.pressure
		p.pressure = true
		changed := p.changed
		p.mu.Unlock()
		if first {
			p.wakeAll()
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-in.Stopping:
			// The worker is stopping this shard: records not yet taken
			// are left to the next owner (they are past the checkpoint).
			return consumer.ErrShutdown
		}
	}
	return nil
}

// prepare turns records into ledger entries, outside the lock: it runs the
// filter (user code) and copies the payloads, which the Record contract
// lets the processor use only until ProcessRecords returns, into one
// allocation per call.
func (p *processor) prepare(recs []consumer.Record) []*entry {
	keep := make([]bool, len(recs))
	total := 0
	for i := range recs {
		keep[i] = p.cfg.Filter == nil || p.cfg.Filter(&recs[i])
		if keep[i] {
			total += len(recs[i].Data)
		}
	}
	now := time.Now()
	arena := make([]byte, 0, total)
	block := make([]entry, len(recs))
	es := make([]*entry, len(recs))
	for i := range recs {
		e := &block[i]
		es[i] = e
		e.rec = recs[i]
		if !keep[i] {
			e.lane = -1
			e.rec.Data = nil
			continue
		}
		start := len(arena)
		arena = append(arena, recs[i].Data...)
		e.rec.Data = arena[start:len(arena):len(arena)]
		e.size = int64(len(recs[i].Data))
		e.lane = p.laneOf(recs[i].PartitionKey)
		if p.cfg.TumblingWindow > 0 {
			t := recs[i].ApproximateArrivalTimestamp
			if t.IsZero() {
				// No arrival time (some emulators): the record belongs to
				// the window it reached the processor in.
				t = now
			}
			e.window = windowStart(t, p.cfg.TumblingWindow)
		}
	}
	return es
}

// laneOf spreads partition keys over the lanes; a key always maps to the
// same lane, which is what keeps its records in order.
func (p *processor) laneOf(key string) int {
	if len(p.lanes) == 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(len(p.lanes)))
}

// admitLocked puts as many entries as the bound allows into the ledger and
// their lanes' buffers, marking the lanes it fed in woken. A filtered
// record is finished at once. It reports how many it took and whether the
// finished prefix grew.
func (p *processor) admitLocked(es []*entry, now time.Time, woken []bool) (n int, grew bool) {
	for _, e := range es {
		if held := p.led.len(); held > 0 && (held >= p.cfg.MaxPendingRecords || p.led.bytes+e.size > p.cfg.MaxPendingBytes) {
			break
		}
		e.accepted = now
		p.led.add(e)
		if e.lane < 0 {
			if p.led.finish(e) {
				grew = true
			}
		} else {
			l := p.lanes[e.lane]
			l.buf = append(l.buf, e)
			woken[e.lane] = true
		}
		n++
	}
	if grew {
		p.signalLocked()
	}
	return n, grew
}

// finish marks entries finished (called by lanes).
func (p *processor) finish(es []*entry) {
	if len(es) == 0 {
		return
	}
	p.mu.Lock()
	grew := false
	for _, e := range es {
		if p.led.finish(e) {
			grew = true
		}
	}
	if grew {
		p.signalLocked()
	}
	// Under pressure the lane holding the new oldest record may need to
	// end its window early.
	wakeAll := grew && p.pressure && p.cfg.TumblingWindow > 0
	p.mu.Unlock()
	if grew {
		p.kickCheckpoint()
	}
	if wakeAll {
		p.wakeAll()
	}
}

// hold marks entries handled inside a window that has not ended.
func (p *processor) hold(es []*entry) {
	p.mu.Lock()
	for _, e := range es {
		e.state = entryHeld
	}
	p.mu.Unlock()
}

// setFailure records (err != nil) or clears the failure a lane is
// retrying, and wakes a ProcessRecords waiting for room when the lane
// becomes stalled, so it can report it.
func (p *processor) setFailure(lane int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.failing[lane]
	if err == nil {
		delete(p.failing, lane)
		return
	}
	if f == nil {
		f = &laneFailure{}
		p.failing[lane] = f
	}
	f.err = err
	f.streak++
	if f.streak == stallAfter {
		p.signalLocked()
	}
}

// failureLocked is the ErrStalled error of the lowest stalled lane, or
// nil.
func (p *processor) failureLocked() error {
	for i := range p.lanes {
		if f, ok := p.failing[i]; ok && f.streak >= stallAfter {
			return fmt.Errorf("%w: shard %s, lane %d, %d failures in a row: %w", ErrStalled, p.shardID, i, f.streak, f.err)
		}
	}
	return nil
}

func (p *processor) signalLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *processor) wakeAll() {
	for _, l := range p.lanes {
		l.poke()
	}
}

func (p *processor) kickCheckpoint() {
	select {
	case p.cpWake <- struct{}{}:
	default:
	}
}

// stopping reports whether the lanes must stop taking work.
func (p *processor) stopping() bool {
	select {
	case <-p.stopCh:
		return true
	default:
		return false
	}
}

// checkpointLoop is C: when the finished prefix grows it checkpoints at
// the prefix's last record, at most once per CheckpointInterval (the
// first write goes at once). Writes coalesce: progress made while a write
// is in flight or while the interval runs is covered by the next write, so
// a slow lease table costs latency, not throughput. The interval does not
// delay what matters for correctness: ShutdownRequested and ShardEnded
// write the final position themselves, so it only bounds what a crash
// makes the next owner handle again. A failed write is retried with
// backoff; a lost lease ends the loop (the scheduler then calls
// LeaseLost).
func (p *processor) checkpointLoop() {
	defer close(p.cpDone)
	retry := backoff.Backoff{Base: p.cfg.RetryBackoff, Max: p.cfg.RetryMaxBackoff}
	var (
		written   consumer.ExtendedSequenceNumber
		lastWrite time.Time
	)
	for {
		select {
		case <-p.stopCh:
			return
		case <-p.cpWake:
		}
		for {
			p.mu.Lock()
			pos, cp := p.led.prefix, p.cp
			p.mu.Unlock()
			if pos.IsZero() || cp == nil || consumer.Compare(pos, written) <= 0 {
				break
			}
			if !lastWrite.IsZero() && p.cfg.CheckpointInterval > 0 {
				if wait := time.Until(lastWrite.Add(p.cfg.CheckpointInterval)); wait > 0 {
					if !sleep(p.ctx, p.stopCh, wait) {
						return
					}
					continue // write what finished meanwhile too
				}
			}
			err := cp.CheckpointAt(p.ctx, pos)
			lastWrite = time.Now()
			if err == nil {
				written = pos
				retry.Reset()
				continue
			}
			if errors.Is(err, consumer.ErrLeaseLost) || errors.Is(err, consumer.ErrShutdown) || p.ctx.Err() != nil {
				p.log.Warn().Str("position", pos.String()).Err(err).Msg("checkpointing stopped")
				return
			}
			delay := retry.Next()
			p.log.Warn().Str("position", pos.String()).Err(err).Dur("retry_in", delay).Msg("checkpoint failed; retrying")
			if !sleep(p.ctx, p.stopCh, delay) {
				return
			}
		}
	}
}

// teardown stops the lanes and C and waits for them. Idempotent.
func (p *processor) teardown() {
	p.stopOnce.Do(func() { close(p.stopCh) })
	<-p.lanesDone
	<-p.cpDone
}

// checkpointPrefix checkpoints the finished prefix, on P after teardown.
func (p *processor) checkpointPrefix(ctx context.Context, cp consumer.Checkpointer) error {
	p.mu.Lock()
	pos := p.led.prefix
	p.mu.Unlock()
	if pos.IsZero() || cp == nil || consumer.Compare(pos, cp.LastCheckpoint()) <= 0 {
		return nil
	}
	return cp.CheckpointAt(ctx, pos)
}

// ShutdownRequested implements Processor: handler calls in progress are
// finished (a batch being retried or waiting in a buffer is abandoned and
// will be delivered to the shard's next owner), then the finished prefix
// is checkpointed. Tumbling windows that are still open get no final call:
// their records are not finished, so the next owner rebuilds them.
func (p *processor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	if !p.started {
		return nil
	}
	p.teardown()
	p.cancel(consumer.ErrShutdown)
	return p.checkpointPrefix(ctx, in.Checkpointer)
}

// LeaseLost implements Processor: handler calls see their context end
// (cause ErrLeaseLost); nothing is checkpointed.
func (p *processor) LeaseLost(ctx context.Context, in consumer.LeaseLostInput) {
	if !p.started {
		return
	}
	p.cancel(consumer.ErrLeaseLost)
	p.teardown()
}

// ShardEnded implements Processor: every buffered record is handed over,
// every window gets its final call, everything is waited for, and then
// SHARD_END is checkpointed. If ctx ends first, the finished prefix is
// checkpointed and an error returned.
func (p *processor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	if p.started {
		p.mu.Lock()
		p.draining = true
		p.mu.Unlock()
		p.wakeAll()
		select {
		case <-p.lanesDone:
		case <-ctx.Done():
		}
		p.teardown()
		p.cancel(consumer.ErrShutdown)
		p.mu.Lock()
		left := p.led.len()
		p.mu.Unlock()
		if left > 0 {
			err := fmt.Errorf("shardwise: shard %s ended with %d records not finished: %w", p.shardID, left, context.Cause(ctx))
			return errors.Join(err, p.checkpointPrefix(ctx, in.Checkpointer))
		}
	}
	return in.Checkpointer.Checkpoint(ctx)
}

// sleep waits for d, and reports false if stop closed or ctx ended first.
func sleep(ctx context.Context, stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	case <-ctx.Done():
		return false
	}
}

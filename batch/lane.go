package batch

import (
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/backoff"
)

// lane is one of a shard's ParallelizationFactor lanes: the records of the
// partition keys that hash to it, handed to the handler one batch at a
// time, in sequence order, by the lane's own goroutine. One call at a
// time per lane is what keeps a key's records in order; N lanes are what
// let N batches of a shard be in flight.
type lane struct {
	p    *processor
	id   int
	wake chan struct{} // capacity 1: something changed that may make a batch ready

	buf []*entry    // records taken and not yet handed over; guarded by p.mu
	win *openWindow // the open tumbling window; owned by the lane goroutine
}

// work is what a lane does next: hand a batch to the handler, or end its
// window.
type work struct {
	entries     []*entry
	windowKey   int64
	closeWindow bool
	early       bool // IsWindowTerminatedEarly
}

// segment is part of a batch on its way through retries and bisection.
type segment struct {
	entries []*entry
	invokes int   // handler calls that included these records
	retried int   // retries made (calls after a failure that counted)
	retry   bool  // the next call is a retry
	lastErr error // the last failure
}

func (l *lane) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *lane) run() {
	for {
		w, ok := l.next()
		if !ok {
			return
		}
		if !l.do(w) {
			return
		}
	}
}

// next waits until there is work, and returns false when the lane must
// stop: the processor stops, the lease ends, or (ShardEnded) the lane is
// drained. Its timer is what fires BatchWindow and window ends while no
// ProcessRecords call arrives.
func (l *lane) next() (*work, bool) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		w, wait, ok := l.poll(time.Now())
		if !ok {
			return nil, false
		}
		if w != nil {
			return w, true
		}
		var tick <-chan time.Time
		if wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			tick = timer.C
		}
		select {
		case <-l.p.stopCh:
			return nil, false
		case <-l.p.ctx.Done():
			return nil, false
		case <-l.wake:
		case <-tick:
		}
	}
}

// poll decides, under the processor's lock, what the lane does next: a
// batch, a window's final call, nothing yet (wait up to the returned
// duration, or for a wake-up if it is 0), or stop (ok false).
func (l *lane) poll(now time.Time) (w *work, wait time.Duration, ok bool) {
	p := l.p
	cfg := p.cfg
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping() {
		return nil, 0, false
	}
	if len(l.buf) > 0 {
		first := l.buf[0]
		if l.win != nil && l.win.key != first.window {
			// A record of another window: the open one is complete.
			return &work{closeWindow: true}, 0, true
		}
		n, later := 0, false
		for n < len(l.buf) && n < cfg.BatchSize {
			if cfg.TumblingWindow > 0 && l.buf[n].window != first.window {
				later = true
				break
			}
			n++
		}
		// A full batch, or one cut by a window boundary, cannot grow.
		// Under pressure or while draining, no record will come to grow
		// it either.
		if !(n == cfg.BatchSize || later || p.draining || p.pressure || cfg.BatchWindow == 0) {
			if wait := first.accepted.Add(cfg.BatchWindow).Sub(now); wait > 0 {
				return nil, wait, true
			}
		}
		take := make([]*entry, n)
		copy(take, l.buf)
		clear(l.buf[:n])
		l.buf = l.buf[n:]
		if len(l.buf) == 0 {
			l.buf = nil // let the backing array go
		}
		return &work{entries: take, windowKey: first.window}, 0, true
	}
	if l.win != nil {
		switch {
		case p.draining:
			return &work{closeWindow: true}, 0, true
		case p.pressure && l.holdsFrontLocked():
			// This window holds the oldest unfinished record and the
			// ledger is full: nothing can be taken until it ends.
			return &work{closeWindow: true, early: true}, 0, true
		case p.caughtUp:
			// Caught up, no record of this window can still be on its
			// way once the clock passed its end. While the shard lags,
			// the window ends when a later record arrives instead.
			if wait := l.win.end.Sub(now); wait > 0 {
				return nil, wait, true
			}
			return &work{closeWindow: true}, 0, true
		}
		return nil, 0, true
	}
	if p.draining {
		return nil, 0, false
	}
	return nil, 0, true
}

// holdsFrontLocked reports whether the oldest unfinished record is held by
// this lane's open window.
func (l *lane) holdsFrontLocked() bool {
	f := l.p.led.front()
	return f != nil && f.lane == l.id && f.state == entryHeld
}

// do runs one piece of work; false means the processor stopped (or the
// lease ended) before it was done, and what is unfinished is abandoned.
func (l *lane) do(w *work) bool {
	if w.closeWindow {
		return l.closeWindow(w.early)
	}
	if l.p.cfg.TumblingWindow > 0 && l.win == nil {
		l.win = newOpenWindow(w.windowKey, l.p.cfg.TumblingWindow)
	}
	return l.deliver(w.entries)
}

// deliver takes a batch through the handler until every record in it has
// ended: handled, or given up (MaxRetryAttempts, MaxRecordAge) and
// accepted by the OnFailure destination. Segments are handled strictly in
// order, so a failure holds back the lane's later records: that is what
// keeps each key in order.
func (l *lane) deliver(entries []*entry) bool {
	p := l.p
	cfg := p.cfg
	retry := backoff.Backoff{Base: cfg.RetryBackoff, Max: cfg.RetryMaxBackoff}
	segs := []segment{{entries: entries}}
	for len(segs) > 0 {
		if p.stopping() || p.ctx.Err() != nil {
			return false
		}
		s := &segs[0]
		if cfg.MaxRecordAge > 0 {
			live, old := splitExpired(s.entries, cfg.MaxRecordAge, time.Now())
			if len(old) > 0 {
				if !l.giveUp(old, ConditionRecordAgeExceeded, s.lastErr, s.invokes, s.retried) {
					return false
				}
				s.entries = live
			}
			if len(s.entries) == 0 {
				segs = segs[1:]
				continue
			}
		}
		if s.retry {
			s.retried++
			s.retry = false
		}
		s.invokes++
		resp, err := l.invoke(s.entries)
		if err == nil && len(resp.BatchItemFailures) == 0 {
			if !l.handled(s.entries, resp.State) {
				return false
			}
			segs = segs[1:]
			retry.Reset()
			p.setFailure(l.id, nil)
			continue
		}
		if err == nil {
			// Partial batch response: what precedes the lowest failure is
			// handled; the rest is retried from there.
			cut, bad := lowestFailure(s.entries, resp.BatchItemFailures)
			if bad.IsZero() {
				err = fmt.Errorf("shardwise: handler reported %d failed records, the first at %s", len(resp.BatchItemFailures), s.entries[cut].rec.Position())
				s.lastErr = err
				if !l.handled(s.entries[:cut], resp.State) {
					return false
				}
				s.entries = s.entries[cut:]
				if cut > 0 {
					// The resume point moved on: its record has not
					// failed as the resume point before.
					s.retried = 0
				}
				if l.exhausted(s) {
					// Only the record at the resume point has used up its
					// retries. The records after it are not known to have
					// been handled (a handler may stop at its first
					// failure, as AWS recommends for ordered processing),
					// so they are tried again afresh rather than given up
					// with it.
					if !l.giveUp(s.entries[:1], ConditionRetryAttemptsExhausted, err, s.invokes, s.retried) {
						return false
					}
					s.entries = s.entries[1:]
					s.retried, s.retry = 0, false
					if len(s.entries) == 0 {
						segs = segs[1:]
					}
					continue
				}
				if !l.backoff(s, err, &retry) {
					return false
				}
				continue
			}
			err = fmt.Errorf("shardwise: handler reported failed record %s, which is not in the batch", bad)
		}
		s.lastErr = err
		if cfg.BisectOnError && len(s.entries) > 1 {
			// Split without using up a retry attempt (as Lambda does), and
			// try the halves at once, in order.
			h := len(s.entries) / 2
			a, b := *s, *s
			a.entries, b.entries = s.entries[:h], s.entries[h:]
			p.log.Debug().Int("records", len(s.entries)).Str("first", s.entries[0].rec.Position().String()).Err(err).Msg("handler failed; bisecting the batch")
			segs = append([]segment{a, b}, segs[1:]...)
			continue
		}
		if l.exhausted(s) {
			if !l.giveUp(s.entries, ConditionRetryAttemptsExhausted, err, s.invokes, s.retried) {
				return false
			}
			segs = segs[1:]
			continue
		}
		if !l.backoff(s, err, &retry) {
			return false
		}
	}
	return true
}

// exhausted reports whether a segment that just failed has no retry left.
func (l *lane) exhausted(s *segment) bool {
	max := l.p.cfg.maxRetries()
	return max >= 0 && s.retried >= max
}

// backoff marks the segment for a retry and waits before it. The failure
// is visible meanwhile (log, and ProcessRecords' ErrStalled).
func (l *lane) backoff(s *segment, err error, retry *backoff.Backoff) bool {
	p := l.p
	s.retry = true
	p.setFailure(l.id, fmt.Errorf("shardwise: %w", err))
	delay := retry.Next()
	p.log.Warn().Int("lane", l.id).Int("records", len(s.entries)).Str("first", s.entries[0].rec.Position().String()).
		Int("retries", s.retried).Dur("retry_in", delay).Err(err).Msg("handler failed; retrying")
	return sleep(p.ctx, p.stopCh, delay)
}

// invoke calls the handler with a batch, turning a panic into an error.
func (l *lane) invoke(es []*entry) (resp Response, err error) {
	b := Batch{ShardID: l.p.shardID, StreamARN: l.p.streamARN, Records: make([]consumer.Record, len(es))}
	for i, e := range es {
		b.Records[i] = e.rec
	}
	if w := l.win; w != nil {
		// A copy: the handler may change the State it is given, and a
		// failed call is retried with the state as it was.
		b.Window = &Window{Start: w.start, End: w.end, State: slices.Clone(w.state)}
	}
	return l.call(b)
}

func (l *lane) call(b Batch) (resp Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("shardwise: handler panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return l.p.handler(l.p.ctx, b)
}

// handled records that es were handled. Outside a tumbling window they are
// finished; inside one they are held until the window's final call, and
// the window takes the new state.
func (l *lane) handled(es []*entry, state []byte) bool {
	w := l.win
	if w == nil {
		l.p.finish(es)
		return true
	}
	w.state = state
	w.held = append(w.held, es...)
	l.p.hold(es)
	if len(state) > l.p.cfg.MaxWindowStateSize {
		return l.closeWindow(true)
	}
	return true
}

// giveUp sends records to the OnFailure destination until it accepts
// them, then finishes them. Until then the lane does not move.
func (l *lane) giveUp(es []*entry, cond FailureCondition, cause error, invokes, retried int) bool {
	p := l.p
	f := FailedRecords{
		ShardID:             p.shardID,
		Records:             make([]consumer.Record, len(es)),
		StartSequenceNumber: es[0].rec.Position(),
		EndSequenceNumber:   es[len(es)-1].rec.Position(),
		Condition:           cond,
		Err:                 cause,
		InvokeCount:         invokes,
		RetryAttempts:       retried,
	}
	for i, e := range es {
		f.Records[i] = e.rec
	}
	if p.cfg.OnFailure == nil {
		p.log.Error().Str("condition", string(cond)).Int("records", len(es)).Str("first", f.StartSequenceNumber.String()).
			Str("last", f.EndSequenceNumber.String()).AnErr("cause", cause).Msg("records given up and discarded (no OnFailure destination)")
		p.finish(es)
		return true
	}
	retry := backoff.Backoff{Base: p.cfg.RetryBackoff, Max: p.cfg.RetryMaxBackoff}
	for {
		err := l.callDestination(f)
		if err == nil {
			p.setFailure(l.id, nil)
			p.finish(es)
			return true
		}
		err = fmt.Errorf("shardwise: OnFailure destination refused %d records %s..%s: %w", len(es), f.StartSequenceNumber, f.EndSequenceNumber, err)
		p.setFailure(l.id, err)
		delay := retry.Next()
		p.log.Error().Int("lane", l.id).Dur("retry_in", delay).Err(err).
			Msg("OnFailure destination failed; the shard does not move past these records until it succeeds")
		if !sleep(p.ctx, p.stopCh, delay) {
			return false
		}
	}
}

func (l *lane) callDestination(f FailedRecords) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("shardwise: OnFailure destination panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return l.p.cfg.OnFailure(l.p.ctx, f)
}

// splitExpired separates the records older than maxAge, keeping order.
func splitExpired(es []*entry, maxAge time.Duration, now time.Time) (live, old []*entry) {
	for i, e := range es {
		t := e.rec.ApproximateArrivalTimestamp
		if !t.IsZero() && now.Sub(t) > maxAge {
			if old == nil {
				live = append(live, es[:i]...)
			}
			old = append(old, e)
		} else if old != nil {
			live = append(live, e)
		}
	}
	if old == nil {
		return es, nil
	}
	return live, old
}

// lowestFailure finds the index of the lowest reported failure in es
// (which is in sequence order). If a reported position is not in es, it
// returns that position as bad.
func lowestFailure(es []*entry, failed []consumer.ExtendedSequenceNumber) (cut int, bad consumer.ExtendedSequenceNumber) {
	cut = len(es)
	for _, pos := range failed {
		i, found := slices.BinarySearchFunc(es, pos, func(e *entry, p consumer.ExtendedSequenceNumber) int {
			return consumer.Compare(e.rec.Position(), p)
		})
		if !found || pos.IsZero() {
			if pos.IsZero() {
				pos = consumer.ExtendedSequenceNumber{SequenceNumber: "<empty>"}
			}
			return 0, pos
		}
		cut = min(cut, i)
	}
	return cut, consumer.ExtendedSequenceNumber{}
}

package batch

import (
	"slices"
	"time"

	"github.com/shardwise/shardwise/internal/backoff"
)

// openWindow is a lane's tumbling window between its first call and its
// final call. Owned by the lane goroutine.
type openWindow struct {
	key        int64 // start, Unix nanoseconds
	start, end time.Time
	state      []byte   // returned by the last successful call
	held       []*entry // handled, finished only by the final call
}

func newOpenWindow(key int64, length time.Duration) *openWindow {
	start := time.Unix(0, key).UTC()
	return &openWindow{key: key, start: start, end: start.Add(length)}
}

// windowStart is the start of the window of length d that holds t, in Unix
// nanoseconds; windows are aligned to multiples of d since the epoch, so
// every lane and every worker agrees on them.
func windowStart(t time.Time, d time.Duration) int64 {
	ns := t.UnixNano()
	m := ns % int64(d)
	if m < 0 {
		m += int64(d)
	}
	return ns - m
}

// closeWindow makes the window's final call (no records, the final state)
// and then finishes the records the window held. With early set the
// window was cut short (state too large, or its held records block a full
// ledger) and goes on with empty state; otherwise it is over.
//
// A failing final call is retried like a batch; when MaxRetryAttempts is
// exhausted, the window's records go to the OnFailure destination, since
// their aggregate was never delivered.
func (l *lane) closeWindow(early bool) bool {
	p := l.p
	w := l.win
	retry := backoff.Backoff{Base: p.cfg.RetryBackoff, Max: p.cfg.RetryMaxBackoff}
	s := segment{entries: w.held}
	gaveUp := false
	for {
		if p.stopping() || p.ctx.Err() != nil {
			return false
		}
		if s.retry {
			s.retried++
			s.retry = false
		}
		s.invokes++
		_, err := l.call(Batch{ShardID: p.shardID, StreamARN: p.streamARN, Window: &Window{
			Start: w.start, End: w.end, State: slices.Clone(w.state),
			IsFinalInvokeForWindow: true, IsWindowTerminatedEarly: early,
		}})
		if err == nil {
			p.setFailure(l.id, nil)
			break
		}
		s.lastErr = err
		if l.exhausted(&s) {
			if len(w.held) > 0 && !l.giveUp(w.held, ConditionRetryAttemptsExhausted, err, s.invokes, s.retried) {
				return false
			}
			gaveUp = true
			break
		}
		if len(s.entries) == 0 {
			// backoff logs the first record; a window without records
			// still retries its final call.
			s.retry = true
			p.setFailure(l.id, err)
			p.log.Warn().Int("lane", l.id).Time("window_start", w.start).Err(err).Msg("final window call failed; retrying")
			if !sleep(p.ctx, p.stopCh, retry.Next()) {
				return false
			}
			continue
		}
		if !l.backoff(&s, err, &retry) {
			return false
		}
	}
	if !gaveUp {
		p.finish(w.held)
	}
	w.held = nil
	if early {
		w.state = nil
	} else {
		l.win = nil
	}
	return true
}

// Package lograte keeps repeated warnings from flooding a log: at most one
// line per key per interval, and the line that is written says how many
// were suppressed since the previous one. The scheduler, the worker session
// and the leader loop share this one limiter shape.
//
// It does not sample info lines (every lease event is logged once), and it
// keeps no goroutine: a key's state is looked at only when the key is used.
package lograte

import (
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Interval is the least time between two lines of one key.
const Interval = 10 * time.Second

// maxKeys bounds the keys remembered; beyond it, keys not used for an
// interval are forgotten.
const maxKeys = 1024

// Limiter decides which warnings are written. The zero value is not
// usable; use New. Safe for concurrent use.
type Limiter struct {
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex // guards keys
	keys map[string]*keyState
}

type keyState struct {
	last       time.Time // when the last line of the key was written
	suppressed int       // lines dropped since
}

// New returns a Limiter that writes at most one line per key every
// `every` (Interval when every <= 0).
func New(every time.Duration) *Limiter {
	if every <= 0 {
		every = Interval
	}
	return &Limiter{every: every, now: time.Now, keys: map[string]*keyState{}}
}

// Allow reports whether a line for key may be written now and, if so, how
// many lines of the key were suppressed since the last one written.
func (l *Limiter) Allow(key string) (ok bool, suppressed int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.keys[key]
	if k == nil {
		if len(l.keys) >= maxKeys {
			l.forget(now)
		}
		l.keys[key] = &keyState{last: now}
		return true, 0
	}
	if now.Sub(k.last) < l.every {
		k.suppressed++
		return false, 0
	}
	n := k.suppressed
	k.last, k.suppressed = now, 0
	return true, n
}

// forget drops the keys not used for an interval. Called with l.mu held.
func (l *Limiter) forget(now time.Time) {
	for key, k := range l.keys {
		if now.Sub(k.last) >= l.every {
			delete(l.keys, key)
		}
	}
}

// Warn returns log.Warn() for a line of key when one may be written (with
// a "suppressed" field counting the lines dropped since the previous one),
// else nil, on which zerolog's event methods and Msg do nothing:
//
//	lim.Warn(&log, "getrecords").Err(err).Msg("GetRecords failed; backing off")
func (l *Limiter) Warn(log *zerolog.Logger, key string) *zerolog.Event {
	ok, n := l.Allow(key)
	if !ok {
		return nil
	}
	ev := log.Warn()
	if n > 0 {
		ev = ev.Int("suppressed", n)
	}
	return ev
}

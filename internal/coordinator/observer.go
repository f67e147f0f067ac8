package coordinator

import (
	"time"

	"github.com/shardwise/shardwise/leases"
)

// observer decides which workers are alive without comparing clocks across
// hosts: it notes, on this process's monotonic clock, when it first saw
// each worker's current (session, heartbeat) pair, and calls a worker dead
// once that pair has not changed for the failover time. A worker seen for
// the first time is given the full failover time from that moment, so a
// new leader never declares a worker dead on less evidence than an old one.
type observer struct {
	failover time.Duration
	seen     map[string]sighting
}

type sighting struct {
	rec   leases.WorkerRecord
	since time.Time // monotonic: when this session/heartbeat was first seen
}

// sameBeat reports whether r is the reading s was taken from: the same
// worker, session and heartbeat counter (its load figures may differ).
func (s sighting) sameBeat(r leases.WorkerRecord) bool {
	return s.rec.ID == r.ID && s.rec.SessionID == r.SessionID && s.rec.Heartbeat == r.Heartbeat
}

func newObserver(failover time.Duration) *observer {
	return &observer{failover: failover, seen: map[string]sighting{}}
}

// observe records one reading of a worker's record.
func (o *observer) observe(now time.Time, r leases.WorkerRecord) {
	prev, ok := o.seen[r.ID]
	if ok && prev.sameBeat(r) {
		prev.rec = r // keep the newest load figures; the pair is unchanged
		o.seen[r.ID] = prev
		return
	}
	o.seen[r.ID] = sighting{rec: r, since: now}
}

// observeAll records a full listing; workers missing from it deregistered
// (a graceful shutdown deletes the record after handing every lease on) and
// are forgotten.
func (o *observer) observeAll(now time.Time, rs []leases.WorkerRecord) {
	present := make(map[string]bool, len(rs))
	for _, r := range rs {
		present[r.ID] = true
		o.observe(now, r)
	}
	for id := range o.seen {
		if !present[id] {
			delete(o.seen, id)
		}
	}
}

// alive reports whether the worker's heartbeat changed within the failover
// time.
func (o *observer) alive(now time.Time, id string) bool {
	s, ok := o.seen[id]
	return ok && now.Sub(s.since) < o.failover
}

// dead lists the records of workers whose heartbeat has not changed for
// the failover time.
func (o *observer) dead(now time.Time) []leases.WorkerRecord {
	var out []leases.WorkerRecord
	for _, s := range o.seen {
		if now.Sub(s.since) >= o.failover {
			out = append(out, s.rec)
		}
	}
	return out
}

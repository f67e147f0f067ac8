package coordinator

import (
	"testing"
	"time"

	"github.com/shardwise/shardwise/leases"
)

// TestObserverFailoverBoundary: a worker is alive while its heartbeat
// changed less than the failover time ago, and dead from the instant the
// failover time has passed; a worker missing from a full listing is
// forgotten (it deregistered). Survivors of make mutants-auto.
func TestObserverFailoverBoundary(t *testing.T) {
	const failover = 10 * time.Second
	o := newObserver(failover)
	t0 := time.Unix(1000, 0)
	o.observeAll(t0, []leases.WorkerRecord{{ID: "a", SessionID: "s", Heartbeat: 1}, {ID: "b", SessionID: "s", Heartbeat: 1}})
	deadIDs := func(now time.Time) map[string]bool {
		out := map[string]bool{}
		for _, r := range o.dead(now) {
			out[r.ID] = true
		}
		return out
	}
	just := t0.Add(failover - time.Nanosecond)
	if !o.alive(just, "a") || deadIDs(just)["a"] {
		t.Fatalf("a worker seen %v ago is not alive (failover %v)", failover-time.Nanosecond, failover)
	}
	at := t0.Add(failover)
	if o.alive(at, "a") || !deadIDs(at)["a"] {
		t.Fatalf("a worker whose heartbeat stood still for exactly the failover time is not dead: alive %v, dead %v", o.alive(at, "a"), deadIDs(at))
	}
	// b heartbeats: alive again from that sighting.
	o.observeAll(at, []leases.WorkerRecord{{ID: "a", SessionID: "s", Heartbeat: 1}, {ID: "b", SessionID: "s", Heartbeat: 2}})
	if !o.alive(at, "b") || deadIDs(at)["b"] {
		t.Fatal("a worker whose heartbeat just changed is not alive")
	}
	// a deregistered: gone from the listing, forgotten at once.
	o.observeAll(at, []leases.WorkerRecord{{ID: "b", SessionID: "s", Heartbeat: 2}})
	if _, ok := o.seen["a"]; ok || o.alive(at, "a") || deadIDs(at)["a"] {
		t.Fatal("a worker missing from the listing is still tracked")
	}
}

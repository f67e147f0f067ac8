package leases

import (
	"context"
	"maps"
	"slices"
	"time"
)

// WorkerRecord is one worker's item in the worker-metrics table: its
// session and liveness counter, and the load figures the leader balances
// on.
type WorkerRecord struct {
	// ID is the worker's id (the table's hash key).
	ID string
	// SessionID is random per worker incarnation; a restart is a new
	// session.
	SessionID string
	// Heartbeat counts the session's heartbeats; observers judge liveness
	// by its changes on their own clock.
	Heartbeat int64
	// LastUpdate is when the item was last written, by the writer's clock
	// (informational; never compared across hosts).
	LastUpdate time.Time
	// Stats holds recent samples per metric (newest last).
	Stats map[string][]float64
	// OperatingRange holds the maximum utilization per metric.
	OperatingRange map[string][]float64
	// LeaseThroughput is each held lease's recent throughput in KB/s.
	LeaseThroughput map[string]float64
	// LeaseLag is each held lease's lag at the last heartbeat, in
	// milliseconds: the larger of Kinesis's MillisBehindLatest for the
	// shard and the age of its oldest record not yet checkpointed.
	LeaseLag map[string]int64
	// Draining marks a worker that is shutting down.
	Draining bool
}

// Clone returns a deep copy of r.
func (r WorkerRecord) Clone() WorkerRecord {
	r.Stats = cloneSeries(r.Stats)
	r.OperatingRange = cloneSeries(r.OperatingRange)
	r.LeaseThroughput = maps.Clone(r.LeaseThroughput)
	r.LeaseLag = maps.Clone(r.LeaseLag)
	return r
}

func cloneSeries(m map[string][]float64) map[string][]float64 {
	if m == nil {
		return nil
	}
	out := make(map[string][]float64, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

// WorkerStore keeps worker records. Writes are compare-and-set on the
// session id and heartbeat counter, so a worker whose record was replaced
// by a later incarnation (or deleted) learns it from a failed heartbeat.
type WorkerStore interface {
	// EnsureTable creates the table if absent (idempotent, concurrent-safe).
	EnsureTable(ctx context.Context) error
	// Register writes r as a new session (Heartbeat 1), replacing any
	// record of the same worker id. It returns the stored record.
	Register(ctx context.Context, r WorkerRecord) (WorkerRecord, error)
	// Heartbeat writes r's load figures and increments the heartbeat, on
	// condition that the stored record still has r.SessionID and
	// r.Heartbeat. ErrConditionFailed otherwise.
	Heartbeat(ctx context.Context, r WorkerRecord) (WorkerRecord, error)
	// List reads every worker record (strongly consistent).
	List(ctx context.Context) ([]WorkerRecord, error)
	// Get reads one worker record (strongly consistent); ErrNotFound if
	// absent.
	Get(ctx context.Context, id string) (WorkerRecord, error)
	// Deregister deletes the record if it still belongs to session.
	Deregister(ctx context.Context, id, session string) error
	// Remove deletes the record of a worker found dead, on condition that
	// it still has the session and heartbeat the observer saw; if the
	// worker came back, its record is kept.
	Remove(ctx context.Context, r WorkerRecord) error
}

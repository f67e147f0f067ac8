package scheduler

import (
	"sort"
	"time"

	"github.com/shardwise/shardwise/consumer"
)

// Stats is a snapshot of a worker, for a service's health endpoint.
type Stats struct {
	// WorkerID is this worker's id in the lease table.
	WorkerID string
	// IsLeader reports whether this worker assigns the leases.
	IsLeader bool
	// Fenced reports that the worker could not prove it is alive in time
	// and has stopped processing until a heartbeat succeeds.
	Fenced bool
	// Leases are the shards this worker is running, by shard id.
	Leases []LeaseStats
	// MaxMillisBehindLatest is the largest MillisBehindLatest of Leases:
	// how far the worker's furthest-behind shard is from its tip.
	MaxMillisBehindLatest int64
	// MaxOldestUncheckpointedAge is the largest OldestUncheckpointedAge
	// of Leases.
	MaxOldestUncheckpointedAge time.Duration
	// RecordsProcessed counts records handed to processors whose
	// ProcessRecords returned nil, since Run started.
	RecordsProcessed int64
	// BytesProcessed counts the data bytes of those records.
	BytesProcessed int64
	// ProcessorErrors counts ProcessRecords calls that failed or
	// panicked (each is offered again).
	ProcessorErrors int64
	// LeasesTaken counts leases this worker started.
	LeasesTaken int64
	// LeasesLost counts leases taken from this worker before it finished
	// or handed them on.
	LeasesLost int64
	// RecordsPerSecond is the processing rate over the last heartbeat
	// intervals (exponentially weighted).
	RecordsPerSecond float64
	// KBPerSecond is the same for data, in KB per second.
	KBPerSecond float64
	// DecodedResponses counts GetRecords responses and SubscribeToShard
	// events decoded by Shardwise's own decoder (zero with
	// Config.SDKDecoder).
	DecodedResponses int64
	// SalvagedResponses counts responses whose body read failed only
	// after the whole document had arrived, used instead of read again.
	SalvagedResponses int64
	// GetRecordsRetries counts GetRecords attempts after the first of a
	// call (throttling, 5xx, connection errors).
	GetRecordsRetries int64
	// Leader holds the leader's figures while this worker leads, else nil.
	Leader *LeaderStats
}

// LeaderStats are the leader's running figures.
type LeaderStats struct {
	// Workers is the number of live workers the leader sees.
	Workers int
	// TotalLeases is the number of leases in the table at the last
	// assignment.
	TotalLeases int
	// ExpiredLeases is the number of leases of dead workers found at the
	// last assignment.
	ExpiredLeases int
	// Reassignments counts lease moves the leader made.
	Reassignments int64
	// AssignmentRuns counts assignment runs.
	AssignmentRuns int64
	// LastAssignmentAt is when the last assignment ran.
	LastAssignmentAt time.Time
}

// LeaseStats describes one shard this worker runs.
type LeaseStats struct {
	// ShardID is the shard's id (the lease key).
	ShardID string
	// State is one of waiting-for-parents, initializing, processing,
	// shard-ended, shutting-down.
	State string
	// LastCheckpoint is the last position this worker recorded (or the
	// lease's checkpoint when it started).
	LastCheckpoint consumer.ExtendedSequenceNumber
	// MillisBehindLatest is the lag Kinesis reported with the shard's
	// last GetRecords response (empty responses included): how far the
	// fetching is behind the tip of the shard.
	MillisBehindLatest int64
	// OldestUncheckpointedAge is the age of the oldest record this worker
	// fetched from the shard after its last checkpoint, whether still
	// queued, with the processor, or processed but not checkpointed; 0
	// when everything fetched is checkpointed. The age is now minus the
	// record's ApproximateArrivalTimestamp (the fetch time where the
	// service gives none). It is counted per GetRecords batch: when the
	// last checkpoint falls inside a batch, the batch's first record
	// counts, so the figure may overstate by up to one batch's span.
	// Together with MillisBehindLatest it bounds how stale the
	// application's results are: a processor that is slow or does not
	// checkpoint shows here, a fetcher that is behind shows there.
	OldestUncheckpointedAge time.Duration
	// RecordsFetched counts records read from the shard since it started.
	RecordsFetched int64
	// RecordsProcessed counts records its processor handled.
	RecordsProcessed int64
	// PendingRecords are fetched but not yet processed.
	PendingRecords int64
	// PendingBytes are the data bytes of PendingRecords.
	PendingBytes int64
	// Since is when this worker started the lease.
	Since time.Time
}

// Stats returns a snapshot of the worker. It is safe to call at any time
// from any goroutine.
func (s *Scheduler) Stats() Stats {
	st := Stats{
		WorkerID:         s.cfg.WorkerID,
		IsLeader:         s.IsLeader(),
		RecordsProcessed: s.stats.recordsProcessed.Load(),
		BytesProcessed:   s.stats.bytesProcessed.Load(),
		ProcessorErrors:  s.stats.processorErrors.Load(),
		LeasesTaken:      s.stats.leasesTaken.Load(),
		LeasesLost:       s.stats.leasesLost.Load(),
	}
	if s.decoder != nil {
		d := s.decoder.Stats()
		st.DecodedResponses, st.SalvagedResponses, st.GetRecordsRetries = d.Decoded+d.Events, d.Salvaged, d.Retries
	}
	if sess := s.session.Load(); sess != nil {
		st.Fenced = sess.Fence() != nil
	}
	if st.IsLeader {
		cs := s.coordinator.Load().Stats()
		st.Leader = &LeaderStats{Workers: cs.Workers, TotalLeases: cs.TotalLeases, ExpiredLeases: cs.ExpiredLeases,
			Reassignments: cs.Reassignments, AssignmentRuns: cs.AssignmentRuns, LastAssignmentAt: cs.LastAssignmentAt}
	}
	now := time.Now()
	s.mu.Lock()
	for key, c := range s.consumers {
		select {
		case <-c.done:
			continue
		default:
		}
		ls := LeaseStats{
			ShardID:                 key,
			State:                   c.state(),
			LastCheckpoint:          c.cp.LastCheckpoint(),
			MillisBehindLatest:      c.behind.Load(),
			OldestUncheckpointedAge: c.lag.oldestUncheckpointedAge(now),
			RecordsFetched:          c.fetched.Load(),
			RecordsProcessed:        c.records.Load(),
			Since:                   c.since,
		}
		if q := c.queue.Load(); q != nil {
			ls.PendingRecords, ls.PendingBytes = q.size()
		}
		st.MaxMillisBehindLatest = max(st.MaxMillisBehindLatest, ls.MillisBehindLatest)
		st.MaxOldestUncheckpointedAge = max(st.MaxOldestUncheckpointedAge, ls.OldestUncheckpointedAge)
		st.Leases = append(st.Leases, ls)
	}
	st.RecordsPerSecond = s.load.recordsPerSecond
	for _, v := range s.load.kbps {
		st.KBPerSecond += v
	}
	s.mu.Unlock()
	sort.Slice(st.Leases, func(i, j int) bool { return st.Leases[i].ShardID < st.Leases[j].ShardID })
	return st
}

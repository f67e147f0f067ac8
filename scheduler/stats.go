package scheduler

import (
	"sort"
	"time"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/coordinator"
	"github.com/shardwise/shardwise/internal/fastdecode"
)

// Stats is a snapshot of a worker, for a service's health endpoint.
type Stats struct {
	WorkerID string
	// IsLeader reports whether this worker assigns the leases.
	IsLeader bool
	// Fenced reports that the worker could not prove it is alive in time
	// and has stopped processing until a heartbeat succeeds.
	Fenced bool
	// Leases are the shards this worker is running, by shard id.
	Leases []LeaseStats
	// Totals since Run started.
	RecordsProcessed int64
	BytesProcessed   int64
	ProcessorErrors  int64
	LeasesTaken      int64
	LeasesLost       int64
	// Rates over the last heartbeat intervals (exponentially weighted).
	RecordsPerSecond float64
	KBPerSecond      float64
	// Decode counts GetRecords responses decoded by Shardwise's decoder
	// (zero with Config.SDKDecoder), responses salvaged after a failed
	// final read, and retried GetRecords attempts.
	Decode fastdecode.Stats
	// Leader holds the leader's figures while this worker leads.
	Leader *coordinator.CoordinatorStats
}

// LeaseStats describes one shard this worker runs.
type LeaseStats struct {
	ShardID string
	// State is one of waiting-for-parents, initializing, processing,
	// shard-ended, shutting-down.
	State string
	// LastCheckpoint is the last position this worker recorded (or the
	// lease's checkpoint when it started).
	LastCheckpoint consumer.ExtendedSequenceNumber
	// MillisBehindLatest is the lag Kinesis reported with the last batch
	// processed.
	MillisBehindLatest int64
	RecordsFetched     int64
	RecordsProcessed   int64
	// PendingRecords and PendingBytes are fetched but not yet processed.
	PendingRecords int64
	PendingBytes   int64
	Since          time.Time
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
		Decode:           s.decoder.Stats(),
	}
	if sess := s.session.Load(); sess != nil {
		st.Fenced = sess.Fence() != nil
	}
	if st.IsLeader {
		ls := s.coordinator.Load().Stats()
		st.Leader = &ls
	}
	s.mu.Lock()
	for key, c := range s.consumers {
		select {
		case <-c.done:
			continue
		default:
		}
		ls := LeaseStats{
			ShardID:            key,
			State:              c.state(),
			LastCheckpoint:     c.cp.LastCheckpoint(),
			MillisBehindLatest: c.behind.Load(),
			RecordsFetched:     c.fetched.Load(),
			RecordsProcessed:   c.records.Load(),
			Since:              c.since,
		}
		if q := c.queue.Load(); q != nil {
			ls.PendingRecords, ls.PendingBytes = q.size()
		}
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

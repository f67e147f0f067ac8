package leases

import (
	"context"
	"sync"
)

// LeaderRecord is the leader item of the coordinator-state table
// (<app>-CoordinatorState): which worker assigns the leases. Epoch
// increases with every claim and release, and every write is conditioned
// on it.
type LeaderRecord struct {
	// Leader is the leader's worker id; empty when released.
	Leader string
	// SessionID is the leader's worker session (see WorkerRecord.SessionID):
	// the leader's liveness is that session's heartbeat.
	SessionID string
	// Epoch is 0 when the item does not exist.
	Epoch int64
}

// CoordinatorStore keeps the leader item. Both writes are compare-and-set
// on the epoch, so two candidates that claim at once cannot both win.
//
// All methods are safe for concurrent use.
type CoordinatorStore interface {
	// EnsureTable creates the table if absent (idempotent, concurrent-safe).
	EnsureTable(ctx context.Context) error
	// GetLeader reads the leader item (strongly consistent); the zero
	// record if absent.
	GetLeader(ctx context.Context) (LeaderRecord, error)
	// ClaimLeader names leader (with its session) as leader, on condition
	// that the stored epoch is still prevEpoch (absent for 0).
	// ErrConditionFailed if someone else wrote first.
	ClaimLeader(ctx context.Context, prevEpoch int64, leader, session string) (LeaderRecord, error)
	// ReleaseLeader clears the leader, on condition that the stored record
	// is still rec. ErrConditionFailed otherwise.
	ReleaseLeader(ctx context.Context, rec LeaderRecord) error
}

// memoryCoordinatorStore is a CoordinatorStore kept in memory, with the
// same compare-and-set semantics as the DynamoDB one. It is meant for
// tests.
type memoryCoordinatorStore struct {
	mu     sync.Mutex // guards the fields below
	rec    LeaderRecord
	writes int64
}

var _ CoordinatorStore = (*memoryCoordinatorStore)(nil)

// newMemoryCoordinatorStore returns an empty store.
func newMemoryCoordinatorStore() *memoryCoordinatorStore { return &memoryCoordinatorStore{} }

// Writes counts write requests (successful or refused by their
// condition).
func (s *memoryCoordinatorStore) Writes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// EnsureTable implements CoordinatorStore.
func (s *memoryCoordinatorStore) EnsureTable(context.Context) error { return nil }

// GetLeader implements CoordinatorStore.
func (s *memoryCoordinatorStore) GetLeader(ctx context.Context) (LeaderRecord, error) {
	if err := ctx.Err(); err != nil {
		return LeaderRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec, nil
}

// ClaimLeader implements CoordinatorStore.
func (s *memoryCoordinatorStore) ClaimLeader(ctx context.Context, prevEpoch int64, leader, session string) (LeaderRecord, error) {
	if err := ctx.Err(); err != nil {
		return LeaderRecord{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.rec.Epoch != prevEpoch {
		return LeaderRecord{}, ErrConditionFailed
	}
	s.rec = LeaderRecord{Leader: leader, SessionID: session, Epoch: prevEpoch + 1}
	return s.rec, nil
}

// ReleaseLeader implements CoordinatorStore.
func (s *memoryCoordinatorStore) ReleaseLeader(ctx context.Context, rec LeaderRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.rec != rec {
		return ErrConditionFailed
	}
	s.rec = LeaderRecord{Epoch: rec.Epoch + 1}
	return nil
}

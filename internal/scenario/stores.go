package scenario

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
)

// errPartitioned is what a partitioned worker's store calls return.
var errPartitioned = errors.New("scenario: network partition (DynamoDB unreachable)")

// partition is one worker's switch: while on, every store call fails.
type partition struct{ on atomic.Bool }

func (p *partition) check(ctx context.Context) error {
	if p.on.Load() {
		return errPartitioned
	}
	return ctx.Err()
}

// leaseStore is one worker's view of the shared lease store: it fails
// while partitioned and records every checkpoint that succeeded.
type leaseStore struct {
	leases.Store
	p   *partition
	log *checkpointLog
}

type checkpointLog struct {
	mu      sync.Mutex
	byKey   map[string][]consumer.ExtendedSequenceNumber
	backErr []string
}

func (l *checkpointLog) add(key string, pos consumer.ExtendedSequenceNumber) {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := l.byKey[key]
	if n := len(prev); n > 0 && consumer.Compare(pos, prev[n-1]) < 0 {
		l.backErr = append(l.backErr, key+": "+prev[n-1].String()+" -> "+pos.String())
	}
	l.byKey[key] = append(prev, pos)
}

func (s *leaseStore) EnsureTable(ctx context.Context) error {
	if err := s.p.check(ctx); err != nil {
		return err
	}
	return s.Store.EnsureTable(ctx)
}
func (s *leaseStore) Create(ctx context.Context, l leases.Lease) (bool, error) {
	if err := s.p.check(ctx); err != nil {
		return false, err
	}
	return s.Store.Create(ctx, l)
}
func (s *leaseStore) Get(ctx context.Context, key string) (leases.Lease, error) {
	if err := s.p.check(ctx); err != nil {
		return leases.Lease{}, err
	}
	return s.Store.Get(ctx, key)
}
func (s *leaseStore) List(ctx context.Context) ([]leases.Lease, error) {
	if err := s.p.check(ctx); err != nil {
		return nil, err
	}
	return s.Store.List(ctx)
}
func (s *leaseStore) ListKeysByOwner(ctx context.Context, owner string) ([]string, error) {
	if err := s.p.check(ctx); err != nil {
		return nil, err
	}
	return s.Store.ListKeysByOwner(ctx, owner)
}
func (s *leaseStore) Take(ctx context.Context, l leases.Lease, to string) (leases.Lease, error) {
	if err := s.p.check(ctx); err != nil {
		return leases.Lease{}, err
	}
	return s.Store.Take(ctx, l, to)
}
func (s *leaseStore) Release(ctx context.Context, l leases.Lease) (leases.Lease, error) {
	if err := s.p.check(ctx); err != nil {
		return leases.Lease{}, err
	}
	return s.Store.Release(ctx, l)
}
func (s *leaseStore) StartHandoff(ctx context.Context, l leases.Lease, to string) (leases.Lease, error) {
	if err := s.p.check(ctx); err != nil {
		return leases.Lease{}, err
	}
	return s.Store.StartHandoff(ctx, l, to)
}
func (s *leaseStore) CompleteHandoff(ctx context.Context, key, old string) (leases.Lease, error) {
	if err := s.p.check(ctx); err != nil {
		return leases.Lease{}, err
	}
	return s.Store.CompleteHandoff(ctx, key, old)
}
func (s *leaseStore) Checkpoint(ctx context.Context, key, owner string, counter int64, pos consumer.ExtendedSequenceNumber) (int64, error) {
	if err := s.p.check(ctx); err != nil {
		return 0, err
	}
	n, err := s.Store.Checkpoint(ctx, key, owner, counter, pos)
	if err == nil {
		s.log.add(key, pos)
	}
	return n, err
}
func (s *leaseStore) PrepareCheckpoint(ctx context.Context, key, owner string, counter int64, pos consumer.ExtendedSequenceNumber, state []byte) (int64, error) {
	if err := s.p.check(ctx); err != nil {
		return 0, err
	}
	return s.Store.PrepareCheckpoint(ctx, key, owner, counter, pos, state)
}
func (s *leaseStore) SetChildShards(ctx context.Context, key, owner string, counter int64, children []string) (int64, error) {
	if err := s.p.check(ctx); err != nil {
		return 0, err
	}
	return s.Store.SetChildShards(ctx, key, owner, counter, children)
}
func (s *leaseStore) Delete(ctx context.Context, key string, counter int64) error {
	if err := s.p.check(ctx); err != nil {
		return err
	}
	return s.Store.Delete(ctx, key, counter)
}

// workerStore is one worker's view of the shared worker table.
type workerStore struct {
	leases.WorkerStore
	p *partition
}

func (s *workerStore) EnsureTable(ctx context.Context) error {
	if err := s.p.check(ctx); err != nil {
		return err
	}
	return s.WorkerStore.EnsureTable(ctx)
}
func (s *workerStore) Register(ctx context.Context, r leases.WorkerRecord) (leases.WorkerRecord, error) {
	if err := s.p.check(ctx); err != nil {
		return leases.WorkerRecord{}, err
	}
	return s.WorkerStore.Register(ctx, r)
}
func (s *workerStore) Heartbeat(ctx context.Context, r leases.WorkerRecord) (leases.WorkerRecord, error) {
	if err := s.p.check(ctx); err != nil {
		return leases.WorkerRecord{}, err
	}
	return s.WorkerStore.Heartbeat(ctx, r)
}
func (s *workerStore) List(ctx context.Context) ([]leases.WorkerRecord, error) {
	if err := s.p.check(ctx); err != nil {
		return nil, err
	}
	return s.WorkerStore.List(ctx)
}
func (s *workerStore) Get(ctx context.Context, id string) (leases.WorkerRecord, error) {
	if err := s.p.check(ctx); err != nil {
		return leases.WorkerRecord{}, err
	}
	return s.WorkerStore.Get(ctx, id)
}
func (s *workerStore) Deregister(ctx context.Context, id, session string) error {
	if err := s.p.check(ctx); err != nil {
		return err
	}
	return s.WorkerStore.Deregister(ctx, id, session)
}
func (s *workerStore) Remove(ctx context.Context, r leases.WorkerRecord) error {
	if err := s.p.check(ctx); err != nil {
		return err
	}
	return s.WorkerStore.Remove(ctx, r)
}

// coordStore is one worker's view of the coordinator table.
type coordStore struct {
	leases.CoordinatorStore
	p *partition
}

func (s *coordStore) EnsureTable(ctx context.Context) error {
	if err := s.p.check(ctx); err != nil {
		return err
	}
	return s.CoordinatorStore.EnsureTable(ctx)
}
func (s *coordStore) GetLeader(ctx context.Context) (leases.LeaderRecord, error) {
	if err := s.p.check(ctx); err != nil {
		return leases.LeaderRecord{}, err
	}
	return s.CoordinatorStore.GetLeader(ctx)
}
func (s *coordStore) ClaimLeader(ctx context.Context, prev int64, leader, session string) (leases.LeaderRecord, error) {
	if err := s.p.check(ctx); err != nil {
		return leases.LeaderRecord{}, err
	}
	return s.CoordinatorStore.ClaimLeader(ctx, prev, leader, session)
}
func (s *coordStore) ReleaseLeader(ctx context.Context, rec leases.LeaderRecord) error {
	if err := s.p.check(ctx); err != nil {
		return err
	}
	return s.CoordinatorStore.ReleaseLeader(ctx, rec)
}

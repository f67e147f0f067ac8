package scenario_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/scheduler"
)

// errCutOff is what a cut-off worker's DynamoDB calls return once their
// stall is over.
var errCutOff = errors.New("scenario test: DynamoDB unreachable (request timed out)")

// link is one worker's network: every AWS call it makes takes a fixed
// latency plus a random part (from a seeded generator, so a run is
// repeatable). While it is cut, its DynamoDB calls (never its Kinesis
// calls) hang for stall, or until their context ends, and then fail, as
// requests to an unreachable endpoint do; with cutHeartbeats only the
// heartbeats hang and the other calls fail at once.
type link struct {
	base, jitter, stall time.Duration
	cut                 atomic.Int32 // a cutMode

	mu  sync.Mutex // guards rng
	rng *rand.Rand
}

type cutMode int32

const (
	connected     cutMode = iota
	cutAll                // every DynamoDB call stalls, then fails
	cutHeartbeats         // heartbeats stall, other DynamoDB calls fail at once
)

func newLink(seed uint64, base, jitter, stall time.Duration) *link {
	return &link{base: base, jitter: jitter, stall: stall, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (l *link) latency() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.base + time.Duration(l.rng.Int64N(int64(l.jitter)+1))
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dynamo is the delay of one DynamoDB call, or its failure.
func (l *link) dynamo(ctx context.Context) error { return l.dynamoCall(ctx, false) }

func (l *link) dynamoCall(ctx context.Context, heartbeat bool) error {
	switch cutMode(l.cut.Load()) {
	case connected:
		return sleep(ctx, l.latency())
	case cutHeartbeats:
		if !heartbeat {
			return errCutOff
		}
	}
	if err := sleep(ctx, l.stall); err != nil {
		return err
	}
	return errCutOff
}

// kinesisCall is the delay of one Kinesis call.
func (l *link) kinesisCall(ctx context.Context) error { return sleep(ctx, l.latency()) }

// wrap puts the link between a worker and the stores and stream its
// config names.
func (l *link) wrap(cfg *scheduler.Config) {
	cfg.Stores = leases.Stores{
		Leases:      &slowLeases{Store: cfg.Stores.Leases, l: l},
		Workers:     &slowWorkers{WorkerStore: cfg.Stores.Workers, l: l},
		Coordinator: &slowCoord{CoordinatorStore: cfg.Stores.Coordinator, l: l},
	}
	cfg.KinesisClient = &slowKinesis{k: cfg.KinesisClient, l: l}
}

type slowKinesis struct {
	k scheduler.KinesisAPI
	l *link
}

func (s *slowKinesis) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, o ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	if err := s.l.kinesisCall(ctx); err != nil {
		return nil, err
	}
	return s.k.DescribeStreamSummary(ctx, in, o...)
}
func (s *slowKinesis) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	if err := s.l.kinesisCall(ctx); err != nil {
		return nil, err
	}
	return s.k.ListShards(ctx, in, o...)
}
func (s *slowKinesis) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, o ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	if err := s.l.kinesisCall(ctx); err != nil {
		return nil, err
	}
	return s.k.GetShardIterator(ctx, in, o...)
}
func (s *slowKinesis) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, o ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	if err := s.l.kinesisCall(ctx); err != nil {
		return nil, err
	}
	return s.k.GetRecords(ctx, in, o...)
}

func (s *slowKinesis) RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, o ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error) {
	if err := s.l.kinesisCall(ctx); err != nil {
		return nil, err
	}
	return s.k.RegisterStreamConsumer(ctx, in, o...)
}
func (s *slowKinesis) DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, o ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error) {
	if err := s.l.kinesisCall(ctx); err != nil {
		return nil, err
	}
	return s.k.DescribeStreamConsumer(ctx, in, o...)
}
func (s *slowKinesis) SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, o ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error) {
	if err := s.l.kinesisCall(ctx); err != nil {
		return nil, err
	}
	return s.k.SubscribeToShard(ctx, in, o...)
}

type slowLeases struct {
	leases.Store
	l *link
}

func (s *slowLeases) EnsureTable(ctx context.Context) error {
	if err := s.l.dynamo(ctx); err != nil {
		return err
	}
	return s.Store.EnsureTable(ctx)
}
func (s *slowLeases) Create(ctx context.Context, le leases.Lease) (bool, error) {
	if err := s.l.dynamo(ctx); err != nil {
		return false, err
	}
	return s.Store.Create(ctx, le)
}
func (s *slowLeases) Get(ctx context.Context, key string) (leases.Lease, error) {
	if err := s.l.dynamo(ctx); err != nil {
		return leases.Lease{}, err
	}
	return s.Store.Get(ctx, key)
}
func (s *slowLeases) List(ctx context.Context) ([]leases.Lease, error) {
	if err := s.l.dynamo(ctx); err != nil {
		return nil, err
	}
	return s.Store.List(ctx)
}
func (s *slowLeases) ListKeysByOwner(ctx context.Context, owner string) ([]string, error) {
	if err := s.l.dynamo(ctx); err != nil {
		return nil, err
	}
	return s.Store.ListKeysByOwner(ctx, owner)
}
func (s *slowLeases) Take(ctx context.Context, le leases.Lease, to string) (leases.Lease, error) {
	if err := s.l.dynamo(ctx); err != nil {
		return leases.Lease{}, err
	}
	return s.Store.Take(ctx, le, to)
}
func (s *slowLeases) Release(ctx context.Context, le leases.Lease) (leases.Lease, error) {
	if err := s.l.dynamo(ctx); err != nil {
		return leases.Lease{}, err
	}
	return s.Store.Release(ctx, le)
}
func (s *slowLeases) StartHandoff(ctx context.Context, le leases.Lease, to string) (leases.Lease, error) {
	if err := s.l.dynamo(ctx); err != nil {
		return leases.Lease{}, err
	}
	return s.Store.StartHandoff(ctx, le, to)
}
func (s *slowLeases) CompleteHandoff(ctx context.Context, key, old string) (leases.Lease, error) {
	if err := s.l.dynamo(ctx); err != nil {
		return leases.Lease{}, err
	}
	return s.Store.CompleteHandoff(ctx, key, old)
}
func (s *slowLeases) Checkpoint(ctx context.Context, key, owner string, counter int64, pos consumer.ExtendedSequenceNumber) (int64, error) {
	if err := s.l.dynamo(ctx); err != nil {
		return 0, err
	}
	return s.Store.Checkpoint(ctx, key, owner, counter, pos)
}
func (s *slowLeases) PrepareCheckpoint(ctx context.Context, key, owner string, counter int64, pos consumer.ExtendedSequenceNumber, state []byte) (int64, error) {
	if err := s.l.dynamo(ctx); err != nil {
		return 0, err
	}
	return s.Store.PrepareCheckpoint(ctx, key, owner, counter, pos, state)
}
func (s *slowLeases) SetChildShards(ctx context.Context, key, owner string, counter int64, children []string) (int64, error) {
	if err := s.l.dynamo(ctx); err != nil {
		return 0, err
	}
	return s.Store.SetChildShards(ctx, key, owner, counter, children)
}
func (s *slowLeases) Delete(ctx context.Context, key string, counter int64) error {
	if err := s.l.dynamo(ctx); err != nil {
		return err
	}
	return s.Store.Delete(ctx, key, counter)
}

type slowWorkers struct {
	leases.WorkerStore
	l *link
}

func (s *slowWorkers) EnsureTable(ctx context.Context) error {
	if err := s.l.dynamo(ctx); err != nil {
		return err
	}
	return s.WorkerStore.EnsureTable(ctx)
}
func (s *slowWorkers) Register(ctx context.Context, r leases.WorkerRecord) (leases.WorkerRecord, error) {
	if err := s.l.dynamo(ctx); err != nil {
		return leases.WorkerRecord{}, err
	}
	return s.WorkerStore.Register(ctx, r)
}
func (s *slowWorkers) Heartbeat(ctx context.Context, r leases.WorkerRecord) (leases.WorkerRecord, error) {
	if err := s.l.dynamoCall(ctx, true); err != nil {
		return leases.WorkerRecord{}, err
	}
	return s.WorkerStore.Heartbeat(ctx, r)
}
func (s *slowWorkers) List(ctx context.Context) ([]leases.WorkerRecord, error) {
	if err := s.l.dynamo(ctx); err != nil {
		return nil, err
	}
	return s.WorkerStore.List(ctx)
}
func (s *slowWorkers) Get(ctx context.Context, id string) (leases.WorkerRecord, error) {
	if err := s.l.dynamo(ctx); err != nil {
		return leases.WorkerRecord{}, err
	}
	return s.WorkerStore.Get(ctx, id)
}
func (s *slowWorkers) Deregister(ctx context.Context, id, session string) error {
	if err := s.l.dynamo(ctx); err != nil {
		return err
	}
	return s.WorkerStore.Deregister(ctx, id, session)
}
func (s *slowWorkers) Remove(ctx context.Context, r leases.WorkerRecord) error {
	if err := s.l.dynamo(ctx); err != nil {
		return err
	}
	return s.WorkerStore.Remove(ctx, r)
}

type slowCoord struct {
	leases.CoordinatorStore
	l *link
}

func (s *slowCoord) EnsureTable(ctx context.Context) error {
	if err := s.l.dynamo(ctx); err != nil {
		return err
	}
	return s.CoordinatorStore.EnsureTable(ctx)
}
func (s *slowCoord) GetLeader(ctx context.Context) (leases.LeaderRecord, error) {
	if err := s.l.dynamo(ctx); err != nil {
		return leases.LeaderRecord{}, err
	}
	return s.CoordinatorStore.GetLeader(ctx)
}
func (s *slowCoord) ClaimLeader(ctx context.Context, prev int64, leader, session string) (leases.LeaderRecord, error) {
	if err := s.l.dynamo(ctx); err != nil {
		return leases.LeaderRecord{}, err
	}
	return s.CoordinatorStore.ClaimLeader(ctx, prev, leader, session)
}
func (s *slowCoord) ReleaseLeader(ctx context.Context, rec leases.LeaderRecord) error {
	if err := s.l.dynamo(ctx); err != nil {
		return err
	}
	return s.CoordinatorStore.ReleaseLeader(ctx, rec)
}

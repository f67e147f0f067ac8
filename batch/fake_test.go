package batch_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/kinesistest"
	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/scheduler"
)

// fakeStream is a stream on the in-memory Kinesis fake with an in-memory
// lease store, for running batch handlers through the real scheduler in
// tests and examples. Inside a testing/synctest bubble its time is the
// bubble's.
type fakeStream struct {
	fake    *kinesistest.Fake
	store   leases.Store
	workers leases.WorkerStore
	coord   leases.CoordinatorStore
	stream  string
	// last is the position of the last record put in each shard.
	last map[string]consumer.ExtendedSequenceNumber
}

func newFakeStream(shards int) (*fakeStream, error) {
	fake, err := kinesistest.New(kinesistest.Config{GetRecordsPerSecond: -1, GetShardIteratorPerSecond: -1})
	if err != nil {
		return nil, err
	}
	st := leases.NewMemoryStores()
	s := &fakeStream{
		fake:    fake,
		store:   st.Leases,
		workers: st.Workers,
		coord:   st.Coordinator,
		stream:  "handler-stream",
		last:    map[string]consumer.ExtendedSequenceNumber{},
	}
	return s, s.fake.CreateStream(s.stream, shards)
}

// put writes n records with payload "key-K:counter" over nKeys keys, the
// counters continuing from first.
func (s *fakeStream) put(first, n, nKeys int) error {
	entries := make([]kinesistest.PutEntry, n)
	for i := range entries {
		c := first + i
		k := "key-" + strconv.Itoa(c%nKeys)
		entries[i] = kinesistest.PutEntry{PartitionKey: k, Data: []byte(k + ":" + strconv.Itoa(c))}
	}
	res, err := s.fake.PutRecords(s.stream, entries)
	if err != nil {
		return err
	}
	for _, r := range res {
		s.last[r.ShardID] = consumer.ExtendedSequenceNumber{SequenceNumber: r.SequenceNumber}
	}
	return nil
}

func (s *fakeStream) config(worker string, log zerolog.Logger) scheduler.Config {
	return scheduler.Config{
		ApplicationName:          "handler-app",
		StreamName:               s.stream,
		InitialPosition:          consumer.InitialPositionTrimHorizon,
		KinesisClient:            s.fake,
		Stores:                   leases.Stores{Leases: s.store, Workers: s.workers, Coordinator: s.coord},
		WorkerID:                 worker,
		Logger:                   log,
		MinGetRecordsInterval:    5 * time.Millisecond,
		IdleTimeBetweenReads:     10 * time.Millisecond,
		FailoverTime:             time.Second,
		LeaseDiscoveryInterval:   30 * time.Millisecond,
		ShardSyncInterval:        200 * time.Millisecond,
		ParentPollInterval:       30 * time.Millisecond,
		ProcessorRetryBackoff:    5 * time.Millisecond,
		ProcessorRetryMaxBackoff: 40 * time.Millisecond,
		ShutdownTimeout:          5 * time.Second,
	}
}

// run starts a scheduler; stop cancels it and returns Run's result once it
// returned.
func (s *fakeStream) run(cfg scheduler.Config, f consumer.ProcessorFactory) (stop func() error, err error) {
	sch, err := scheduler.New(cfg, f)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sch.Run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}, nil
}

// checkpoints returns each lease's checkpoint.
func (s *fakeStream) checkpoints() (map[string]consumer.ExtendedSequenceNumber, error) {
	all, err := s.store.List(context.Background())
	if err != nil {
		return nil, err
	}
	out := map[string]consumer.ExtendedSequenceNumber{}
	for _, l := range all {
		out[l.Key] = l.Checkpoint
	}
	return out, nil
}

// parsePayload splits "key-K:counter".
func parsePayload(data []byte) (key string, counter int) {
	k, c, ok := strings.Cut(string(data), ":")
	if !ok {
		panic(fmt.Sprintf("payload %q", data))
	}
	n, err := strconv.Atoi(c)
	if err != nil {
		panic(err)
	}
	return k, n
}

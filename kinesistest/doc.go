// Package kinesistest is an in-memory Amazon Kinesis Data Streams service
// for tests, in the spirit of franz-go's kfake. A *Fake has the calls a
// consumer makes (DescribeStreamSummary, ListShards, GetShardIterator,
// GetRecords, and for enhanced fan-out RegisterStreamConsumer,
// DescribeStreamConsumer, ListStreamConsumers, DeregisterStreamConsumer
// and SubscribeToShard) with the SDK client's signatures and the service's
// semantics, so it plugs in wherever a *kinesis.Client does, in particular
// as scheduler.Config.KinesisClient; plus plain Go methods to create,
// fill, reshard (split, merge, UpdateShardCount) and delete streams, and to
// inject errors and latency into the SDK-shaped calls.
//
//	kin, err := kinesistest.New(kinesistest.Config{})
//	...
//	kin.CreateStream("orders", 2)
//	kin.PutRecord("orders", "customer-1", []byte(`{"total": 10}`))
//	cfg := scheduler.Config{KinesisClient: kin, ...}
//
// What it owns: the behaviour a polling consumer depends on and gets wrong
// when a fake is too kind —
//
//   - sequence numbers of 56 decimal digits, increasing within a shard and
//     across a reshard, that name their shard (AT_SEQUENCE_NUMBER with a
//     number from another shard is refused);
//   - routing by MD5(partition key) or an explicit hash key into the open
//     shard whose range holds it;
//   - splits, merges and UpdateShardCount with closed parents that keep
//     their records and get an EndingSequenceNumber, and GetRecords that
//     ends a closed shard with a nil NextShardIterator and ChildShards;
//   - ListShards paging (NextToken alone, expiring after 300 s) and shard
//     filters; iterator expiry; 5 GetRecords and 5 GetShardIterator calls
//     per second per shard; optionally the 2 MB/s read limit;
//   - the SDK's typed errors wrapped as the SDK client wraps them, so
//     awsapi's classifiers and errors.As work and type assertions do not.
//
// Imitations of emulator quirks (Config.IgnoreShardFilter,
// Config.IgnoreMaxResults, Config.OmitChildShards) let tests check that
// callers tolerate kinesalite.
//
// Enhanced fan-out: SubscribeToShard returns the SDK's own output, whose
// events are written in the service's event-stream framing and read
// through the SDK's decoder; subscriptions push records as they are put,
// end after Config.SubscriptionLifetime, end a closed shard with its
// ChildShards, and refuse a second subscription (ResourceInUseException)
// or a second call within a second (LimitExceededException). Fault hooks:
// EndSubscriptions (an early end, or a reset), SilenceSubscriptions, and
// InjectError on "SubscribeToShard". Each open subscription runs one
// goroutine, which ends with it.
//
// What it does not do: write throttling, KMS, stream
// status transitions (everything is ACTIVE at once), retention (records
// never expire), or any network I/O. It does its own 128-bit hash-key
// arithmetic so that it can check Shardwise's rather than share its bugs.
//
// Time comes from an injectable clock (Config.Now), time.Now by default,
// which inside a testing/synctest bubble is the bubble's fake clock; the
// fake starts no goroutines but those of open subscriptions, which a
// bubble owns like its own, so it is safe in a bubble.
package kinesistest

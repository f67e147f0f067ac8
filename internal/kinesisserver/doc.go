// Package kinesisserver is an in-process Kinesis endpoint for measurement:
// an HTTP/1.1 server on 127.0.0.1 speaking the Kinesis JSON 1.1 protocol
// for DescribeStreamSummary, ListShards, GetShardIterator and GetRecords,
// serving an endless stream of synthetic records from memory, so that a
// real *kinesis.Client — the SDK's request pipeline, its HTTP transport
// and its decoder, or a replacement — can be measured against a server that
// is never the bottleneck.
//
// Every shard reads as an endless run of pages, one page per GetRecords
// call. A page is encoded once, when the server starts: only its sequence
// numbers and its NextShardIterator change from one call to the next, and
// they are fixed-width decimal digits patched in place. Sequence numbers
// keep increasing for as long as the server runs: each is
// "49" + 20 digits of page number + 6 digits of record index + 28 zeros
// (56 digits, like Kinesis's). Iterators name a shard and a page.
//
// KPL aggregates are built per shard, as the KPL builds them for the shard
// its records are bound to: every sub-record's partition key hashes into
// the shard's range (a consumer drops the others as a sibling's).
//
// Pages are written with one Write call from a per-shard copy of the
// page (patched under the shard's lock) when all shards' copies fit in
// Config.MaxPageMemory; otherwise, for very large records, from one shared
// copy, written in pieces with the patched digits between them, so that
// 64 shards of 10 MB records cost 13 MB of memory, not 860 MB.
//
// What it does not do: put records, reshard, expire iterators, throttle,
// or keep sequence numbers unique across shards (they are per shard). A
// GetShardIterator at or after a sequence number resumes at the start of
// the page holding it; the consumer drops what it has already seen, as
// Shardwise does. LATEST and AT_TIMESTAMP start at page 0, like
// TRIM_HORIZON: the synthetic stream has no past.
//
// Enhanced fan-out: the endpoint also speaks unencrypted HTTP/2 (prior
// knowledge; H2CClient is a client for it) and answers
// RegisterStreamConsumer, DescribeStreamConsumer, ListStreamConsumers and
// DeregisterStreamConsumer from a small registry of its own (at most 20
// consumers, CREATING for Config.ConsumerActivation), and SubscribeToShard
// with real event-stream framing (internal/eventstream): the
// initial-response, then one SubscribeToShardEvent per page, patched into
// the frame as it is written (CRC computed on the way), so a subscription
// costs no copy of a page. The ContinuationSequenceNumber of an event is
// its page's last record, and AFTER_SEQUENCE_NUMBER of it resumes at the
// next page: no gap, no duplicate. Events go out as fast as HTTP/2 flow
// control allows, or, with Config.RecordsPerSecond, each as soon as its
// page is written. A subscription ends after Config.SubscriptionLifetime
// (5 minutes); a second one of the same consumer on the same shard while
// one is open answers ResourceInUseException, and calls closer than
// Config.SubscribeInterval (1 s) LimitExceededException. With
// Config.ShardEndAfterPages a shard's last event has ChildShards and no
// continuation. InjectFault adds the failures a consumer must survive:
// subscription ended early, stream or connection reset mid-event,
// silence, ResourceInUseException.
//
// It imports only the standard library, the AWS SDK, internal/kpl,
// internal/hashkey and internal/eventstream.
package kinesisserver

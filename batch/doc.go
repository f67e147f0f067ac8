// Package batch turns a function into a consumer.Processor with the
// semantics of an AWS Lambda function on a Kinesis trigger: records come in
// batches (BatchSize, BatchWindow), up to ParallelizationFactor batches of
// a shard are handled at once while each partition key stays in order, a
// failed batch is retried, bisected (BisectOnError) or given up to an
// on-failure destination (MaxRetryAttempts, MaxRecordAge, OnFailure), a
// handler may report partial batch failures (NewWithResponse), and
// tumbling windows carry state between calls (TumblingWindow). The
// settings are one Config struct whose zero value is Lambda's defaults.
//
// The processor writes checkpoints itself, only ever over the contiguous
// prefix of the shard's records whose handling ended, so a handler never
// checkpoints and a checkpoint never covers a record some lane has not
// finished. It bounds what it holds per shard (MaxPendingRecords,
// MaxPendingBytes) and pushes back on the scheduler when that is full.
//
// Give the factory New returns to scheduler.New. Package lambdaevents runs
// an existing Lambda function body written with aws-lambda-go's event types
// on top of this package.
//
// This package builds only on package consumer's contract: it does no I/O
// of its own and knows nothing of the scheduler, so a handler can be tested
// by driving its processor directly.
package batch

// Package consumertest tests a consumer.Processor without Kinesis,
// DynamoDB or a scheduler: Run drives a Processor made by a
// ProcessorFactory through its lifecycle exactly as the scheduler does
// (Initialize with the lease's position, ProcessRecords once per batch
// with the same retries, then ShardEnded, ShutdownRequested or LeaseLost)
// and reports what the processor checkpointed and the errors it returned.
//
// It is its own package, named after consumer as net/http/httptest is
// after net/http, because what it tests is the consumer contract (the
// Processor's lifecycle), not checkpoints: package checkpoint keeps the
// checkpoint rules and the fake checkpointer, which a test may also use on
// its own (calling ProcessRecords directly) or hand to Run to inject
// checkpoint failures. For a processor run by the real scheduler against an
// in-memory stream, use package kinesistest.
package consumertest

// Package consumer is the contract between Shardwise and the code that
// handles records: the Record type, the Processor lifecycle and its
// inputs, the ProcessorFactory the scheduler asks for processors, the
// Checkpointer interface a processor uses to record progress, initial
// positions and extended sequence numbers (a Kinesis sequence number plus
// the index of a sub-record inside a KPL aggregate), and the errors every
// Shardwise package shares.
//
// A program implements Processor and gives a ProcessorFactory to the
// scheduler; package batch builds a Processor from a function with the
// semantics of a Lambda function on a Kinesis trigger.
//
// This package holds only that contract: it owns no I/O, no machinery,
// and imports nothing of Shardwise's but internal leaf packages, so a
// processor can be tested without AWS.
package consumer

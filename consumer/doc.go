// Package consumer is the contract between Shardwise and the code that
// handles records: the Record type, the Processor lifecycle, the
// Checkpointer a processor uses to record progress, and extended sequence
// numbers (a Kinesis sequence number plus the index of a sub-record inside
// a KPL aggregate).
//
// A program implements Processor (or builds one from a function with the
// Lambda-style batch handler) and gives a ProcessorFactory to the scheduler.
//
// This package owns no I/O and imports nothing of Shardwise's but internal
// leaf packages, so a processor can be tested without AWS.
package consumer

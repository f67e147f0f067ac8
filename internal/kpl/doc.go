// Package kpl owns the KPL aggregated-record format: recognising an
// aggregate, splitting it into its sub-records (with their sub-sequence
// numbers, optionally keeping only those whose hash key falls in a lease's
// range), and building aggregates for producers, tests and benchmarks.
//
// An aggregate is the 4-byte magic F3 89 9A C2, a protobuf AggregatedRecord
// message, and the MD5 digest of that message. Deaggregation sits on the
// per-record hot path of every consumer, so it decodes the protobuf wire
// format by hand in a few passes over the input, returns sub-record data as
// slices of the input rather than copies, and allocates per aggregate, not
// per sub-record.
//
// It must never panic on input, and never drop data: anything that is not a
// valid aggregate is reported as an error, and the caller delivers the bytes
// as one plain record, as the Java KCL does.
//
// It imports only the standard library, internal/hashkey and internal/md5x.
package kpl

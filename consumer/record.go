package consumer

import "time"

// Record is one user record. A record that was written through the KPL as
// part of an aggregate is delivered as its own Record, with the aggregate's
// sequence number and its index in the aggregate as SubSequenceNumber.
type Record struct {
	// SequenceNumber is the Kinesis sequence number of the (possibly
	// aggregated) Kinesis record this record came from.
	SequenceNumber string
	// SubSequenceNumber is the index of this record inside its KPL
	// aggregate; 0 for a record that was not aggregated.
	SubSequenceNumber int64
	// Aggregated reports whether this record came out of a KPL aggregate.
	Aggregated bool
	// PartitionKey is the record's partition key (for a sub-record, its own
	// key from the aggregate's key table).
	PartitionKey string
	// ExplicitHashKey is the explicit hash key a KPL sub-record was written
	// with, or empty.
	ExplicitHashKey string
	// Data is the record's payload. The slice is owned by the processor
	// until ProcessRecords returns; copy it to keep it longer.
	Data []byte
	// ApproximateArrivalTimestamp is when Kinesis accepted the record.
	ApproximateArrivalTimestamp time.Time
	// EncryptionType is "NONE" or "KMS" as reported by Kinesis (may be empty
	// on emulators).
	EncryptionType string
}

// Position returns the record's extended sequence number.
func (r *Record) Position() ExtendedSequenceNumber {
	return ExtendedSequenceNumber{SequenceNumber: r.SequenceNumber, SubSequenceNumber: r.SubSequenceNumber}
}

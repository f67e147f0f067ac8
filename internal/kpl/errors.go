package kpl

import (
	"errors"
	"strconv"
)

var (
	// ErrNotAggregate reports data without the aggregate magic, or too short
	// to hold one. Such data is an ordinary record.
	ErrNotAggregate = errors.New("shardwise: not an aggregated record")
	// ErrCorrupt is matched (via errors.Is) by every *CorruptError: data that
	// claims to be an aggregate but cannot be decoded.
	ErrCorrupt = errors.New("shardwise: corrupt aggregated record")
)

// CorruptError describes why data carrying the aggregate magic could not be
// deaggregated. Producers do not write such records, so it points at a
// truncated or hand-built record; callers deliver the bytes as one plain
// record and should log the reason.
type CorruptError struct {
	// Reason says what was wrong, in words.
	Reason string
	// Offset is the byte offset in the whole record (magic included) of the
	// field where decoding failed, or -1 if the failure is not tied to one
	// place (a digest mismatch).
	Offset int
	// Err is an underlying cause, such as a hash-key parse error, or nil.
	Err error
}

func (e *CorruptError) Error() string {
	s := "kpl: corrupt aggregated record: " + e.Reason
	if e.Offset >= 0 {
		s += " (at byte " + strconv.Itoa(e.Offset) + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes errors.Is(err, ErrCorrupt) true without callers needing
// errors.As.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func (e *CorruptError) Unwrap() error { return e.Err }

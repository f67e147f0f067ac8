package consumer

import (
	"fmt"

	"github.com/shardwise/shardwise/internal/seqnum"
)

// The sentinel checkpoint values, stored in the lease table's checkpoint
// attribute exactly as the Java KCL stores them.
const (
	sentinelTrimHorizon = "TRIM_HORIZON"
	sentinelLatest      = "LATEST"
	sentinelAtTimestamp = "AT_TIMESTAMP"
	sentinelShardEnd    = "SHARD_END"
)

// ExtendedSequenceNumber is a position in a shard: a Kinesis sequence
// number and, for a record that came out of a KPL aggregate, the index of
// the sub-record inside it. It may also be one of the sentinel positions
// (TRIM_HORIZON, LATEST, AT_TIMESTAMP, SHARD_END), in which case
// SubSequenceNumber is 0.
//
// The zero value is "no position" and IsZero reports true.
type ExtendedSequenceNumber struct {
	// SequenceNumber is a Kinesis sequence number (decimal digits) or a
	// sentinel name.
	SequenceNumber string
	// SubSequenceNumber is the index of a KPL sub-record in its aggregate.
	SubSequenceNumber int64
}

// Sentinel positions.
var (
	TrimHorizon = ExtendedSequenceNumber{SequenceNumber: sentinelTrimHorizon}
	Latest      = ExtendedSequenceNumber{SequenceNumber: sentinelLatest}
	AtTimestamp = ExtendedSequenceNumber{SequenceNumber: sentinelAtTimestamp}
	ShardEnd    = ExtendedSequenceNumber{SequenceNumber: sentinelShardEnd}
)

// IsZero reports whether e holds no position.
func (e ExtendedSequenceNumber) IsZero() bool { return e.SequenceNumber == "" }

// IsShardEnd reports whether e is SHARD_END.
func (e ExtendedSequenceNumber) IsShardEnd() bool { return e.SequenceNumber == sentinelShardEnd }

func (e ExtendedSequenceNumber) String() string {
	if e.IsZero() {
		return "<none>"
	}
	if e.SubSequenceNumber != 0 {
		return fmt.Sprintf("%s/%d", e.SequenceNumber, e.SubSequenceNumber)
	}
	return e.SequenceNumber
}

// Validate reports an error if e is neither a sentinel nor a valid
// sequence number with a non-negative sub-sequence number.
func (e ExtendedSequenceNumber) Validate() error {
	if seqnum.IsSentinel(e.SequenceNumber) {
		if e.SubSequenceNumber != 0 {
			return fmt.Errorf("shardwise: sentinel position %s with sub-sequence number %d", e.SequenceNumber, e.SubSequenceNumber)
		}
		return nil
	}
	if !seqnum.Valid(e.SequenceNumber) {
		return fmt.Errorf("shardwise: invalid sequence number %q", e.SequenceNumber)
	}
	if e.SubSequenceNumber < 0 {
		return fmt.Errorf("shardwise: negative sub-sequence number %d", e.SubSequenceNumber)
	}
	return nil
}

// rank orders the kinds of position: the starting sentinels come before
// every sequence number, SHARD_END after every one.
func (e ExtendedSequenceNumber) rank() int {
	switch e.SequenceNumber {
	case "":
		return -1
	case sentinelTrimHorizon, sentinelLatest, sentinelAtTimestamp:
		return 0
	case sentinelShardEnd:
		return 2
	}
	return 1
}

// Compare returns -1, 0 or +1 as a is before, equal to, or after b.
// Sequence numbers are compared as unsigned decimal integers (they are up to
// 128 bits wide, so they are compared as strings, never parsed). The three
// starting sentinels compare equal to each other and before every sequence
// number; SHARD_END is after every sequence number; the zero value is
// before everything.
func Compare(a, b ExtendedSequenceNumber) int {
	ra, rb := a.rank(), b.rank()
	if ra != rb {
		if ra < rb {
			return -1
		}
		return 1
	}
	if ra != 1 {
		return 0
	}
	if c := seqnum.Compare(a.SequenceNumber, b.SequenceNumber); c != 0 {
		return c
	}
	switch {
	case a.SubSequenceNumber < b.SubSequenceNumber:
		return -1
	case a.SubSequenceNumber > b.SubSequenceNumber:
		return 1
	}
	return 0
}

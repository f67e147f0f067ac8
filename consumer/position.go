package consumer

import (
	"fmt"
	"time"
)

// InitialPositionKind says where a shard with no checkpoint starts.
type InitialPositionKind int

const (
	// PositionLatest starts after the newest record at the time the lease
	// is created (the Java KCL's effective default).
	PositionLatest InitialPositionKind = iota
	// PositionTrimHorizon starts at the oldest record still kept.
	PositionTrimHorizon
	// PositionAtTimestamp starts at the first record at or after a time.
	PositionAtTimestamp
)

// InitialPosition is where a shard with no checkpoint starts reading.
type InitialPosition struct {
	// Kind is LATEST, TRIM_HORIZON or AT_TIMESTAMP.
	Kind InitialPositionKind
	// Timestamp is used with PositionAtTimestamp.
	Timestamp time.Time
}

// Named initial positions.
var (
	InitialPositionLatest      = InitialPosition{Kind: PositionLatest}
	InitialPositionTrimHorizon = InitialPosition{Kind: PositionTrimHorizon}
)

// InitialPositionAtTimestamp starts at the first record at or after t.
func InitialPositionAtTimestamp(t time.Time) InitialPosition {
	return InitialPosition{Kind: PositionAtTimestamp, Timestamp: t}
}

// Validate reports whether p is usable.
func (p InitialPosition) Validate() error {
	switch p.Kind {
	case PositionLatest, PositionTrimHorizon:
		return nil
	case PositionAtTimestamp:
		if p.Timestamp.IsZero() {
			return fmt.Errorf("shardwise: AT_TIMESTAMP needs a timestamp")
		}
		return nil
	}
	return fmt.Errorf("shardwise: unknown initial position kind %d", p.Kind)
}

func (p InitialPosition) String() string {
	switch p.Kind {
	case PositionTrimHorizon:
		return sentinelTrimHorizon
	case PositionAtTimestamp:
		return sentinelAtTimestamp + "(" + p.Timestamp.UTC().Format(time.RFC3339Nano) + ")"
	}
	return sentinelLatest
}

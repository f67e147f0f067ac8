package metrics

import (
	"fmt"
	"strings"
)

// Level says how much detail a metric carries, and, in a sink's
// configuration, how much detail the sink publishes. The order follows the
// Java KCL: a sink configured at level L publishes the metrics recorded at L
// and at every less detailed level, so DETAILED publishes everything,
// SUMMARY only SUMMARY metrics, and NONE nothing.
//
// The zero value is LevelDetailed, which is also KCL's default, so a config
// struct that leaves its Level unset publishes everything.
type Level int8

const (
	// LevelDetailed marks fine-grained metrics (per-call latencies, per-lease
	// renewals, leader checks). Configured on a sink, it publishes all metrics.
	LevelDetailed Level = iota
	// LevelSummary marks the metrics operators alert on (records and bytes
	// processed, lag, lease counts). Configured on a sink, it publishes only
	// those.
	LevelSummary
	// LevelNone, configured on a sink, publishes nothing. Recording a metric
	// at LevelNone is a mistake; such observations are always dropped.
	LevelNone
)

// String returns the KCL spelling: "DETAILED", "SUMMARY" or "NONE".
func (l Level) String() string {
	switch l {
	case LevelDetailed:
		return "DETAILED"
	case LevelSummary:
		return "SUMMARY"
	case LevelNone:
		return "NONE"
	}
	return fmt.Sprintf("Level(%d)", int8(l))
}

// valid reports whether l is one of the three defined levels.
func (l Level) valid() bool { return l >= LevelDetailed && l <= LevelNone }

// Publishes reports whether a sink configured at l publishes a metric
// recorded at level metric. It is two integer comparisons, cheap enough to
// call before computing an expensive value.
func (l Level) Publishes(metric Level) bool {
	return metric >= l && metric < LevelNone
}

// ParseLevel reads "NONE", "SUMMARY" or "DETAILED" (any case, surrounding
// spaces ignored), the values KCL's metricsLevel setting takes.
func ParseLevel(s string) (Level, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "DETAILED":
		return LevelDetailed, nil
	case "SUMMARY":
		return LevelSummary, nil
	case "NONE":
		return LevelNone, nil
	}
	return 0, fmt.Errorf("shardwise: metrics: unknown level %q (want NONE, SUMMARY or DETAILED)", s)
}

// MarshalText implements encoding.TextMarshaler, so a Level reads and
// writes as its name in JSON, YAML or flag configuration.
func (l Level) MarshalText() ([]byte, error) {
	if !l.valid() {
		return nil, fmt.Errorf("shardwise: metrics: invalid level %d", int8(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseLevel.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Unit is a CloudWatch standard unit name. Other sinks may use it as a hint.
// Any CloudWatch standard unit name (for example Unit("Percent") or
// Unit("Bytes/Second")) may be used as a Unit; the constants are the units
// Shardwise records with.
type Unit string

const (
	// UnitNone marks a value without a unit.
	UnitNone Unit = "None"
	// UnitCount marks counts (RecordsProcessed, and the 1/0 ".Success"
	// metrics).
	UnitCount Unit = "Count"
	// UnitMilliseconds marks durations and lag (".Time" metrics,
	// MillisBehindLatest).
	UnitMilliseconds Unit = "Milliseconds"
	// UnitBytes marks sizes (DataBytesProcessed).
	UnitBytes Unit = "Bytes"
)

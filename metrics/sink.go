package metrics

import (
	"context"
)

// Sink receives metric observations. Implementations aggregate the
// observations of one name, unit and dimension set into a statistic set
// (SampleCount, Sum, Minimum, Maximum) and publish them somewhere.
//
// Threading contract: every method may be called from any number of
// goroutines at once. Record and Enabled never block on I/O and never wait
// for a publisher; they are called on processing paths (a handful of times
// per GetRecords call and per processed batch, from every shard goroutine)
// and must stay in the tens of nanoseconds. Close may block (bounded by its
// context) while it publishes what is left.
type Sink interface {
	// Enabled reports whether an observation recorded at level would be
	// kept. Callers use it to skip computing a value nobody publishes
	// (taking the time for a latency, say).
	Enabled(level Level) bool

	// Record adds one observation of the metric name with the given unit
	// and dimensions. Observations of a level the sink does not publish are
	// dropped without allocating or locking. A sink that cannot keep an
	// observation (a full queue, a non-finite value, a closed sink) drops
	// and counts it; Record never fails and never blocks.
	Record(name string, value float64, unit Unit, level Level, dims Dims)

	// Close publishes what is pending and releases the sink's resources. It
	// returns when done or when ctx ends, whichever comes first, with an
	// error if something could not be published. Observations recorded
	// after (or concurrently with) Close are dropped.
	Close(ctx context.Context) error
}

// Nop is a Sink that keeps nothing (Enabled always reports false). It is
// the default wherever a Sink is optional.
var Nop Sink = nop{}

type nop struct{}

func (nop) Enabled(Level) bool                        { return false }
func (nop) Record(string, float64, Unit, Level, Dims) {}
func (nop) Close(context.Context) error               { return nil }

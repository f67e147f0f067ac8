package metrics

import (
	"context"
	"time"
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

// Nop is a Sink that keeps nothing. It is the default wherever a Sink is
// optional.
type Nop struct{}

var _ Sink = Nop{}

// Enabled always reports false.
func (Nop) Enabled(Level) bool { return false }

// Record does nothing.
func (Nop) Record(string, float64, Unit, Level, Dims) {}

// Close does nothing.
func (Nop) Close(context.Context) error { return nil }

// Scope is a cheap handle that records into a Sink with dimensions bound
// once, for example Operation=ProcessTask plus ShardId for one shard
// consumer. Build one per component (or per lease) and keep it: the
// dimensions are canonicalised when the scope is made, so recording through
// it costs a level check and, for published levels, one short critical
// section in the sink, with no allocation.
//
// A nil *Scope is valid and records nothing, so a component can hold one
// unconditionally. A Scope is safe for concurrent use.
type Scope struct {
	sink Sink
	dims Dims
}

// NewScope returns a scope recording into s with the given dimensions. A
// nil s records nothing.
func NewScope(s Sink, dims ...Dimension) *Scope {
	if s == nil {
		s = Nop{}
	}
	return &Scope{sink: s, dims: NewDims(dims...)}
}

// With returns a scope on the same sink with more dimensions (replacing
// same-named ones). Call it when a component starts, not per observation:
// it allocates.
func (s *Scope) With(dims ...Dimension) *Scope {
	if s == nil {
		return nil
	}
	return &Scope{sink: s.sink, dims: s.dims.with(dims...)}
}

// Enabled reports whether observations at level are kept by the sink.
func (s *Scope) Enabled(level Level) bool {
	return s != nil && s.sink.Enabled(level)
}

// Count records n occurrences of name (unit Count).
func (s *Scope) Count(name string, n int64, level Level) {
	if s == nil {
		return
	}
	s.sink.Record(name, float64(n), UnitCount, level, s.dims)
}

// Value records one observation v of name in unit.
func (s *Scope) Value(name string, v float64, unit Unit, level Level) {
	if s == nil {
		return
	}
	s.sink.Record(name, v, unit, level, s.dims)
}

// Time records the duration d of name, in milliseconds as KCL does.
func (s *Scope) Time(name string, d time.Duration, level Level) {
	if s == nil {
		return
	}
	s.sink.Record(name, float64(d)/float64(time.Millisecond), UnitMilliseconds, level, s.dims)
}

// Success records 1 for ok and 0 otherwise (unit Count), KCL's encoding of
// the ".Success" metrics: the average is the success rate.
func (s *Scope) Success(name string, ok bool, level Level) {
	if s == nil {
		return
	}
	v := 0.0
	if ok {
		v = 1
	}
	s.sink.Record(name, v, UnitCount, level, s.dims)
}

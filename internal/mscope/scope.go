// Package mscope records the scheduler's metrics into a metrics.Sink
// through handles with their dimensions bound once. It is the scheduler's
// wiring; users implement or pick a metrics.Sink instead.
package mscope

import (
	"slices"
	"time"

	"github.com/shardwise/shardwise/metrics"
)

// Scope is a cheap handle that records into a metrics.Sink with dimensions bound
// once, for example Operation=ProcessTask plus ShardId for one shard
// consumer. Build one per component (or per lease) and keep it: the
// dimensions are canonicalised when the scope is made, so recording through
// it costs a level check and, for published levels, one short critical
// section in the sink, with no allocation.
//
// A nil *Scope is valid and records nothing, so a component can hold one
// unconditionally. A Scope is safe for concurrent use.
type Scope struct {
	sink metrics.Sink
	dims metrics.Dims
}

// New returns a scope recording into s with the given dimensions. A
// nil s records nothing.
func New(s metrics.Sink, dims ...metrics.Dimension) *Scope {
	if s == nil {
		s = metrics.Nop
	}
	return &Scope{sink: s, dims: metrics.NewDims(dims...)}
}

// With returns a scope on the same sink with more dimensions (replacing
// same-named ones). Call it when a component starts, not per observation:
// it allocates.
func (s *Scope) With(dims ...metrics.Dimension) *Scope {
	if s == nil {
		return nil
	}
	return &Scope{sink: s.sink, dims: with(s.dims, dims...)}
}

// Enabled reports whether observations at level are kept by the sink.
func (s *Scope) Enabled(level metrics.Level) bool {
	return s != nil && s.sink.Enabled(level)
}

// Count records n occurrences of name (unit Count).
func (s *Scope) Count(name string, n int64, level metrics.Level) {
	if s == nil {
		return
	}
	s.sink.Record(name, float64(n), metrics.UnitCount, level, s.dims)
}

// Value records one observation v of name in unit.
func (s *Scope) Value(name string, v float64, unit metrics.Unit, level metrics.Level) {
	if s == nil {
		return
	}
	s.sink.Record(name, v, unit, level, s.dims)
}

// Time records the duration d of name, in milliseconds as KCL does.
func (s *Scope) Time(name string, d time.Duration, level metrics.Level) {
	if s == nil {
		return
	}
	s.sink.Record(name, float64(d)/float64(time.Millisecond), metrics.UnitMilliseconds, level, s.dims)
}

// Success records 1 for ok and 0 otherwise (unit Count), KCL's encoding of
// the ".Success" metrics: the average is the success rate.
func (s *Scope) Success(name string, ok bool, level metrics.Level) {
	if s == nil {
		return
	}
	v := 0.0
	if ok {
		v = 1
	}
	s.sink.Record(name, v, metrics.UnitCount, level, s.dims)
}

// with returns d extended by more (a dimension of more replaces one of d
// with the same name).
func with(d metrics.Dims, more ...metrics.Dimension) metrics.Dims {
	if len(more) == 0 {
		return d
	}
	return metrics.NewDims(append(slices.Collect(d.All()), more...)...)
}

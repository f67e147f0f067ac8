package metrics

import (
	"context"
	"math"

	"github.com/shardwise/shardwise/internal/metricagg"
)

// Memory is a Sink that keeps the running aggregate of every series (metric
// name, unit and dimension set) in memory, without bound and without
// publishing. Tests use it to assert what a component recorded.
//
// Its read methods take the metric name and the series' exact dimensions,
// in any order; a series recorded with more or fewer dimensions does not
// match. They merge the series of that name and dimensions across units.
type Memory struct {
	level Level
	tab   *metricagg.Table[Dims]
}

var _ Sink = (*Memory)(nil)

// NewMemory returns an in-memory sink that keeps the observations a sink
// configured at level publishes.
func NewMemory(level Level) *Memory {
	return &Memory{level: level, tab: metricagg.New[Dims](0)}
}

// Enabled reports whether observations at level are kept.
func (m *Memory) Enabled(level Level) bool { return m.level.Publishes(level) }

// Record adds one observation. Non-finite values are ignored.
func (m *Memory) Record(name string, value float64, unit Unit, level Level, dims Dims) {
	if !m.level.Publishes(level) || math.IsNaN(value) || math.IsInf(value, 0) {
		return
	}
	m.tab.Add(metricagg.Key{Name: name, Unit: string(unit), Dims: dims.key}, dims, value)
}

// Close does nothing; the aggregates stay readable.
func (m *Memory) Close(context.Context) error { return nil }

// Sum is the sum of the observations of name with exactly dims (0 if none).
func (m *Memory) Sum(name string, dims ...Dimension) float64 {
	s, _ := m.get(name, dims...)
	return s.Sum
}

// Count is the number of observations of name with exactly dims.
func (m *Memory) Count(name string, dims ...Dimension) int64 {
	s, _ := m.get(name, dims...)
	return int64(s.SampleCount)
}

// Max is the largest observation of name with exactly dims (0 if none).
func (m *Memory) Max(name string, dims ...Dimension) float64 {
	s, _ := m.get(name, dims...)
	return s.Maximum
}

// get returns the statistics of the metric name with exactly the given
// dimensions, merged across units, and whether any were recorded.
func (m *Memory) get(name string, dims ...Dimension) (metricagg.Stats, bool) {
	return m.tab.Lookup(name, NewDims(dims...).key)
}

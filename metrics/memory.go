package metrics

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
)

// Memory is a Sink that keeps the running aggregate of every series in
// memory, without bound and without publishing. Tests use it to assert what
// a component recorded; a service may use it to expose figures of its own.
type Memory struct {
	level Level
	tab   *table
}

var _ Sink = (*Memory)(nil)

// NewMemory returns an in-memory sink that keeps observations recorded at
// levels a sink configured at level publishes.
func NewMemory(level Level) *Memory {
	return &Memory{level: level, tab: newTable(0)}
}

// Series is one aggregated metric as a sink saw it.
type Series struct {
	Name  string
	Unit  Unit
	Dims  Dims
	Stats StatisticSet
}

// Enabled reports whether observations at level are kept.
func (m *Memory) Enabled(level Level) bool { return m.level.Publishes(level) }

// Record adds one observation. Non-finite values are ignored.
func (m *Memory) Record(name string, value float64, unit Unit, level Level, dims Dims) {
	if !m.level.Publishes(level) || math.IsNaN(value) || math.IsInf(value, 0) {
		return
	}
	m.tab.add(name, unit, dims, value)
}

// Close does nothing; the aggregates stay readable.
func (m *Memory) Close(context.Context) error { return nil }

// Reset forgets everything recorded so far.
func (m *Memory) Reset() { m.tab.reset() }

// Snapshot returns every series, sorted by name, then dimensions, then
// unit.
func (m *Memory) Snapshot() []Series {
	var out []Series
	m.tab.each(func(s series) {
		out = append(out, Series{Name: s.name, Unit: s.unit, Dims: s.dims, Stats: s.stats})
	})
	slices.SortFunc(out, func(a, b Series) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Dims.key, b.Dims.key), strings.Compare(string(a.Unit), string(b.Unit)))
	})
	return out
}

// Get returns the statistics of the metric name with exactly the given
// dimensions (in any order), merged across units, and whether any were
// recorded.
func (m *Memory) Get(name string, dims ...Dimension) (StatisticSet, bool) {
	d := NewDims(dims...)
	var out StatisticSet
	found := false
	sh := &m.tab.shards[d.shard]
	sh.mu.Lock()
	for k, s := range sh.m {
		if k.name == name && k.dims == d.key {
			out.merge(s.stats)
			found = true
		}
	}
	sh.mu.Unlock()
	return out, found
}

// Sum is the sum of the observations of name with exactly dims.
func (m *Memory) Sum(name string, dims ...Dimension) float64 {
	s, _ := m.Get(name, dims...)
	return s.Sum
}

// Count is the number of observations of name with exactly dims.
func (m *Memory) Count(name string, dims ...Dimension) int64 {
	s, _ := m.Get(name, dims...)
	return int64(s.SampleCount)
}

// Max is the largest observation of name with exactly dims (0 if none).
func (m *Memory) Max(name string, dims ...Dimension) float64 {
	s, _ := m.Get(name, dims...)
	return s.Maximum
}

// Min is the smallest observation of name with exactly dims (0 if none).
func (m *Memory) Min(name string, dims ...Dimension) float64 {
	s, _ := m.Get(name, dims...)
	return s.Minimum
}

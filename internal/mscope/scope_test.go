package mscope

import (
	"context"
	"testing"
	"time"

	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/internal/racebuild"
	"github.com/shardwise/shardwise/metrics"
)

func TestNilScopeIsNoop(t *testing.T) {
	var s *Scope
	s.Count("x", 1, metrics.LevelSummary)
	s.Value("x", 1, metrics.UnitNone, metrics.LevelSummary)
	s.Time("x", time.Second, metrics.LevelSummary)
	s.Success("x", true, metrics.LevelSummary)
	if s.Enabled(metrics.LevelSummary) || s.With(metrics.Dimension{Name: "a", Value: "b"}) != nil {
		t.Error("nil scope is not inert")
	}
	if New(nil).sink != metrics.Nop {
		t.Error("the sink of a scope on a nil sink is not metrics.Nop")
	}
	if New(nil).Enabled(metrics.LevelDetailed) {
		t.Error("scope on a nil sink reports a level enabled")
	}
	if err := metrics.Nop.Close(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestScopeWithOverrides(t *testing.T) {
	m := metrics.NewMemory(metrics.LevelDetailed)
	worker := New(m, metrics.Dimension{Name: metricnames.DimensionOperation, Value: metricnames.OperationRenewAllLeases}, metrics.Dimension{Name: metricnames.DimensionWorkerIdentifier, Value: "w1"})
	shard := worker.With(metrics.Dimension{Name: metricnames.DimensionOperation, Value: metricnames.OperationProcessTask}, metrics.Dimension{Name: metricnames.DimensionShardID, Value: "s1"})
	worker.Count(metricnames.MetricCurrentLeases, 3, metrics.LevelSummary)
	shard.Success(metricnames.MetricGetRecordsSuccess, true, metrics.LevelDetailed)
	shard.Success(metricnames.MetricGetRecordsSuccess, false, metrics.LevelDetailed)

	if got := m.Sum(metricnames.MetricCurrentLeases, metrics.Dimension{Name: metricnames.DimensionOperation, Value: metricnames.OperationRenewAllLeases}, metrics.Dimension{Name: metricnames.DimensionWorkerIdentifier, Value: "w1"}); got != 3 {
		t.Errorf("CurrentLeases = %v", got)
	}
	dims := []metrics.Dimension{{Name: metricnames.DimensionOperation, Value: metricnames.OperationProcessTask}, {Name: metricnames.DimensionShardID, Value: "s1"}, {Name: metricnames.DimensionWorkerIdentifier, Value: "w1"}}
	if n, sum := m.Count(metricnames.MetricGetRecordsSuccess, dims...), m.Sum(metricnames.MetricGetRecordsSuccess, dims...); n != 2 || sum != 1 {
		t.Errorf("Success: %d samples summing to %v, want 2 averaging 0.5", n, sum)
	}
}

// TestRecordDoesNotAllocate pins the hot path: recording through a scope
// into an existing series, or at a level the sink drops, allocates nothing.
// (The CloudWatch publisher has the same test in its package.)
func TestRecordDoesNotAllocate(t *testing.T) {
	if racebuild.Enabled {
		t.Skip("the race detector adds allocations")
	}
	for name, sink := range map[string]metrics.Sink{"nop": metrics.Nop, "memory": metrics.NewMemory(metrics.LevelSummary)} {
		s := shardScope(sink, "shardId-000000000001")
		s.Count(metricnames.MetricRecordsProcessed, 1, metrics.LevelSummary) // create the series
		if n := testing.AllocsPerRun(1000, func() {
			s.Count(metricnames.MetricRecordsProcessed, 100, metrics.LevelSummary)
			s.Time(metricnames.MetricProcessRecordsTime, time.Millisecond, metrics.LevelSummary)
			s.Time(metricnames.MetricGetRecordsTime, time.Millisecond, metrics.LevelDetailed) // filtered
		}); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", name, n)
		}
	}
}

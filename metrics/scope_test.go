package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/shardwise/shardwise/internal/metricnames"
)

func TestNilScopeIsNoop(t *testing.T) {
	var s *Scope
	s.Count("x", 1, LevelSummary)
	s.Value("x", 1, UnitNone, LevelSummary)
	s.Time("x", time.Second, LevelSummary)
	s.Success("x", true, LevelSummary)
	if s.Enabled(LevelSummary) || s.With(Dimension{"a", "b"}) != nil {
		t.Error("nil scope is not inert")
	}
	if _, ok := NewScope(nil).sink.(Nop); !ok {
		t.Error("the sink of a scope on a nil sink is not Nop")
	}
	if NewScope(nil).Enabled(LevelDetailed) {
		t.Error("scope on a nil sink reports a level enabled")
	}
	if err := (Nop{}).Close(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestScopeWithOverrides(t *testing.T) {
	m := NewMemory(LevelDetailed)
	worker := NewScope(m, Dimension{metricnames.DimensionOperation, metricnames.OperationRenewAllLeases}, Dimension{metricnames.DimensionWorkerIdentifier, "w1"})
	shard := worker.With(Dimension{metricnames.DimensionOperation, metricnames.OperationProcessTask}, Dimension{metricnames.DimensionShardID, "s1"})
	worker.Count(metricnames.MetricCurrentLeases, 3, LevelSummary)
	shard.Success(metricnames.MetricGetRecordsSuccess, true, LevelDetailed)
	shard.Success(metricnames.MetricGetRecordsSuccess, false, LevelDetailed)

	if got := m.Sum(metricnames.MetricCurrentLeases, Dimension{metricnames.DimensionOperation, metricnames.OperationRenewAllLeases}, Dimension{metricnames.DimensionWorkerIdentifier, "w1"}); got != 3 {
		t.Errorf("CurrentLeases = %v", got)
	}
	st, ok := m.get(metricnames.MetricGetRecordsSuccess, Dimension{metricnames.DimensionOperation, metricnames.OperationProcessTask}, Dimension{metricnames.DimensionShardID, "s1"}, Dimension{metricnames.DimensionWorkerIdentifier, "w1"})
	if !ok || st.SampleCount != 2 || st.Average() != 0.5 {
		t.Errorf("Success stats %+v, want 2 samples averaging 0.5", st)
	}
}

// TestRecordDoesNotAllocate pins the hot path: recording through a scope
// into an existing series, or at a level the sink drops, allocates nothing.
// (The CloudWatch publisher has the same test in its package.)
func TestRecordDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector adds allocations")
	}
	for name, sink := range map[string]Sink{"nop": Nop{}, "memory": NewMemory(LevelSummary)} {
		s := shardScope(sink, "shardId-000000000001")
		s.Count(metricnames.MetricRecordsProcessed, 1, LevelSummary) // create the series
		if n := testing.AllocsPerRun(1000, func() {
			s.Count(metricnames.MetricRecordsProcessed, 100, LevelSummary)
			s.Time(metricnames.MetricProcessRecordsTime, time.Millisecond, LevelSummary)
			s.Time(metricnames.MetricGetRecordsTime, time.Millisecond, LevelDetailed) // filtered
		}); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", name, n)
		}
	}
}

package metrics

import (
	"context"
	"testing"
	"time"
)

func TestNilScopeIsNoop(t *testing.T) {
	var s *Scope
	s.Count("x", 1, LevelSummary)
	s.Value("x", 1, UnitNone, LevelSummary)
	s.Time("x", time.Second, LevelSummary)
	s.Success("x", true, LevelSummary)
	if s.Enabled(LevelSummary) || s.With(Dimension{"a", "b"}) != nil || s.Dims().Len() != 0 {
		t.Error("nil scope is not inert")
	}
	if _, ok := s.Sink().(Nop); !ok {
		t.Error("nil scope's sink is not Nop")
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
	worker := NewScope(m, Dimension{DimensionOperation, OperationRenewAllLeases}, Dimension{DimensionWorkerIdentifier, "w1"})
	shard := worker.With(Dimension{DimensionOperation, OperationProcessTask}, Dimension{DimensionShardID, "s1"})
	worker.Count(MetricCurrentLeases, 3, LevelSummary)
	shard.Success(MetricGetRecordsSuccess, true, LevelDetailed)
	shard.Success(MetricGetRecordsSuccess, false, LevelDetailed)

	if got := m.Sum(MetricCurrentLeases, Dimension{DimensionOperation, OperationRenewAllLeases}, Dimension{DimensionWorkerIdentifier, "w1"}); got != 3 {
		t.Errorf("CurrentLeases = %v", got)
	}
	st, ok := m.Get(MetricGetRecordsSuccess, Dimension{DimensionOperation, OperationProcessTask}, Dimension{DimensionShardID, "s1"}, Dimension{DimensionWorkerIdentifier, "w1"})
	if !ok || st.SampleCount != 2 || st.Average() != 0.5 {
		t.Errorf("Success stats %+v, want 2 samples averaging 0.5", st)
	}
}

// TestRecordDoesNotAllocate pins the hot path: recording through a scope
// into an existing series, or at a level the sink drops, allocates nothing.
func TestRecordDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector adds allocations")
	}
	cw, err := NewCloudWatch(CloudWatchConfig{Client: discardClient{}, Namespace: "app", Level: LevelSummary, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer cw.Close(context.Background())
	for name, sink := range map[string]Sink{"nop": Nop{}, "memory": NewMemory(LevelSummary), "cloudwatch": cw} {
		s := shardScope(sink, "shardId-000000000001")
		s.Count(MetricRecordsProcessed, 1, LevelSummary) // create the series
		if n := testing.AllocsPerRun(1000, func() {
			s.Count(MetricRecordsProcessed, 100, LevelSummary)
			s.Time(MetricProcessRecordsTime, time.Millisecond, LevelSummary)
			s.Time(MetricGetRecordsTime, time.Millisecond, LevelDetailed) // filtered
		}); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", name, n)
		}
	}
}

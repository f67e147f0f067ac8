package metrics

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestMemoryAggregates(t *testing.T) {
	m := NewMemory(LevelDetailed)
	op := Dimension{DimensionOperation, OperationProcessTask}
	s := NewScope(m, op, Dimension{DimensionShardID, "s1"})

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for v := range 250 {
				s.Count(MetricRecordsProcessed, int64(v), LevelSummary)
			}
		})
	}
	wg.Wait()
	s.Time(MetricGetRecordsTime, 3*time.Millisecond, LevelDetailed)

	// Dimensions may be given in any order.
	if got := m.Count(MetricRecordsProcessed, Dimension{DimensionShardID, "s1"}, op); got != 1000 {
		t.Errorf("Count = %d, want 1000", got)
	}
	if got := m.Sum(MetricRecordsProcessed, op, Dimension{DimensionShardID, "s1"}); got != 4*(249*250/2) {
		t.Errorf("Sum = %v, want %v", got, 4*(249*250/2))
	}
	if m.Min(MetricRecordsProcessed, op, Dimension{DimensionShardID, "s1"}) != 0 || m.Max(MetricRecordsProcessed, op, Dimension{DimensionShardID, "s1"}) != 249 {
		t.Error("Min/Max wrong")
	}
	if got := m.Sum(MetricGetRecordsTime, op, Dimension{DimensionShardID, "s1"}); got != 3 {
		t.Errorf("Time recorded %v ms, want 3", got)
	}
	if _, ok := m.Get(MetricRecordsProcessed, op); ok {
		t.Error("Get matched a subset of the dimensions")
	}
	snap := m.Snapshot()
	if len(snap) != 2 || snap[0].Name != MetricGetRecordsTime || snap[1].Unit != UnitCount {
		t.Errorf("Snapshot() = %+v", snap)
	}
	m.Reset()
	if len(m.Snapshot()) != 0 {
		t.Error("Reset left series")
	}
	if err := m.Close(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestMemoryLevelsAndBadValues(t *testing.T) {
	m := NewMemory(LevelSummary)
	m.Record("d", 1, UnitCount, LevelDetailed, Dims{})
	m.Record("n", nan(), UnitCount, LevelSummary, Dims{})
	m.Record("s", 1, UnitCount, LevelSummary, Dims{})
	if snap := m.Snapshot(); len(snap) != 1 || snap[0].Name != "s" {
		t.Errorf("Snapshot() = %+v, want only s", snap)
	}
	if m.Enabled(LevelDetailed) || !m.Enabled(LevelSummary) {
		t.Error("Enabled disagrees with the level")
	}
}

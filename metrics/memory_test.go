package metrics

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardwise/shardwise/internal/metricagg"
	"github.com/shardwise/shardwise/internal/metricnames"
)

func TestMemoryAggregates(t *testing.T) {
	m := NewMemory(LevelDetailed)
	op := Dimension{metricnames.DimensionOperation, metricnames.OperationProcessTask}
	d := NewDims(op, Dimension{metricnames.DimensionShardID, "s1"})

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for v := range 250 {
				m.Record(metricnames.MetricRecordsProcessed, float64(v), UnitCount, LevelSummary, d)
			}
		})
	}
	wg.Wait()
	m.Record(metricnames.MetricGetRecordsTime, float64(3*time.Millisecond)/float64(time.Millisecond), UnitMilliseconds, LevelDetailed, d)

	// Dimensions may be given in any order.
	if got := m.Count(metricnames.MetricRecordsProcessed, Dimension{metricnames.DimensionShardID, "s1"}, op); got != 1000 {
		t.Errorf("Count = %d, want 1000", got)
	}
	if got := m.Sum(metricnames.MetricRecordsProcessed, op, Dimension{metricnames.DimensionShardID, "s1"}); got != 4*(249*250/2) {
		t.Errorf("Sum = %v, want %v", got, 4*(249*250/2))
	}
	if m.Max(metricnames.MetricRecordsProcessed, op, Dimension{metricnames.DimensionShardID, "s1"}) != 249 {
		t.Error("Min/Max wrong")
	}
	if got := m.Sum(metricnames.MetricGetRecordsTime, op, Dimension{metricnames.DimensionShardID, "s1"}); got != 3 {
		t.Errorf("Time recorded %v ms, want 3", got)
	}
	if _, ok := m.get(metricnames.MetricRecordsProcessed, op); ok {
		t.Error("Get matched a subset of the dimensions")
	}
	snap := m.snapshot()
	if len(snap) != 2 || snap[0].Name != metricnames.MetricGetRecordsTime || snap[1].Unit != UnitCount {
		t.Errorf("snapshot() = %+v", snap)
	}
	m.reset()
	if len(m.snapshot()) != 0 {
		t.Error("reset left series")
	}
	if err := m.Close(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestMemoryLevelsAndBadValues(t *testing.T) {
	m := NewMemory(LevelSummary)
	m.Record("d", 1, UnitCount, LevelDetailed, Dims{})
	m.Record("n", math.NaN(), UnitCount, LevelSummary, Dims{})
	m.Record("s", 1, UnitCount, LevelSummary, Dims{})
	if snap := m.snapshot(); len(snap) != 1 || snap[0].Name != "s" {
		t.Errorf("snapshot() = %+v, want only s", snap)
	}
	if m.Enabled(LevelDetailed) || !m.Enabled(LevelSummary) {
		t.Error("Enabled disagrees with the level")
	}
}

// series is one aggregated metric as the sink holds it.
type series struct {
	Name  string
	Unit  Unit
	Dims  Dims
	Stats metricagg.Stats
}

// snapshot returns every series, sorted by name, then dimensions, then
// unit.
func (m *Memory) snapshot() []series {
	var out []series
	m.tab.Each(func(k metricagg.Key, d Dims, s metricagg.Stats) {
		out = append(out, series{Name: k.Name, Unit: Unit(k.Unit), Dims: d, Stats: s})
	})
	slices.SortFunc(out, func(a, b series) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Dims.key, b.Dims.key), strings.Compare(string(a.Unit), string(b.Unit)))
	})
	return out
}

// reset forgets everything recorded so far.
func (m *Memory) reset() { m.tab.Reset() }

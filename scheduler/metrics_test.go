package scheduler

import (
	"testing"
	"time"

	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/metrics"
)

func dim(name, value string) metrics.Dimension { return metrics.Dimension{Name: name, Value: value} }

func TestMetricsAndStatsFromARunningWorker(t *testing.T) {
	h := newHarness(t, 2)
	h.put(0, 200, 20)
	sink := metrics.NewMemory(metrics.LevelDetailed)
	cfg := h.config("w1")
	cfg.Metrics = sink
	j := &journal{}
	stop := h.start(cfg, factoryOf(j, "w1", nil))
	waitFor(t, 10*time.Second, "200 records", func() bool { return j.count() >= 200 })

	// Stats while running.
	var st Stats
	waitFor(t, 5*time.Second, "stats showing both leases processing as leader", func() bool {
		st = h.sched.Stats()
		return len(st.Leases) == 2 && st.IsLeader && st.RecordsProcessed == 200 &&
			st.Leases[0].State == "processing" && st.Leases[1].State == "processing"
	})
	for _, l := range st.Leases {
		if l.RecordsProcessed == 0 || l.RecordsFetched < l.RecordsProcessed || l.LastCheckpoint.IsZero() {
			t.Errorf("lease stats %+v", l)
		}
	}
	if st.Leader == nil || st.Leader.TotalLeases != 2 || st.Leader.Workers != 1 {
		t.Errorf("leader stats %+v", st.Leader)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	ds, _ := j.snapshot()
	perShard := map[string]float64{}
	bytes := 0
	for _, d := range ds {
		perShard[d.shard]++
		bytes += len(d.data)
	}
	total := 0.0
	for shard, n := range perShard {
		pt := []metrics.Dimension{dim(metricnames.DimensionOperation, metricnames.OperationProcessTask), dim(metricnames.DimensionShardID, shard), dim(metricnames.DimensionWorkerIdentifier, "w1")}
		if got := sink.Sum(metricnames.MetricRecordsProcessed, pt...); got != n {
			t.Errorf("%s: RecordsProcessed %v, delivered %v", shard, got, n)
		}
		total += sink.Sum(metricnames.MetricDataBytesProcessed, pt...)
		for _, name := range []string{metricnames.MetricMillisBehindLatest, metricnames.MetricProcessRecordsTime, metricnames.MetricGetRecordsSuccess, metricnames.MetricGetRecordsTime} {
			if sink.Count(name, pt...) == 0 {
				t.Errorf("%s: no %s", shard, name)
			}
		}
	}
	if int(total) != bytes {
		t.Errorf("DataBytesProcessed %v, delivered %d bytes", total, bytes)
	}
	lam := []metrics.Dimension{dim(metricnames.DimensionOperation, metricnames.OperationLeaseAssignmentManager), dim(metricnames.DimensionWorkerIdentifier, "w1")}
	if sink.Max(metricnames.MetricTotalLeases, lam...) != 2 || sink.Max(metricnames.MetricNumWorkers, lam...) != 1 {
		t.Errorf("leader metrics: TotalLeases %v NumWorkers %v", sink.Max(metricnames.MetricTotalLeases, lam...), sink.Max(metricnames.MetricNumWorkers, lam...))
	}
	if sink.Sum(metricnames.MetricNumOfLeasesReassignment, lam...) != 2 {
		t.Errorf("NumOfLeasesReassignment %v, want 2 (both leases assigned once)", sink.Sum(metricnames.MetricNumOfLeasesReassignment, lam...))
	}
	ld := []metrics.Dimension{dim(metricnames.DimensionOperation, metricnames.OperationLeaderDecider), dim(metricnames.DimensionWorkerIdentifier, "w1")}
	if sink.Max(metricnames.MetricIsLeader, ld...) != 1 {
		t.Error("LeaderDecider:IsLeader never 1")
	}
}

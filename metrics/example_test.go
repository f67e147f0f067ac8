package metrics_test

import (
	"fmt"
	"time"

	"github.com/shardwise/shardwise/metrics"
)

// A shard consumer binds its dimensions once and records a few figures per
// batch; the in-memory sink shows what a CloudWatch sink would publish.
func ExampleScope() {
	sink := metrics.NewMemory(metrics.LevelSummary)
	op := metrics.Dimension{Name: metrics.DimensionOperation, Value: metrics.OperationProcessTask}
	shard := metrics.Dimension{Name: metrics.DimensionShardID, Value: "shardId-000000000003"}
	scope := metrics.NewScope(sink, op, shard)

	for _, batch := range []int{500, 320, 180} {
		scope.Count(metrics.MetricRecordsProcessed, int64(batch), metrics.LevelSummary)
		scope.Time(metrics.MetricProcessRecordsTime, 12*time.Millisecond, metrics.LevelSummary)
		scope.Time(metrics.MetricGetRecordsTime, 3*time.Millisecond, metrics.LevelDetailed) // not published at SUMMARY
	}

	for _, s := range sink.Snapshot() {
		fmt.Printf("%s [%s] %s: n=%v sum=%v min=%v max=%v\n", s.Name, s.Dims, s.Unit,
			s.Stats.SampleCount, s.Stats.Sum, s.Stats.Minimum, s.Stats.Maximum)
	}
	// Output:
	// RecordProcessor.processRecords.Time [Operation=ProcessTask,ShardId=shardId-000000000003] Milliseconds: n=3 sum=36 min=12 max=12
	// RecordsProcessed [Operation=ProcessTask,ShardId=shardId-000000000003] Count: n=3 sum=1000 min=180 max=500
}

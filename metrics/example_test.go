package metrics_test

import (
	"fmt"
	"time"

	"github.com/shardwise/shardwise/metrics"
)

// A component binds its dimensions once and records a few figures per
// batch; the in-memory sink, configured at SUMMARY, keeps what a sink at
// that level would publish. The metric names are those in the package
// documentation's table.
func ExampleScope() {
	sink := metrics.NewMemory(metrics.LevelSummary)
	op := metrics.Dimension{Name: "Operation", Value: "ProcessTask"}
	shard := metrics.Dimension{Name: "ShardId", Value: "shardId-000000000003"}
	scope := metrics.NewScope(sink, op, shard)

	for _, batch := range []int{500, 320, 180} {
		scope.Count("RecordsProcessed", int64(batch), metrics.LevelSummary)
		scope.Time("RecordProcessor.processRecords.Time", 12*time.Millisecond, metrics.LevelSummary)
		scope.Time("KinesisDataFetcher.getRecords.Time", 3*time.Millisecond, metrics.LevelDetailed) // not kept at SUMMARY
	}

	fmt.Println("batches:", sink.Count("RecordsProcessed", shard, op))
	fmt.Println("records:", sink.Sum("RecordsProcessed", op, shard))
	fmt.Println("largest batch:", sink.Max("RecordsProcessed", op, shard))
	fmt.Println("processing ms:", sink.Sum("RecordProcessor.processRecords.Time", op, shard))
	fmt.Println("GetRecords calls timed:", sink.Count("KinesisDataFetcher.getRecords.Time", op, shard))
	// Output:
	// batches: 3
	// records: 1000
	// largest batch: 500
	// processing ms: 36
	// GetRecords calls timed: 0
}

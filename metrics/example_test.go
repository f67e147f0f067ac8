package metrics_test

import (
	"fmt"

	"github.com/shardwise/shardwise/metrics"
)

// The scheduler records into a Sink with its dimensions built once; the
// in-memory sink, configured at SUMMARY, keeps what a sink at that level
// would publish, which is how a test reads what a worker recorded. The
// metric names are those in the package documentation's table.
func ExampleMemory() {
	sink := metrics.NewMemory(metrics.LevelSummary)
	op := metrics.Dimension{Name: "Operation", Value: "ProcessTask"}
	shard := metrics.Dimension{Name: "ShardId", Value: "shardId-000000000003"}
	dims := metrics.NewDims(op, shard)

	for _, batch := range []int{500, 320, 180} {
		sink.Record("RecordsProcessed", float64(batch), metrics.UnitCount, metrics.LevelSummary, dims)
		sink.Record("RecordProcessor.processRecords.Time", 12, metrics.UnitMilliseconds, metrics.LevelSummary, dims)
		sink.Record("KinesisDataFetcher.getRecords.Time", 3, metrics.UnitMilliseconds, metrics.LevelDetailed, dims) // not kept at SUMMARY
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

package prommetrics_test

import (
	"fmt"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/shardwise/shardwise/metrics"
	"github.com/shardwise/shardwise/metrics/prommetrics"
)

// A sink at SUMMARY on its own registry; the records a shard consumer
// reports become a counter without the shard_id label. In a program,
// serve the registry with promhttp and pass the sink as
// scheduler.Config.Metrics.
func Example() {
	reg := prometheus.NewRegistry()
	sink, err := prommetrics.New(prommetrics.Config{Registerer: reg, Level: metrics.LevelSummary})
	if err != nil {
		fmt.Println(err)
		return
	}
	dims := metrics.NewDims(
		metrics.Dimension{Name: "Operation", Value: "ProcessTask"},
		metrics.Dimension{Name: "ShardId", Value: "shardId-000000000003"},
		metrics.Dimension{Name: "WorkerIdentifier", Value: "worker-1"},
	)
	sink.Record("RecordsProcessed", 500, metrics.UnitCount, metrics.LevelSummary, dims)
	sink.Record("RecordsProcessed", 120, metrics.UnitCount, metrics.LevelSummary, dims)

	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		expfmt.MetricFamilyToText(os.Stdout, mf)
	}
	// Output:
	// # HELP shardwise_records_processed_total Records handed to the record processor.
	// # TYPE shardwise_records_processed_total counter
	// shardwise_records_processed_total{operation="ProcessTask",worker_id="worker-1"} 620
}

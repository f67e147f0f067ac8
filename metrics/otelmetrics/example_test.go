package otelmetrics_test

import (
	"context"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/shardwise/shardwise/metrics"
	"github.com/shardwise/shardwise/metrics/otelmetrics"
)

// A sink at SUMMARY on an SDK MeterProvider; the lag a shard consumer
// reports in milliseconds becomes a gauge in seconds without the shard.id
// attribute. In a program, give the provider a periodic reader with an
// exporter and pass the sink as scheduler.Config.Metrics.
func Example() {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer provider.Shutdown(ctx)
	sink, err := otelmetrics.New(otelmetrics.Config{MeterProvider: provider, Level: metrics.LevelSummary})
	if err != nil {
		fmt.Println(err)
		return
	}
	dims := metrics.NewDims(
		metrics.Dimension{Name: "Operation", Value: "ProcessTask"},
		metrics.Dimension{Name: "ShardId", Value: "shardId-000000000003"},
		metrics.Dimension{Name: "WorkerIdentifier", Value: "worker-1"},
	)
	sink.Record("MillisBehindLatest", 2500, metrics.UnitMilliseconds, metrics.LevelSummary, dims)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		fmt.Println(err)
		return
	}
	m := rm.ScopeMetrics[0].Metrics[0]
	p := m.Data.(metricdata.Gauge[float64]).DataPoints[0]
	fmt.Println(m.Name, m.Unit, p.Value, p.Attributes.Len(), "attributes")
	// Output:
	// shardwise.behind_latest s 2.5 2 attributes
}

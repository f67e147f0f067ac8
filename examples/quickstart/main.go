// Command quickstart is the README's quickstart: a worker that consumes
// stream "orders" with the default AWS configuration and checkpoints after
// every batch. It is built by `go vet ./...` so the README's code stays
// correct.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/scheduler"
)

type printer struct{ log zerolog.Logger }

func (printer) Initialize(context.Context, consumer.InitializationInput) error { return nil }

func (p printer) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	for _, r := range in.Records {
		_ = r.Data // handle the record
	}
	// Record progress: a restart or another worker resumes after this point.
	if err := in.Checkpointer.Checkpoint(ctx); err != nil {
		// Do not return it: an error from ProcessRecords hands this whole
		// batch over again. After a passing DynamoDB error the next batch's
		// checkpoint covers these records; after consumer.ErrLeaseLost the
		// shard is stopping and LeaseLost follows.
		p.log.Warn().Err(err).Str("shard", in.ShardID).Msg("checkpoint failed")
	}
	return nil
}

func (printer) LeaseLost(context.Context, consumer.LeaseLostInput) {}

// At the end of a shard (after a split or merge) checkpoint SHARD_END, so
// the child shards may start; an error here makes Shardwise call ShardEnded
// again.
func (printer) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

// On shutdown, or when the lease moves to another worker, checkpoint what
// was processed.
func (printer) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		panic(err)
	}
	log := zerolog.New(os.Stderr).With().Timestamp().Logger()
	s, err := scheduler.New(scheduler.Config{
		ApplicationName: "orders-consumer", // also the lease table's name
		StreamName:      "orders",
		InitialPosition: consumer.InitialPositionTrimHorizon,
		AWSConfig:       &awsCfg,
		Logger:          log,
	}, consumer.ProcessorFactoryFunc(func(shardID string) consumer.Processor { return printer{log: log} }))
	if err != nil {
		panic(err) // an invalid config names the field
	}
	// Run blocks until ctx ends, then finishes the batches in hand, calls
	// ShutdownRequested and releases the leases.
	if err := s.Run(ctx); err != nil {
		panic(err) // e.g. the stream does not exist, or a permission is missing
	}
}

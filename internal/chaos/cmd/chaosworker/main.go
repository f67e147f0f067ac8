// Command chaosworker is one worker process of the chaos suite
// (internal/chaos): a Shardwise scheduler on the emulators whose processor
// appends every record it processes, and every checkpoint it makes, to a
// journal of its own (chaos.Journal) before checkpointing. The driver
// starts it, signals it (SIGKILL, SIGSTOP/SIGCONT, SIGTERM) and reads the
// journal; it is not meant to be run by hand.
//
//	chaosworker -app APP -stream STREAM -id WORKER -incarnation N -journal FILE [-failover 3s]
//
// It reads the emulators' endpoints from SHARDWISE_KINESIS_ENDPOINT and
// SHARDWISE_DYNAMODB_ENDPOINT, and shuts down gracefully on SIGTERM or
// SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/chaos"
	"github.com/shardwise/shardwise/internal/emulator"
	"github.com/shardwise/shardwise/scheduler"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chaosworker:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		app         = flag.String("app", "", "application name (lease table)")
		stream      = flag.String("stream", "", "stream name")
		id          = flag.String("id", "", "worker id")
		incarnation = flag.Int("incarnation", 1, "which start of this worker id this process is")
		journal     = flag.String("journal", "", "journal file to append to")
		failover    = flag.Duration("failover", 3*time.Second, "FailoverTime")
		logLevel    = flag.String("log", "info", "log level")
	)
	flag.Parse()
	if *app == "" || *stream == "" || *id == "" || *journal == "" {
		return errors.New("-app, -stream, -id and -journal are required")
	}
	env := emulator.FromEnviron()
	if env.Kinesis == "" || env.DynamoDB == "" {
		return fmt.Errorf("no emulators: %s and %s must be set", emulator.EnvKinesis, emulator.EnvDynamoDB)
	}
	lvl, err := zerolog.ParseLevel(*logLevel)
	if err != nil {
		return err
	}
	log := zerolog.New(os.Stderr).Level(lvl).With().Timestamp().Logger()

	j, err := chaos.CreateJournal(*journal, *id, *incarnation)
	if err != nil {
		return err
	}
	defer j.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	var processors atomic.Int64
	s, err := scheduler.New(scheduler.Config{
		ApplicationName:      *app,
		StreamName:           *stream,
		InitialPosition:      consumer.InitialPositionTrimHorizon,
		KinesisClient:        emulator.KinesisClient(env.Kinesis),
		DynamoDBClient:       emulator.DynamoDBClient(env.DynamoDB),
		WorkerID:             *id,
		Logger:               log,
		FailoverTime:         *failover,
		IdleTimeBetweenReads: 100 * time.Millisecond,
		ShardSyncInterval:    2 * time.Second,
		ShutdownTimeout:      10 * time.Second,
		// Every worker shares one host: balance on throughput and lease
		// counts rather than on one CPU figure they all report.
		LoadSampler: func() float64 { return -1 },
	}, consumer.ProcessorFactoryFunc(func(shardID string) consumer.Processor {
		return &processor{j: j, n: int(processors.Add(1)), shard: shardID, log: log}
	}))
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// processor journals what it processes, then checkpoints every batch.
type processor struct {
	j     *chaos.Journal
	n     int
	shard string
	log   zerolog.Logger
}

func (p *processor) Initialize(_ context.Context, in consumer.InitializationInput) error {
	return p.j.Init(p.n, p.shard, in.Checkpoint.String())
}

func (p *processor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	t := chaos.Now()
	// A processor that honours its context: once the worker fenced itself
	// (or the lease moved), the batch is not processed. The stamp comes
	// first: a record stamped t was still allowed at some moment after t.
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	recs := make([]chaos.Processed, 0, len(in.Records))
	for i := range in.Records {
		r := &in.Records[i]
		key, counter, ok := parseData(r.Data)
		if !ok {
			key, counter = "?"+r.PartitionKey, 0
		}
		recs = append(recs, chaos.Processed{Seq: r.SequenceNumber, Key: key, Counter: counter})
	}
	// The records are in the journal before the checkpoint that covers
	// them is sent; a failed journal write fails the batch, which is then
	// offered again.
	if err := p.j.Records(p.n, p.shard, t, recs); err != nil {
		return err
	}
	p.checkpoint(ctx, in.Checkpointer, in.Records[len(in.Records)-1].SequenceNumber)
	return nil
}

func (p *processor) checkpoint(ctx context.Context, c consumer.Checkpointer, pos string) {
	t0 := chaos.Now()
	err := c.Checkpoint(ctx)
	if jerr := p.j.Checkpoint(p.n, p.shard, t0, chaos.Now(), pos, err); jerr != nil {
		p.log.Error().Err(jerr).Msg("journal write failed")
	}
}

func (p *processor) LeaseLost(context.Context, consumer.LeaseLostInput) {
	_ = p.j.End(p.n, p.shard, "lost")
}

func (p *processor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	t0 := chaos.Now()
	err := in.Checkpointer.Checkpoint(ctx)
	_ = p.j.Checkpoint(p.n, p.shard, t0, chaos.Now(), "SHARD_END", err)
	if err != nil {
		return err
	}
	return p.j.End(p.n, p.shard, "ended")
}

func (p *processor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	pos := in.Checkpointer.LargestDelivered().SequenceNumber
	if pos == "" {
		pos = "-"
	}
	p.checkpoint(ctx, in.Checkpointer, pos)
	return p.j.End(p.n, p.shard, "shutdown")
}

// parseData reads a producer's record: "key counter".
func parseData(b []byte) (string, int64, bool) {
	key, num, ok := strings.Cut(string(b), " ")
	if !ok {
		return "", 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	return key, n, err == nil
}

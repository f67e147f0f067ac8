package lambdaevents_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/shardwise/shardwise/consumer"
)

// memCheckpointer is a Checkpointer that keeps the last position and
// refuses positions beyond what was delivered or below the last one.
type memCheckpointer struct {
	mu       sync.Mutex
	last     consumer.ExtendedSequenceNumber
	largest  consumer.ExtendedSequenceNumber
	finished bool
}

func (c *memCheckpointer) Checkpoint(ctx context.Context) error {
	c.mu.Lock()
	pos := c.largest
	if c.finished {
		pos = consumer.ShardEnd
	}
	c.mu.Unlock()
	return c.CheckpointAt(ctx, pos)
}

func (c *memCheckpointer) CheckpointRecord(ctx context.Context, r *consumer.Record) error {
	return c.CheckpointAt(ctx, r.Position())
}

func (c *memCheckpointer) CheckpointAt(ctx context.Context, pos consumer.ExtendedSequenceNumber) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	largest := c.largest
	if c.finished {
		largest = consumer.ShardEnd
	}
	if consumer.Compare(pos, c.last) < 0 || consumer.Compare(pos, largest) > 0 {
		return &consumer.CheckpointError{Requested: pos, Reason: "out of bounds"}
	}
	c.last = pos
	return nil
}

func (c *memCheckpointer) PrepareCheckpoint(context.Context, consumer.ExtendedSequenceNumber, []byte) error {
	return nil
}

func (c *memCheckpointer) LastCheckpoint() consumer.ExtendedSequenceNumber {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

func (c *memCheckpointer) LargestDelivered() consumer.ExtendedSequenceNumber {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.largest
}

// drive runs a processor over batches as the scheduler would, then ends
// the shard.
func drive(f consumer.ProcessorFactory, shard string, batches ...[]consumer.Record) (*memCheckpointer, error) {
	ctx := context.Background()
	cp := &memCheckpointer{}
	p := f.NewProcessor(shard)
	if err := p.Initialize(ctx, consumer.InitializationInput{ShardID: shard, Checkpoint: consumer.TrimHorizon}); err != nil {
		return nil, err
	}
	for _, b := range batches {
		cp.mu.Lock()
		cp.largest = b[len(b)-1].Position()
		cp.mu.Unlock()
		err := p.ProcessRecords(ctx, consumer.ProcessRecordsInput{ShardID: shard, Records: b, Checkpointer: cp, FetchedAt: time.Now()})
		if err != nil {
			p.LeaseLost(ctx, consumer.LeaseLostInput{ShardID: shard})
			return nil, err
		}
	}
	cp.mu.Lock()
	cp.finished = true
	cp.mu.Unlock()
	return cp, p.ShardEnded(ctx, consumer.ShardEndedInput{ShardID: shard, Checkpointer: cp})
}

func seq(i int) string { return fmt.Sprintf("4960%040d", i) }

func records(from, n int, arrival time.Time) []consumer.Record {
	out := make([]consumer.Record, n)
	for i := range out {
		out[i] = consumer.Record{
			SequenceNumber:              seq(from + i),
			PartitionKey:                "key-" + strconv.Itoa((from+i)%3),
			Data:                        []byte("payload-" + strconv.Itoa(from+i)),
			ApproximateArrivalTimestamp: arrival,
			EncryptionType:              "NONE",
		}
	}
	return out
}

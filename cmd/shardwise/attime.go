package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/consumer"
	"github.com/shardwise/shardwise/internal/kpl"
)

// A lease's checkpoint holds a position, not a time: the AT_TIMESTAMP
// sentinel means the application's configured InitialPosition timestamp.
// To move one shard to a time of the operator's choosing, the time is
// resolved to the last record that arrived before it, and the checkpoint
// is set after that record; the consumer then resumes at the first record
// that arrived at or after the time (by ApproximateArrivalTimestamp, as
// Kinesis' own AT_TIMESTAMP iterator does). With no record before the
// time, the checkpoint is TRIM_HORIZON.

// kinesisReader is the part of the Kinesis client the resolution uses.
type kinesisReader interface {
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
}

var _ kinesisReader = (*kinesis.Client)(nil)

// kinesisClient builds the Kinesis client for -to AT_TIMESTAMP=TIME.
func (t *target) kinesisClient(ctx context.Context, endpoint string) (*kinesis.Client, error) {
	if t.local {
		if endpoint == "" {
			endpoint = os.Getenv("SHARDWISE_KINESIS_ENDPOINT")
		}
		if endpoint == "" {
			return nil, usagef("-local needs SHARDWISE_KINESIS_ENDPOINT for -to AT_TIMESTAMP=TIME")
		}
	}
	cfg, err := t.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// resolveWindows are how far before the time the search starts reading,
// widened until a record before the time is found; the last is the trim
// horizon.
var resolveWindows = []time.Duration{time.Second, 10 * time.Second, time.Minute, 10 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 0}

// maxResolveCalls bounds the GetRecords calls of one resolution.
const maxResolveCalls = 2000

// resolveTime returns the checkpoint after which shard resumes at the
// first record that arrived at or after at, and says which record it is
// after.
func resolveTime(ctx context.Context, kc kinesisReader, stream, shard string, at time.Time) (consumer.ExtendedSequenceNumber, string, error) {
	calls := 0
	for _, w := range resolveWindows {
		in := &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shard)}
		if w == 0 {
			in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
		} else {
			in.ShardIteratorType = types.ShardIteratorTypeAtTimestamp
			in.Timestamp = aws.Time(at.Add(-w))
		}
		out, err := kc.GetShardIterator(ctx, in)
		if err != nil {
			return consumer.ExtendedSequenceNumber{}, "", fmt.Errorf("kinesis:GetShardIterator on %s/%s: %w", stream, shard, err)
		}
		// Read on until a record at or after the time, or the end of
		// what is there: the last record before the time is the one.
		var before *types.Record
		it, reachedAt := out.ShardIterator, false
		for it != nil && !reachedAt {
			if calls++; calls > maxResolveCalls {
				return consumer.ExtendedSequenceNumber{}, "", fmt.Errorf("more than %d GetRecords calls between %s and %s on %s; give a sequence number instead", maxResolveCalls, at.Add(-w).UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339), shard)
			}
			page, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it})
			if err != nil {
				return consumer.ExtendedSequenceNumber{}, "", fmt.Errorf("kinesis:GetRecords on %s/%s: %w", stream, shard, err)
			}
			for i := range page.Records {
				r := &page.Records[i]
				if !aws.ToTime(r.ApproximateArrivalTimestamp).Before(at) {
					reachedAt = true
					break
				}
				before = r
			}
			it = page.NextShardIterator
			if len(page.Records) == 0 && aws.ToInt64(page.MillisBehindLatest) == 0 {
				break // at the tip
			}
		}
		switch {
		case before != nil:
			pos := consumer.ExtendedSequenceNumber{SequenceNumber: aws.ToString(before.SequenceNumber)}
			// After every sub-record of an aggregate: all of them
			// arrived before the time.
			if kpl.IsAggregated(before.Data) {
				if subs, err := kpl.Deaggregate(before.Data, nil, nil); err == nil && len(subs) > 0 {
					pos.SubSequenceNumber = subs[len(subs)-1].Index
				}
			}
			return pos, fmt.Sprintf("after record %s, which arrived at %s", pos, aws.ToTime(before.ApproximateArrivalTimestamp).UTC().Format(time.RFC3339Nano)), nil
		case w == 0:
			return consumer.TrimHorizon, "no record in the shard arrived before it", nil
		}
		// A window with no record, or only later ones: widen it.
	}
	return consumer.TrimHorizon, "no record in the shard arrived before it", nil
}

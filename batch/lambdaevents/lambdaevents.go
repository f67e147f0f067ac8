// Package lambdaevents runs the body of an existing AWS Lambda function
// written for a Kinesis trigger, with github.com/aws/aws-lambda-go/events
// types, as a Shardwise batch handler: the function gets the
// events.KinesisEvent it got from Lambda and returns what it returned to
// Lambda (an error, an events.KinesisEventResponse with batch item
// failures, or, with a tumbling window, an
// events.KinesisTimeWindowEventResponse with its state), unchanged.
//
// The event source mapping's settings are a batch.Config (BatchSize,
// ParallelizationFactor, BisectOnError, ...), passed through to package
// batch; what a Lambda event carries that a shard's records do not is this
// package's Config.
//
// It lives apart from package batch so that programs that do not use it
// do not compile aws-lambda-go.
package lambdaevents

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/shardwise/shardwise/batch"
	"github.com/shardwise/shardwise/consumer"
)

// Config is what a Lambda event carries that a shard's records do not.
// Every field is optional.
type Config struct {
	// EventSourceARN is the stream's ARN, set as each record's
	// eventSourceARN (and a time window event's) when the batch does not
	// name its stream (batch.Batch.StreamARN, set by the scheduler when it
	// knows the ARN, and always in a multi-stream application, where each
	// stream's batches carry their own ARN and region). Default: none
	// (empty).
	EventSourceARN string
	// AWSRegion is each record's awsRegion. Default: the region in
	// EventSourceARN.
	AWSRegion string
	// InvokeIdentityARN is each record's invokeIdentityArn. Default: none
	// (empty).
	InvokeIdentityARN string
}

// Handler is a Lambda function body that fails or succeeds as a whole.
type Handler func(ctx context.Context, e events.KinesisEvent) error

// ResponseHandler is a Lambda function body that reports batch item
// failures (an event source mapping with ReportBatchItemFailures).
type ResponseHandler func(ctx context.Context, e events.KinesisEvent) (events.KinesisEventResponse, error)

// TimeWindowHandler is a Lambda function body for an event source mapping
// with a tumbling window.
type TimeWindowHandler func(ctx context.Context, e events.KinesisTimeWindowEvent) (events.KinesisTimeWindowEventResponse, error)

// New returns a consumer.ProcessorFactory that calls h with each batch as
// an events.KinesisEvent, with the event source mapping's settings in bc
// (see batch.New) and the event's in ev. An invalid setting, or a nil h,
// returns a *consumer.ConfigError naming the field of bc ("handler" for h).
func New(h Handler, bc batch.Config, ev Config) (consumer.ProcessorFactory, error) {
	if h == nil {
		return nil, &consumer.ConfigError{Field: "handler", Reason: "is nil"}
	}
	ev = ev.withDefaults()
	return batch.New(func(ctx context.Context, b batch.Batch) error {
		return h(ctx, ev.event(b))
	}, bc)
}

// NewWithResponse is New for a function that reports batch item failures:
// processing resumes at the lowest failed record, as Lambda does (records
// after it may be delivered again). An ItemIdentifier that is empty or not
// a sequence number of the batch fails the whole batch, as in Lambda.
func NewWithResponse(h ResponseHandler, bc batch.Config, ev Config) (consumer.ProcessorFactory, error) {
	if h == nil {
		return nil, &consumer.ConfigError{Field: "handler", Reason: "is nil"}
	}
	ev = ev.withDefaults()
	return batch.NewWithResponse(func(ctx context.Context, b batch.Batch) (batch.Response, error) {
		resp, err := h(ctx, ev.event(b))
		if err != nil {
			return batch.Response{}, err
		}
		return batch.Response{BatchItemFailures: failures(b.Records, resp.BatchItemFailures)}, nil
	}, bc)
}

// NewTimeWindow is NewWithResponse for a function that aggregates over
// tumbling windows (TumblingWindowInSeconds), whose length
// bc.TumblingWindow must set (a *consumer.ConfigError naming
// TumblingWindow otherwise). The state map is carried between the calls of
// a window as JSON, bounded by bc.MaxWindowStateSize (default 1 MiB, as
// Lambda's 1 MB). A nil state in the response counts as empty state
// (Lambda would count a missing state as a failed call).
func NewTimeWindow(h TimeWindowHandler, bc batch.Config, ev Config) (consumer.ProcessorFactory, error) {
	if h == nil {
		return nil, &consumer.ConfigError{Field: "handler", Reason: "is nil"}
	}
	if bc.TumblingWindow == 0 {
		return nil, &consumer.ConfigError{Field: "TumblingWindow", Reason: "is required by NewTimeWindow"}
	}
	ev = ev.withDefaults()
	return batch.NewWithResponse(func(ctx context.Context, b batch.Batch) (batch.Response, error) {
		e := events.KinesisTimeWindowEvent{KinesisEvent: ev.event(b)}
		e.ShardID = b.ShardID
		e.EventSourceARN = ev.sourceARN(b)
		if w := b.Window; w != nil {
			e.Window = events.Window{Start: events.RFC3339EpochTime{Time: w.Start}, End: events.RFC3339EpochTime{Time: w.End}}
			e.IsFinalInvokeForWindow = w.IsFinalInvokeForWindow
			e.IsWindowTerminatedEarly = w.IsWindowTerminatedEarly
			e.State = map[string]string{}
			if len(w.State) > 0 {
				if err := json.Unmarshal(w.State, &e.State); err != nil {
					// Only this adapter writes the state, so this is a bug,
					// not bad input; failing the call keeps the records.
					return batch.Response{}, fmt.Errorf("shardwise: decoding window state: %w", err)
				}
			}
		}
		resp, err := h(ctx, e)
		if err != nil {
			return batch.Response{}, err
		}
		var state []byte
		if len(resp.State) > 0 {
			if state, err = json.Marshal(resp.State); err != nil {
				return batch.Response{}, fmt.Errorf("shardwise: encoding window state: %w", err)
			}
		}
		return batch.Response{BatchItemFailures: failures(b.Records, resp.BatchItemFailures), State: state}, nil
	}, bc)
}

func (c Config) withDefaults() Config {
	if c.AWSRegion == "" && strings.HasPrefix(c.EventSourceARN, "arn:") {
		// arn:partition:kinesis:region:account:stream/name
		if parts := strings.SplitN(c.EventSourceARN, ":", 5); len(parts) == 5 {
			c.AWSRegion = parts[3]
		}
	}
	return c
}

// event builds the KinesisEvent Lambda would have sent for b. Records that
// came out of a KPL aggregate arrive already deaggregated, one event
// record each, with the aggregate's sequence number (a function that
// deaggregates them itself finds nothing left to do).
func (c Config) event(b batch.Batch) events.KinesisEvent {
	e := events.KinesisEvent{Records: make([]events.KinesisEventRecord, len(b.Records))}
	if arn := c.sourceARN(b); arn != c.EventSourceARN {
		// Another stream of a multi-stream application: its own ARN
		// and region.
		c = Config{EventSourceARN: arn, InvokeIdentityARN: c.InvokeIdentityARN}.withDefaults()
	}
	for i := range b.Records {
		r := &b.Records[i]
		e.Records[i] = events.KinesisEventRecord{
			AwsRegion:         c.AWSRegion,
			EventID:           b.ShardID + ":" + r.SequenceNumber,
			EventName:         "aws:kinesis:record",
			EventSource:       "aws:kinesis",
			EventSourceArn:    c.EventSourceARN,
			EventVersion:      "1.0",
			InvokeIdentityArn: c.InvokeIdentityARN,
			Kinesis: events.KinesisRecord{
				ApproximateArrivalTimestamp: events.SecondsEpochTime{Time: r.ApproximateArrivalTimestamp},
				Data:                        r.Data,
				EncryptionType:              r.EncryptionType,
				PartitionKey:                r.PartitionKey,
				SequenceNumber:              r.SequenceNumber,
				KinesisSchemaVersion:        "1.0",
			},
		}
	}
	return e
}

// failures maps Lambda's item identifiers (sequence numbers) to positions
// in the batch. A sequence number shared by the sub-records of an
// aggregate means its first sub-record, so the retry covers all of them.
// An identifier that matches nothing is passed on as given, which fails
// the whole batch.
func failures(recs []consumer.Record, items []events.KinesisBatchItemFailure) []consumer.ExtendedSequenceNumber {
	if len(items) == 0 {
		return nil
	}
	first := make(map[string]consumer.ExtendedSequenceNumber, len(recs))
	for i := range recs {
		if _, ok := first[recs[i].SequenceNumber]; !ok {
			first[recs[i].SequenceNumber] = recs[i].Position()
		}
	}
	out := make([]consumer.ExtendedSequenceNumber, 0, len(items))
	for _, it := range items {
		if p, ok := first[it.ItemIdentifier]; ok {
			out = append(out, p)
		} else {
			out = append(out, consumer.ExtendedSequenceNumber{SequenceNumber: it.ItemIdentifier})
		}
	}
	return out
}

// sourceARN is the event-source ARN of a batch: the batch's own stream
// (each stream of a multi-stream application has its own), or
// Config.EventSourceARN when the scheduler did not name the stream.
func (c Config) sourceARN(b batch.Batch) string {
	if b.StreamARN != "" {
		return b.StreamARN
	}
	return c.EventSourceARN
}

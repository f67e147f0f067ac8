package kinesistest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/shardwise/shardwise/internal/awsapi"
)

var _ awsapi.Kinesis = (*Fake)(nil)

// The operations Calls, InjectError and InjectLatency accept: the names
// of the Kinesis API calls a consumer makes (the methods of the same name).
const (
	opDescribeStreamSummary = "DescribeStreamSummary"
	opListShards            = "ListShards"
	opGetShardIterator      = "GetShardIterator"
	opGetRecords            = "GetRecords"
	// Enhanced fan-out.
	opRegisterStreamConsumer   = "RegisterStreamConsumer"
	opDescribeStreamConsumer   = "DescribeStreamConsumer"
	opListStreamConsumers      = "ListStreamConsumers"
	opDeregisterStreamConsumer = "DeregisterStreamConsumer"
	opSubscribeToShard         = "SubscribeToShard"
)

func knownOp(op string) bool {
	switch op {
	case opDescribeStreamSummary, opListShards, opGetShardIterator, opGetRecords,
		opRegisterStreamConsumer, opDescribeStreamConsumer, opListStreamConsumers, opDeregisterStreamConsumer, opSubscribeToShard:
		return true
	}
	return false
}

// Fake is an in-memory Kinesis Data Streams service. All methods are safe
// for concurrent use. The zero value is not usable; call New.
type Fake struct {
	cfg config
	// tag is a random per-Fake value sealed into iterators and NextTokens,
	// so a token from another Fake is refused rather than misread.
	tag string

	mu sync.Mutex // guards everything below
	// counter is the last value taken from the event counter behind
	// sequence numbers (see seqnum.go); 0 is never used.
	counter         uint64
	lastIncarnation uint64
	streams         map[string]*stream
	calls           map[string]int
	faults          []*fault
	latency         map[string]time.Duration
	// Enhanced fan-out: open subscriptions and the last SubscribeToShard
	// call, by consumer ARN and shard id (see subscribe.go).
	subs     map[string]*subscription
	subCalls map[string]time.Time
	sdkOnce  sync.Once
	sdk      *kinesis.Client
}

type fault struct {
	op, shardID string
	err         error
	left        int // calls still to fail; negative = until ClearFaults
}

// New returns an empty Fake (no streams) configured by cfg, or a
// *consumer.ConfigError if cfg is invalid.
func New(cfg Config) (*Fake, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Fake{
		cfg:     cfg.withDefaults(),
		tag:     strconv.FormatUint(rand.Uint64(), 36),
		streams: make(map[string]*stream),
		calls:   make(map[string]int),
		latency: make(map[string]time.Duration),
	}, nil
}

// now reads the clock. The service works in milliseconds (arrival
// timestamps, AT_TIMESTAMP), so the fake does too; Truncate also drops the
// monotonic reading, as a time decoded from a response has none.
func (f *Fake) now() time.Time { return f.cfg.now().Truncate(time.Millisecond).UTC() }

// nextCounterLocked takes the next value of the event counter.
func (f *Fake) nextCounterLocked() uint64 {
	f.counter++
	return f.counter
}

// Calls returns how many times op (a Kinesis call the fake serves:
// "DescribeStreamSummary", "ListShards", "GetShardIterator",
// "GetRecords", "RegisterStreamConsumer", "DescribeStreamConsumer",
// "ListStreamConsumers", "DeregisterStreamConsumer" or "SubscribeToShard")
// was called, failed calls included.
func (f *Fake) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// InjectError makes the next `times` calls of op (as for Calls) fail with err (wrapped as
// the SDK wraps service errors, so errors.As and a caller's error classification see it).
// shardID limits the fault to calls on that shard (GetShardIterator's and
// SubscribeToShard's ShardId, the shard a GetRecords iterator points
// into); "" matches every call. times < 0 fails every matching call until ClearFaults; times == 0
// does nothing. Faults are consumed in the order they were injected. An
// injected fault stands for the service failing, so it comes after the
// SDK's client-side checks (missing required members) but before the fake
// validates, resolves or throttles the request.
// It panics on an unknown op or a nil err: both are bugs in the test.
func (f *Fake) InjectError(op, shardID string, err error, times int) {
	if !knownOp(op) {
		panic(fmt.Sprintf("shardwise: kinesistest: InjectError: unknown operation %q", op))
	}
	if err == nil {
		panic("shardwise: kinesistest: InjectError: nil error")
	}
	if times == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, &fault{op: op, shardID: shardID, err: err, left: times})
}

// InjectLatency delays every later call of op by d before it is served,
// returning early with the context's error if ctx ends first. d <= 0
// removes the delay. It panics on an unknown op.
func (f *Fake) InjectLatency(op string, d time.Duration) {
	if !knownOp(op) {
		panic(fmt.Sprintf("shardwise: kinesistest: InjectLatency: unknown operation %q", op))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if d <= 0 {
		delete(f.latency, op)
		return
	}
	f.latency[op] = d
}

// ClearFaults removes every injected error and latency.
func (f *Fake) ClearFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = nil
	clear(f.latency)
}

// enter is begin, then the injected error of an operation that names no
// shard: the start of most operations.
func (f *Fake) enter(ctx context.Context, op string) error {
	if err := f.begin(ctx, op); err != nil {
		return err
	}
	return f.injected(op, "")
}

// begin does what every API call does first: count it, fail it if ctx has
// already ended (the SDK does not send a request then), and wait out any
// injected latency without holding the lock.
func (f *Fake) begin(ctx context.Context, op string) error {
	f.mu.Lock()
	f.calls[op]++
	d := f.latency[op]
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return opError(op, err)
	}
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return opError(op, ctx.Err())
		}
	}
	return nil
}

// injected returns the error of the first fault matching (op, shardID) and
// uses it up, or nil.
func (f *Fake) injected(op, shardID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, ft := range f.faults {
		if ft.op != op || (ft.shardID != "" && ft.shardID != shardID) {
			continue
		}
		if ft.left > 0 {
			ft.left--
			if ft.left == 0 {
				f.faults = append(f.faults[:i:i], f.faults[i+1:]...)
			}
		}
		return opError(op, ft.err)
	}
	return nil
}

// opError wraps err the way the SDK client does, so callers that would
// type-assert on *types.X instead of using errors.As fail here as they
// would against AWS.
func opError(op string, err error) error {
	return &smithy.OperationError{ServiceID: "Kinesis", OperationName: op, Err: err}
}

// Service errors, as the SDK types them.

func errNotFound(format string, args ...any) error {
	return &types.ResourceNotFoundException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func errInvalid(format string, args ...any) error {
	return &types.InvalidArgumentException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func errInUse(format string, args ...any) error {
	return &types.ResourceInUseException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func errLimit(format string, args ...any) error {
	return &types.LimitExceededException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func errThroughput(format string, args ...any) error {
	return &types.ProvisionedThroughputExceededException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func errExpiredIterator(format string, args ...any) error {
	return &types.ExpiredIteratorException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func errExpiredToken(format string, args ...any) error {
	return &types.ExpiredNextTokenException{Message: aws.String(fmt.Sprintf(format, args...))}
}

// paramRequired is the SDK's client-side validation error for a missing
// required member; the request never reaches the service.
func paramRequired(inputName string, fields ...string) error {
	e := smithy.InvalidParamsError{Context: inputName}
	for _, fld := range fields {
		e.Add(smithy.NewErrParamRequired(fld))
	}
	return e
}

package scenario_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/shardwise/shardwise/leases"
	"github.com/shardwise/shardwise/scheduler"
)

// The rest of the lease store's writes, faulted like the others.

func (s *faultLeases) Release(ctx context.Context, l leases.Lease) (out leases.Lease, err error) {
	err = s.in.call(ctx, s.id, "Leases.Release", func(ctx context.Context) (e error) { out, e = s.Store.Release(ctx, l); return e })
	if err != nil {
		return leases.Lease{}, err
	}
	return out, nil
}

func (s *faultLeases) SetChildShards(ctx context.Context, key, owner string, counter int64, children []string) (n int64, err error) {
	err = s.in.call(ctx, s.id, "Leases.SetChildShards", func(ctx context.Context) (e error) {
		n, e = s.Store.SetChildShards(ctx, key, owner, counter, children)
		return e
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func (s *faultLeases) Delete(ctx context.Context, key string, counter int64) error {
	return s.in.call(ctx, s.id, "Leases.Delete", func(ctx context.Context) error { return s.Store.Delete(ctx, key, counter) })
}

// faultKinesis puts the injector between a worker and the stream: its
// calls are named "Kinesis.GetRecords", "Kinesis.GetShardIterator",
// "Kinesis.ListShards" and "Kinesis.DescribeStreamSummary".
type faultKinesis struct {
	k  scheduler.KinesisAPI
	id string
	in *injector
}

func (f *faultKinesis) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, o ...func(*kinesis.Options)) (out *kinesis.DescribeStreamSummaryOutput, err error) {
	err = f.in.call(ctx, f.id, "Kinesis.DescribeStreamSummary", func(ctx context.Context) (e error) { out, e = f.k.DescribeStreamSummary(ctx, in, o...); return e })
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (f *faultKinesis) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (out *kinesis.ListShardsOutput, err error) {
	err = f.in.call(ctx, f.id, "Kinesis.ListShards", func(ctx context.Context) (e error) { out, e = f.k.ListShards(ctx, in, o...); return e })
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (f *faultKinesis) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, o ...func(*kinesis.Options)) (out *kinesis.GetShardIteratorOutput, err error) {
	err = f.in.call(ctx, f.id, "Kinesis.GetShardIterator", func(ctx context.Context) (e error) { out, e = f.k.GetShardIterator(ctx, in, o...); return e })
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (f *faultKinesis) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, o ...func(*kinesis.Options)) (out *kinesis.GetRecordsOutput, err error) {
	err = f.in.call(ctx, f.id, "Kinesis.GetRecords", func(ctx context.Context) (e error) { out, e = f.k.GetRecords(ctx, in, o...); return e })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// kinesisFaultErr is a faulted Kinesis call's error, shaped as the SDK
// shapes it.
func kinesisFaultErr(kind faultKind, op string) error {
	var err error
	switch kind {
	case throttled:
		err = &ktypes.ProvisionedThroughputExceededException{Message: aws.String("scenario test: rate exceeded for shard")}
	case serverErr:
		err = &smithy.GenericAPIError{Code: "InternalFailure", Message: "scenario test: internal failure", Fault: smithy.FaultServer}
	case timedOut:
		err = context.DeadlineExceeded
	case connReset, lostReply:
		err = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	case expiredIter:
		err = &ktypes.ExpiredIteratorException{Message: aws.String("scenario test: iterator expired")}
	case limitExceeded:
		err = &ktypes.LimitExceededException{Message: aws.String("scenario test: rate exceeded for stream")}
	}
	return &smithy.OperationError{ServiceID: "Kinesis", OperationName: op, Err: err}
}

// phaseOf names the phase a set of store calls belongs to.
func phaseOf(methods []string) string {
	key := strings.Join(methods, "+")
	for _, p := range []struct {
		name  string
		calls []string
	}{
		{"heartbeat", heartbeat},
		{"checkpoint", checkpoints},
		{"heartbeat + checkpoint", append(slices.Clone(heartbeat), checkpoints...)},
		{"hand-off", handoffs},
		{"leader election", election},
		{"leader election", electionAll},
		{"shard sync", shardSync},
		{"shard end (parent's child list)", childList},
		{"shard end (child leases)", childLeases},
		{"shard end (leader deletes parents)", parentDelete},
		{"graceful shutdown", shutdown},
	} {
		if strings.Join(p.calls, "+") == key {
			return p.name
		}
	}
	return key
}

var (
	electionAll  = []string{"Coord.GetLeader", "Coord.ClaimLeader"}
	childList    = []string{"Leases.SetChildShards"}
	childLeases  = []string{"Leases.Create"}
	parentDelete = []string{"Leases.Delete"}
	shutdown     = []string{"Leases.Take", "Leases.Release"}

	kPolling  = []string{"Kinesis.GetRecords"}
	kIterator = []string{"Kinesis.GetShardIterator", "Kinesis.GetRecords"}
	kSync     = []string{"Kinesis.ListShards"}
	kAll      = []string{"Kinesis.ListShards", "Kinesis.GetShardIterator", "Kinesis.GetRecords"}
)

// boundaryFaults are the matrix rows for the rest of the AWS boundary:
// the lease store's Release, SetChildShards and Delete, the whole leader
// election (GetLeader and the claim), and the Kinesis client (timeouts,
// resets, expired iterators, throughput storms, LimitExceeded, 5xx
// bursts) during shard sync, polling, hand-offs and shard ends.
func boundaryFaults() []faultCase {
	long := 2 * failover
	var out []faultCase
	// DynamoDB.
	for _, k := range []faultKind{serverErr, throttled, lostReply, timedOut} {
		out = append(out,
			faultCase{name: k.String() + " on shard end child list", kind: k, methods: childList, window: long, reshard: true},
			faultCase{name: k.String() + " on graceful shutdown", kind: k, methods: shutdown, target: "victim", window: long, stopOne: true},
		)
	}
	// The children's leases: the parent's worker creates them at its
	// shard end (the leader's shard sync may too).
	for _, k := range []faultKind{serverErr, lostReply} {
		out = append(out, faultCase{name: k.String() + " on shard end child leases", kind: k, methods: childLeases, window: long, reshard: true})
	}
	for _, k := range []faultKind{serverErr, lostReply, connReset} {
		out = append(out, faultCase{name: k.String() + " on parent deletion", kind: k, methods: parentDelete, target: "leader", window: long, reshard: true})
	}
	for _, k := range []faultKind{timedOut, throttled, connReset} {
		out = append(out, faultCase{name: k.String() + " on leader election", kind: k, methods: electionAll, window: long, crashLeader: true})
	}
	// Kinesis, on every worker.
	type kf struct {
		kind    faultKind
		methods []string
		phase   string
		moves   bool
		reshard bool
		limit   int64
	}
	for _, f := range []kf{
		{kind: timedOut, methods: kPolling, phase: "polling"},
		{kind: connReset, methods: kPolling, phase: "polling"},
		{kind: expiredIter, methods: kPolling, phase: "polling"},
		{kind: serverErr, methods: kPolling, phase: "polling", limit: 40},
		{kind: timedOut, methods: kSync, phase: "shard sync"},
		{kind: connReset, methods: kSync, phase: "shard sync"},
		{kind: limitExceeded, methods: kSync, phase: "shard sync"},
		{kind: serverErr, methods: kSync, phase: "shard sync", limit: 40},
		{kind: timedOut, methods: kIterator, phase: "hand-off", moves: true},
		{kind: connReset, methods: kIterator, phase: "hand-off", moves: true},
		{kind: expiredIter, methods: kPolling, phase: "hand-off", moves: true},
		{kind: throttled, methods: kIterator, phase: "hand-off", moves: true},
		{kind: limitExceeded, methods: kIterator, phase: "hand-off", moves: true},
		{kind: serverErr, methods: kIterator, phase: "hand-off", moves: true, limit: 40},
		{kind: timedOut, methods: kAll, phase: "shard end", reshard: true},
		{kind: connReset, methods: kAll, phase: "shard end", reshard: true},
		{kind: expiredIter, methods: kPolling, phase: "shard end", reshard: true},
		{kind: throttled, methods: kAll, phase: "shard end", reshard: true},
		{kind: limitExceeded, methods: kAll, phase: "shard end", reshard: true},
		{kind: serverErr, methods: kAll, phase: "shard end", reshard: true, limit: 40},
	} {
		name := f.kind.String()
		switch {
		case f.kind == throttled:
			name = "throughput storm"
		case f.limit > 0:
			name += " burst"
		}
		window := long
		if f.kind == expiredIter {
			// Every GetRecords fails while it is on, so the shard stalls
			// for the whole window; half a failover time is a long run
			// of expired iterators already.
			window = failover / 2
		}
		out = append(out, faultCase{
			name: "Kinesis " + name + " on " + f.phase, kind: f.kind, methods: f.methods,
			window: window, moves: f.moves, reshard: f.reshard, limit: f.limit, phaseName: f.phase,
		})
	}
	return out
}

// hitsByMethod lists the calls faulted with their hits
// ("Leases.SetChildShards×6 Leases.Create×12"); calls that the fake
// faulted itself (the rows with kop) are named by fallback.
func (in *injector) hitsByMethod(fallback string) string {
	var parts []string
	in.byMethod.Range(func(k, v any) bool {
		parts = append(parts, fmt.Sprintf("%s×%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	if len(parts) == 0 {
		return fallback
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// The fan-out calls pass through unfaulted: the matrix polls (fan-out's
// faults are the subscriber's tests, scheduler/fanout_test.go).

func (f *faultKinesis) RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, o ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error) {
	return f.k.RegisterStreamConsumer(ctx, in, o...)
}

func (f *faultKinesis) DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, o ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error) {
	return f.k.DescribeStreamConsumer(ctx, in, o...)
}

func (f *faultKinesis) SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, o ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error) {
	return f.k.SubscribeToShard(ctx, in, o...)
}

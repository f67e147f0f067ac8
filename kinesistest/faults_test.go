package kinesistest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/shardwise/shardwise/internal/awsapi"
)

func getRecords(f *Fake, iter string) (*kinesis.GetRecordsOutput, error) {
	return f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iter)})
}

// TestGetRecordsThrottle runs in a synctest bubble: time.Now is the
// bubble's clock, so the test waits a fake second, not a real one.
func TestGetRecordsThrottle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := mustNew(t, Config{}) // default clock and limits
		mustCreate(t, f, "s", 2)
		iter0 := mustIterator(t, f, iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
		iter1 := mustIterator(t, f, iterIn("s", id(1), types.ShardIteratorTypeTrimHorizon))

		for i := range 5 {
			if _, err := getRecords(f, iter0); err != nil {
				t.Fatalf("call %d within the limit: %v", i+1, err)
			}
		}
		_, err := getRecords(f, iter0)
		if !awsapi.IsThrottle(err) {
			t.Fatalf("6th call in one second: err = %v, want ProvisionedThroughputExceededException", err)
		}
		var pte *types.ProvisionedThroughputExceededException
		if !errors.As(err, &pte) {
			t.Errorf("err %T does not unwrap to *types.ProvisionedThroughputExceededException", err)
		}
		// The limit is per shard.
		if _, err := getRecords(f, iter1); err != nil {
			t.Errorf("other shard throttled too: %v", err)
		}
		// Refused calls do not count: after 999 ms the window still holds
		// five calls; at one second the oldest leaves it.
		time.Sleep(999 * time.Millisecond)
		if _, err := getRecords(f, iter0); !awsapi.IsThrottle(err) {
			t.Errorf("after 999 ms: err = %v, want throttle", err)
		}
		time.Sleep(time.Millisecond)
		if _, err := getRecords(f, iter0); err != nil {
			t.Errorf("after 1 s: %v", err)
		}
		if got := f.Calls(opGetRecords); got != 9 {
			t.Errorf("Calls(GetRecords) = %d, want 9 (throttled calls count)", got)
		}
	})
}

func TestThrottleSpreadCalls(t *testing.T) {
	// Calls spaced 200 ms apart are exactly 5/s and never throttle; at
	// 199 ms the sixth call lands inside the window.
	tests := []struct {
		gap       time.Duration
		throttled bool
	}{
		{200 * time.Millisecond, false},
		{199 * time.Millisecond, true},
	}
	for _, tc := range tests {
		t.Run(tc.gap.String(), func(t *testing.T) {
			clk := newManualClock()
			f := mustNew(t, Config{Now: clk.Now})
			mustCreate(t, f, "s", 1)
			iter := mustIterator(t, f, iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
			throttled := false
			for range 20 {
				if _, err := getRecords(f, iter); err != nil {
					if !awsapi.IsThrottle(err) {
						t.Fatal(err)
					}
					throttled = true
				}
				clk.Advance(tc.gap)
			}
			if throttled != tc.throttled {
				t.Errorf("throttled = %v, want %v", throttled, tc.throttled)
			}
		})
	}
	t.Run("disabled", func(t *testing.T) {
		f, _ := newTestFake(t) // limits off, clock standing still
		mustCreate(t, f, "s", 1)
		iter := mustIterator(t, f, iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
		for i := range 100 {
			if _, err := getRecords(f, iter); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
	})
}

func TestGetShardIteratorThrottle(t *testing.T) {
	clk := newManualClock()
	f := mustNew(t, Config{Now: clk.Now, GetShardIteratorPerSecond: 2})
	mustCreate(t, f, "s", 1)
	in := iterIn("s", id(0), types.ShardIteratorTypeLatest)
	for range 2 {
		mustIterator(t, f, in)
	}
	if _, err := f.GetShardIterator(context.Background(), in); !awsapi.IsThrottle(err) {
		t.Fatalf("3rd call at a limit of 2/s: err = %v, want throttle", err)
	}
	clk.Advance(time.Second)
	mustIterator(t, f, in)
}

func TestReadThroughputLimit(t *testing.T) {
	clk := newManualClock()
	f := mustNew(t, Config{Now: clk.Now, GetRecordsPerSecond: -1, ReadBytesPerSecond: 1000})
	mustCreate(t, f, "s", 1)
	for range 4 {
		mustPut(t, f, "s", "k", make([]byte, 999)) // 1000 bytes with the key
	}
	iter := mustIterator(t, f, iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
	out, err := f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iter), Limit: aws.Int32(3)})
	if err != nil || len(out.Records) != 3 {
		t.Fatalf("first read: %d records, %v", len(out.Records), err)
	}
	// 3000 bytes at 1000 B/s: refused until 3 s have passed.
	clk.Advance(2999 * time.Millisecond)
	if _, err := getRecords(f, *out.NextShardIterator); !awsapi.IsThrottle(err) {
		t.Fatalf("after 2.999 s: err = %v, want throttle", err)
	}
	clk.Advance(time.Millisecond)
	if out, err := getRecords(f, *out.NextShardIterator); err != nil || len(out.Records) != 1 {
		t.Fatalf("after 3 s: %v", err)
	}
}

func TestInjectedErrorsClassified(t *testing.T) {
	tests := []struct {
		name     string
		op       string
		err      error
		classify func(error) bool
		target   any
	}{
		{"throughput on GetRecords", opGetRecords, &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}, awsapi.IsThrottle, new(*types.ProvisionedThroughputExceededException)},
		{"KMS throttling on GetRecords", opGetRecords, &types.KMSThrottlingException{}, awsapi.IsThrottle, new(*types.KMSThrottlingException)},
		{"expired iterator on GetRecords", opGetRecords, &types.ExpiredIteratorException{}, awsapi.IsExpiredIterator, new(*types.ExpiredIteratorException)},
		{"not found on GetShardIterator", opGetShardIterator, &types.ResourceNotFoundException{}, awsapi.IsNotFound, new(*types.ResourceNotFoundException)},
		{"limit on ListShards", opListShards, &types.LimitExceededException{}, awsapi.IsThrottle, new(*types.LimitExceededException)},
		{"access denied on DescribeStreamSummary", opDescribeStreamSummary, &types.AccessDeniedException{}, awsapi.IsAccessDenied, new(*types.AccessDeniedException)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := newTestFake(t)
			mustCreate(t, f, "s", 1)
			iter := mustIterator(t, f, iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
			call := func() error {
				var err error
				switch tc.op {
				case opGetRecords:
					_, err = getRecords(f, iter)
				case opGetShardIterator:
					_, err = f.GetShardIterator(context.Background(), iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
				case opListShards:
					_, err = f.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("s")})
				case opDescribeStreamSummary:
					_, err = f.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
				}
				return err
			}
			before := f.Calls(tc.op)
			f.InjectError(tc.op, "", tc.err, 2)
			for i := range 2 {
				err := call()
				if !tc.classify(err) {
					t.Fatalf("call %d: err = %v not classified", i+1, err)
				}
				if !errors.Is(err, tc.err) || !errors.As(err, tc.target) {
					t.Errorf("call %d: err %v does not unwrap to the injected %T", i+1, err, tc.err)
				}
				// Wrapped like the SDK wraps it, so a type assertion fails as
				// it would against AWS.
				var oe *smithy.OperationError
				if !errors.As(err, &oe) || oe.Operation() != tc.op {
					t.Errorf("call %d: err %T is not an OperationError for %s", i+1, err, tc.op)
				}
			}
			if err := call(); err != nil {
				t.Errorf("third call after 2 injected failures: %v", err)
			}
			if got := f.Calls(tc.op) - before; got != 3 {
				t.Errorf("Calls(%s) grew by %d, want 3", tc.op, got)
			}
		})
	}
}

func TestInjectErrorScoping(t *testing.T) {
	f, _ := newTestFake(t)
	mustCreate(t, f, "s", 2)
	it0 := mustIterator(t, f, iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
	it1 := mustIterator(t, f, iterIn("s", id(1), types.ShardIteratorTypeTrimHorizon))
	boom := &types.InternalFailureException{Message: aws.String("boom")}

	f.InjectError(opGetRecords, id(1), boom, -1)
	for range 3 {
		if _, err := getRecords(f, it0); err != nil {
			t.Fatalf("shard 0 hit by a fault for shard 1: %v", err)
		}
		if _, err := getRecords(f, it1); !errors.Is(err, boom) {
			t.Fatalf("shard 1: err = %v, want the injected fault every time", err)
		}
	}
	// A fault for one operation leaves the others alone.
	if _, err := f.GetShardIterator(context.Background(), iterIn("s", id(1), types.ShardIteratorTypeLatest)); err != nil {
		t.Errorf("GetShardIterator hit by a GetRecords fault: %v", err)
	}
	f.ClearFaults()
	if _, err := getRecords(f, it1); err != nil {
		t.Errorf("after ClearFaults: %v", err)
	}

	// Faults are used in order: first the one-shot, then the next.
	first := &types.ExpiredIteratorException{}
	second := &types.ResourceNotFoundException{}
	f.InjectError(opGetRecords, "", first, 1)
	f.InjectError(opGetRecords, "", second, 1)
	if _, err := getRecords(f, it0); !errors.Is(err, first) {
		t.Errorf("first call: %v, want the first fault", err)
	}
	if _, err := getRecords(f, it0); !errors.Is(err, second) {
		t.Errorf("second call: %v, want the second fault", err)
	}
	if _, err := getRecords(f, it0); err != nil {
		t.Errorf("third call: %v", err)
	}

	mustPanic(t, "unknown op", func() { f.InjectError("PutRecord", "", boom, 1) })
	mustPanic(t, "nil error", func() { f.InjectError(opGetRecords, "", nil, 1) })
	mustPanic(t, "latency on unknown op", func() { f.InjectLatency("Nope", time.Second) })
}

func mustPanic(t *testing.T, name string, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", name)
		}
	}()
	fn()
}

func TestInjectLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := mustNew(t, Config{})
		mustCreate(t, f, "s", 1)
		f.InjectLatency(opListShards, 2*time.Second)

		start := time.Now()
		if _, err := f.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("s")}); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 2*time.Second {
			t.Errorf("call took %v, want 2s", got)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		start = time.Now()
		_, err := f.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
		if got := time.Since(start); got != 500*time.Millisecond {
			t.Errorf("cancelled call took %v, want 500ms", got)
		}

		// Other operations are not delayed; removing the latency works.
		start = time.Now()
		if _, err := f.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")}); err != nil {
			t.Fatal(err)
		}
		f.InjectLatency(opListShards, 0)
		if _, err := f.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("s")}); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("undelayed calls took %v", got)
		}
	})
}

func TestCanceledContext(t *testing.T) {
	f, _ := newTestFake(t)
	mustCreate(t, f, "s", 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := f.GetShardIterator(ctx, iterIn("s", id(0), types.ShardIteratorTypeLatest))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestTrim(t *testing.T) {
	f, clk := newTestFake(t)
	mustCreate(t, f, "s", 1)
	var seq []string
	for i := range 4 {
		_, s := mustPut(t, f, "s", "k", []byte{'a' + byte(i)})
		seq = append(seq, s)
		clk.Advance(time.Minute)
	}
	// Taken before the trim; positioned at the first record.
	oldIter := mustIterator(t, f, iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
	// Split, so the parent's fate after a deep trim can be checked.
	if err := f.SplitShard("s", id(0), "1000"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	_, childSeq := mustPutExplicitSeq(t, f, "s", "5", "child") // goes to shard 1
	splitTime := clk.Now().Add(-time.Minute)

	// Drop the records put in the first two minutes: a and b.
	if err := f.trim("s", splitTime.Add(-2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   *kinesis.GetShardIteratorInput
		want []string
	}{
		{"TRIM_HORIZON", iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon), []string{"c", "d"}},
		{"AT_SEQUENCE_NUMBER of a trimmed record", withSeq(iterIn("s", id(0), types.ShardIteratorTypeAtSequenceNumber), seq[0]), []string{"c", "d"}},
		{"AFTER_SEQUENCE_NUMBER of a trimmed record", withSeq(iterIn("s", id(0), types.ShardIteratorTypeAfterSequenceNumber), seq[0]), []string{"c", "d"}},
		{"AT_SEQUENCE_NUMBER kept", withSeq(iterIn("s", id(0), types.ShardIteratorTypeAtSequenceNumber), seq[3]), []string{"d"}},
		{"AT_TIMESTAMP before the horizon", withTime(iterIn("s", id(0), types.ShardIteratorTypeAtTimestamp), splitTime.Add(-time.Hour)), []string{"c", "d"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, _ := readToEnd(t, f, mustIterator(t, f, tc.in), 0)
			if got := datas(recs); !slices.Equal(got, tc.want) {
				t.Errorf("read %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("iterator from before the trim", func(t *testing.T) {
		recs, _ := readToEnd(t, f, oldIter, 0)
		if got := datas(recs); !slices.Equal(got, []string{"c", "d"}) {
			t.Errorf("read %v, want [c d]", got)
		}
	})
	t.Run("AT_TRIM_HORIZON still lists the parent", func(t *testing.T) {
		got := shardIDs(listAll(t, f, &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}}))
		if !slices.Equal(got, ids(0)) {
			t.Errorf("listed %v, want [%s]", got, id(0))
		}
	})

	// Trim past the split: the parent's data is all gone, so it expires.
	if err := f.trim("s", splitTime.Add(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	t.Run("expired parent", func(t *testing.T) {
		got := shardIDs(listAll(t, f, &kinesis.ListShardsInput{StreamName: aws.String("s")}))
		if !slices.Equal(got, ids(1, 2)) {
			t.Errorf("listed %v, want the children only", got)
		}
		got = shardIDs(listAll(t, f, &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}}))
		if !slices.Equal(got, ids(1, 2)) {
			t.Errorf("AT_TRIM_HORIZON listed %v, want the children", got)
		}
		_, err := f.GetShardIterator(context.Background(), iterIn("s", id(0), types.ShardIteratorTypeTrimHorizon))
		if !awsapi.IsNotFound(err) {
			t.Errorf("GetShardIterator on the expired parent: err = %v, want ResourceNotFoundException", err)
		}
		recs, _ := readToEnd(t, f, mustIterator(t, f, withSeq(iterIn("s", id(1), types.ShardIteratorTypeAtSequenceNumber), childSeq)), 0)
		if got := datas(recs); !slices.Equal(got, []string{"child"}) {
			t.Errorf("child read %v, want [child]", got)
		}
	})
	t.Run("horizon never moves back", func(t *testing.T) {
		if err := f.trim("s", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got := shardIDs(listAll(t, f, &kinesis.ListShardsInput{StreamName: aws.String("s")})); !slices.Equal(got, ids(1, 2)) {
			t.Errorf("listed %v after an earlier Trim, want the children only", got)
		}
	})
	if err := f.trim("nope", clk.Now()); !awsapi.IsNotFound(err) {
		t.Errorf("Trim of an unknown stream: err = %v, want ResourceNotFoundException", err)
	}
}

func mustPutExplicitSeq(t *testing.T, f *Fake, stream, hashKey, data string) (string, string) {
	t.Helper()
	sh, seq, err := f.putRecordExplicit(stream, "k", hashKey, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return sh, seq
}

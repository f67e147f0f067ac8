package kinesistest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/shardwise/shardwise/kinesistest"
	"github.com/shardwise/shardwise/scheduler"
)

// The fake has the calls the scheduler makes, with the SDK's signatures.
var _ scheduler.KinesisAPI = (*kinesistest.Fake)(nil)

// Create a stream, put records, and read them back with the SDK-shaped
// GetShardIterator and GetRecords, as a consumer would.
func Example() {
	ctx := context.Background()
	kin, err := kinesistest.New(kinesistest.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := kin.CreateStream("orders", 1); err != nil {
		fmt.Println(err)
		return
	}
	for _, order := range []string{"apple", "pear", "plum"} {
		if _, _, err := kin.PutRecord("orders", "customer-1", []byte(order)); err != nil {
			fmt.Println(err)
			return
		}
	}

	it, err := kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName:        aws.String("orders"),
		ShardId:           aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range out.Records {
		fmt.Printf("%s %s\n", aws.ToString(r.PartitionKey), r.Data)
	}
	fmt.Println("behind latest:", aws.ToInt64(out.MillisBehindLatest), "ms")
	// Output:
	// customer-1 apple
	// customer-1 pear
	// customer-1 plum
	// behind latest: 0 ms
}

// Split a shard: the parent closes, keeps its records, and its last
// GetRecords names the children; new records go to the children.
func ExampleFake_SplitShard() {
	ctx := context.Background()
	kin, _ := kinesistest.New(kinesistest.Config{})
	_ = kin.CreateStream("s", 1)
	_, _, _ = kin.PutRecord("s", "k", []byte("before"))
	// Split the hash key space in half.
	if err := kin.SplitShard("s", "shardId-000000000000", "170141183460469231731687303715884105728"); err != nil {
		fmt.Println(err)
		return
	}
	shard, _, _ := kin.PutRecord("s", "k", []byte("after"))
	fmt.Println("new record in", shard)

	it, _ := kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	out, _ := kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	fmt.Printf("parent: %d record(s), shard ended: %v\n", len(out.Records), out.NextShardIterator == nil)
	for _, c := range out.ChildShards {
		fmt.Println("child", aws.ToString(c.ShardId))
	}
	// Output:
	// new record in shardId-000000000002
	// parent: 1 record(s), shard ended: true
	// child shardId-000000000001
	// child shardId-000000000002
}

// Make the next two GetRecords calls fail as a throttled shard does, to
// test a caller's retries.
func ExampleFake_InjectError() {
	ctx := context.Background()
	kin, _ := kinesistest.New(kinesistest.Config{})
	_ = kin.CreateStream("s", 1)
	it, _ := kin.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String("s"), ShardId: aws.String("shardId-000000000000"),
		ShardIteratorType: types.ShardIteratorTypeLatest,
	})
	kin.InjectError("GetRecords", "", &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}, 2)
	for range 3 {
		_, err := kin.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		var throttled *types.ProvisionedThroughputExceededException
		fmt.Println("throttled:", errors.As(err, &throttled))
	}
	fmt.Println("calls:", kin.Calls("GetRecords"))
	// Output:
	// throttled: true
	// throttled: true
	// throttled: false
	// calls: 3
}

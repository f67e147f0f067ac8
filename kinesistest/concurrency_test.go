package kinesistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// TestConcurrentUse runs producers, a resharder and per-shard readers at
// once (meaningful under -race) and checks that the readers, following
// ChildShards in lineage order, see every record once and each key's
// records in put order.
func TestConcurrentUse(t *testing.T) {
	f := mustNew(t, Config{GetRecordsPerSecond: -1, GetShardIteratorPerSecond: -1})
	mustCreate(t, f, "s", 2)

	const producers, perProducer = 4, 300
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			for i := range perProducer {
				pk := fmt.Sprintf("p%d-k%d", p, i%7)
				if _, _, err := f.PutRecord("s", pk, fmt.Appendf(nil, "%s|%d", pk, i)); err != nil {
					t.Errorf("PutRecord: %v", err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for _, n := range []int{4, 8, 4} {
			if err := f.UpdateShardCount("s", n); err != nil {
				t.Errorf("UpdateShardCount(%d): %v", n, err)
				return
			}
		}
	})
	wg.Wait()

	// Read concurrently: one goroutine per root shard, each walking down
	// its lineage; a merge child is read once, by whoever gets there
	// after both its parents are done.
	var (
		mu       sync.Mutex
		done     = map[string]bool{}
		claimed  = map[string]bool{}
		byKey    = map[string][]int{}
		total    int
		readers  sync.WaitGroup
		startOne func(shard string)
	)
	parentsOf := map[string][]string{}
	for _, s := range listAll(t, f, &kinesis.ListShardsInput{StreamName: aws.String("s")}) {
		if s.ParentShardId != nil {
			parentsOf[*s.ShardId] = append(parentsOf[*s.ShardId], *s.ParentShardId)
		}
		if s.AdjacentParentShardId != nil {
			parentsOf[*s.ShardId] = append(parentsOf[*s.ShardId], *s.AdjacentParentShardId)
		}
	}
	startOne = func(shard string) {
		readers.Go(func() {
			out, err := f.GetShardIterator(context.Background(), iterIn("s", shard, types.ShardIteratorTypeTrimHorizon))
			if err != nil {
				t.Errorf("GetShardIterator(%s): %v", shard, err)
				return
			}
			iter := out.ShardIterator
			var children []types.ChildShard
			for iter != nil {
				res, err := f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(50)})
				if err != nil {
					t.Errorf("GetRecords(%s): %v", shard, err)
					return
				}
				mu.Lock()
				for _, r := range res.Records {
					pk, n, _ := strings.Cut(string(r.Data), "|")
					i, _ := strconv.Atoi(n)
					byKey[pk] = append(byKey[pk], i)
					total++
				}
				mu.Unlock()
				if len(res.Records) == 0 && res.NextShardIterator != nil {
					break // an open shard, caught up
				}
				iter, children = res.NextShardIterator, res.ChildShards
			}
			mu.Lock()
			defer mu.Unlock()
			done[shard] = true
			for _, c := range children {
				ready := true
				for _, p := range c.ParentShards {
					ready = ready && done[p]
				}
				if ready && !claimed[*c.ShardId] {
					claimed[*c.ShardId] = true
					startOne(*c.ShardId)
				}
			}
		})
	}
	mu.Lock()
	for _, root := range []string{id(0), id(1)} {
		claimed[root] = true
		startOne(root)
	}
	mu.Unlock()
	readers.Wait()

	if total != producers*perProducer {
		t.Errorf("read %d records, put %d", total, producers*perProducer)
	}
	for pk, got := range byKey {
		for i := 1; i < len(got); i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("key %s out of order: %v", pk, got)
			}
		}
	}
	if len(parentsOf) == 0 {
		t.Error("no resharding happened")
	}
}

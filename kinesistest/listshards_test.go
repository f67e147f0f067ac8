package kinesistest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/shardwise/shardwise/internal/awsapi"
)

func id(i int) string { return shardID(i) }

func ids(is ...int) []string {
	out := make([]string, len(is))
	for k, i := range is {
		out[k] = id(i)
	}
	return out
}

func TestListShardsPagination(t *testing.T) {
	f, _ := newTestFake(t)
	mustCreate(t, f, "s", 10)
	// Split shards 0 and 1 so that a filtered listing differs from the
	// full one: 0 and 1 close, 10..13 open.
	for _, p := range []int{0, 1} {
		mid := evenBoundaries(20)[2*p+1].String()
		if err := f.SplitShard("s", id(p), mid); err != nil {
			t.Fatal(err)
		}
	}
	all := ids(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)
	open := ids(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)

	tests := []struct {
		name      string
		maxResult int32
		filter    *types.ShardFilter
		want      []string
	}{
		{"no filter, pages of 3", 3, nil, all},
		{"no filter, pages of 1", 1, nil, all},
		{"no filter, exact page", 14, nil, all},
		{"no filter, one page", 1000, nil, all},
		{"AT_LATEST, pages of 5", 5, &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}, open},
		{"AFTER_SHARD_ID, pages of 4", 4, &types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String(id(8))}, ids(9, 10, 11, 12, 13)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(tc.maxResult), ShardFilter: tc.filter}
			var got []string
			pages := 0
			for {
				out, err := f.ListShards(context.Background(), in)
				if err != nil {
					t.Fatalf("page %d: %v", pages, err)
				}
				pages++
				if len(out.Shards) > int(tc.maxResult) {
					t.Fatalf("page %d has %d shards, MaxResults %d", pages, len(out.Shards), tc.maxResult)
				}
				got = append(got, shardIDs(out.Shards)...)
				if out.NextToken == nil {
					break
				}
				if len(out.Shards) == 0 {
					t.Fatal("empty page with a NextToken")
				}
				in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(tc.maxResult)}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("listed %v, want %v", got, tc.want)
			}
			wantPages := max((len(tc.want)+int(tc.maxResult)-1)/int(tc.maxResult), 1)
			if pages != wantPages {
				t.Errorf("%d pages, want %d", pages, wantPages)
			}
		})
	}

	t.Run("ExclusiveStartShardId", func(t *testing.T) {
		got := shardIDs(listAll(t, f, &kinesis.ListShardsInput{StreamName: aws.String("s"), ExclusiveStartShardId: aws.String(id(11)), MaxResults: aws.Int32(1)}))
		if !slices.Equal(got, ids(12, 13)) {
			t.Errorf("listed %v, want %v", got, ids(12, 13))
		}
	})
	t.Run("by ARN", func(t *testing.T) {
		got := shardIDs(listAll(t, f, &kinesis.ListShardsInput{StreamARN: aws.String(f.arn("s")), MaxResults: aws.Int32(6)}))
		if !slices.Equal(got, all) {
			t.Errorf("listed %v, want %v", got, all)
		}
	})
	t.Run("MaxResults above 1000 is capped", func(t *testing.T) {
		f2, _ := newTestFake(t)
		mustCreate(t, f2, "big", 1001)
		out, err := f2.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("big"), MaxResults: aws.Int32(5000)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Shards) != 1000 || out.NextToken == nil {
			t.Errorf("got %d shards, token %v; want 1000 and a token", len(out.Shards), out.NextToken != nil)
		}
	})
}

func TestListShardsTokenRules(t *testing.T) {
	f, clk := newTestFake(t)
	mustCreate(t, f, "s", 4)
	first, err := f.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	tok := first.NextToken
	if tok == nil {
		t.Fatal("no NextToken for 4 shards in pages of 2")
	}
	ts := time.Now()
	tests := []struct {
		name string
		in   *kinesis.ListShardsInput
		code string
	}{
		{"token with StreamName", &kinesis.ListShardsInput{NextToken: tok, StreamName: aws.String("s")}, "InvalidArgumentException"},
		{"token with StreamARN", &kinesis.ListShardsInput{NextToken: tok, StreamARN: aws.String(f.arn("s"))}, "InvalidArgumentException"},
		{"token with ShardFilter", &kinesis.ListShardsInput{NextToken: tok, ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}}, "InvalidArgumentException"},
		{"token with ExclusiveStartShardId", &kinesis.ListShardsInput{NextToken: tok, ExclusiveStartShardId: aws.String(id(0))}, "InvalidArgumentException"},
		{"token with StreamCreationTimestamp", &kinesis.ListShardsInput{NextToken: tok, StreamCreationTimestamp: &ts}, "InvalidArgumentException"},
		{"garbage token", &kinesis.ListShardsInput{NextToken: aws.String("bm9wZQ")}, "InvalidArgumentException"},
		{"unknown stream", &kinesis.ListShardsInput{StreamName: aws.String("nope")}, "ResourceNotFoundException"},
		{"no stream", &kinesis.ListShardsInput{}, "InvalidArgumentException"},
		{"MaxResults 0", &kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(0)}, "InvalidArgumentException"},
		{"MaxResults 10001", &kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(10001)}, "InvalidArgumentException"},
		{"AFTER_SHARD_ID without ShardId", &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAfterShardId}}, "InvalidArgumentException"},
		{"AT_TIMESTAMP without Timestamp", &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp}}, "InvalidArgumentException"},
		{"AT_LATEST with ShardId", &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest, ShardId: aws.String(id(0))}}, "InvalidArgumentException"},
		{"unknown filter type", &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: &types.ShardFilter{Type: "AT_NOON"}}, "InvalidArgumentException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.ListShards(context.Background(), tc.in)
			if got := awsapi.ErrorCode(err); got != tc.code {
				t.Errorf("err = %v, want %s", err, tc.code)
			}
		})
	}

	t.Run("filter without type fails client-side", func(t *testing.T) {
		_, err := f.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: &types.ShardFilter{}})
		var ip smithy.InvalidParamsError
		if err == nil || !errors.As(err, &ip) {
			t.Errorf("err = %v, want smithy.InvalidParamsError", err)
		}
	})

	t.Run("token still valid at 300 s, expired after", func(t *testing.T) {
		clk.Advance(300 * time.Second)
		if _, err := f.ListShards(context.Background(), &kinesis.ListShardsInput{NextToken: tok}); err != nil {
			t.Fatalf("token at 300 s: %v", err)
		}
		clk.Advance(time.Millisecond)
		_, err := f.ListShards(context.Background(), &kinesis.ListShardsInput{NextToken: tok})
		if got := awsapi.ErrorCode(err); got != "ExpiredNextTokenException" {
			t.Errorf("token after 300 s: err = %v, want ExpiredNextTokenException", err)
		}
	})

	t.Run("token of a deleted stream", func(t *testing.T) {
		out, err := f.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.DeleteStream("s"); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, f, "s", 4) // same name, different stream
		_, err = f.ListShards(context.Background(), &kinesis.ListShardsInput{NextToken: out.NextToken})
		if !awsapi.IsNotFound(err) {
			t.Errorf("err = %v, want ResourceNotFoundException", err)
		}
	})
}

func TestListShardsFilters(t *testing.T) {
	f, clk := newTestFake(t)
	mustCreate(t, f, "s", 2) // 0, 1 at t0
	t0 := clk.Now()
	mustPut(t, f, "s", "a", []byte("old"))

	clk.Advance(time.Minute)
	t1 := clk.Now()
	// Split 0 -> 2, 3 at t1.
	if err := f.SplitShard("s", id(0), evenBoundaries(4)[1].String()); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	t2 := clk.Now()
	// Merge 3 + 1 -> 4 at t2.
	if err := f.MergeShards("s", id(3), id(1)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)

	at := func(ts time.Time) *time.Time { return &ts }
	tests := []struct {
		name   string
		filter *types.ShardFilter
		want   []string
	}{
		{"none (FROM_TRIM_HORIZON)", nil, ids(0, 1, 2, 3, 4)},
		{"FROM_TRIM_HORIZON", &types.ShardFilter{Type: types.ShardFilterTypeFromTrimHorizon}, ids(0, 1, 2, 3, 4)},
		{"AT_TRIM_HORIZON", &types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}, ids(0, 1)},
		{"AT_LATEST", &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}, ids(2, 4)},
		{"AFTER_SHARD_ID", &types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String(id(2))}, ids(3, 4)},
		{"AT_TIMESTAMP before the split", &types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: at(t0.Add(time.Second))}, ids(0, 1)},
		{"AT_TIMESTAMP between split and merge", &types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: at(t1.Add(time.Second))}, ids(1, 2, 3)},
		{"AT_TIMESTAMP after the merge", &types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: at(t2.Add(time.Second))}, ids(2, 4)},
		{"FROM_TIMESTAMP between split and merge", &types.ShardFilter{Type: types.ShardFilterTypeFromTimestamp, Timestamp: at(t1.Add(time.Second))}, ids(1, 2, 3, 4)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := shardIDs(listAll(t, f, &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: tc.filter, MaxResults: aws.Int32(2)}))
			if !slices.Equal(got, tc.want) {
				t.Errorf("listed %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("lineage", func(t *testing.T) {
		byID := map[string]types.Shard{}
		for _, s := range listAll(t, f, &kinesis.ListShardsInput{StreamName: aws.String("s")}) {
			byID[*s.ShardId] = s
		}
		check := func(child, parent, adjacent string) {
			s := byID[child]
			if aws.ToString(s.ParentShardId) != parent || aws.ToString(s.AdjacentParentShardId) != adjacent {
				t.Errorf("%s: parent %q adjacent %q, want %q %q", child, aws.ToString(s.ParentShardId), aws.ToString(s.AdjacentParentShardId), parent, adjacent)
			}
		}
		check(id(2), id(0), "")
		check(id(3), id(0), "")
		check(id(4), id(3), id(1))
		for _, closed := range ids(0, 1, 3) {
			if byID[closed].SequenceNumberRange.EndingSequenceNumber == nil {
				t.Errorf("closed %s has no EndingSequenceNumber", closed)
			}
		}
		for _, open := range ids(2, 4) {
			if byID[open].SequenceNumberRange.EndingSequenceNumber != nil {
				t.Errorf("open %s has an EndingSequenceNumber", open)
			}
		}
	})

	t.Run("IgnoreShardFilter and IgnoreMaxResults imitate kinesalite", func(t *testing.T) {
		g, _ := newTestFake(t, Config{IgnoreShardFilter: true, IgnoreMaxResults: true})
		mustCreate(t, g, "s", 3)
		if err := g.SplitShard("s", id(0), "100"); err != nil {
			t.Fatal(err)
		}
		out, err := g.ListShards(context.Background(), &kinesis.ListShardsInput{
			StreamName: aws.String("s"), MaxResults: aws.Int32(1),
			ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := shardIDs(out.Shards); !slices.Equal(got, ids(0, 1, 2, 3, 4)) || out.NextToken != nil {
			t.Errorf("listed %v (token %v), want every shard in one page", got, out.NextToken != nil)
		}
	})
}

func TestListShardsLargeStream(t *testing.T) {
	f, _ := newTestFake(t)
	mustCreate(t, f, "s", 250)
	got := shardIDs(listAll(t, f, &kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(7)}))
	if len(got) != 250 {
		t.Fatalf("listed %d shards, want 250", len(got))
	}
	for i, g := range got {
		if g != fmt.Sprintf("shardId-%012d", i) {
			t.Fatalf("shard %d is %s", i, g)
		}
	}
}

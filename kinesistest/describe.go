package kinesistest

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// DescribeStreamSummary describes a stream named by StreamName or
// StreamARN. Streams are always ACTIVE, provisioned, unencrypted, with the
// default 24 h retention (records never expire). optFns are
// ignored.
func (f *Fake) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	const op = opDescribeStreamSummary
	if in == nil {
		in = &kinesis.DescribeStreamSummaryInput{}
	}
	if err := f.enter(ctx, op); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := f.resolveLocked(in.StreamName, in.StreamARN)
	if err != nil {
		return nil, opError(op, err)
	}
	return &kinesis.DescribeStreamSummaryOutput{
		StreamDescriptionSummary: &types.StreamDescriptionSummary{
			StreamName:              aws.String(st.name),
			StreamARN:               aws.String(st.arn),
			StreamStatus:            types.StreamStatusActive,
			StreamModeDetails:       &types.StreamModeDetails{StreamMode: types.StreamModeProvisioned},
			StreamCreationTimestamp: aws.Time(st.createdAt),
			RetentionPeriodHours:    aws.Int32(24),
			OpenShardCount:          aws.Int32(int32(len(st.open))),
			ConsumerCount:           aws.Int32(0),
			EncryptionType:          types.EncryptionTypeNone,
			EnhancedMonitoring:      []types.EnhancedMetrics{{ShardLevelMetrics: []types.MetricsName{}}},
		},
	}, nil
}

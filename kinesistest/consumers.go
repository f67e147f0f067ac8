package kinesistest

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Enhanced fan-out consumer registration. A registered consumer is ACTIVE
// at once (RegisterStreamConsumer answers CREATING, as the service does;
// the next DescribeStreamConsumer says ACTIVE). Registration imitates the
// service's refusals: a name already registered (ResourceInUseException),
// more than maxConsumers consumers on a stream or more than
// registerPerSecond registrations a second (LimitExceededException).

const (
	maxConsumers      = 20 // registered consumers per stream
	registerPerSecond = 5  // RegisterStreamConsumer calls per second
)

type streamConsumer struct {
	name      string
	arn       string
	createdAt time.Time
}

// consumerARN is the service's consumer ARN form: the stream's ARN,
// "/consumer/", the name, ":" and the creation time in epoch seconds.
func consumerARN(st *stream, name string, at time.Time) string {
	return fmt.Sprintf("%s/consumer/%s:%d", st.arn, name, at.Unix())
}

// consumerARNPattern splits a consumer ARN into stream ARN and name.
var consumerARNPattern = regexp.MustCompile(`^(arn:aws:kinesis:[^:]*:[^:]*:stream/[a-zA-Z0-9_.-]+)/consumer/([a-zA-Z0-9_.-]+):\d+$`)

// consumerByARNLocked finds a registered consumer and its stream.
func (f *Fake) consumerByARNLocked(a string) (*stream, *streamConsumer, error) {
	m := consumerARNPattern.FindStringSubmatch(a)
	if m == nil {
		return nil, nil, errInvalid("ConsumerARN %q is not a stream consumer ARN", a)
	}
	st, err := f.resolveLocked(nil, aws.String(m[1]))
	if err != nil {
		return nil, nil, err
	}
	c, ok := st.consumers[m[2]]
	if !ok || c.arn != a {
		return nil, nil, errNotFound("Consumer %s not found.", a)
	}
	return st, c, nil
}

// consumerLocked finds the consumer a request names by ConsumerARN, or by
// StreamARN and ConsumerName.
func (f *Fake) consumerLocked(arn, streamARN, name *string) (*stream, *streamConsumer, error) {
	if a := aws.ToString(arn); a != "" {
		return f.consumerByARNLocked(a)
	}
	if aws.ToString(streamARN) == "" || aws.ToString(name) == "" {
		return nil, nil, errInvalid("Either ConsumerARN or both StreamARN and ConsumerName must be provided.")
	}
	st, err := f.resolveLocked(nil, streamARN)
	if err != nil {
		return nil, nil, err
	}
	c, ok := st.consumers[*name]
	if !ok {
		return nil, nil, errNotFound("Consumer %s under stream %s not found.", *name, st.arn)
	}
	return st, c, nil
}

func (c *streamConsumer) describe(st *stream, status types.ConsumerStatus) *types.ConsumerDescription {
	return &types.ConsumerDescription{
		ConsumerARN:               aws.String(c.arn),
		ConsumerName:              aws.String(c.name),
		ConsumerStatus:            status,
		ConsumerCreationTimestamp: aws.Time(c.createdAt),
		StreamARN:                 aws.String(st.arn),
	}
}

// RegisterStreamConsumer registers an enhanced fan-out consumer of the
// stream named by StreamARN. optFns are ignored.
func (f *Fake) RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, _ ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error) {
	const op = opRegisterStreamConsumer
	if in == nil {
		in = &kinesis.RegisterStreamConsumerInput{}
	}
	if err := f.begin(ctx, op); err != nil {
		return nil, err
	}
	if in.StreamARN == nil || in.ConsumerName == nil {
		return nil, opError(op, paramRequired("RegisterStreamConsumerInput", "StreamARN", "ConsumerName"))
	}
	if err := f.injected(op, ""); err != nil {
		return nil, err
	}
	if !namePattern.MatchString(*in.ConsumerName) {
		return nil, opError(op, errInvalid("ConsumerName %q does not match %s", *in.ConsumerName, namePattern))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := f.resolveLocked(nil, in.StreamARN)
	if err != nil {
		return nil, opError(op, err)
	}
	now := f.now()
	if !st.registerCalls.allow(now, registerPerSecond) {
		return nil, opError(op, errLimit("Rate exceeded for RegisterStreamConsumer on stream %s under account %s.", st.name, f.cfg.account))
	}
	if _, ok := st.consumers[*in.ConsumerName]; ok {
		return nil, opError(op, errInUse("Consumer %s under stream %s already exists for account %s.", *in.ConsumerName, st.name, f.cfg.account))
	}
	if len(st.consumers) >= maxConsumers {
		return nil, opError(op, errLimit("Stream %s under account %s has reached its limit of %d consumers.", st.name, f.cfg.account, maxConsumers))
	}
	if st.consumers == nil {
		st.consumers = make(map[string]*streamConsumer)
	}
	c := &streamConsumer{name: *in.ConsumerName, arn: consumerARN(st, *in.ConsumerName, now), createdAt: now}
	st.consumers[c.name] = c
	d := c.describe(st, types.ConsumerStatusCreating)
	return &kinesis.RegisterStreamConsumerOutput{Consumer: &types.Consumer{
		ConsumerARN: d.ConsumerARN, ConsumerName: d.ConsumerName, ConsumerStatus: d.ConsumerStatus,
		ConsumerCreationTimestamp: d.ConsumerCreationTimestamp,
	}}, nil
}

// DescribeStreamConsumer describes a consumer named by ConsumerARN, or by
// StreamARN and ConsumerName; it is ACTIVE. optFns are ignored.
func (f *Fake) DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error) {
	const op = opDescribeStreamConsumer
	if in == nil {
		in = &kinesis.DescribeStreamConsumerInput{}
	}
	if err := f.enter(ctx, op); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, c, err := f.consumerLocked(in.ConsumerARN, in.StreamARN, in.ConsumerName)
	if err != nil {
		return nil, opError(op, err)
	}
	return &kinesis.DescribeStreamConsumerOutput{ConsumerDescription: c.describe(st, types.ConsumerStatusActive)}, nil
}

// ListStreamConsumers lists the consumers of the stream named by
// StreamARN, oldest first, in one page. optFns are ignored.
func (f *Fake) ListStreamConsumers(ctx context.Context, in *kinesis.ListStreamConsumersInput, _ ...func(*kinesis.Options)) (*kinesis.ListStreamConsumersOutput, error) {
	const op = opListStreamConsumers
	if in == nil {
		in = &kinesis.ListStreamConsumersInput{}
	}
	if err := f.begin(ctx, op); err != nil {
		return nil, err
	}
	if in.StreamARN == nil {
		return nil, opError(op, paramRequired("ListStreamConsumersInput", "StreamARN"))
	}
	if err := f.injected(op, ""); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := f.resolveLocked(nil, in.StreamARN)
	if err != nil {
		return nil, opError(op, err)
	}
	out := &kinesis.ListStreamConsumersOutput{Consumers: []types.Consumer{}}
	for _, c := range st.consumers {
		out.Consumers = append(out.Consumers, types.Consumer{
			ConsumerARN: aws.String(c.arn), ConsumerName: aws.String(c.name),
			ConsumerStatus: types.ConsumerStatusActive, ConsumerCreationTimestamp: aws.Time(c.createdAt),
		})
	}
	slices.SortFunc(out.Consumers, func(a, b types.Consumer) int {
		if d := a.ConsumerCreationTimestamp.Compare(*b.ConsumerCreationTimestamp); d != 0 {
			return d
		}
		return strings.Compare(*a.ConsumerName, *b.ConsumerName)
	})
	return out, nil
}

// DeregisterStreamConsumer removes a consumer named by ConsumerARN, or by
// StreamARN and ConsumerName, at once (no DELETING phase); its open
// subscriptions end with ResourceNotFoundException. optFns are ignored.
func (f *Fake) DeregisterStreamConsumer(ctx context.Context, in *kinesis.DeregisterStreamConsumerInput, _ ...func(*kinesis.Options)) (*kinesis.DeregisterStreamConsumerOutput, error) {
	const op = opDeregisterStreamConsumer
	if in == nil {
		in = &kinesis.DeregisterStreamConsumerInput{}
	}
	if err := f.enter(ctx, op); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, c, err := f.consumerLocked(in.ConsumerARN, in.StreamARN, in.ConsumerName)
	if err != nil {
		return nil, opError(op, err)
	}
	delete(st.consumers, c.name)
	for _, sub := range f.subs {
		if sub.consumerARN == c.arn {
			sub.endLocked(errNotFound("Consumer %s was deregistered.", c.arn))
		}
	}
	return &kinesis.DeregisterStreamConsumerOutput{}, nil
}

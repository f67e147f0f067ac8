package scheduler

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/backoff"
)

// ensureStreamConsumer returns the ARN of the ACTIVE stream consumer this
// worker reads with in fan-out mode: Config.ConsumerARN, or the consumer
// named Config.ConsumerName, registered if it does not exist yet.
//
// Many workers starting at once register it once between them: each
// first describes it (a worker that finds it ACTIVE makes no other call);
// the ones that find it missing look again after a random pause within
// registerSpread, and register it only if it is still missing; should two
// register at once, one registration wins, and the others get
// ResourceInUseException and go on describing it until it is ACTIVE. Throttling (LimitExceededException,
// the per-account rates of the consumer calls) and other transient errors
// are retried after jittered, growing backoffs, so the fleet spreads out
// instead of retrying in step. A missing stream, a given ARN that does not
// exist, or missing permissions are returned at once (Run fails).
//
// Nothing deregisters the consumer: another application may share its
// name, and a new consumer must catch up from the checkpoints anyway.
func (s *Scheduler) ensureStreamConsumer(ctx context.Context, streamARN string) (string, error) {
	cfg := &s.cfg
	retry := backoff.Backoff{Base: cfg.ThrottleBackoff, Max: cfg.ThrottleMaxBackoff}
	in := &kinesis.DescribeStreamConsumerInput{}
	if cfg.ConsumerARN != "" {
		in.ConsumerARN = aws.String(cfg.ConsumerARN)
	} else {
		if streamARN == "" {
			return "", fmt.Errorf("shardwise: enhanced fan-out needs the stream's ARN to register consumer %q: set StreamARN (the stream description gave none)", cfg.ConsumerName)
		}
		in.StreamARN, in.ConsumerName = aws.String(streamARN), aws.String(cfg.ConsumerName)
	}
	name := cfg.ConsumerName
	if cfg.ConsumerARN != "" {
		name = cfg.ConsumerARN
	}
	log := s.log.With().Str("consumer", name).Logger()
	paused := false
	for {
		out, err := s.kinesis.DescribeStreamConsumer(ctx, in)
		switch {
		case err == nil && out.ConsumerDescription != nil:
			d := out.ConsumerDescription
			if d.ConsumerStatus == types.ConsumerStatusActive {
				log.Info().Str("consumer_arn", aws.ToString(d.ConsumerARN)).Msg("enhanced fan-out consumer is ACTIVE")
				return aws.ToString(d.ConsumerARN), nil
			}
			log.Debug().Str("status", string(d.ConsumerStatus)).Msg("waiting for the stream consumer to be ACTIVE")
		case err == nil:
			err = errors.New("shardwise: DescribeStreamConsumer returned no description")
			s.warn.Warn(&log, "describe-consumer").Err(err).Msg("describing the stream consumer failed; retrying")
		case awsapi.IsNotFound(err) && cfg.ConsumerARN == "" && !paused:
			// Not registered yet. Workers started together all find it
			// missing: each waits a random part of registerSpread and
			// looks again, so that the first to wake registers it and
			// the others mostly find it registered.
			paused = true
			if !backoff.Sleep(ctx, rand.N(registerSpread)) {
				return "", ctx.Err()
			}
			continue
		case awsapi.IsNotFound(err) && cfg.ConsumerARN == "":
			arn, done, rerr := s.registerStreamConsumer(ctx, streamARN, &log)
			if rerr != nil {
				return "", rerr
			}
			if done {
				return arn, nil
			}
		case awsapi.IsNotFound(err):
			return "", fmt.Errorf("shardwise: stream consumer %q does not exist: %w", cfg.ConsumerARN, err)
		case awsapi.IsAccessDenied(err):
			return "", fmt.Errorf("shardwise: not allowed to use enhanced fan-out (the worker needs kinesis:DescribeStreamConsumer, RegisterStreamConsumer, SubscribeToShard): %w", err)
		case ctx.Err() != nil:
			return "", ctx.Err()
		default:
			s.warn.Warn(&log, "describe-consumer").Err(err).Msg("describing the stream consumer failed; retrying")
		}
		if !backoff.Sleep(ctx, retry.Next()) {
			return "", ctx.Err()
		}
	}
}

// registerStreamConsumer registers Config.ConsumerName. It reports the
// consumer's ARN and done when it is already ACTIVE (which spares the
// DescribeStreamConsumer calls), nothing when it is to be described (it
// is CREATING, another worker registered it first, or the call was
// throttled or failed and will be retried), or a fatal error.
func (s *Scheduler) registerStreamConsumer(ctx context.Context, streamARN string, log *zerolog.Logger) (string, bool, error) {
	out, err := s.kinesis.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{
		StreamARN:    aws.String(streamARN),
		ConsumerName: aws.String(s.cfg.ConsumerName),
	})
	switch {
	case err == nil && out.Consumer != nil:
		log.Info().Str("consumer_arn", aws.ToString(out.Consumer.ConsumerARN)).Str("status", string(out.Consumer.ConsumerStatus)).
			Msg("registered the enhanced fan-out consumer (it is never deregistered automatically)")
		if out.Consumer.ConsumerStatus == types.ConsumerStatusActive {
			return aws.ToString(out.Consumer.ConsumerARN), true, nil
		}
	case err == nil:
	case awsapi.IsResourceInUse(err):
		log.Debug().Msg("another worker registered the stream consumer first; waiting for it to be ACTIVE")
	case awsapi.IsAccessDenied(err):
		return "", false, fmt.Errorf("shardwise: not allowed to register stream consumer %q (the worker needs kinesis:RegisterStreamConsumer): %w", s.cfg.ConsumerName, err)
	case awsapi.IsNotFound(err):
		return "", false, fmt.Errorf("shardwise: registering stream consumer %q: the stream does not exist: %w", s.cfg.ConsumerName, err)
	case ctx.Err() != nil:
		return "", false, ctx.Err()
	case awsapi.IsThrottle(err):
		// Too many consumers on the stream, or registrations too fast.
		s.warn.Warn(log, "register-consumer").Err(err).Msg("RegisterStreamConsumer refused (limit); backing off")
	default:
		s.warn.Warn(log, "register-consumer").Err(err).Msg("RegisterStreamConsumer failed; retrying")
	}
	return "", false, nil
}

// registerSpread is the window over which workers that found the consumer
// missing at once spread their second look (and registration).
const registerSpread = time.Second

// subscribeInterval is the least time between two SubscribeToShard calls
// of one consumer on one shard (the service's limit).
const subscribeInterval = time.Second

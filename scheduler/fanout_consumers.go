package scheduler

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"
)

// streamConsumers holds the ACTIVE enhanced fan-out consumer of each
// stream read (by stream ARN): one registered consumer per stream, named
// ConsumerName on every stream as the Java KCL names its consumers after
// the application on each stream of a multi-stream application.
type streamConsumers struct {
	mu    sync.Mutex
	arns  map[string]string // stream ARN -> consumer ARN
	group singleflight.Group
}

// streamARNOf is the ARN of st: known for every stream of a multi-stream
// application, and in single-stream mode given (StreamARN) or described
// at start.
func (s *Scheduler) streamARNOf(st *streamInfo) string {
	switch {
	case st.arn != "":
		return st.arn
	case s.cfg.StreamARN != "":
		return s.cfg.StreamARN
	}
	return s.describedARN
}

// streamConsumer returns the ACTIVE fan-out consumer of st's stream,
// registering it (ensureStreamConsumer) the first time the stream is
// read. The shards of one stream asking at once share one registration.
func (s *Scheduler) streamConsumer(ctx context.Context, st *streamInfo) (string, error) {
	streamARN := s.streamARNOf(st)
	s.fanOut.mu.Lock()
	arn, ok := s.fanOut.arns[streamARN]
	s.fanOut.mu.Unlock()
	if ok {
		return arn, nil
	}
	v, err, _ := s.fanOut.group.Do(streamARN, func() (any, error) {
		arn, err := s.ensureStreamConsumer(ctx, streamARN)
		if err != nil {
			return "", err
		}
		s.fanOut.mu.Lock()
		if s.fanOut.arns == nil {
			s.fanOut.arns = map[string]string{}
		}
		s.fanOut.arns[streamARN] = arn
		s.fanOut.mu.Unlock()
		return arn, nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// registerStreamConsumers makes sure every stream read now has its
// consumer, registering the missing ones in parallel; the first error
// (a missing stream, a refused permission) is returned.
func (s *Scheduler) registerStreamConsumers(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, st := range s.streams.Load().list {
		g.Go(func() error {
			_, err := s.streamConsumer(gctx, st)
			return err
		})
	}
	return g.Wait()
}

package cloudwatch

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/rs/zerolog"

	"github.com/shardwise/shardwise/internal/awsapi"
	"github.com/shardwise/shardwise/internal/backoff"
	"github.com/shardwise/shardwise/internal/metricagg"
	"github.com/shardwise/shardwise/internal/metricnames"
	"github.com/shardwise/shardwise/metrics"
)

// publisher is the sink New returns.
type publisher struct {
	cfg   Config // defaults applied; read-only after New
	level metrics.Level
	keep  func(name string) bool         // dimension filter; nil keeps all
	tab   *metricagg.Table[metrics.Dims] // slots: live series + pending datums, bounded by QueueSize
	now   func() time.Time               // stamps datums; tests fix it

	closed atomic.Bool // set by Close before stop is closed; read by every Record

	// dropped is written on every drop, which under overload is every
	// Record: keep it off the cache line of the fields Record reads.
	_       [64]byte
	dropped atomic.Int64 // observations at a published level that were not (or will not be) delivered
	_       [56]byte

	flushCh   chan flushRequest
	stop      chan struct{} // closed by Close
	done      chan struct{} // closed by run when it returns
	ctx       context.Context
	cancel    context.CancelFunc // ends ctx: aborts the in-flight request and any backoff
	closeOnce sync.Once
	log       zerolog.Logger

	// Owned by the run goroutine; read by others only after done is closed.
	pending   []pendingDatum
	retry     backoff.Backoff // backoff for the batch at the head of pending; Attempts counts its retries
	lost      int64           // observations discarded after failed sends, for flush waiters
	lastErr   error           // last send error that lost a batch
	closeLost int64           // observations lost during shutdown
	logState  logState
}

type pendingDatum struct {
	datum   types.MetricDatum
	samples int64 // observations aggregated in the datum
	size    int   // conservative estimate of its encoded size
}

type flushRequest struct {
	result chan error // buffered(1); answered once
	lost   int64      // publisher.lost when the request was made
}

// New returns a metrics.Sink that publishes to Amazon CloudWatch the way
// the Java KCL does: observations are aggregated per flush interval into one
// statistic set per metric name, unit and dimension set, and the resulting
// datums are sent in batched PutMetricData calls by one background
// goroutine.
//
// Record takes a short lock on one of several aggregation shards and never
// waits for the network: the datums held at once are bounded by
// Config.QueueSize, and when the bound is reached (say, CloudWatch is
// unreachable) new observations are dropped and counted (Dropped) rather
// than queued.
//
// Close it after the scheduler's Run returns: Close sends what is pending.
// Its methods are safe for concurrent use. The sink also has
//
//	Dropped() int64               // observations dropped so far
//	Flush(ctx context.Context) error // send what is aggregated now
//
// reached with a type assertion to an interface with the method. New
// validates cfg and starts the publisher's goroutine; an invalid cfg is
// reported as a *consumer.ConfigError.
func New(cfg Config) (metrics.Sink, error) {
	p, err := newPublisher(cfg, time.Now)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// newPublisher is New with the clock that stamps datums.
func newPublisher(cfg Config, now func() time.Time) (*publisher, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &publisher{
		cfg:     cfg,
		level:   cfg.Level,
		keep:    dimensionFilter(cfg.Dimensions),
		tab:     metricagg.New[metrics.Dims](int64(cfg.QueueSize)),
		now:     now,
		retry:   backoff.Backoff{Base: cfg.RetryBaseDelay, Max: cfg.RetryMaxDelay},
		flushCh: make(chan flushRequest),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		log:     cfg.Logger.With().Str("component", "metrics").Str("namespace", cfg.Namespace).Logger(),
	}
	// The goroutine's context is deliberately not derived from any
	// caller's: the publisher lives until Close, and Close decides (with
	// its own context) how long the final flush may take.
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if c.level == metrics.LevelNone {
		// Nothing can ever be recorded, so there is nothing to send.
		close(c.done)
		return c, nil
	}
	go c.run()
	return c, nil
}

var _ metrics.Sink = (*publisher)(nil)

func dimensionFilter(names []string) func(string) bool {
	if len(names) == 1 && names[0] == AllDimensions {
		return nil
	}
	set := make(map[string]struct{}, len(names)+1)
	set[metricnames.DimensionOperation] = struct{}{}
	for _, n := range names {
		set[n] = struct{}{}
	}
	return func(n string) bool {
		_, ok := set[n]
		return ok
	}
}

// Enabled reports whether observations at level are published.
func (c *publisher) Enabled(level metrics.Level) bool { return c.level.Publishes(level) }

// Record adds one observation to the current interval's aggregate. It never
// blocks on I/O. Non-finite values (which CloudWatch rejects, failing the
// whole request) and observations that find the queue full are dropped and
// counted in Dropped.
func (c *publisher) Record(name string, value float64, unit metrics.Unit, level metrics.Level, dims metrics.Dims) {
	if !c.level.Publishes(level) {
		return
	}
	if c.closed.Load() || math.IsNaN(value) || math.IsInf(value, 0) ||
		!c.tab.Add(metricagg.Key{Name: name, Unit: string(unit), Dims: dims.Key()}, dims, value) {
		c.dropped.Add(1)
	}
}

// Dropped is the number of observations recorded at a published level that
// were not, or will not be, delivered: the queue was full, the value was
// not finite, the datum broke a CloudWatch limit, the batch was rejected or
// ran out of retries, Close's context ended first, or the sink was closed.
func (c *publisher) Dropped() int64 { return c.dropped.Load() }

// Flush ends the current aggregation interval now and waits until every
// datum queued so far has been sent (or given up), or ctx ends. It returns
// an *UndeliveredError if observations were lost while it waited, ErrClosed
// after Close, or ctx's error.
func (c *publisher) Flush(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if c.level == metrics.LevelNone {
		return nil
	}
	req := flushRequest{result: make(chan error, 1)}
	select {
	case c.flushCh <- req:
	case <-c.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close sends everything pending and stops the background goroutine. It
// waits for the goroutine to end in every case: when ctx ends first, the
// in-flight request and any backoff are aborted, what is still queued is
// counted as dropped, and Close returns an *UndeliveredError wrapping ctx's
// error. Calling Close again waits for the same shutdown (it does not
// start another) and reports the observations it lost.
func (c *publisher) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		close(c.stop)
	})
	var ctxErr error
	select {
	case <-c.done:
	case <-ctx.Done():
		ctxErr = ctx.Err()
		c.cancel()
		<-c.done
	}
	c.cancel()
	if c.closeLost == 0 {
		return nil
	}
	err := c.lastErr
	if ctxErr != nil || err == nil {
		err = ctxErr
	}
	if err == nil {
		err = ErrClosed // observations that raced with Close
	}
	return &UndeliveredError{Observations: c.closeLost, Err: err}
}

// alwaysReady is a closed channel: a select case on it is always ready.
var alwaysReady = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// run is the publisher's goroutine. It alone touches pending and the send
// state. Each turn of the loop handles one event: a tick (close the
// interval), a flush request, the end of a backoff, Close, or, when a batch
// is ready and no backoff is running, sending it. Sending one batch at a
// time keeps ticks and Close responsive between requests.
func (c *publisher) run() {
	defer close(c.done)
	ticker := time.NewTicker(c.cfg.FlushInterval)
	defer ticker.Stop()
	var (
		waiters []flushRequest
		backoff *time.Timer // non-nil while waiting to retry the head batch
	)
	for {
		var sendReady <-chan struct{}
		var retryAt <-chan time.Time
		if backoff != nil {
			retryAt = backoff.C
		} else if len(c.pending) > 0 {
			sendReady = alwaysReady
		}
		select {
		case <-ticker.C:
			c.collect()
		case req := <-c.flushCh:
			c.collect()
			req.lost = c.lost
			waiters = append(waiters, req)
		case <-retryAt:
			backoff = nil
		case <-sendReady:
			if d := c.sendHead(); d > 0 {
				backoff = time.NewTimer(d)
			}
		case <-c.stop:
			c.shutdown(backoff, waiters)
			return
		}
		if len(c.pending) == 0 && len(waiters) > 0 {
			for _, w := range waiters {
				w.result <- c.flushResult(w)
			}
			waiters = waiters[:0]
		}
	}
}

func (c *publisher) flushResult(w flushRequest) error {
	if n := c.lost - w.lost; n > 0 {
		return &UndeliveredError{Observations: n, Err: c.lastErr}
	}
	return nil
}

// shutdown sends what is left until done or until Close gives up (c.ctx
// ends), then accounts for whatever could not be sent.
func (c *publisher) shutdown(backoff *time.Timer, waiters []flushRequest) {
	c.collect()
	lostBefore := c.lost
	for len(c.pending) > 0 && c.ctx.Err() == nil {
		if backoff != nil {
			select {
			case <-backoff.C:
				backoff = nil
			case <-c.ctx.Done():
				backoff.Stop()
				backoff = nil
				continue
			}
		}
		if d := c.sendHead(); d > 0 {
			backoff = time.NewTimer(d)
		}
	}
	if backoff != nil {
		backoff.Stop()
	}
	if n := len(c.pending); n > 0 {
		c.discard(n)
	}
	// Observations that raced with Close into the table after the final
	// collect will never be sent: count them.
	c.tab.Drain(func(_ metricagg.Key, _ metrics.Dims, s metricagg.Stats) {
		c.dropped.Add(int64(s.SampleCount))
		c.lost += int64(s.SampleCount)
		c.tab.Release(1)
	})
	c.closeLost = c.lost - lostBefore
	for _, w := range waiters {
		w.result <- c.flushResult(w)
	}
	if c.closeLost > 0 {
		c.log.Warn().Int64("lost_observations", c.closeLost).AnErr("last_error", c.lastErr).
			Int64("dropped_total", c.dropped.Load()).Msg("metrics publisher closed with undelivered observations")
	} else {
		c.log.Debug().Int64("dropped_total", c.dropped.Load()).Msg("metrics publisher closed")
	}
}

// oneAttempt turns off the SDK's own retries for a call: the publisher
// retries whole batches itself, and stacked retries would multiply the
// attempts against a throttled service.
func oneAttempt(o *cloudwatch.Options) { o.RetryMaxAttempts = 1 }

// sendHead sends the batch at the head of pending. It returns the backoff
// to wait before sending it again, or 0 when the batch is gone (delivered
// or given up).
func (c *publisher) sendHead() time.Duration {
	n := c.headBatch()
	data := make([]types.MetricDatum, n)
	for i := range data {
		data[i] = c.pending[i].datum
	}
	ns := c.cfg.Namespace
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.RequestTimeout)
	_, err := c.cfg.Client.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: &ns, MetricData: data}, oneAttempt)
	cancel()
	if err == nil {
		c.retry.Reset()
		c.remove(n)
		return 0
	}
	if c.ctx.Err() == nil && retryable(err) && c.retry.Attempts() < c.cfg.MaxRetries {
		c.logState.retries++
		if awsapi.IsThrottle(err) {
			c.logState.throttles++
		}
		return max(c.retry.Next(), 1) // 0 would mean "batch gone"
	}
	c.retry.Reset()
	c.lastErr = err
	c.discard(n)
	return 0
}

// headBatch is how many datums at the head of pending go in the next
// request: at most Config.MaxDatumsPerRequest, and no more than the payload
// budget allows (at least one).
func (c *publisher) headBatch() int {
	budget := maxRequestBytes - requestOverhead(c.cfg.Namespace)
	n, size := 0, 0
	for n < len(c.pending) && n < c.cfg.MaxDatumsPerRequest {
		s := c.pending[n].size
		if n > 0 && size+s > budget {
			break
		}
		size += s
		n++
	}
	return n
}

// remove takes n delivered datums off the head of pending.
func (c *publisher) remove(n int) {
	clear(c.pending[:n])
	c.pending = c.pending[n:]
	if len(c.pending) == 0 {
		c.pending = nil
	}
	c.tab.Release(int64(n))
}

// discard takes n undeliverable datums off the head of pending and counts
// their observations as dropped.
func (c *publisher) discard(n int) {
	var samples int64
	for _, p := range c.pending[:n] {
		samples += p.samples
	}
	c.dropped.Add(samples)
	c.lost += samples
	c.logState.lostBatches++
	c.remove(n)
}
